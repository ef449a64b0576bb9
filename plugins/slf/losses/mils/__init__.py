"""MILS auxiliary losses for classification: multi-margin, focal, center and L-GM.

``multi_margin`` and ``focal`` read logits ``(N, C)``; ``center`` and ``lgm`` read
penultimate features ``(N, D)`` (``input_kind = "features"``) and own learnable
per-class vectors (centers, means).
"""

from .center import CenterLoss, center_loss
from .focal import FocalLoss, focal_loss
from .lgm import LGMLoss, lgm_loss
from .multi_margin import MultiMarginLoss, multi_margin_loss

__all__ = [
    "CenterLoss",
    "FocalLoss",
    "LGMLoss",
    "MultiMarginLoss",
    "center_loss",
    "focal_loss",
    "lgm_loss",
    "multi_margin_loss",
]
