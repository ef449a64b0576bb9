"""DenseNet-BC for small images (Huang, Liu, van der Maaten & Weinberger, CVPR 2017, section 3)."""

from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .initialization import he_initialize


class BottleneckLayer(nn.Module):
    """One layer of a dense block: ``BN-ReLU-conv1x1 (4k channels)-BN-ReLU-conv3x3 (k channels)``, its k new
    maps concatenated to its input.

    Example:
        >>> BottleneckLayer(24, growth_rate=12)(torch.randn(2, 24, 8, 8)).shape
        torch.Size([2, 36, 8, 8])
    """

    def __init__(self, in_channels: int, growth_rate: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, 4 * growth_rate, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(4 * growth_rate)
        self.conv2 = nn.Conv2d(4 * growth_rate, growth_rate, 3, padding=1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        new = self.conv2(F.relu(self.bn2(self.conv1(F.relu(self.bn1(x))))))
        return torch.cat([x, new], dim=1)


class Transition(nn.Module):
    """Between dense blocks: ``BN-ReLU-conv1x1`` to ``floor(compression * C)`` channels, then 2x2 average pooling.

    Example:
        >>> Transition(48, 24)(torch.randn(2, 48, 8, 8)).shape
        torch.Size([2, 24, 4, 4])
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(in_channels)
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(self.conv(F.relu(self.bn(x))), 2, ceil_mode=True)


class DenseNetBC(nn.Module):
    """DenseNet-BC (bottleneck layers, compression 0.5) with three dense blocks, as on CIFAR.

    A 3x3 stem of 2k channels, three dense blocks of n = (L - 4) / 6 bottleneck layers (k new maps each)
    separated by transitions that halve channels and map size, a final BN-ReLU, global average pooling and a
    linear classifier.

    Args:
        input_shape: ``(channels, height, width)`` of one image.
        num_classes: number of output logits.
        depth: L = 6n + 4, e.g. 40, 100, 190, 250.
        growth_rate: k, the maps each layer adds.

    Attributes:
        feature_dim: the channels after the last block (342 for L = 100, k = 12).
        classifier: the final ``nn.Linear(feature_dim, num_classes)``.

    Shape:
        - Input: ``(N, C, H, W)``
        - Output: ``(N, num_classes)``; :meth:`features` gives ``(N, feature_dim)``.

    Example:
        >>> model = DenseNetBC((3, 32, 32), num_classes=10, depth=22, growth_rate=6)
        >>> model(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self, input_shape: Tuple[int, int, int], num_classes: int, depth: int = 100, growth_rate: int = 12
    ) -> None:
        super().__init__()
        if depth < 10 or (depth - 4) % 6 != 0:
            raise ValueError(f"DenseNet-BC depth must be 6n+4 with n >= 1 (two convolutions per layer), got {depth}")
        if isinstance(growth_rate, bool) or not isinstance(growth_rate, int) or growth_rate < 1:
            raise ValueError(f"DenseNet-BC growth_rate must be an integer >= 1, got {growth_rate!r}")
        layers_per_block = (depth - 4) // 6
        channels = 2 * growth_rate
        self.stem = nn.Conv2d(input_shape[0], channels, 3, padding=1, bias=False)
        blocks = []
        for block in range(3):
            for _ in range(layers_per_block):
                blocks.append(BottleneckLayer(channels, growth_rate))
                channels += growth_rate
            if block < 2:
                blocks.append(Transition(channels, channels // 2))
                channels //= 2
        self.blocks = nn.Sequential(*blocks)
        self.final = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1))
        self.feature_dim = channels
        self.classifier = nn.Linear(channels, num_classes)
        self.depth, self.growth_rate = depth, growth_rate
        he_initialize(self)
        nn.init.zeros_(self.classifier.bias)

    def features(self, x: Tensor) -> Tensor:
        """Globally pooled activations after the final BN-ReLU, shape ``(N, feature_dim)``."""
        return torch.flatten(self.final(self.blocks(self.stem(x))), 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


def densenet_bc100(input_shape: Tuple[int, int, int], num_classes: int) -> DenseNetBC:
    """DenseNet-BC with L = 100, k = 12 (0.8M parameters). Example: ``densenet_bc100((3, 32, 32), 10)``."""
    return DenseNetBC(input_shape, num_classes, depth=100, growth_rate=12)
