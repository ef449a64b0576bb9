"""Classification losses: logits ``(N, C)`` against integer class indices ``(N,)``."""

from .adaptive_robust import AdaptiveRobustClassificationLoss, adaptive_robust_classification_loss
from .bce import BCEClassificationLoss, bce_classification_loss
from .bi_tempered import BiTemperedLoss, bi_tempered_logistic_loss
from .categorical_hinge import CategoricalHingeLoss, categorical_hinge_loss
from .cosine import CosineClassificationLoss, cosine_classification_loss
from .cross_entropy import CrossEntropyLoss, cross_entropy_loss
from .gce import GeneralizedCrossEntropyLoss, generalized_cross_entropy_loss
from .hinge import HingeClassificationLoss, hinge_classification_loss
from .mae import MAEClassificationLoss, mae_classification_loss
from .mse import MSEClassificationLoss, mse_classification_loss
from .poly1 import Poly1Loss, poly1_loss
from .sce import SymmetricCrossEntropyLoss, symmetric_cross_entropy_loss
from .tempered import exp_t, log_t, tempered_normalization, tempered_softmax

__all__ = [
    "AdaptiveRobustClassificationLoss",
    "adaptive_robust_classification_loss",
    "BCEClassificationLoss",
    "BiTemperedLoss",
    "CategoricalHingeLoss",
    "CosineClassificationLoss",
    "CrossEntropyLoss",
    "GeneralizedCrossEntropyLoss",
    "HingeClassificationLoss",
    "MAEClassificationLoss",
    "MSEClassificationLoss",
    "Poly1Loss",
    "SymmetricCrossEntropyLoss",
    "bce_classification_loss",
    "bi_tempered_logistic_loss",
    "categorical_hinge_loss",
    "cosine_classification_loss",
    "cross_entropy_loss",
    "exp_t",
    "generalized_cross_entropy_loss",
    "hinge_classification_loss",
    "log_t",
    "mae_classification_loss",
    "mse_classification_loss",
    "poly1_loss",
    "symmetric_cross_entropy_loss",
    "tempered_normalization",
    "tempered_softmax",
]
