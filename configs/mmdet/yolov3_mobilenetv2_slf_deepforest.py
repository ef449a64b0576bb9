# YOLOv3 (MobileNetV2, 320 px) whose five loss parts are weighted by SLF, on tree-crown tiles.
#
# Same data, schedule and budget as the stock baseline yolov3_mobilenetv2_deepforest.py
# (see there to prepare the data). The head learns lambda for classification,
# objectness on positives and on negatives, xy and wh, starting from the stock weights
# (1, 1, 1, 2, 2) and keeping their total; SLFLoggerHook writes them to the log,
# TensorBoard and <work_dir>/slf_bbox_head.part_weighting.png.
# Measured (README, Results): this literal joint update puts all the weight on wh within
# ~80 iterations and the detector learns nothing (mAP 0). Adding normalize='mean' and
# mode='softmax' to slf_weighting avoids the collapse but still trails the stock head.
_base_ = './yolov3_mobilenetv2_deepforest.py'

model = dict(
    bbox_head=dict(
        type='SLFYOLOV3Head',
        slf_weighting=dict(num_samples=3, tau=1.0, mode='joint', seed=0)))

custom_hooks = [dict(type='SLFLoggerHook')]
