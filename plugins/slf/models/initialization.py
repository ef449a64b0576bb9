"""He initialisation of the CIFAR networks: Kaiming-normal convolutions, BatchNorm at weight 1 and bias 0."""

from __future__ import annotations

from torch import nn


def he_initialize(model: nn.Module, linear: bool = False) -> None:
    """Kaiming-normal (fan-in, ReLU gain) weights and zero biases for every convolution of ``model`` (and its
    linear layers with ``linear=True``); every ``BatchNorm2d`` at weight 1, bias 0.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
        >>> he_initialize(net)
        >>> float(net[1].weight.mean()), float(net[1].bias.abs().sum())
        (1.0, 0.0)
    """
    for module in model.modules():
        if isinstance(module, nn.Conv2d) or (linear and isinstance(module, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
