"""Classification losses: logits ``(N, C)`` against integer class indices ``(N,)``."""
from .bce import BCEClassificationLoss, bce_classification_loss
from .categorical_hinge import CategoricalHingeLoss, categorical_hinge_loss
from .cosine import CosineClassificationLoss, cosine_classification_loss
from .cross_entropy import CrossEntropyLoss, cross_entropy_loss
from .hinge import HingeClassificationLoss, hinge_classification_loss
from .mae import MAEClassificationLoss, mae_classification_loss
from .mse import MSEClassificationLoss, mse_classification_loss
from .poly1 import Poly1Loss, poly1_loss

__all__ = [
    "BCEClassificationLoss",
    "CategoricalHingeLoss",
    "CosineClassificationLoss",
    "CrossEntropyLoss",
    "HingeClassificationLoss",
    "MAEClassificationLoss",
    "MSEClassificationLoss",
    "Poly1Loss",
    "bce_classification_loss",
    "categorical_hinge_loss",
    "cosine_classification_loss",
    "cross_entropy_loss",
    "hinge_classification_loss",
    "mae_classification_loss",
    "mse_classification_loss",
    "poly1_loss",
]
