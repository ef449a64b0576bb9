# Stock YOLOv3 (MobileNetV2, 320 px) on real tree-crown tiles, sized for a CPU.
#
# Data: 400x400 tiles of the deepforest wheel's aerial RGB images with Pascal VOC boxes,
# loaded by mmdet's own VOCDataset and scored by its VOCMetric (mAP at IoU 0.5).
# Prepare them once (downloads a 21 MB wheel, writes about 3 MB):
#     python -m slf_mmdet.deepforest_tiles data/deepforest
# Train with mmdet's own tool:
#     python "$(python -c 'import mmdet, os; print(os.path.dirname(mmdet.__file__))')/.mim/tools/train.py" \
#         configs/mmdet/yolov3_mobilenetv2_deepforest.py
# This is the stock baseline of yolov3_mobilenetv2_slf_deepforest.py.
_base_ = "mmdet::yolo/yolov3_mobilenetv2_8xb24-320-300e_coco.py"

custom_imports = dict(imports=["slf_mmdet"], allow_failed_imports=False)

data_root = "data/deepforest/"
sub_data_root = "trees/"
classes = ("Tree",)
input_size = (320, 320)

model = dict(
    # No pretrained weights offline: train from scratch.
    backbone=dict(init_cfg=None),
    bbox_head=dict(num_classes=len(classes)),
)

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="Resize", scale=input_size, keep_ratio=True),
    dict(type="RandomFlip", prob=0.5, direction=["horizontal", "vertical"]),
    dict(type="PhotoMetricDistortion"),
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
optim_wrapper = dict(optimizer=dict(lr=0.01))
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type="MultiStepLR", by_epoch=True, milestones=[30, 36], gamma=0.1),
]
auto_scale_lr = dict(enable=False)
default_hooks = dict(
    logger=dict(type="LoggerHook", interval=5), checkpoint=dict(type="CheckpointHook", interval=10, max_keep_ckpts=2)
)
visualizer = dict(vis_backends=[dict(type="LocalVisBackend"), dict(type="TensorboardVisBackend")])
# Under several processes (torchrun ... -m slf_mmdet.train CONFIG --launcher pytorch): the
# backbone has parameters that the loss never reaches (DDP stops on them otherwise).
find_unused_parameters = True
