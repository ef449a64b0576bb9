"""LeNet-5 style convolutional network for small 1- or 3-channel images."""

from __future__ import annotations

from typing import Tuple

from torch import Tensor, nn


class LeNet(nn.Module):
    """LeNet-5: conv(6, 5x5) -> pool -> conv(16, 5x5) -> pool -> 120 -> 84 -> classes.

    Works for any image of at least 8x8 pixels: the first convolution is padded
    (28x28 MNIST then follows the classic 28-14-10-5 path), the second is padded only
    when the map is too small for an unpadded 5x5 kernel, and an adaptive max pool
    brings the last map to at most 5x5.

    Args:
        input_shape: ``(channels, height, width)`` of one image; channels 1 or 3 (any works).
        num_classes: number of output logits.

    Attributes:
        feature_dim: 84, the width of the penultimate layer.
        classifier: the final ``nn.Linear(84, num_classes)``.

    Shape:
        - Input: ``(N, C, H, W)`` with ``H, W >= 8``
        - Output: ``(N, num_classes)``; :meth:`features` gives ``(N, 84)``.

    Example:
        >>> import torch
        >>> LeNet((3, 32, 32), num_classes=10)(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 10])
        >>> LeNet((1, 8, 8), num_classes=10).features(torch.randn(2, 1, 8, 8)).shape
        torch.Size([2, 84])
    """

    def __init__(self, input_shape: Tuple[int, int, int], num_classes: int) -> None:
        super().__init__()
        channels, height, width = input_shape
        if min(height, width) < 8:
            raise ValueError(f"LeNet needs images of at least 8x8 pixels, got {height}x{width}")
        pooled = min(height, width) // 2
        conv2_padding = 0 if pooled >= 10 else 2
        after_conv2 = pooled + 2 * conv2_padding - 4
        grid = min(5, after_conv2)
        self.conv = nn.Sequential(
            nn.Conv2d(channels, 6, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, kernel_size=5, padding=conv2_padding),
            nn.ReLU(inplace=True),
            nn.AdaptiveMaxPool2d(grid),
        )
        self.fc = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * grid * grid, 120),
            nn.ReLU(inplace=True),
            nn.Linear(120, 84),
            nn.ReLU(inplace=True),
        )
        self.feature_dim = 84
        self.classifier = nn.Linear(self.feature_dim, num_classes)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate activations, shape ``(N, 84)``."""
        return self.fc(self.conv(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))
