"""Binary (and pairwise) losses: predictions ``(N, *)`` against 0/1 targets of the same shape.

Every loss takes ``from_logits``: ``True`` applies a sigmoid to the input, ``False``
means the input already holds probabilities in ``[0, 1]``.
"""

from ._base import BinaryLoss
from .adaptive_robust import AdaptiveRobustBinaryLoss, adaptive_robust_binary_loss
from .bce import BCEBinaryLoss, bce_binary_loss
from .bi_tempered import BiTemperedBinaryLoss, bi_tempered_binary_loss, tempered_sigmoid
from .cosine import CosineBinaryLoss, cosine_binary_loss
from .focal import SigmoidFocalLoss, sigmoid_focal_loss
from .hinge import HingeBinaryLoss, hinge_binary_loss
from .l4 import L4BinaryLoss, l4_binary_loss
from .mae import MAEBinaryLoss, mae_binary_loss
from .mse import MSEBinaryLoss, mse_binary_loss
from .self_paced import SelfPacedBinaryLoss
from .smooth01 import Smooth01BinaryLoss, smooth01_binary_loss

__all__ = [
    "BinaryLoss",
    "AdaptiveRobustBinaryLoss",
    "BCEBinaryLoss",
    "BiTemperedBinaryLoss",
    "CosineBinaryLoss",
    "HingeBinaryLoss",
    "L4BinaryLoss",
    "MAEBinaryLoss",
    "MSEBinaryLoss",
    "SelfPacedBinaryLoss",
    "Smooth01BinaryLoss",
    "SigmoidFocalLoss",
    "adaptive_robust_binary_loss",
    "bce_binary_loss",
    "bi_tempered_binary_loss",
    "cosine_binary_loss",
    "hinge_binary_loss",
    "l4_binary_loss",
    "mae_binary_loss",
    "mse_binary_loss",
    "smooth01_binary_loss",
    "sigmoid_focal_loss",
    "tempered_sigmoid",
]
