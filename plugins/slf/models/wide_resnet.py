"""Wide residual networks for small images (Zagoruyko & Komodakis, BMVC 2016): WRN-d-k."""

from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .initialization import he_initialize


class WideBasicBlock(nn.Module):
    """A pre-activation block of two 3x3 convolutions, ``BN-ReLU-conv-(dropout)-BN-ReLU-conv``, plus its input.

    Where the shape changes (stride or width), the shortcut is a 1x1 convolution of the pre-activated input,
    as in the authors' networks.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        stride: stride of the first convolution (2 halves the map).
        dropout: dropout probability between the two convolutions (the paper's 0.3 with its own training).

    Example:
        >>> WideBasicBlock(16, 32, stride=2)(torch.randn(2, 16, 8, 8)).shape
        torch.Size([2, 32, 4, 4])
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.dropout = dropout
        self.projection = (
            nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)
            if stride != 1 or in_channels != out_channels
            else None
        )

    def forward(self, x: Tensor) -> Tensor:
        activated = F.relu(self.bn1(x))
        out = self.conv1(activated)
        out = F.dropout(F.relu(self.bn2(out)), p=self.dropout, training=self.training)
        out = self.conv2(out)
        return out + (x if self.projection is None else self.projection(activated))


class WideResNet(nn.Module):
    """WRN-d-k: a 3x3 stem of 16 channels, three stages of n = (d - 4) / 6 wide blocks (16k, 32k and 64k
    channels, the last two at stride 2), a final BN-ReLU, global average pooling and a linear classifier.

    Args:
        input_shape: ``(channels, height, width)`` of one image.
        num_classes: number of output logits.
        depth: d = 6n + 4, e.g. 16, 22, 28, 40.
        widen_factor: k, the width multiplier (1 is a thin pre-activation ResNet).
        dropout: dropout probability inside each block.

    Attributes:
        feature_dim: 64k, the pooled width.
        classifier: the final ``nn.Linear(64k, num_classes)``.

    Shape:
        - Input: ``(N, C, H, W)``
        - Output: ``(N, num_classes)``; :meth:`features` gives ``(N, 64k)``.

    Example:
        >>> model = WideResNet((3, 32, 32), num_classes=10, depth=10, widen_factor=2)
        >>> model(torch.randn(2, 3, 32, 32)).shape, model.feature_dim
        (torch.Size([2, 10]), 128)
    """

    def __init__(
        self,
        input_shape: Tuple[int, int, int],
        num_classes: int,
        depth: int = 28,
        widen_factor: int = 10,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if depth < 10 or (depth - 4) % 6 != 0:
            raise ValueError(f"WRN depth must be 6n+4 with n >= 1, got {depth}")
        if isinstance(widen_factor, bool) or not isinstance(widen_factor, int) or widen_factor < 1:
            raise ValueError(f"WRN widen_factor must be an integer >= 1, got {widen_factor!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"WRN dropout must lie in [0, 1), got {dropout!r}")
        blocks_per_stage = (depth - 4) // 6
        self.stem = nn.Conv2d(input_shape[0], 16, 3, padding=1, bias=False)
        stages, width = [], 16
        for stage_width, stride in ((16 * widen_factor, 1), (32 * widen_factor, 2), (64 * widen_factor, 2)):
            for index in range(blocks_per_stage):
                stages.append(WideBasicBlock(width, stage_width, stride if index == 0 else 1, dropout))
                width = stage_width
        self.stages = nn.Sequential(*stages)
        self.final = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1))
        self.feature_dim = width
        self.classifier = nn.Linear(width, num_classes)
        self.depth, self.widen_factor = depth, widen_factor
        he_initialize(self)
        nn.init.zeros_(self.classifier.bias)

    def features(self, x: Tensor) -> Tensor:
        """Globally pooled activations after the final BN-ReLU, shape ``(N, 64k)``."""
        return torch.flatten(self.final(self.stages(self.stem(x))), 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


def wrn28_10(input_shape: Tuple[int, int, int], num_classes: int) -> WideResNet:
    """WRN-28-10 (36.5M parameters), the SLF paper's WRN row. Example: ``wrn28_10((3, 32, 32), 10)``."""
    return WideResNet(input_shape, num_classes, depth=28, widen_factor=10)
