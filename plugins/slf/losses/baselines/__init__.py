"""Baseline losses from the literature for classification (logits ``(N, C)``, or features for L-Softmax),
and the learned losses of AdaLFL (classification, regression, binary) and L2T-DLF (classification and regression)."""

from .adalfl import AdaLFLBinaryLoss, AdaLFLClassificationLoss, AdaLFLLoss, AdaLFLRegressionLoss, adalfl_loss
from .l2t_dlf import (
    L2TDLFLoss,
    L2TDLFRegressionLoss,
    L2TDLFTeacher,
    l2t_dlf_loss,
    l2t_dlf_regression_loss,
    residual_features,
    smoothed_error,
)
from .label_smoothing import LabelSmoothingLoss, label_smoothing_loss
from .large_margin_softmax import LargeMarginSoftmaxLoss, large_margin_softmax_loss
from .loss_network import ElementwiseLossNetwork, SmoothLeakyReLU
from .smooth01 import Smooth01Loss, smooth01_loss

__all__ = [
    "AdaLFLClassificationLoss",
    "AdaLFLLoss",
    "AdaLFLRegressionLoss",
    "AdaLFLBinaryLoss",
    "adalfl_loss",
    "L2TDLFLoss",
    "L2TDLFRegressionLoss",
    "L2TDLFTeacher",
    "l2t_dlf_loss",
    "l2t_dlf_regression_loss",
    "residual_features",
    "smoothed_error",
    "LabelSmoothingLoss",
    "ElementwiseLossNetwork",
    "LargeMarginSoftmaxLoss",
    "SmoothLeakyReLU",
    "Smooth01Loss",
    "label_smoothing_loss",
    "large_margin_softmax_loss",
    "smooth01_loss",
]
