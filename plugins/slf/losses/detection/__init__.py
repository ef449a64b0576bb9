"""Detection losses that read the IoU of each predicted box with its ground truth."""

from .iou import aligned_box_iou, iou_balanced_weights
from .iou_balanced_cls import IoUBalancedClsLoss, iou_balanced_cls_loss
from .iou_balanced_loc import IoUBalancedLocLoss, iou_balanced_loc_loss

__all__ = [
    "IoUBalancedClsLoss",
    "IoUBalancedLocLoss",
    "aligned_box_iou",
    "iou_balanced_cls_loss",
    "iou_balanced_loc_loss",
    "iou_balanced_weights",
]
