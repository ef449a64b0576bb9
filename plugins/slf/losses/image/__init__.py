"""Image losses: predicted images ``(N, C, H, W)`` against target images of the same shape."""

from .feature_extractor import extract_features, layer_modules
from .perceptual import IMAGENET_MEAN_STD, VGG16_JOHNSON_LAYERS, PerceptualLoss, gram_matrix, perceptual_loss

__all__ = [
    "IMAGENET_MEAN_STD",
    "PerceptualLoss",
    "VGG16_JOHNSON_LAYERS",
    "extract_features",
    "gram_matrix",
    "layer_modules",
    "perceptual_loss",
]
