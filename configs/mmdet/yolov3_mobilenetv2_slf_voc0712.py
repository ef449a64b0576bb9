# YOLOv3 (MobileNetV2, 320 px: the fast variant) on PASCAL VOC 07+12 with SLF-learned loss-part weights:
# the SLF paper's detection experiment (lambda_pred, lambda_obj, lambda_noobj, lambda_coord).
# Data and command as in the stock baseline yolov3_mobilenetv2_voc0712.py.
_base_ = './yolov3_mobilenetv2_voc0712.py'

model = dict(
    bbox_head=dict(
        type='SLFYOLOV3Head',
        slf_weighting=dict(num_samples=3, tau=1.0, mode='joint', seed=0)))

custom_hooks = [dict(type='SLFLoggerHook')]
visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
