# RetinaNet (ResNet-18 FPN, 320 px) with the IoU-balanced losses of Wu et al. (arXiv:1908.05641), on tree-crown tiles.
#
# Data: the 400x400 deepforest tiles of yolov3_mobilenetv2_deepforest.py (prepare them once with
#     python -m slf_mmdet.deepforest_tiles data/deepforest
# ), read by mmdet's VOCDataset and scored by its VOCMetric (mAP at IoU 0.5).
# Head: IoUBalancedRetinaHead gives the losses the IoU of each positive anchor's decoded box with its
# ground truth. Classification: RetinaNet's sigmoid focal loss (gamma 2, alpha 0.25) with the positives
# weighted by IoU^1.5, normalised to keep their total (eta = 1.5, the paper's). Localisation: smooth L1
# (beta 0.11) on the regression deltas, as in the paper, weighted by IoU^1.5 normalised to keep the
# positives' weight sum (lam = 1.5). eta = lam = 0 gives the stock losses.
# No pretrained weights offline: the backbone trains from scratch (no frozen stem, live batch norm).
_base_ = "mmdet::retinanet/retinanet_r18_fpn_1x_coco.py"

custom_imports = dict(imports=["slf_mmdet"], allow_failed_imports=False)

data_root = "data/deepforest/"
sub_data_root = "trees/"
classes = ("Tree",)
input_size = (320, 320)

model = dict(
    backbone=dict(init_cfg=None, frozen_stages=-1, norm_eval=False),
    bbox_head=dict(
        type="IoUBalancedRetinaHead",
        num_classes=len(classes),
        loss_cls=dict(
            _delete_=True, type="IoUBalancedClsLoss", use_sigmoid=True, eta=1.5, gamma=2.0, alpha=0.25, loss_weight=1.0
        ),
        loss_bbox=dict(_delete_=True, type="IoUBalancedLocLoss", lam=1.5, beta=0.11, loss_weight=1.0),
    ),
)

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="Resize", scale=input_size, keep_ratio=True),
    dict(type="RandomFlip", prob=0.5, direction=["horizontal", "vertical"]),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="Resize", scale=input_size, keep_ratio=True),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="PackDetInputs", meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor")),
]

train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=False,
    dataset=dict(
        _delete_=True,
        type="VOCDataset",
        data_root=data_root,
        ann_file=sub_data_root + "ImageSets/Main/train.txt",
        data_prefix=dict(sub_data_root=sub_data_root),
        metainfo=dict(classes=classes),
        filter_cfg=dict(filter_empty_gt=True),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=False,
    dataset=dict(
        _delete_=True,
        type="VOCDataset",
        data_root=data_root,
        ann_file=sub_data_root + "ImageSets/Main/val.txt",
        data_prefix=dict(sub_data_root=sub_data_root),
        metainfo=dict(classes=classes),
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type="VOCMetric", metric="mAP", eval_mode="area")
test_evaluator = val_evaluator

max_epochs = 40
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
optim_wrapper = dict(optimizer=dict(lr=0.01), clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type="MultiStepLR", begin=0, end=max_epochs, by_epoch=True, milestones=[30, 36], gamma=0.1),
]
auto_scale_lr = dict(enable=False)
default_hooks = dict(
    logger=dict(type="LoggerHook", interval=5), checkpoint=dict(type="CheckpointHook", interval=10, max_keep_ckpts=2)
)
visualizer = dict(vis_backends=[dict(type="LocalVisBackend"), dict(type="TensorboardVisBackend")])
