# YOLOv3 (MobileNetV2, 320 px: the fast variant) on PASCAL VOC 07+12 with SLF-learned loss-part weights:
# the SLF paper's detection experiment (lambda_pred, lambda_obj, lambda_noobj, lambda_coord).
# Data and command as in the stock baseline yolov3_mobilenetv2_voc0712.py.
_base_ = "./yolov3_mobilenetv2_voc0712.py"

# SLF's default recipe weighs the parts from held-out batches of the val dataloader (SLFHeldOutHook);
# the paper's literal update is slf_weighting=dict(mode='joint', num_samples=3, tau=1.0).
model = dict(bbox_head=dict(type="SLFYOLOV3Head", slf_weighting=dict()))

# The learned modes' decision logits must not shrink under the detector's weight decay.
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={"part_weighting": dict(decay_mult=0.0)}))
custom_hooks = [dict(type="SLFHeldOutHook"), dict(type="SLFLoggerHook")]
visualizer = dict(vis_backends=[dict(type="LocalVisBackend"), dict(type="TensorboardVisBackend")])
