"""Classification models with a shared contract: ``build_model(name, input_shape, num_classes)``.

Every model exposes ``features(x) -> (N, feature_dim)`` (penultimate activations), a
``classifier: nn.Linear`` and ``feature_dim: int``, with
``forward(x) == classifier(features(x))``; losses that own the last layer
(``input_kind == 'features'``) read ``features(x)`` instead of the logits.
"""
from __future__ import annotations

from typing import Callable, Dict, Tuple

from torch import nn

from .lenet import LeNet
from .mlp import MLP
from .resnet import BasicBlock, CifarResNet, resnet8, resnet20, resnet32

MODEL_BUILDERS: Dict[str, Callable[[Tuple[int, ...], int], nn.Module]] = {
    "mlp": MLP,
    "lenet": LeNet,
    "resnet8": resnet8,
    "resnet20": resnet20,
    "resnet32": resnet32,
}
MODEL_CHOICES = tuple(MODEL_BUILDERS)


def build_model(name: str, input_shape: Tuple[int, ...], num_classes: int) -> nn.Module:
    """Build a classifier by name.

    Args:
        name: one of ``mlp``, ``lenet``, ``resnet8``, ``resnet20``, ``resnet32``.
        input_shape: ``(channels, height, width)`` of one image.
        num_classes: number of output logits.

    Raises:
        ValueError: unknown name (the message lists the valid ones).

    Example:
        >>> import torch
        >>> model = build_model("lenet", (1, 28, 28), 10)
        >>> model(torch.zeros(2, 1, 28, 28)).shape, model.feature_dim
        (torch.Size([2, 10]), 84)
    """
    key = str(name).lower()
    if key not in MODEL_BUILDERS:
        raise ValueError(f"unknown model {name!r}; valid choices: {', '.join(MODEL_CHOICES)}")
    return MODEL_BUILDERS[key](tuple(int(s) for s in input_shape), int(num_classes))


__all__ = [
    "BasicBlock", "CifarResNet", "LeNet", "MLP", "MODEL_CHOICES",
    "build_model", "resnet8", "resnet20", "resnet32",
]
