"""Plain-PyTorch image classification with a registry loss, a baseline, SLF or MILS.

One function trains one seed (:func:`train_classifier`); :func:`run_classify` repeats
it over seeds, writes ``results.json`` and PNGs, and summarises test accuracy as
mean +- std.
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor, nn

from .. import distributed, losses
from ..data import NOISE_TYPES, DatasetSplits, corrupt_labels, load_dataset
from ..models import build_model
from ..stochastic_loss import DEFAULT_MODE, MODES as SLF_MODES
from .common import format_table, format_top_weights, load_run_results, seed_everything, slf_run_record, top_weight
from .harness import interval_cell, run_seeds, summarize_seeds

PAPER_CANDIDATES: Tuple[str, ...] = ("ce", "mse", "mae", "hinge", "cosine", "bce")
MILS_RULES = ("not_worse", "better", "always")
OPTIMIZERS = ("adam", "sgd")


@dataclass
class ClassifyConfig:
    """Everything one classification run needs; stored verbatim in ``results.json``.

    Attributes:
        data: ``'mnist5k'``, ``'digits'``, ``'cifar10:PATH'`` or ``'cifar100:PATH'``.
        model: ``'mlp'``, ``'lenet'``, ``'resnet8'``, ``'resnet20'`` or ``'resnet32'``.
        loss: a registry name (``slf.losses.available('classification')``, baselines
            such as ``large_margin_softmax`` included), ``'slf'`` or ``'mils'``.
        slf_mode: ``'align'`` (the default recipe: gradient alignment with the validation
            split, :mod:`slf.alignment`), ``'joint'`` (Algorithm 1 as written), ``'softmax'``
            (SLF-Softmax) or ``'validation'`` (decision network learned on held-out batches).
        slf_candidates: candidate loss names (default: the paper's six).
        slf_samples: K, the number of Gumbel-Softmax samples averaged.
        slf_tau: Gumbel-Softmax temperature.
        slf_decision_lr: learning rate of the decision network's own optimizer
            (validation mode; ``None`` keeps StochasticLoss's default).
        slf_options: further ``StochasticLoss`` keyword arguments, e.g. ``{'normalize': 'mean'}``.
        loss_options: keyword arguments for a registry loss, e.g. ``{'gamma': 2.0}``.
        extra_losses: further registry losses added to ``loss`` with fixed weights,
            e.g. ``{'center': 0.01}`` trains on ``loss + 0.01 * center``
            (feature losses read ``model.features(x)``; their parameters join the optimizer).
        mils_primary: MILS's primary loss (``loss='mils'``).
        mils_aux: MILS's auxiliary losses.
        mils_rate: MILS's participation rate r in [0, 1].
        mils_obs_size: size of MILS's observation set, drawn from the training split (with its
            noisy labels when ``label_noise > 0``: MILS judges on the labels it trains on).
        mils_rule: ``'not_worse'``, ``'better'`` or ``'always'`` (no accept test: the ablation).
        mils_aux_weights: sampling weights of the auxiliaries (``None``: uniform).
        optimizer: ``'adam'`` or ``'sgd'`` (momentum ``momentum``).
        lr: learning rate of the model's optimizer.
        momentum: SGD momentum.
        weight_decay: L2 penalty of the model's optimizer.
        batch_size: training batch size (also the held-out batch size in validation mode).
        epochs: passes over the training split.
        seed: seeds torch, numpy and random for this run.
        data_seed: seed of the data split (``None``: the run's seed).
        device: torch device, e.g. ``'cpu'`` or ``'cuda'``.
        num_threads: CPU threads for torch (``None``: torch's default).
        val_size: validation samples (``None``: the data set's default).
        test_size: test samples (``None``: the data set's default).
        max_train_samples: cap on training samples, a stratified subset (``None``: all).
        eval_batch_size: batch size for accuracy evaluation.
        label_noise: fraction in [0, 1) of the *training* labels flipped, exactly
            ``round(label_noise * N)`` of them (:func:`slf.data.corrupt_labels`); validation and
            test labels stay clean, so model selection and SLF's validation mode see clean data.
        noise_type: ``'symmetric'`` (a flipped label goes to a uniformly random other class) or
            ``'pairflip'`` (class c goes to c + 1 mod C).
        noise_seed: seed of the label flips (``None``: the run's seed).

    Example:
        >>> cfg = ClassifyConfig(loss="slf", slf_mode="joint", epochs=1)
        >>> cfg.method
        'slf-joint'
    """

    data: str = "mnist5k"
    model: str = "mlp"
    loss: str = "ce"
    slf_mode: str = DEFAULT_MODE
    slf_candidates: Tuple[str, ...] = PAPER_CANDIDATES
    slf_samples: int = 3
    slf_tau: float = 1.0
    slf_decision_lr: Optional[float] = None
    slf_options: Dict[str, Any] = field(default_factory=dict)
    loss_options: Dict[str, Any] = field(default_factory=dict)
    extra_losses: Dict[str, float] = field(default_factory=dict)
    mils_primary: str = "ce"
    mils_aux: Tuple[str, ...] = ("multi_margin",)
    mils_rate: float = 0.01
    mils_obs_size: int = 128
    mils_rule: str = "not_worse"
    mils_aux_weights: Optional[Tuple[float, ...]] = None
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 128
    epochs: int = 10
    seed: int = 0
    data_seed: Optional[int] = None
    device: str = "cpu"
    num_threads: Optional[int] = None
    val_size: Optional[int] = None
    test_size: Optional[int] = None
    max_train_samples: Optional[int] = None
    eval_batch_size: int = 1000
    label_noise: float = 0.0
    noise_type: str = "symmetric"
    noise_seed: Optional[int] = None

    def __post_init__(self) -> None:
        self.slf_candidates = tuple(self.slf_candidates)
        self.mils_aux = (self.mils_aux,) if isinstance(self.mils_aux, str) else tuple(self.mils_aux)
        if self.mils_aux_weights is not None:
            self.mils_aux_weights = tuple(float(w) for w in self.mils_aux_weights)
        if not 0.0 <= self.mils_rate <= 1.0:
            raise ValueError(f"mils_rate must be a number in [0, 1], got {self.mils_rate}")
        if self.mils_rule not in MILS_RULES:
            raise ValueError(f"mils_rule must be one of {list(MILS_RULES)}, got {self.mils_rule!r}")
        if self.mils_obs_size < 1:
            raise ValueError(f"mils_obs_size must be >= 1, got {self.mils_obs_size}")
        if self.is_mils and not self.mils_aux:
            raise ValueError("mils_aux must name at least one auxiliary loss")
        for name, weight in self.extra_losses.items():
            if not (isinstance(weight, (int, float)) and math.isfinite(weight)):
                raise ValueError(f"extra_losses[{name!r}] must be a finite number, got {weight!r}")
        if self.optimizer.lower() not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {self.optimizer!r}")
        self.optimizer = self.optimizer.lower()
        if self.slf_mode not in SLF_MODES:
            raise ValueError(f"slf_mode must be one of {list(SLF_MODES)}, got {self.slf_mode!r}")
        for name, value in (("epochs", self.epochs), ("batch_size", self.batch_size),
                            ("slf_samples", self.slf_samples), ("eval_batch_size", self.eval_batch_size)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.noise_type not in NOISE_TYPES:
            raise ValueError(f"noise_type must be one of {list(NOISE_TYPES)}, got {self.noise_type!r}")
        if not 0.0 <= self.label_noise < 1.0:
            raise ValueError(f"label_noise must be a number in [0, 1), got {self.label_noise}")

    @property
    def method(self) -> str:
        """A short label: the loss name, ``slf-<mode>`` (with ``+normalize``, ``+cosine``,
        ``+per-sample``, ``+reads-losses`` for those options) or
        ``mils-<primary>+<aux>...`` (``-<rule>`` unless ``not_worse``)."""
        if self.is_mils:
            label = f"mils-{self.mils_primary}+" + "+".join(self.mils_aux)
            return label + ("" if self.mils_rule == "not_worse" else f"-{self.mils_rule}")
        if not self.is_slf:
            return self.loss + "".join(f"+{weight:g}*{name}" for name, weight in self.extra_losses.items())
        options = self.slf_options
        return (f"slf-{self.slf_mode}" + ("+normalize" if options.get("normalize") else "")
                + ("+cosine" if options.get("hypergradient") == "cosine" else "")
                + ("+per-sample" if options.get("selection") == "sample" else "")
                + ("+reads-losses" if options.get("decision_reads_losses") else ""))

    @property
    def is_slf(self) -> bool:
        return self.loss == "slf"

    @property
    def is_mils(self) -> bool:
        return self.loss == "mils"


# ---------------------------------------------------------------------- building blocks
def build_criterion(cfg: ClassifyConfig, model: nn.Module, num_classes: int,
                    held_out: Optional[Iterable[Tuple[Tensor, Tensor]]] = None) -> Tuple[nn.Module, str]:
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
            candidates=list(cfg.slf_candidates), task="classification", num_samples=cfg.slf_samples,
            tau=cfg.slf_tau, mode=cfg.slf_mode,
        )
        if cfg.slf_decision_lr is not None:
            options["decision_lr"] = cfg.slf_decision_lr
        if cfg.slf_mode == "align" and held_out is not None:
            options["held_out"] = HeldOut(model, held_out)
        options.update(cfg.slf_options)
        return StochasticLoss(**options), "slf"
    if cfg.is_mils:
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
    return losses.build(cfg.loss, task="classification", **options), "logits"


def loss_parameters_for_optimizer(criterion: nn.Module, kind: str) -> List[nn.Parameter]:
    """The loss's parameters that the model's optimizer must update.

    A single loss: all its parameters (e.g. ``adaptive_robust``'s alpha and scale, the
    weight matrix of ``large_margin_softmax``). SLF: its decision network in joint and
    softmax modes; in validation mode the decision network has its own optimizer and
    only parameters of the candidates themselves (if any) are returned.
    """
    if kind == "mils":  # MILS updates its loss modules' parameters with its own optimizer
        return []
    parameters = criterion.parameters_for_model_optimizer() if kind == "slf" else criterion.parameters()
    return [p for p in parameters if p.requires_grad]


def build_optimizer(cfg: ClassifyConfig, parameters: Sequence[nn.Parameter]) -> torch.optim.Optimizer:
    """Adam, RMSprop or SGD with momentum over ``parameters``, from ``cfg.optimizer``, ``lr``,
    ``momentum`` and ``weight_decay``."""
    if cfg.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(parameters, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def batches(num: int, batch_size: int, generator: torch.Generator) -> Iterator[Tensor]:
    """Index batches over a fresh random permutation of ``range(num)``.

    A final batch of one sample is dropped: BatchNorm cannot train on it.
    """
    order = torch.randperm(num, generator=generator)
    for start in range(0, num, batch_size):
        index = order[start:start + batch_size]
        if len(index) >= 2 or num == 1:
            yield index


def steps_per_epoch(num: int, batch_size: int) -> int:
    full, rest = divmod(num, batch_size)
    return full + (1 if rest >= 2 or (num == 1) else 0)


def cycle_batches(inputs: Tensor, targets: Tensor, batch_size: int, generator: torch.Generator
                  ) -> Iterator[Tuple[Tensor, Tensor]]:
    """Endless held-out batches, reshuffled at every pass."""
    while True:
        for index in batches(len(targets), min(batch_size, len(targets)), generator):
            yield inputs[index], targets[index]


@torch.no_grad()
def evaluate_accuracy(model: nn.Module, criterion: nn.Module, kind: str, inputs: Tensor, targets: Tensor,
                      batch_size: int = 1000) -> float:
    """Top-1 accuracy of ``model`` (through ``criterion.logits`` for feature losses)."""
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, len(targets), batch_size):
        x = inputs[start:start + batch_size]
        logits = criterion.logits(model.features(x)) if kind == "features" else model(x)
        correct += int((logits.argmax(dim=1) == targets[start:start + batch_size]).sum())
    model.train(was_training)
    return correct / max(len(targets), 1)


# ---------------------------------------------------------------------- one seed
def train_classifier(cfg: ClassifyConfig, progress: bool = True) -> Dict[str, Any]:
    """Train and evaluate one seed.

    Args:
        cfg: the run's configuration (``cfg.seed`` is the seed).
        progress: show a tqdm progress bar over training steps.

    Returns:
        a JSON-serialisable dict: ``config``, ``method``, ``seed``, per-epoch lists
        ``train_loss``, ``val_acc``, ``test_acc``; ``final_test_acc``,
        ``best_val_epoch`` (1-based), ``best_val_test_acc``, ``time_per_step_s``,
        ``num_steps``, ``train_time_s``, ``sizes``; for SLF also ``candidates``,
        ``weights_history`` (``{'step', 'weights', 'tau'}`` rows), ``final_weights``,
        ``mean_weights``, ``slf_stats`` and (validation mode) per-epoch
        ``validation_loss``; with ``label_noise > 0`` also ``label_noise``: ``{'rate', 'type',
        'seed', 'flipped', 'actual_rate', 'clean_labels', 'noisy_labels'}``, the two label lists
        in training-split order. Only the training labels are corrupted; the model (and MILS's
        observation set) learn from the noisy ones, accuracies are measured on clean labels.

    Example:
        >>> result = train_classifier(ClassifyConfig(data="digits", epochs=1), progress=False)
        >>> 0.0 <= result["final_test_acc"] <= 1.0
        True
    """
    from tqdm.auto import tqdm

    previous_threads = torch.get_num_threads()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    try:
        seed_everything(cfg.seed)
        distributed.init_from_environment(cfg.device)
        world, rank = distributed.world_size(), distributed.rank()
        device = distributed.local_device(cfg.device)
        data_seed = cfg.seed if cfg.data_seed is None else cfg.data_seed
        splits: DatasetSplits = load_dataset(cfg.data, data_seed, cfg.val_size, cfg.test_size,
                                             cfg.max_train_samples)
        train_x, train_y = (t.to(device) for t in splits.train.tensors)
        noise_record = None
        if cfg.label_noise > 0:
            train_y, noise_record = noisy_training_labels(cfg, splits)
            train_y = train_y.to(device)
        val_x, val_y = (t.to(device) for t in splits.val.tensors)
        test_x, test_y = (t.to(device) for t in splits.test.tensors)

        model = build_model(cfg.model, splits.input_shape, splits.num_classes).to(device)
        criterion, kind = build_criterion(cfg, model, splits.num_classes,
                                          held_out=_held_out_shards(val_x, val_y, cfg, world, rank))
        criterion = criterion.to(device)
        extras = build_extra_losses(cfg, model, splits.num_classes, device)
        extra_parameters = [p for module, _ in extras.values() for p in module.parameters() if p.requires_grad]
        loss_parameters = [*loss_parameters_for_optimizer(criterion, kind), *extra_parameters]
        optimizer = build_optimizer(cfg, [*model.parameters(), *loss_parameters])
        # DDP where the step is model(x); feature-reading losses average their gradients explicitly.
        trained = distributed.data_parallel(model) if _reads_logits_only(cfg, kind, extras) else model
        mils = build_mils(cfg, trained, optimizer, criterion, train_x, train_y, splits.num_classes) \
            if kind == "mils" else None
        validation_mode = kind == "slf" and criterion.mode == "validation"
        if validation_mode and len(val_y) == 0:
            raise ValueError("SLF validation mode needs a non-empty validation split (val_size > 0)")

        shuffle = torch.Generator().manual_seed(cfg.seed)
        held_out = (cycle_batches(val_x, val_y, cfg.batch_size, torch.Generator().manual_seed(cfg.seed + 1))
                    if validation_mode else None)
        per_epoch = steps_per_epoch(len(train_y), cfg.batch_size)
        bar = tqdm(total=per_epoch * cfg.epochs, disable=not progress or rank != 0, unit="step",
                   desc=f"{cfg.method} seed {cfg.seed}", dynamic_ncols=True)
        result: Dict[str, Any] = {"train_loss": [], "val_acc": [], "test_acc": []}
        if validation_mode:
            result["validation_loss"] = []
        step_seconds: List[float] = []
        step = 0
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            criterion.train()
            loss_sum, loss_count, val_loss_sum, val_loss_count = 0.0, 0, 0.0, 0
            for index in batches(len(train_y), cfg.batch_size, shuffle):
                if world > 1:  # each rank its shard of the global batch
                    if len(index) < world:
                        continue
                    index = index[rank::world]
                x, y = train_x[index], train_y[index]
                started = time.perf_counter()
                if mils is not None:
                    loss = torch.tensor(mils.step(x, y)["loss"])
                else:
                    optimizer.zero_grad(set_to_none=True)
                    loss = _loss_with_extras(trained, criterion, kind, extras, x, y)
                    loss.backward()
                    if world > 1:
                        distributed.average_gradients(loss_parameters if trained is not model
                                                      else [*model.parameters(), *loss_parameters])
                    optimizer.step()
                if validation_mode:
                    held_x, held_y = next(held_out)
                    if world > 1:
                        held_x, held_y = held_x[rank::world], held_y[rank::world]
                    info = criterion.validation_step(model, x, y, held_x, held_y)
                    if "validation_loss" in info:  # absent on steps that validation_interval skips
                        val_loss_sum += info["validation_loss"]
                        val_loss_count += 1
                step_seconds.append(time.perf_counter() - started)
                value = float(distributed.all_reduce_mean(loss.detach().reshape(1)))
                if not math.isfinite(value):
                    raise FloatingPointError(
                        f"{cfg.method} seed {cfg.seed}: the training loss became {value} at step {step} "
                        f"(epoch {epoch}); try a smaller --lr"
                    )
                loss_sum += value
                loss_count += 1
                step += 1
                bar.update(1)
                if step % 10 == 0 or step == 1:
                    postfix = {"loss": f"{value:.4f}"}
                    if kind == "slf":
                        postfix["top"] = top_weight(criterion)
                    bar.set_postfix(postfix, refresh=False)
            result["train_loss"].append(loss_sum / max(loss_count, 1))
            if validation_mode:
                result["validation_loss"].append(val_loss_sum / val_loss_count if val_loss_count else float("nan"))
            result["val_acc"].append(evaluate_accuracy(model, criterion, kind, val_x, val_y, cfg.eval_batch_size)
                                     if len(val_y) else float("nan"))
            result["test_acc"].append(evaluate_accuracy(model, criterion, kind, test_x, test_y,
                                                        cfg.eval_batch_size))
            bar.set_postfix({"loss": f"{result['train_loss'][-1]:.4f}", "val": f"{result['val_acc'][-1]:.3f}"},
                            refresh=True)
        bar.close()
    finally:
        torch.set_num_threads(previous_threads)

    val_acc = [v if math.isfinite(v) else -1.0 for v in result["val_acc"]]
    best = int(np.argmax(val_acc))
    result.update(
        config=asdict(cfg),
        method=cfg.method,
        seed=cfg.seed,
        final_test_acc=result["test_acc"][-1],
        best_val_epoch=best + 1,
        best_val_test_acc=result["test_acc"][best],
        time_per_step_s=statistics.fmean(step_seconds) if step_seconds else float("nan"),
        median_step_s=statistics.median(step_seconds) if step_seconds else float("nan"),
        num_steps=step,
        train_time_s=sum(step_seconds),
        sizes=dict(zip(("train", "val", "test"), splits.sizes())),
    )
    if kind == "slf":
        result.update(slf_run_record(criterion))
    if world > 1:
        result["distributed"] = distributed.rank_agreement(model, criterion.decision if kind == "slf" else None)
    if mils is not None:
        result["mils_stats"] = mils.stats()
    if noise_record is not None:
        result["label_noise"] = noise_record
    return result


def _held_out_shards(val_x: Tensor, val_y: Tensor, cfg: ClassifyConfig, world: int, rank: int
                     ) -> Optional[Iterator[Tuple[Tensor, Tensor]]]:
    """Endless validation batches for SLF's reference (each rank its shard), or None without a validation split."""
    if len(val_y) == 0:
        return None
    stream = cycle_batches(val_x, val_y, cfg.batch_size, torch.Generator().manual_seed(cfg.seed + 1))
    return ((x[rank::world], y[rank::world]) for x, y in stream) if world > 1 else stream


def noisy_training_labels(cfg: ClassifyConfig, splits: DatasetSplits) -> Tuple[Tensor, Dict[str, Any]]:
    """The training labels with ``cfg.label_noise`` of them flipped, and the run's record of the flips.

    Example:
        >>> from slf.data import load_dataset
        >>> labels, record = noisy_training_labels(ClassifyConfig(data="digits", label_noise=0.2),
        ...                                        load_dataset("digits", seed=0))
        >>> record["flipped"], round(record["actual_rate"], 4), len(record["noisy_labels"]) == len(labels)
        (159, 0.1995, True)
    """
    seed = cfg.seed if cfg.noise_seed is None else cfg.noise_seed
    clean = splits.train.tensors[1]
    noisy, flipped = corrupt_labels(clean, cfg.label_noise, cfg.noise_type, splits.num_classes, seed)
    record = {"rate": cfg.label_noise, "type": cfg.noise_type, "seed": seed, "flipped": int(flipped.sum()),
              "actual_rate": float(flipped.mean()) if len(flipped) else 0.0,
              "clean_labels": clean.tolist(), "noisy_labels": noisy.tolist()}
    return torch.from_numpy(noisy), record


def build_extra_losses(cfg: ClassifyConfig, model: nn.Module, num_classes: int, device: Any
                       ) -> Dict[str, Tuple[nn.Module, float]]:
    """``cfg.extra_losses`` built as ``{name: (module, weight)}`` (feature losses sized for ``model``)."""
    extras: Dict[str, Tuple[nn.Module, float]] = {}
    for name, weight in cfg.extra_losses.items():
        cls = losses.resolve(name, "classification")
        options: Dict[str, Any] = {}
        if getattr(cls, "input_kind", "logits") == "features":
            options = dict(in_features=int(model.feature_dim), num_classes=int(num_classes))
        extras[name] = (losses.build(name, task="classification", **options).to(device), float(weight))
    return extras


def _reads_logits_only(cfg: ClassifyConfig, kind: str, extras: Mapping[str, Tuple[nn.Module, float]]) -> bool:
    """Whether every loss of the step reads ``model(x)`` alone, so DDP's forward sees it all."""
    if kind == "features" or extras:
        return False
    if kind == "mils":
        names = (cfg.mils_primary, *cfg.mils_aux)
        return all(getattr(losses.resolve(name, "classification"), "input_kind", "logits") == "logits"
                   for name in names)
    return True


def _loss_with_extras(model: nn.Module, criterion: nn.Module, kind: str,
                      extras: Mapping[str, Tuple[nn.Module, float]], x: Tensor, y: Tensor) -> Tensor:
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


def build_mils(cfg: ClassifyConfig, model: nn.Module, optimizer: torch.optim.Optimizer, primary: nn.Module,
               train_x: Tensor, train_y: Tensor, num_classes: int):
    """:class:`slf.MILS` for ``cfg``; its observation set is ``cfg.mils_obs_size`` random training samples.

    ``train_y`` are the labels the model trains on, so under ``cfg.label_noise`` the observation
    set holds noisy labels too (the paper copies it from the training set).
    """
    from ..mils import MILS

    order = torch.randperm(len(train_y), generator=torch.Generator().manual_seed(cfg.seed + 2))
    # Under torch.distributed each rank observes its shard; MILS sums the counts over ranks.
    index = order[:cfg.mils_obs_size][distributed.rank()::distributed.world_size()].to(train_y.device)
    return MILS(model, optimizer, primary=primary, auxiliaries=list(cfg.mils_aux), rate=cfg.mils_rate,
                observation=(train_x[index], train_y[index]), aux_weights=cfg.mils_aux_weights,
                rule=cfg.mils_rule, seed=cfg.seed, num_classes=num_classes)


# ---------------------------------------------------------------------- several seeds
def summarize_runs(runs: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    """Mean, sample std (n-1) and 95% interval over seeds of the runs' accuracies, and the step time
    (:func:`slf.train.harness.summarize_seeds`).

    Example:
        >>> summary = summarize_runs([
        ...     {"method": "ce", "config": {"data": "digits", "model": "mlp"}, "final_test_acc": 0.9,
        ...      "best_val_test_acc": 0.9, "time_per_step_s": 0.01},
        ...     {"method": "ce", "config": {"data": "digits", "model": "mlp"}, "final_test_acc": 0.8,
        ...      "best_val_test_acc": 0.8, "time_per_step_s": 0.01}])
        >>> round(summary["test_acc_mean"], 3), round(summary["test_acc_std"], 4), round(summary["test_acc_ci95"], 4)
        (0.85, 0.0707, 0.6353)
    """
    summary = summarize_seeds(runs, {"test_acc": lambda run: run["final_test_acc"],
                                     "best_val_test_acc": lambda run: run["best_val_test_acc"]},
                              fields=("data", "model"))
    if all(run.get("mils_stats") for run in runs):
        attempted = sum(run["mils_stats"]["attempted_total"] for run in runs)
        accepted = sum(run["mils_stats"]["accepted_total"] for run in runs)
        summary["mils_attempted"], summary["mils_accepted"] = attempted, accepted
        summary["mils_success_rate"] = accepted / attempted if attempted else None
    return summary


def write_run_plots(run_dir: Union[str, Path]) -> List[Path]:
    """(Re)write ``accuracy.png`` and, for SLF runs, ``selection_weights.png`` from ``results.json``.

    Example:
        >>> write_run_plots("runs/demo/slf-validation")  # doctest: +SKIP
        [PosixPath('runs/demo/slf-validation/accuracy.png'), ...]
    """
    from ..plots import accuracy_curves, plot_curves, plot_selection_weights

    run_dir = Path(run_dir)
    results = load_run_results(run_dir, "slf classify")
    title = f"{results.get('method', 'run')} on {results['config']['data']} / {results['config']['model']}"
    paths = [plot_curves(accuracy_curves(results), run_dir / "accuracy.png", title=title)]
    if any(run.get("weights_history") for run in results["runs"]):
        paths.append(plot_selection_weights(results, None, run_dir / "selection_weights.png",
                                            title=f"selection weights: {title}"))
    return paths


def run_classify(cfg: ClassifyConfig, seeds: int, out_dir: Union[str, Path], progress: bool = True,
                 overwrite: bool = False) -> Dict[str, Any]:
    """Train seeds ``0 .. seeds-1``, write ``out_dir/results.json`` and PNGs, and summarise
    (:func:`slf.train.harness.run_seeds`: finished seeds are kept and resumed; another run's
    results in ``out_dir`` are refused unless ``overwrite``).

    Args:
        cfg: the configuration (its ``seed`` is replaced by each seed in turn).
        seeds: number of seeds.
        out_dir: output folder (created).
        progress: progress bars.
        overwrite: replace another configuration's results in ``out_dir``.

    Returns:
        the summary of :func:`summarize_runs` plus ``out_dir`` and ``plots`` (PNG paths).

    Example:
        >>> summary = run_classify(ClassifyConfig(data="digits", epochs=1), 2, "runs/ce", False)  # doctest: +SKIP
        >>> print(format_summary_table([summary]))  # doctest: +SKIP
    """
    return run_seeds(cfg, seeds, out_dir, lambda seed_cfg: train_classifier(seed_cfg, progress=progress),
                     summarize_runs, write_run_plots, overwrite=overwrite)


def format_summary_table(summaries: Sequence[Mapping[str, Any]]) -> str:
    """A plain-text table, one row per method: test accuracy as the mean over seeds +- its 95% interval.

    Example:
        >>> print(format_summary_table([{"method": "ce", "data": "digits", "model": "mlp", "seeds": 2,
        ...     "test_acc_mean": 0.9, "test_acc_ci95": 0.01, "best_val_test_acc_mean": 0.91,
        ...     "best_val_test_acc_ci95": 0.02, "ms_per_step": 3.0}]))  # doctest: +NORMALIZE_WHITESPACE
        method  data    model  seeds  test acc (final)  test acc (best val)  ms/step  mean weights
        ce      digits  mlp        2  0.9000 +- 0.0100  0.9100 +- 0.0200         3.0
    """
    header = ["method", "data", "model", "seeds", "test acc (final)", "test acc (best val)", "ms/step",
              "mean weights"]
    with_mils = any("mils_attempted" in s for s in summaries)
    if with_mils:
        header.insert(7, "mils accepted")
    rows = []
    for s in summaries:
        rows.append([
            str(s["method"]), str(s["data"]), str(s["model"]), str(s["seeds"]),
            interval_cell(s, "test_acc", 4), interval_cell(s, "best_val_test_acc", 4),
            f"{s['ms_per_step']:.1f}",
            format_top_weights(s.get("mean_weights")),
        ])
        if with_mils:
            rows[-1].insert(7, _mils_cell(s))
    return format_table(header, rows, right=(3, 6))


def _mils_cell(summary: Mapping[str, Any]) -> str:
    if "mils_attempted" not in summary:
        return ""
    rate = summary.get("mils_success_rate")
    return f"{summary['mils_accepted']}/{summary['mils_attempted']}" + (f" ({100 * rate:.0f}%)" if rate is not None
                                                                         else "")


def print_summary_table(summaries: Sequence[Mapping[str, Any]]) -> None:
    """Print :func:`format_summary_table`."""
    print(format_summary_table(summaries))
