"""Binary (and pairwise) losses: predictions ``(N, *)`` against 0/1 targets of the same shape.

Every loss takes ``from_logits``: ``True`` applies a sigmoid to the input, ``False``
means the input already holds probabilities in ``[0, 1]``.
"""

from ._base import BinaryLoss
from .bce import BCEBinaryLoss, bce_binary_loss
from .bi_tempered import BiTemperedBinaryLoss, bi_tempered_binary_loss, tempered_sigmoid
from .cosine import CosineBinaryLoss, cosine_binary_loss
from .focal import SigmoidFocalLoss, sigmoid_focal_loss
from .hinge import HingeBinaryLoss, hinge_binary_loss
from .mae import MAEBinaryLoss, mae_binary_loss
from .mse import MSEBinaryLoss, mse_binary_loss

__all__ = [
    "BinaryLoss",
    "BCEBinaryLoss",
    "BiTemperedBinaryLoss",
    "CosineBinaryLoss",
    "HingeBinaryLoss",
    "MAEBinaryLoss",
    "MSEBinaryLoss",
    "SigmoidFocalLoss",
    "bce_binary_loss",
    "bi_tempered_binary_loss",
    "cosine_binary_loss",
    "hinge_binary_loss",
    "mae_binary_loss",
    "mse_binary_loss",
    "sigmoid_focal_loss",
    "tempered_sigmoid",
]
