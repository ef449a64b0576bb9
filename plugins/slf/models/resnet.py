"""CIFAR-style residual networks with 6n+2 layers (He et al. 2016, section 4.2)."""

from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .initialization import he_initialize

RESNET_DEPTHS = {"resnet8": 8, "resnet20": 20, "resnet32": 32}


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and a residual connection.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        stride: stride of the first convolution (2 halves the map).
        shortcut: ``'A'`` (parameter-free: subsample and zero-pad channels, as in the
            paper's CIFAR networks) or ``'B'`` (1x1 convolution + BatchNorm) where the
            shape changes.

    Example:
        >>> BasicBlock(16, 32, stride=2)(torch.randn(2, 16, 8, 8)).shape
        torch.Size([2, 32, 4, 4])
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, shortcut: str = "A") -> None:
        super().__init__()
        if shortcut not in ("A", "B"):
            raise ValueError(f"shortcut must be 'A' or 'B', got {shortcut!r}")
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.stride = stride
        self.extra_channels = out_channels - in_channels
        self.projection = None
        if (stride != 1 or in_channels != out_channels) and shortcut == "B":
            self.projection = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def shortcut(self, x: Tensor) -> Tensor:
        if self.projection is not None:
            return self.projection(x)
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.extra_channels > 0:
            half = self.extra_channels // 2
            x = F.pad(x, (0, 0, 0, 0, half, self.extra_channels - half))
        return x

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for small images: a 3x3 stem, three stages of n blocks (16, 32, 64
    channels, the last two at stride 2), global average pooling and a linear classifier.

    Args:
        input_shape: ``(channels, height, width)`` of one image.
        num_classes: number of output logits.
        depth: 6n+2, e.g. 8, 20, 32, 44, 56, 110.
        shortcut: ``'A'`` (zero-padding identity) or ``'B'`` (1x1 projection).

    Attributes:
        feature_dim: 64, the pooled width.
        classifier: the final ``nn.Linear(64, num_classes)``.

    Shape:
        - Input: ``(N, C, H, W)``
        - Output: ``(N, num_classes)``; :meth:`features` gives ``(N, 64)``.

    Example:
        >>> model = CifarResNet((3, 32, 32), num_classes=10, depth=20)
        >>> model(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self, input_shape: Tuple[int, int, int], num_classes: int, depth: int = 20, shortcut: str = "A"
    ) -> None:
        super().__init__()
        if depth < 8 or (depth - 2) % 6 != 0:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2 with n >= 1, got {depth}")
        blocks_per_stage = (depth - 2) // 6
        in_channels = input_shape[0]
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True)
        )
        stages, width = [], 16
        for stage_width, stride in ((16, 1), (32, 2), (64, 2)):
            for index in range(blocks_per_stage):
                stages.append(BasicBlock(width, stage_width, stride if index == 0 else 1, shortcut))
                width = stage_width
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.feature_dim = width
        self.classifier = nn.Linear(width, num_classes)
        self.depth = depth
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-normal convolutions and linear layer, BatchNorm at weight 1, bias 0."""
        he_initialize(self, linear=True)

    def features(self, x: Tensor) -> Tensor:
        """Globally pooled activations of the last stage, shape ``(N, 64)``."""
        return torch.flatten(self.pool(self.stages(self.stem(x))), 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


def resnet8(input_shape: Tuple[int, int, int], num_classes: int, shortcut: str = "A") -> CifarResNet:
    """ResNet-8 (n=1). Example: ``resnet8((3, 32, 32), 10)``."""
    return CifarResNet(input_shape, num_classes, depth=8, shortcut=shortcut)


def resnet20(input_shape: Tuple[int, int, int], num_classes: int, shortcut: str = "A") -> CifarResNet:
    """ResNet-20 (n=3). Example: ``resnet20((3, 32, 32), 10)``."""
    return CifarResNet(input_shape, num_classes, depth=20, shortcut=shortcut)


def resnet32(input_shape: Tuple[int, int, int], num_classes: int, shortcut: str = "A") -> CifarResNet:
    """ResNet-32 (n=5). Example: ``resnet32((3, 32, 32), 10)``."""
    return CifarResNet(input_shape, num_classes, depth=32, shortcut=shortcut)
