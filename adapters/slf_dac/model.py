r"""DAC's ConvNet: convolution stages, a k-channel 1x1 layer, two k-wide dense layers and
a k-way softmax whose output is the *label feature* :math:`\mathbf l_i` of an image.

The layout follows the DAC authors' MNIST network: each stage is three 3x3
convolutions with batch normalisation and ReLU followed by 2x2 max pooling; then a 1x1
convolution to k channels, average pooling, and two dense k x k layers with batch
normalisation and ReLU. Here the convolutions are padded, so the same network takes 8x8
digits, 28x28 MNIST, 32x32 CIFAR and 96x96 ImageNet crops; larger images get more
stages (:func:`num_stages`), and ``width`` scales the channel counts (DAC: 64).
"""

from __future__ import annotations

import math
from typing import List

import torch
from torch import Tensor, nn

__all__ = ["DACNet", "num_stages"]


def num_stages(image_size: int) -> int:
    """Convolution stages (each halving the resolution) for square images of this size:
    two, plus one per further doubling above 32 pixels.

    Example:
        >>> [num_stages(s) for s in (8, 28, 32, 64, 96)]
        [2, 2, 2, 3, 4]
    """
    if image_size < 4:
        raise ValueError(f"images must be at least 4x4 pixels, got {image_size}")
    return max(2, math.ceil(math.log2(image_size / 8)))


def _conv_block(in_channels: int, out_channels: int, kernel_size: int = 3) -> List[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class DACNet(nn.Module):
    r"""The label-feature network :math:`f(\mathbf x; \mathbf w)` of Deep Adaptive Clustering.

    :meth:`forward` returns the scores before the softmax; :meth:`label_features` returns

    .. math::

        \mathbf l_i = \operatorname{softmax}(f(\mathbf x_i; \mathbf w)) \in [0, 1]^k,

    whose argmax is the cluster of :math:`\mathbf x_i`.

    Args:
        in_channels: image channels (1 or 3).
        num_clusters: k, the number of clusters (>= 2).
        image_size: side of the square input images.
        width: channels of the first stage (later stages use twice as many).

    Shape:
        - Input: :math:`(N, C, H, W)`; Output: :math:`(N, k)`.

    Example:
        >>> net = DACNet(1, num_clusters=10, image_size=28, width=8)
        >>> net.label_features(torch.randn(4, 1, 28, 28)).sum(dim=1)
        tensor([1.0000, 1.0000, 1.0000, 1.0000], grad_fn=<SumBackward1>)
    """

    def __init__(self, in_channels: int, num_clusters: int, image_size: int, width: int = 64) -> None:
        super().__init__()
        if isinstance(num_clusters, bool) or not isinstance(num_clusters, int) or num_clusters < 2:
            raise ValueError(f"num_clusters (k) must be an integer >= 2, got {num_clusters!r}")
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        self.num_clusters = num_clusters
        layers: List[nn.Module] = []
        channels = in_channels
        for stage in range(num_stages(image_size)):
            out = width if stage == 0 else 2 * width
            for _ in range(3):
                layers += _conv_block(channels, out)
                channels = out
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
        layers += _conv_block(channels, num_clusters, kernel_size=1)
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        for _ in range(2):
            layers += [nn.Linear(num_clusters, num_clusters), nn.BatchNorm1d(num_clusters), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He-normal convolutions (as DAC), identity-initialised dense layers, unit batch norms."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            elif isinstance(module, nn.Linear):
                nn.init.eye_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                module.reset_parameters()

    def forward(self, images: Tensor) -> Tensor:
        return self.body(images)

    def label_features(self, images: Tensor) -> Tensor:
        r"""The softmax label features :math:`\mathbf l_i`, ``(N, k)``."""
        return torch.softmax(self(images), dim=1)
