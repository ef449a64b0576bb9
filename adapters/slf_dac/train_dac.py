r"""Deep Adaptive Clustering with a pluggable pairwise loss: one seed (:func:`train_dac`),
several seeds with JSON and plots (:func:`run_cluster`), and the table of ``slf cluster``.

**The algorithm** (Chang et al., ICCV 2017, Algorithm 1). For rounds
:math:`t = 0, 1, \dots` while :math:`u(\lambda_t) > l(\lambda_t)`
(:class:`slf_dac.thresholds.AdaptiveThresholds`): for each mini-batch of B images,
compute the label features :math:`\mathbf l_i` (:class:`slf_dac.model.DACNet`), the
similarities :math:`g_{ij} = \mathbf l_i \cdot \mathbf l_j`, select the confident pairs
:math:`v_{ij}` with labels :math:`r_{ij}` (:func:`slf_dac.thresholds.select_pairs`), and
take one optimiser step on

.. math::

    E(\mathbf w) = \frac{1}{B(B-1)} \sum_{i \ne j} v_{ij}\, L(r_{ij}, g_{ij}).

After the last round each image's cluster is :math:`\arg\max_h l_{ih}`.

**The pairwise loss** L is DAC's binary cross-entropy ``bce``, any other core pairwise
loss (``slf.losses.available('binary')`` on probabilities: ``mse``, ``mae``, ``hinge``,
``cosine``; ``adalfl``, whose loss network learns from a look-ahead on each batch's selected
pairs, judged by DAC's BCE on them: :class:`SelectedPairSimilarities`), or SLF over them
(the SLF paper's clustering experiment): a :class:`slf.StochasticLoss` with task ``'binary'``. Clustering has no labels, so no
held-out score: the default recipe (``align``) compares each candidate's gradient at the
network's last layer with DAC's own loss (BCE) on the *previous* batch's selected pairs,
a batch the step does not train on (``held_out='previous_batch'``), and keeps the
candidates whose steps carry over from batch to batch. ``joint`` (the paper's Algorithm 1)
and ``softmax`` learn a decision network that reads each selected pair's similarity
:math:`g_{ij}` (and its confidence :math:`|2g_{ij} - 1|`); ``validation`` mode needs
labelled held-out data, which clustering does not have.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor, nn
from torch.optim.swa_utils import update_bn

from slf import StochasticLoss, distributed, losses
from slf.train.classify import batches, build_optimizer, loss_parameters_for_optimizer
from slf.train.common import (
    format_table,
    format_top_weights,
    load_run_results,
    online_loss_record,
    seed_everything,
    slf_run_record,
    top_weight,
)
from slf.train.criteria import check_online_loss_world, loss_options_with_lr
from slf.train.harness import interval_cell, run_seeds, summarize_seeds
from slf.train.settings import TrainingSettings

from .augment import random_affine
from .cluster_data import ClusterData, imbalanced_subset, load_cluster_data
from .metrics import assigned_confusion, clustering_metrics
from .model import DACNet
from .thresholds import AdaptiveThresholds, pair_similarities, select_pairs

__all__ = [
    "PAIRWISE_CANDIDATES",
    "DACConfig",
    "build_pairwise_criterion",
    "dac_pair_loss",
    "format_cluster_table",
    "predict_clusters",
    "run_cluster",
    "summarize_cluster_runs",
    "train_dac",
    "write_cluster_plots",
]

PAIRWISE_CANDIDATES: Tuple[str, ...] = ("mse", "mae", "hinge", "cosine", "bce")
SLF_MODES = ("align", "joint", "softmax")
OPTIMIZERS = ("rmsprop", "adam", "sgd")
TRAINER = "dac"
# Similarities are clamped away from 0 and 1 so that BCE's logs stay finite.
SIMILARITY_EPS = 1e-6


@dataclass
class DACConfig(TrainingSettings):
    """Everything one DAC run needs; stored verbatim in ``results.json``.

    The optimiser (DAC's RMSprop by default), seed (also of the imbalanced subset and the loss's
    noise), device and threads are the fields of :class:`slf.train.settings.TrainingSettings`.

    Attributes:
        data: ``'mnist5k'``, ``'digits'``, ``'cifar10:PATH'``, ``'imagenet10:PATH'`` or
            ``'imagenet_dog:PATH'`` (:mod:`slf_dac.cluster_data`).
        image_size: side the images of an image folder are resized to (default 96, as DAC).
        min_retention: r of the imbalanced subset (class 0 kept with probability r, the
            last class with 1, linear between; drawn with the run's seed); ``None``: all images.
        num_clusters: k (default: the number of classes of the data).
        width: channels of the network's first stage (DAC: 64).
        loss: ``'bce'`` (DAC), another pairwise loss of ``slf.losses.available('binary')``, or ``'slf'``.
        loss_options: keyword arguments of that loss.
        slf_candidates: SLF's candidate pairwise losses (default: the SLF paper's five).
        slf_mode: ``'align'`` (the default recipe, against the previous batch), ``'joint'``
            (the paper's update) or ``'softmax'``.
        slf_samples: K, the number of Gumbel-Softmax samples averaged.
        slf_tau: Gumbel-Softmax temperature.
        slf_options: further ``StochasticLoss`` arguments, e.g. ``{'normalize': 'mean'}``.
        rounds: rounds of the threshold schedule; ``None``: DAC's (lambda grows by 1.1 x 0.009
            a round: 46 rounds); a number N spreads the same thresholds over N rounds.
        upper_start, lower_start, lower_slope: u(0), l(0) and the slope of l (DAC: 0.95, 0.455, 0.1).
        epochs_per_round: passes over the images in each round.
        augment: DAC's random rotation / shift / zoom of each training batch.
        optimizer: ``'rmsprop'`` (DAC), ``'adam'`` or ``'sgd'``.
        batch_size: images per mini-batch (B; B(B-1) pairs).
        eval_batch_size: batch size when computing every image's cluster.

    Example:
        >>> DACConfig(loss="slf").method
        'slf-align'
    """

    data: str = "mnist5k"
    image_size: Optional[int] = None
    min_retention: Optional[float] = None
    num_clusters: Optional[int] = None
    width: int = 64
    loss: str = "bce"
    loss_options: Dict[str, Any] = field(default_factory=dict)
    slf_candidates: Tuple[str, ...] = PAIRWISE_CANDIDATES
    slf_mode: str = "align"
    slf_samples: int = 3
    slf_tau: float = 1.0
    slf_options: Dict[str, Any] = field(default_factory=dict)
    rounds: Optional[int] = None
    upper_start: float = 0.95
    lower_start: float = 0.455
    lower_slope: float = 0.1
    epochs_per_round: int = 1
    augment: bool = True
    optimizer: str = "rmsprop"
    optimizers: ClassVar[Tuple[str, ...]] = OPTIMIZERS
    batch_size: int = 128
    eval_batch_size: int = 1024

    def __post_init__(self) -> None:
        pairwise = losses.available("binary")
        if self.loss != "slf" and self.loss not in pairwise:
            raise ValueError(f"unknown pairwise loss {self.loss!r}; valid choices: {', '.join(pairwise)}, slf")
        if self.loss == "slf":
            if self.slf_mode == "validation":
                raise ValueError(
                    "slf_mode 'validation' needs labelled held-out data, which clustering does not "
                    f"have; valid choices: {', '.join(SLF_MODES)}"
                )
            if self.slf_mode not in SLF_MODES:
                raise ValueError(f"unknown slf_mode {self.slf_mode!r}; valid choices: {', '.join(SLF_MODES)}")
            self.slf_candidates = tuple(self.slf_candidates)
            unknown = [name for name in self.slf_candidates if name not in pairwise]
            if unknown or not self.slf_candidates:
                raise ValueError(
                    f"SLF candidates {unknown or '(none)'} are not pairwise losses; valid choices: "
                    f"{', '.join(pairwise)}"
                )
        self.check_training_settings()
        if self.num_clusters is not None and self.num_clusters < 2:
            raise ValueError(f"num_clusters (k) must be >= 2, got {self.num_clusters}")
        if self.min_retention is not None and not 0.0 < self.min_retention <= 1.0:
            raise ValueError(f"min_retention (r) must be in (0, 1], got {self.min_retention}")
        for name in ("batch_size", "epochs_per_round", "width", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be >= 2 (pairs need two images), got {self.batch_size}")
        self.thresholds()  # checks the schedule

    @property
    def method(self) -> str:
        """``'bce'``, ``'mse'``, ... or ``'slf-align'`` / ``'slf-joint'`` / ``'slf-softmax'``."""
        return f"slf-{self.slf_mode}" if self.loss == "slf" else self.loss

    def thresholds(self) -> AdaptiveThresholds:
        """The threshold schedule this configuration asks for."""
        if self.rounds is None:
            return AdaptiveThresholds(self.upper_start, self.lower_start, self.lower_slope)
        return AdaptiveThresholds.with_rounds(self.rounds, self.upper_start, self.lower_start, self.lower_slope)


def build_pairwise_criterion(cfg: DACConfig) -> nn.Module:
    """The pairwise loss on probabilities with per-pair values (``reduction='none'``).

    Example:
        >>> crit = build_pairwise_criterion(DACConfig(loss="slf", slf_candidates=("bce", "mse")))
        >>> crit(torch.tensor([0.9, 0.2]), torch.tensor([1.0, 0.0])).shape
        torch.Size([2])
    """
    if cfg.loss == "slf":
        options = {
            "num_samples": cfg.slf_samples,
            "tau": cfg.slf_tau,
            "mode": cfg.slf_mode,
            "seed": cfg.seed,
            **cfg.slf_options,
        }
        if cfg.slf_mode == "align":
            options.setdefault("held_out", "previous_batch")
        return StochasticLoss(list(cfg.slf_candidates), task="binary", from_logits=False, reduction="none", **options)
    options = loss_options_with_lr(losses.resolve(cfg.loss, "binary"), cfg.loss_options, cfg.lr)
    return losses.build(cfg.loss, task="binary", from_logits=False, reduction="none", **options)


class SelectedPairSimilarities(nn.Module):
    """DAC's network as a module of a batch of images: the similarities of the pairs ``selected`` (a
    ``(B, B)`` mask fixed for the step), clamped as :func:`dac_pair_loss` clamps them. A learned loss's
    look-ahead (AdaLFL, ``meta_step``) calls it with the network's parameters substituted.

    Example:
        >>> net, selected = DACNet(1, 3, 28, 4), torch.eye(4, dtype=torch.bool).logical_not()
        >>> SelectedPairSimilarities(net, selected)(torch.rand(4, 1, 28, 28)).shape
        torch.Size([12])
    """

    def __init__(self, model: nn.Module, selected: Tensor) -> None:
        super().__init__()
        self.model, self.selected = model, selected

    def forward(self, images: Tensor) -> Tensor:
        similarity = pair_similarities(torch.softmax(self.model(images), dim=1))
        return similarity[self.selected].clamp(SIMILARITY_EPS, 1.0 - SIMILARITY_EPS)


def online_loss_step(
    criterion: nn.Module, model: nn.Module, images: Tensor, label_features: Tensor, upper: float, lower: float
) -> None:
    """A loss that learns online (AdaLFL): its look-ahead update on this batch's selected pairs, before
    the network's step (nothing where no pair is selected)."""
    targets, selected = select_pairs(pair_similarities(label_features.detach()), upper, lower)
    if bool(selected.any()):
        criterion.meta_step(SelectedPairSimilarities(model, selected), images, targets[selected])


def dac_pair_loss(
    criterion: nn.Module, label_features: Tensor, upper: float, lower: float
) -> Tuple[Optional[Tensor], Dict[str, Optional[float]]]:
    r"""DAC's objective :math:`\frac{1}{B(B-1)}\sum_{i \ne j} v_{ij} L(r_{ij}, g_{ij})` for one batch.

    Returns:
        ``(loss, stats)``: the loss (``None`` when no pair is selected) and the fractions
        of pairs ``selected`` and, among those, ``positive``.

    Example:
        >>> features = torch.tensor([[1.0, 0.0], [0.98, 0.02], [0.0, 1.0]], requires_grad=True)
        >>> loss, stats = dac_pair_loss(losses.build("bce", task="binary", from_logits=False, reduction="none"),
        ...                             features, upper=0.95, lower=0.455)
        >>> round(stats["selected"], 3), round(stats["positive"], 3)
        (1.0, 0.333)
    """
    size = label_features.shape[0]
    similarity = pair_similarities(label_features)
    targets, selected = select_pairs(similarity, upper, lower)
    count = int(selected.sum())
    stats = {
        "selected": count / max(size * (size - 1), 1),
        "positive": float(targets[selected].mean()) if count else None,
    }
    if not count:
        return None, stats
    chosen = similarity[selected].clamp(SIMILARITY_EPS, 1.0 - SIMILARITY_EPS)
    per_pair = criterion(chosen, targets[selected])
    return per_pair.sum() / (size * (size - 1)), stats


@torch.no_grad()
def predict_clusters(
    model: DACNet, images: Tensor, batch_size: int, device: torch.device, statistics_batch_size: Optional[int] = None
) -> np.ndarray:
    """Each image's cluster, :math:`\\arg\\max_h l_{ih}`, with the model in eval mode.

    With ``statistics_batch_size`` (the training batch size) the batch-norm statistics are
    first re-estimated over ``images``, un-augmented, in one pass of batches of that size
    (``torch.optim.swa_utils.update_bn``).
    DAC's network moves fast and trains on augmented images, so the running averages
    kept during training lag behind it: measured on MNIST-5k, clusters from the stale
    statistics swung between 0.23 and 0.76 ACC from round to round while the same
    network with fresh statistics improved steadily (0.44 -> 0.76).
    """
    if statistics_batch_size is not None:
        step = statistics_batch_size
        update_bn((images[start : start + step] for start in range(0, len(images), step)), model, device=device)
    was_training = model.training
    model.eval()
    clusters = [
        model(images[start : start + batch_size].to(device)).argmax(dim=1).cpu()
        for start in range(0, len(images), batch_size)
    ]
    model.train(was_training)
    return torch.cat(clusters).numpy()


def _prepare_data(cfg: DACConfig, data: Optional[ClusterData]) -> ClusterData:
    if data is None:
        data = load_cluster_data(cfg.data, image_size=cfg.image_size)
    if cfg.min_retention is not None:
        data = data.subset(imbalanced_subset(data.labels.numpy(), cfg.min_retention, cfg.seed))
    if len(data) < 2:
        raise ValueError(f"{data.name}: clustering needs at least 2 images, got {len(data)}")
    return data


def train_dac(cfg: DACConfig, progress: bool = True, data: Optional[ClusterData] = None) -> Dict[str, Any]:
    """Train DAC for one seed; return its record (per-round metrics, final NMI/ARI/ACC, confusion).

    Args:
        cfg: the run's configuration.
        progress: a tqdm progress bar over training steps.
        data: the loaded images (to share one load across seeds); the imbalanced subset
            of ``cfg.min_retention`` is drawn here with ``cfg.seed``.

    Example:
        >>> run = train_dac(DACConfig(data="digits", width=8, rounds=2), progress=False)  # doctest: +SKIP
        >>> sorted(run["final"])  # doctest: +SKIP
        ['acc', 'ari', 'nmi']
    """
    from tqdm.auto import tqdm

    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    data = _prepare_data(cfg, data)
    seed_everything(cfg.seed)
    distributed.init_from_environment(cfg.device)
    world, rank = distributed.world_size(), distributed.rank()
    device = distributed.local_device(cfg.device)
    k = cfg.num_clusters or data.num_clusters
    channels, height, width = data.input_shape
    model = DACNet(channels, k, max(height, width), cfg.width).to(device)
    criterion = build_pairwise_criterion(cfg).to(device)
    kind = "slf" if cfg.loss == "slf" else "single"
    loss_parameters = list(loss_parameters_for_optimizer(criterion, kind))
    learns_online = check_online_loss_world(criterion, cfg.loss, world)
    optimizer = build_optimizer(cfg, [*model.parameters(), *loss_parameters])
    trained = distributed.data_parallel(model)
    schedule = cfg.thresholds()
    generator = torch.Generator().manual_seed(cfg.seed)
    labels = data.labels.numpy()

    def current_clusters() -> np.ndarray:
        return predict_clusters(model, data.images, cfg.eval_batch_size, device, statistics_batch_size=cfg.batch_size)

    clusters = current_clusters()
    initial = metrics = clustering_metrics(labels, clusters)
    # Pairs are formed within a batch, so under torchrun each rank takes a batch of its own
    # (--batch-size is per process): its shard of a global batch of world x batch_size.
    global_batch = cfg.batch_size * world
    batch_count = sum(1 for _ in batches(len(data), global_batch, torch.Generator().manual_seed(0)))
    bar = tqdm(
        total=schedule.num_rounds * cfg.epochs_per_round * batch_count,
        disable=not progress or rank != 0,
        unit="step",
        dynamic_ncols=True,
        desc=f"{cfg.method} seed {cfg.seed}",
    )
    rounds: List[Dict[str, Any]] = []
    steps, skipped, train_time = 0, 0, 0.0
    for round_index in range(schedule.num_rounds):
        upper, lower = schedule.upper(round_index), schedule.lower(round_index)
        losses_seen, selected_seen, positive_seen = [], [], []
        model.train()
        criterion.train()
        for _ in range(cfg.epochs_per_round):
            for index in batches(len(data), global_batch, generator):
                start = time.perf_counter()
                images = data.images[index]
                if cfg.augment:
                    images = random_affine(images, generator=generator)
                if world > 1:
                    images = images[rank::world]
                features = torch.softmax(trained(images.to(device)), dim=1)  # model.label_features through DDP
                if world > 1 and not _every_rank_has_pairs(features, upper, lower):
                    loss, stats = None, {"selected": 0.0}  # all ranks skip together (SLF's statistics are shared)
                else:
                    if learns_online:  # AdaLFL: the loss's look-ahead update, then the network's step
                        online_loss_step(criterion, model, images.to(device), features, upper, lower)
                    loss, stats = dac_pair_loss(criterion, features, upper, lower)
                selected_seen.append(stats["selected"])
                if loss is None:  # no similar pair yet: nothing to learn from this batch
                    skipped += 1
                else:
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    distributed.average_gradients(loss_parameters)  # DDP covers the model, not the loss
                    optimizer.step()
                    losses_seen.append(float(loss.detach()))
                    positive_seen.append(stats["positive"])
                    steps += 1
                train_time += time.perf_counter() - start
                bar.update(1)
        clusters = current_clusters()
        metrics = clustering_metrics(labels, clusters)
        rounds.append(
            {
                "round": round_index + 1,
                "lambda": schedule.lam(round_index),
                "upper": upper,
                "lower": lower,
                **metrics,
                "loss": float(np.mean(losses_seen)) if losses_seen else None,
                "selected_pairs": float(np.mean(selected_seen)),
                "positive_pairs": float(np.mean(positive_seen)) if positive_seen else None,
            }
        )
        postfix = {
            "u": f"{upper:.3f}",
            "l": f"{lower:.3f}",
            "nmi": f"{metrics['nmi']:.3f}",
            "acc": f"{metrics['acc']:.3f}",
        }
        if kind == "slf":
            postfix["top"] = top_weight(criterion)
        bar.set_postfix(postfix)
    bar.close()

    record: Dict[str, Any] = {
        "seed": cfg.seed,
        "method": cfg.method,
        "config": asdict(cfg),
        "num_images": len(data),
        "num_clusters": k,
        "class_names": list(data.class_names),
        "initial": initial,
        "rounds": rounds,
        "final": metrics,
        "confusion": assigned_confusion(labels, clusters, max(k, data.num_clusters)).tolist(),
        "cluster_sizes": np.bincount(clusters, minlength=k).tolist(),
        "steps": steps,
        "skipped_batches": skipped,
        "time_per_step_s": train_time / max(steps + skipped, 1),
    }
    if kind == "slf":
        record.update(slf_run_record(criterion))
    if learns_online:
        record.update(online_loss_record(criterion))
    if world > 1:
        record["distributed"] = distributed.rank_agreement(model, criterion.decision if kind == "slf" else None)
    return record


def _every_rank_has_pairs(label_features: Tensor, upper: float, lower: float) -> bool:
    """Whether every rank's batch selects a pair (one collective). Under torch.distributed
    the ranks step together or skip together, since each step's DDP and SLF collectives
    must be reached by all of them."""
    with torch.no_grad():
        _, selected = select_pairs(pair_similarities(label_features.detach()), upper, lower)
    ranks_with_pairs = distributed.all_reduce_sum(torch.tensor([1.0 if bool(selected.any()) else 0.0]))
    return int(ranks_with_pairs.item()) == distributed.world_size()


# ---------------------------------------------------------------------- several seeds
def summarize_cluster_runs(runs: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    """Mean, sample std and 95% interval over seeds of the final NMI, ARI and ACC, and of the
    untrained network's NMI (:func:`slf.train.harness.summarize_seeds`).

    Example:
        >>> runs = [{"method": "bce", "config": {"data": "digits", "min_retention": None}, "num_images": 10,
        ...          "initial": {"nmi": 0.1}, "final": {"nmi": v, "ari": v, "acc": v}, "rounds": [{}],
        ...          "time_per_step_s": 0.01} for v in (0.6, 0.8)]
        >>> s = summarize_cluster_runs(runs)
        >>> round(s["acc_mean"], 2), round(s["acc_std"], 4), s["rounds"]
        (0.7, 0.1414, 1)
    """
    metrics = {metric: (lambda run, metric=metric: run["final"][metric]) for metric in ("nmi", "ari", "acc")}
    summary = summarize_seeds(
        runs, {**metrics, "initial_nmi": lambda run: run["initial"]["nmi"]}, fields=("data", "min_retention")
    )
    summary["images"] = sum(run["num_images"] for run in runs) / len(runs)
    summary["rounds"] = len(runs[0]["rounds"])
    return summary


def format_cluster_table(summaries: Sequence[Mapping[str, Any]]) -> str:
    """One row per method: NMI, ARI and ACC as the mean over seeds +- its 95% interval.

    Example:
        >>> print(format_cluster_table([{"method": "bce", "data": "digits", "min_retention": None, "seeds": 2,
        ...     "rounds": 10, "nmi_mean": 0.7, "nmi_ci95": 0.1, "ari_mean": 0.6, "ari_ci95": 0.1, "acc_mean": 0.8,
        ...     "acc_ci95": 0.05, "initial_nmi_mean": 0.1, "ms_per_step": 4.0}]))
        ... # doctest: +NORMALIZE_WHITESPACE
        method  data    r  seeds  rounds  NMI             ARI             ACC             NMI untrained  ms/step  mean weights
        bce     digits  -      2      10  0.700 +- 0.100  0.600 +- 0.100  0.800 +- 0.050  0.100              4.0
    """
    header = ["method", "data", "r", "seeds", "rounds", "NMI", "ARI", "ACC", "NMI untrained", "ms/step", "mean weights"]
    rows = [
        [
            str(s["method"]),
            str(s["data"]),
            "-" if s.get("min_retention") is None else f"{s['min_retention']:g}",
            str(s["seeds"]),
            str(s["rounds"]),
            *(interval_cell(s, metric) for metric in ("nmi", "ari", "acc")),
            f"{s['initial_nmi_mean']:.3f}",
            f"{s['ms_per_step']:.1f}",
            format_top_weights(s.get("mean_weights")),
        ]
        for s in summaries
    ]
    return format_table(header, rows, right=(3, 4, 9))


def write_cluster_plots(run_dir: Union[str, Path]) -> List[Path]:
    """(Re)write ``metrics.png`` (NMI, ARI, ACC per round), ``confusion.png`` (true class by
    assigned class, summed over seeds) and, for SLF, ``selection_weights.png``.

    Example:
        >>> write_cluster_plots("runs/dac/slf-joint")  # doctest: +SKIP
        [PosixPath('runs/dac/slf-joint/metrics.png'), ...]
    """
    from slf.plots import plot_confusion_matrix, plot_curves, plot_run_weights

    run_dir = Path(run_dir)
    results = load_run_results(run_dir, "slf cluster")
    runs, method = results["runs"], results.get("method", "run")
    title = f"DAC + {method} on {results['config']['data']}"
    curves = {
        f"{method} {metric.upper()}": [[row[metric] for row in run["rounds"]] for run in runs]
        for metric in ("nmi", "ari", "acc")
    }
    confusion = np.sum([np.asarray(run["confusion"]) for run in runs], axis=0)
    class_names = runs[0].get("class_names") or [str(i) for i in range(len(confusion))]
    paths = [
        plot_curves(curves, run_dir / "metrics.png", ylabel="score", xlabel="round", title=title),
        plot_confusion_matrix(
            confusion,
            class_names[: len(confusion)],
            run_dir / "confusion.png",
            title=f"{title}: true class by assigned cluster ({len(runs)} seeds)",
        ),
    ]
    return paths + plot_run_weights(results, run_dir, title)


def run_cluster(
    cfg: DACConfig,
    seeds: int,
    out_dir: Union[str, Path],
    progress: bool = True,
    data: Optional[ClusterData] = None,
    overwrite: bool = False,
) -> Dict[str, Any]:
    """Train seeds ``0, ..., seeds-1``, write ``out_dir/results.json`` and PNGs, and summarise
    (:func:`slf.train.harness.run_seeds`: finished seeds are kept and resumed; another run's
    results in ``out_dir`` are refused unless ``overwrite``).

    The images are loaded once; an imbalanced subset (``min_retention``) is redrawn with
    each seed.

    Returns:
        :func:`summarize_cluster_runs` plus ``out_dir`` and ``plots``.

    Example:
        >>> summary = run_cluster(DACConfig(loss="slf"), 5, "runs/dac-slf")  # doctest: +SKIP
        >>> print(format_cluster_table([summary]))  # doctest: +SKIP
    """
    if data is None:
        data = load_cluster_data(cfg.data, image_size=cfg.image_size)
    return run_seeds(
        cfg,
        seeds,
        out_dir,
        lambda seed_cfg: train_dac(seed_cfg, progress=progress, data=data),
        summarize_cluster_runs,
        write_cluster_plots,
        trainer=TRAINER,
        overwrite=overwrite,
    )
