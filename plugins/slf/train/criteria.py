"""The losses and optimiser of an ``slf classify`` run, built from its :class:`ClassifyConfig`:
the training criterion (a registry loss, a feature loss with its own classifier, SLF or MILS's
primary), fixed-weight extra losses, MILS and the optimiser."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from .. import distributed, losses
from .classify_config import ClassifyConfig
from .settings import TrainingSettings


def build_criterion(
    cfg: ClassifyConfig, model: nn.Module, num_classes: int, held_out: Optional[Iterable[Tuple[Tensor, Tensor]]] = None
) -> Tuple[nn.Module, str]:
    """The training loss for ``cfg`` and what it reads: ``'logits'``, ``'features'``, ``'slf'`` or ``'mils'``.

    ``held_out`` batches (the validation split's) give SLF's default recipe its reference.

    For ``loss='mils'`` it returns the primary loss (kind ``'mils'``); the trainer wraps
    it, the model and the optimizer in :class:`slf.MILS`.

    A loss whose class has ``input_kind == 'features'`` owns the last layer: it is built
    with ``in_features=model.feature_dim`` and ``num_classes``, reads
    ``model.features(x)`` and predicts with ``loss.logits(features)``.

    Example:
        >>> from slf.models import build_model
        >>> model = build_model("mlp", (1, 8, 8), 10)
        >>> build_criterion(ClassifyConfig(loss="ce"), model, 10)[1]
        'logits'
    """
    if cfg.is_slf:
        from ..held_out import HeldOut
        from ..stochastic_loss import StochasticLoss

        options: Dict[str, Any] = dict(
            candidates=list(cfg.slf_candidates),
            task="classification",
            num_samples=cfg.slf_samples,
            tau=cfg.slf_tau,
            mode=cfg.slf_mode,
        )
        if cfg.slf_decision_lr is not None:
            options["decision_lr"] = cfg.slf_decision_lr
        if cfg.slf_mode == "align" and held_out is not None:
            options["held_out"] = HeldOut(model, held_out)
        options.update(cfg.slf_options)
        return StochasticLoss(**options), "slf"
    if cfg.is_mils:
        if getattr(losses.resolve(cfg.mils_primary, "classification"), "learns_online", False):
            raise ValueError(f"loss {cfg.mils_primary!r} learns online and trains alone; it cannot be MILS's primary")
        return losses.build(cfg.mils_primary, task="classification"), "mils"
    loss_cls = losses.resolve(cfg.loss, "classification")
    options = dict(cfg.loss_options)
    if getattr(loss_cls, "input_kind", "logits") == "features":
        if not callable(getattr(loss_cls, "logits", None)):
            raise ValueError(
                f"loss {cfg.loss!r} reads features and has no classifier of its own (no .logits); "
                f"use it as a MILS auxiliary (loss='mils') or in extra_losses next to a loss that trains the model"
            )
        options.setdefault("in_features", int(model.feature_dim))
        options.setdefault("num_classes", int(num_classes))
        return losses.build(cfg.loss, task="classification", **options), "features"
    options = loss_options_with_lr(loss_cls, options, cfg.lr)
    if getattr(loss_cls, "sized_by_classes", False):  # L2T-DLF's C x C coefficients
        options.setdefault("num_classes", int(num_classes))
    return losses.build(cfg.loss, task="classification", **options), "logits"


def loss_options_with_lr(loss_cls: type, options: Mapping[str, Any], lr: float) -> Dict[str, Any]:
    """``options`` of a registry loss; one that learns online (AdaLFL) takes the model's learning rate
    as its look-ahead step unless ``options`` sets ``lookahead_lr``.

    Example:
        >>> loss_options_with_lr(losses.resolve("adalfl", "classification"), {}, 0.01)
        {'lookahead_lr': 0.01}
    """
    options = dict(options)
    if getattr(loss_cls, "learns_online", False):
        options.setdefault("lookahead_lr", lr)
    return options


def check_online_loss_world(criterion: nn.Module, name: str, world: int) -> bool:
    """Whether ``criterion`` learns online: its trainer calls ``criterion.meta_step(model, x, y)`` before
    each step, with a held-out batch (``held_x, held_y``) where the loss ``needs_held_out`` (L2T-DLF);
    refused on more than one process, whose loss networks would drift apart."""
    learns_online = bool(getattr(criterion, "learns_online", False))
    if learns_online and world > 1:
        raise ValueError(
            f"loss {name!r} learns its loss network from each step's look-ahead, which is not "
            f"synchronised across processes; run it on one process (world size is {world})"
        )
    return learns_online


def check_online_held_out(criterion: nn.Module, name: str, held_out_size: int, needs: str) -> bool:
    """Whether ``criterion`` learns online on held-out batches (L2T-DLF: its trainer passes ``held_x,
    held_y`` to ``meta_step``); refused, saying it ``needs`` (the trainer's option), where the
    held-out split is empty.

    Example:
        >>> check_online_held_out(nn.MSELoss(), "mse", 0, "a validation split")
        False
    """
    held = bool(getattr(criterion, "learns_online", False) and getattr(criterion, "needs_held_out", False))
    if held and held_out_size == 0:
        raise ValueError(f"loss {name!r} learns on held-out data: it needs {needs}")
    return held


def loss_parameters_for_optimizer(criterion: nn.Module, kind: str) -> List[nn.Parameter]:
    """The loss's parameters that the model's optimizer must update.

    A single loss: all its parameters (e.g. ``adaptive_robust``'s alpha and scale, the
    weight matrix of ``large_margin_softmax``). SLF: its decision network in joint and
    softmax modes; in validation mode the decision network has its own optimizer and
    only parameters of the candidates themselves (if any) are returned.
    """
    if kind == "mils" or getattr(criterion, "learns_online", False):  # MILS, AdaLFL: their own optimizers
        return []
    parameters = criterion.parameters_for_model_optimizer() if kind == "slf" else criterion.parameters()
    return [p for p in parameters if p.requires_grad]


def build_optimizer(cfg: TrainingSettings, parameters: Sequence[nn.Parameter]) -> torch.optim.Optimizer:
    """Adam, RMSprop or SGD with momentum over ``parameters``, from ``cfg.optimizer``, ``lr``,
    ``momentum`` and ``weight_decay``."""
    if cfg.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(parameters, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def build_extra_losses(
    cfg: ClassifyConfig, model: nn.Module, num_classes: int, device: Any
) -> Dict[str, Tuple[nn.Module, float]]:
    """``cfg.extra_losses`` built as ``{name: (module, weight)}`` (feature losses sized for ``model``)."""
    extras: Dict[str, Tuple[nn.Module, float]] = {}
    for name, weight in cfg.extra_losses.items():
        cls = losses.resolve(name, "classification")
        if getattr(cls, "learns_online", False):
            raise ValueError(f"loss {name!r} learns online and trains alone; it cannot be an extra loss")
        options: Dict[str, Any] = {}
        if getattr(cls, "input_kind", "logits") == "features":
            options = dict(in_features=int(model.feature_dim), num_classes=int(num_classes))
        extras[name] = (losses.build(name, task="classification", **options).to(device), float(weight))
    return extras


def reads_logits_only(cfg: ClassifyConfig, kind: str, extras: Mapping[str, Tuple[nn.Module, float]]) -> bool:
    """Whether every loss of the step reads ``model(x)`` alone, so DDP's forward sees it all."""
    if kind == "features" or extras:
        return False
    if kind == "mils":
        names = (cfg.mils_primary, *cfg.mils_aux)
        return all(
            getattr(losses.resolve(name, "classification"), "input_kind", "logits") == "logits" for name in names
        )
    return True


def loss_with_extras(
    model: nn.Module,
    criterion: nn.Module,
    kind: str,
    extras: Mapping[str, Tuple[nn.Module, float]],
    x: Tensor,
    y: Tensor,
) -> Tensor:
    """The criterion's loss plus the fixed-weight extra losses (features computed once)."""
    if not extras:
        output = model.features(x) if kind == "features" else model(x)
        return criterion(output, y)
    features = model.features(x)
    logits = None if kind == "features" else model.classifier(features)
    loss = criterion(features if kind == "features" else logits, y)
    for module, weight in extras.values():
        if getattr(module, "input_kind", "logits") == "features":
            loss = loss + weight * module(features, y)
        else:
            logits = model.classifier(features) if logits is None else logits
            loss = loss + weight * module(logits, y)
    return loss


def build_mils(
    cfg: ClassifyConfig,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    primary: nn.Module,
    train_x: Tensor,
    train_y: Tensor,
    num_classes: int,
):
    """:class:`slf.MILS` for ``cfg``; its observation set is ``cfg.mils_obs_size`` random training samples.

    ``train_y`` are the labels the model trains on, so under ``cfg.label_noise`` the observation
    set holds noisy labels too (the paper copies it from the training set).
    """
    from ..mils import MILS

    order = torch.randperm(len(train_y), generator=torch.Generator().manual_seed(cfg.seed + 2))
    # Under torch.distributed each rank observes its shard; MILS sums the counts over ranks.
    index = order[: cfg.mils_obs_size][distributed.rank() :: distributed.world_size()].to(train_y.device)
    return MILS(
        model,
        optimizer,
        primary=primary,
        auxiliaries=list(cfg.mils_aux),
        rate=cfg.mils_rate,
        observation=(train_x[index], train_y[index]),
        aux_weights=cfg.mils_aux_weights,
        rule=cfg.mils_rule,
        seed=cfg.seed,
        num_classes=num_classes,
    )
