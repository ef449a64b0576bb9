"""Segmentation losses: class scores ``(N, C, *spatial)`` against label maps ``(N, *spatial)``.

Scores are logits (softmax over dimension 1) or, with ``from_logits=False``, probabilities;
labels are integer class indices. Every loss gives one value per image for ``reduction='none'``.

- ``boundary``: the boundary loss of Kervadec et al. (MIDL 2019; MedIA 2021) over the signed
  distance maps of :func:`signed_distance_maps`;
- ``dice``: generalized Dice (Sudre et al. 2017) or soft Dice;
- ``ce``: pixel-wise cross-entropy averaged per image;
- ``regional_boundary``: ``dice`` or ``ce`` plus ``boundary`` with the paper's per-epoch
  schedules (:func:`schedule_weights`).
"""

from .boundary import BoundaryLoss, boundary_loss
from .boundary_schedule import RegionalBoundaryLoss, schedule_weights
from .cross_entropy import SegmentationCrossEntropyLoss, segmentation_cross_entropy_loss
from .dice import DiceLoss, dice_loss
from .distance_maps import signed_distance_maps

__all__ = [
    "BoundaryLoss",
    "DiceLoss",
    "RegionalBoundaryLoss",
    "SegmentationCrossEntropyLoss",
    "boundary_loss",
    "dice_loss",
    "schedule_weights",
    "segmentation_cross_entropy_loss",
    "signed_distance_maps",
]
