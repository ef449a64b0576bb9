"""The SLF modules inside a model, found the same way by every host's logger and held-out step.

A host's hook or callback walks the model once: :func:`slf_modules` gives each
:class:`slf.StochasticLoss` and each weighting of a loss's parts (:class:`slf.LossPartWeighting`
or a peer of :mod:`slf.part_weightings`) with its path (a StochasticLoss inside a
LossPartWeighting belongs to its parent), :func:`slf_scalars` the values to log, and
:func:`default_recipe_losses` the losses that want held-out batches.

Example:
    >>> from torch import nn
    >>> from slf import StochasticLoss
    >>> model = nn.Module()
    >>> model.head = nn.Linear(4, 3)
    >>> model.loss = StochasticLoss(["ce", "mae"])
    >>> [(path, type(module).__name__) for path, module in slf_modules(model)]
    [('loss', 'StochasticLoss')]
    >>> sorted(slf_scalars(model.loss)), len(default_recipe_losses(model))
    (['weight/ce', 'weight/mae'], 1)
"""

from __future__ import annotations

from typing import Dict, Iterator, List, Tuple, Union

from torch import nn

from .part_weighting_base import PartWeighting
from .stochastic_loss import StochasticLoss

SLFModule = Union[StochasticLoss, PartWeighting]


def slf_modules(model: nn.Module) -> Iterator[Tuple[str, SLFModule]]:
    """Every SLF module of ``model`` (unwrapped from ``DistributedDataParallel`` / ``DataParallel``)
    with its path (``'model'`` for the model itself)."""
    if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
        model = model.module
    owners: List[str] = []
    for path, module in model.named_modules():
        if isinstance(module, (StochasticLoss, PartWeighting)):
            if any(path.startswith(owner + ".") for owner in owners):
                continue
            owners.append(path)
            yield path or "model", module


def slf_scalars(module: SLFModule) -> Dict[str, float]:
    """The logged scalars of one module: its part lambdas (``lambda/<part>``) or its candidates'
    weights in the last training call (``weight/<candidate>``)."""
    if isinstance(module, PartWeighting):
        return {f"lambda/{name}": float(value) for name, value in zip(module.part_names, module.lambdas)}
    return {f"weight/{name}": float(value) for name, value in zip(module.candidate_names, module.weights)}


def default_recipe_losses(model: nn.Module) -> List[StochasticLoss]:
    """The model's losses in the default recipe (``mode='align'``): those a held-out step serves."""
    if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
        model = model.module
    return [module for module in model.modules() if isinstance(module, StochasticLoss) and module.mode == "align"]
