"""Classification models with a shared contract: ``build_model(name, input_shape, num_classes)``.

Every model exposes ``features(x) -> (N, feature_dim)`` (penultimate activations), a
``classifier: nn.Linear`` and ``feature_dim: int``, with
``forward(x) == classifier(features(x))``; losses that own the last layer
(``input_kind == 'features'``) read ``features(x)`` instead of the logits.
"""

from __future__ import annotations

from typing import Callable, Dict, Tuple

from torch import nn

from .densenet import DenseNetBC, densenet_bc100
from .lenet import LeNet
from .mlp import MLP
from .resnet import BasicBlock, CifarResNet, resnet8, resnet20, resnet32
from .wide_resnet import WideResNet, wrn28_10

MODEL_BUILDERS: Dict[str, Callable[[Tuple[int, ...], int], nn.Module]] = {
    "mlp": MLP,
    "lenet": LeNet,
    "resnet8": resnet8,
    "resnet20": resnet20,
    "resnet32": resnet32,
    "wrn28_10": wrn28_10,
    "densenet_bc100": densenet_bc100,
}
MODEL_CHOICES = tuple(MODEL_BUILDERS)
VECTOR_MODELS = ("mlp",)  # the models that also read a table's feature vectors


def build_model(name: str, input_shape: Tuple[int, ...], num_classes: int) -> nn.Module:
    """Build a classifier by name.

    Args:
        name: one of ``mlp``, ``lenet``, ``resnet8``, ``resnet20``, ``resnet32``, ``wrn28_10`` (WRN-28-10),
            ``densenet_bc100`` (DenseNet-BC, L = 100, k = 12).
        input_shape: ``(channels, height, width)`` of one image, or ``(features,)`` of a
            table's row (``mlp`` only).
        num_classes: number of output logits.

    Raises:
        ValueError: unknown name (the message lists the valid ones), or an image model
            asked to read feature vectors.

    Example:
        >>> import torch
        >>> model = build_model("lenet", (1, 28, 28), 10)
        >>> model(torch.zeros(2, 1, 28, 28)).shape, model.feature_dim
        (torch.Size([2, 10]), 84)
    """
    key = str(name).lower()
    if key not in MODEL_BUILDERS:
        raise ValueError(f"unknown model {name!r}; valid choices: {', '.join(MODEL_CHOICES)}")
    shape = tuple(int(s) for s in input_shape)
    if key not in VECTOR_MODELS and len(shape) != 3:
        raise ValueError(
            f"model {name!r} reads images (channels, height, width), got inputs of shape {shape}; "
            f"for feature vectors (a table) use one of: {', '.join(VECTOR_MODELS)}"
        )
    return MODEL_BUILDERS[key](shape, int(num_classes))


__all__ = [
    "BasicBlock",
    "CifarResNet",
    "DenseNetBC",
    "LeNet",
    "MLP",
    "MODEL_CHOICES",
    "WideResNet",
    "build_model",
    "densenet_bc100",
    "resnet8",
    "resnet20",
    "resnet32",
    "wrn28_10",
]
