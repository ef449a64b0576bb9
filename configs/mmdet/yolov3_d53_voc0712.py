# Stock YOLOv3 (Darknet-53, 608 px (multi-scale 320-608 training)) on PASCAL VOC 07+12: the baseline of
# yolov3_d53_slf_voc0712.py, the SLF paper's detection setting.
#
# Data (not downloadable here; users bring it): the standard VOCdevkit layout under
# data_root, i.e. data/VOCdevkit/VOC2007/{JPEGImages,Annotations,ImageSets/Main/{trainval,test}.txt}
# and data/VOCdevkit/VOC2012/{JPEGImages,Annotations,ImageSets/Main/trainval.txt}.
# Train on 07+12 trainval, evaluate on VOC2007 test (mAP at IoU 0.5, 11 points). Meant for a GPU:
#     python "$(python -c 'import mmdet, os; print(os.path.dirname(mmdet.__file__))')/.mim/tools/train.py" \
#         configs/mmdet/yolov3_d53_voc0712.py
_base_ = "mmdet::yolo/yolov3_d53_8xb8-ms-608-273e_coco.py"

custom_imports = dict(imports=["slf_mmdet"], allow_failed_imports=False)

data_root = "data/VOCdevkit/"
model = dict(bbox_head=dict(num_classes=20))


def _voc(year, split, **kwargs):
    return dict(
        type="VOCDataset",
        data_root=data_root,
        ann_file=f"VOC{year}/ImageSets/Main/{split}.txt",
        data_prefix=dict(sub_data_root=f"VOC{year}/"),
        **kwargs,
    )


train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type="ConcatDataset",
        # VOCDataset tags each year in its metainfo; ConcatDataset must ignore that key.
        ignore_keys=["dataset_type"],
        datasets=[
            _voc(
                year, "trainval", filter_cfg=dict(filter_empty_gt=True, min_size=32), pipeline={{_base_.train_pipeline}}
            )
            for year in (2007, 2012)
        ],
    )
)
val_dataloader = dict(
    dataset=dict(_delete_=True, test_mode=True, pipeline={{_base_.test_pipeline}}, **_voc(2007, "test"))
)
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type="VOCMetric", metric="mAP", eval_mode="11points")
test_evaluator = val_evaluator

train_cfg = dict(max_epochs=120, val_interval=10)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=2000),
    dict(type="MultiStepLR", by_epoch=True, milestones=[96, 108], gamma=0.1),
]
default_hooks = dict(checkpoint=dict(type="CheckpointHook", interval=10, max_keep_ckpts=3))
