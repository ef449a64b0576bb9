"""Multi-layer perceptron over flattened images."""

from __future__ import annotations

import math
from typing import Sequence, Tuple

from torch import Tensor, nn


class MLP(nn.Module):
    """Fully connected network: flatten -> (Linear -> ReLU) per hidden layer -> Linear.

    Args:
        input_shape: shape of one input, e.g. ``(1, 28, 28)``.
        num_classes: number of output logits.
        hidden: widths of the hidden layers (default 256, 128).

    Attributes:
        feature_dim: width of the penultimate layer (the last hidden width).
        classifier: the final ``nn.Linear(feature_dim, num_classes)``.

    Shape:
        - Input: ``(N, *input_shape)``
        - Output: ``(N, num_classes)``; :meth:`features` gives ``(N, feature_dim)``.

    Example:
        >>> import torch
        >>> model = MLP((1, 28, 28), num_classes=10)
        >>> model(torch.randn(4, 1, 28, 28)).shape, model.features(torch.randn(4, 1, 28, 28)).shape
        (torch.Size([4, 10]), torch.Size([4, 128]))
    """

    def __init__(self, input_shape: Tuple[int, ...], num_classes: int, hidden: Sequence[int] = (256, 128)) -> None:
        super().__init__()
        if not hidden:
            raise ValueError("MLP needs at least one hidden layer")
        in_features = math.prod(input_shape)
        layers = []
        for width in hidden:
            layers += [nn.Linear(in_features, width), nn.ReLU(inplace=True)]
            in_features = width
        self.body = nn.Sequential(nn.Flatten(), *layers)
        self.feature_dim = int(hidden[-1])
        self.classifier = nn.Linear(self.feature_dim, num_classes)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate activations, shape ``(N, feature_dim)``."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))
