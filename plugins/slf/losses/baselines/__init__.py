"""Baseline losses from the literature for classification (logits ``(N, C)``, or features for L-Softmax)."""

from .label_smoothing import LabelSmoothingLoss, label_smoothing_loss
from .large_margin_softmax import LargeMarginSoftmaxLoss, large_margin_softmax_loss
from .smooth01 import Smooth01Loss, smooth01_loss

__all__ = [
    "LabelSmoothingLoss",
    "LargeMarginSoftmaxLoss",
    "Smooth01Loss",
    "label_smoothing_loss",
    "large_margin_softmax_loss",
    "smooth01_loss",
]
