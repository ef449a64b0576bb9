r"""Graph regression with a registry loss or SLF: one seed (:func:`train_graph_regression`),
several seeds with JSON and plots (:func:`run_graph`), and the table of ``slf graph``.

**Metric.** As in the SLF paper's DPP4 experiment (and the Merck challenge), the headline
metric is the squared Pearson correlation between predicted and measured activity,

.. math::

    R^2 = \left(\frac{\sum_i (\hat y_i - \bar{\hat y})(y_i - \bar y)}
        {\sqrt{\sum_i (\hat y_i - \bar{\hat y})^2 \sum_i (y_i - \bar y)^2}}\right)^2 ,

computed with :func:`scipy.stats.pearsonr`; beside it the root mean squared error and
the coefficient of determination :math:`1 - \sum (y - \hat y)^2 / \sum (y - \bar y)^2`
from scikit-learn (which, unlike the squared correlation, penalises a biased or
mis-scaled prediction).

**SLF for regression.** The candidates are the core's regression losses on the
standardised targets (default MSE, MAE, Huber, log-cosh and Barron's robust loss). The
decision network reads the prediction (``slf_decision_input='prediction'``) or the
prediction and the graph embedding :math:`\mathbf z_b` (``'prediction+embedding'``,
detached so it does not train the model). Modes as in :class:`slf.StochasticLoss`:
``align`` (default, the suite's recipe) weighs the candidates by how their gradients at
the model's output layer align with MSE's on a batch of the validation split
(:class:`slf.HeldOut` over the PyG batches); ``validation`` learns the decision network
from a one-step look-ahead on such a batch (:meth:`slf.StochasticLoss.validation_step`);
``joint`` is the paper's Algorithm 1.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor, nn

from slf import HeldOut, distributed, losses
from slf.stochastic_loss import DEFAULT_MODE
from slf.stochastic_loss import MODES as SLF_MODES
from slf.train.common import (
    format_table,
    format_top_weights,
    load_run_results,
    online_loss_record,
    run_setup,
    slf_run_record,
    top_weight,
)
from slf.train.criteria import (
    build_optimizer,
    check_online_held_out,
    check_online_loss_world,
    loss_options_with_lr,
    loss_parameters_for_optimizer,
)
from slf.train.harness import interval_cell, run_seeds, summarize_seeds
from slf.train.settings import TrainingSettings

from .graph_data import GraphSplits, load_graph_data, parse_graph_data
from .splits import SPLITS

__all__ = [
    "DECISION_INPUTS",
    "REGRESSION_CANDIDATES",
    "GraphRegressionConfig",
    "format_graph_table",
    "regression_metrics",
    "run_graph",
    "summarize_graph_runs",
    "train_graph_regression",
    "write_graph_plots",
]

REGRESSION_CANDIDATES: Tuple[str, ...] = ("mse", "mae", "huber", "log_cosh", "robust")
DECISION_INPUTS = ("prediction", "prediction+embedding")
TRAINER = "graph_regression"


@dataclass
class GraphRegressionConfig(TrainingSettings):
    """Everything one graph regression run needs; stored verbatim in ``results.json``.

    The optimiser, seed (also of the batch order and a random split), device and threads are the
    fields of :class:`slf.train.settings.TrainingSettings`.

    Attributes:
        data: ``'chembl2321810'``, ``'freesolv'``, ``'dpp4:PATH'`` or ``'csv:PATH'`` (a CSV of SMILES and
            a measured property; :mod:`slf_pyg.graph_data`). Graphs built in Python go to
            ``train_graph_regression(cfg, data=split_graphs(...))``; this then names them.
        smiles_column, target_column: a ``csv:PATH`` file's columns (``None``: ``'smiles'``, and the
            one other column of a two-column file).
        root: cache folder of the molecule data sets (``None``: ``~/.cache/stochastic-loss/pyg``).
        split: ``'scaffold'`` (molecules), ``'random'``, or ``'auto'``: scaffold for
            molecules, random for ``dpp4:PATH`` (whose file has no SMILES).
        split_fractions: ``(train, val, test)``.
        model: a name of :data:`slf_pyg.models.MODELS`.
        hidden_channels, num_layers, dropout: the model's width, depth and dropout.
        model_options: further model arguments, e.g. ``{'K': 3}`` for ChebNet.
        loss: a regression registry loss (``slf.losses.available('regression')``) or ``'slf'``.
        loss_options: its keyword arguments, e.g. ``{'delta': 0.5}``.
        slf_mode: ``'align'`` (the default recipe), ``'validation'``, ``'joint'`` or ``'softmax'``.
        slf_candidates: candidate regression losses.
        slf_samples: K, Gumbel-Softmax samples averaged.
        slf_tau: Gumbel-Softmax temperature.
        slf_decision_lr: the decision network's learning rate (validation mode; ``None``: the default).
        slf_decision_input: ``'prediction'`` or ``'prediction+embedding'``.
        slf_options: further ``StochasticLoss`` arguments, e.g. ``{'validation_interval': 2}``.
        batch_size: graphs per training batch (also the held-out batch in validation mode).
        epochs: passes over the training split.
        max_train_samples: train on this many training graphs (``None``: all).
        eval_batch_size: graphs per evaluation batch.
        dpp4_k, dpp4_min_nonzero: the descriptor graph's neighbours and rare-descriptor filter.

    Example:
        >>> GraphRegressionConfig(loss="slf").method
        'slf-align'
        >>> GraphRegressionConfig(split="stratified")
        Traceback (most recent call last):
        ...
        ValueError: split must be one of ['auto', 'scaffold', 'random'], got 'stratified'
    """

    data: str = "chembl2321810"
    smiles_column: Optional[str] = None
    target_column: Optional[str] = None
    root: Optional[str] = None
    split: str = "auto"
    split_fractions: Tuple[float, float, float] = (0.8, 0.1, 0.1)
    model: str = "chebnet"
    hidden_channels: int = 64
    num_layers: int = 3
    dropout: float = 0.0
    model_options: Dict[str, Any] = field(default_factory=dict)
    loss: str = "mse"
    loss_options: Dict[str, Any] = field(default_factory=dict)
    slf_mode: str = DEFAULT_MODE
    slf_candidates: Tuple[str, ...] = REGRESSION_CANDIDATES
    slf_samples: int = 3
    slf_tau: float = 1.0
    slf_decision_lr: Optional[float] = None
    slf_decision_input: str = "prediction"
    slf_options: Dict[str, Any] = field(default_factory=dict)
    batch_size: int = 64
    epochs: int = 30
    max_train_samples: Optional[int] = None
    eval_batch_size: int = 256
    dpp4_k: int = 8
    dpp4_min_nonzero: int = 20

    def __post_init__(self) -> None:
        self.slf_candidates = tuple(self.slf_candidates)
        self.split_fractions = tuple(float(f) for f in self.split_fractions)  # type: ignore[assignment]
        kind, _ = parse_graph_data(self.data)
        if kind != "csv" and (self.smiles_column is not None or self.target_column is not None):
            raise ValueError(
                f"smiles_column and target_column name a CSV's columns; data {self.data!r} is not a CSV "
                "(use 'csv:PATH')"
            )
        if self.split == "auto":
            self.split = "random" if kind == "dpp4" else "scaffold"
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {['auto', *SPLITS]}, got {self.split!r}")
        if self.slf_mode not in SLF_MODES:
            raise ValueError(f"slf_mode must be one of {list(SLF_MODES)}, got {self.slf_mode!r}")
        if self.slf_decision_input not in DECISION_INPUTS:
            raise ValueError(
                f"slf_decision_input must be one of {list(DECISION_INPUTS)}, got {self.slf_decision_input!r}"
            )
        if self.slf_mode == "align" and self.slf_decision_input != "prediction":
            raise ValueError(
                "slf_decision_input sets what the learned modes' decision network reads; "
                "slf_mode='align' has none (use 'joint', 'softmax' or 'validation' with it)"
            )
        if self.loss != "slf" and self.loss not in losses.available("regression"):
            raise ValueError(f"unknown loss {self.loss!r}; valid choices: {[*losses.available('regression'), 'slf']}")
        unknown = [name for name in self.slf_candidates if name not in losses.available("regression")]
        if unknown or not self.slf_candidates:
            raise ValueError(
                f"slf_candidates {list(self.slf_candidates)}: unknown {unknown}; valid choices: "
                f"{losses.available('regression')}"
            )
        self.check_training_settings()
        for name in ("epochs", "batch_size", "slf_samples", "eval_batch_size", "hidden_channels", "num_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    @property
    def is_slf(self) -> bool:
        return self.loss == "slf"

    @property
    def method(self) -> str:
        """``'<loss>'`` or ``'slf-<mode>'`` (``+embedding`` when the decision reads it)."""
        if not self.is_slf:
            return self.loss
        return f"slf-{self.slf_mode}" + ("+embedding" if self.slf_decision_input != "prediction" else "")


# ---------------------------------------------------------------------- building blocks
def flatten_readout_size(model_options: Dict[str, Any], data: GraphSplits) -> Dict[str, Any]:
    """``model_options`` with ``num_nodes`` filled in from the data for the flatten readout (``readout='flatten'``).

    Raises:
        ValueError: the flatten readout on graphs of more than one size (molecules), naming the sizes.

    Example:
        >>> flatten_readout_size({"K": 2}, None)
        {'K': 2}
    """
    if model_options.get("readout") != "flatten" or "num_nodes" in model_options:
        return dict(model_options)
    sizes = sorted({int(graph.num_nodes) for graph in (*data.train, *data.val, *data.test)})
    if len(sizes) != 1:
        raise ValueError(
            f"readout 'flatten' reads graphs of one size, node by node (descriptor-graph signals, dpp4:PATH); "
            f"{data.name} has graphs of {len(sizes)} sizes ({sizes[0]} to {sizes[-1]} nodes): use readout 'pool'"
        )
    return {**model_options, "num_nodes": sizes[0]}


def regression_metrics(predictions: Sequence[float], targets: Sequence[float]) -> Dict[str, float]:
    """``r2`` (squared Pearson correlation), ``rmse`` and ``coefficient_of_determination``.

    ``r2`` is NaN when either side is constant (no correlation is defined).

    Example:
        >>> m = regression_metrics([1.0, 2.0, 3.0], [2.0, 4.0, 6.0])
        >>> round(m["r2"], 6), round(m["rmse"], 4), round(m["coefficient_of_determination"], 4)
        (1.0, 2.1602, -0.75)
    """
    from scipy.stats import pearsonr
    from sklearn.metrics import mean_squared_error, r2_score

    pred = np.asarray(predictions, dtype=np.float64)
    true = np.asarray(targets, dtype=np.float64)
    if pred.shape != true.shape or pred.ndim != 1 or len(pred) < 2:
        raise ValueError(f"need two 1-D sequences of the same length >= 2, got {pred.shape} and {true.shape}")
    constant = np.ptp(pred) == 0 or np.ptp(true) == 0
    r2 = float("nan") if constant else float(pearsonr(pred, true).statistic ** 2)
    return {
        "r2": r2,
        "rmse": float(math.sqrt(mean_squared_error(true, pred))),
        "coefficient_of_determination": float(r2_score(true, pred)),
    }


def build_graph_criterion(
    cfg: GraphRegressionConfig, hidden_channels: int, held_out: Optional[HeldOut] = None
) -> nn.Module:
    """The training loss: a registry regression loss, or a regression ``StochasticLoss``.

    With ``slf_decision_input='prediction+embedding'`` the decision network is an MLP over
    the 2 prediction features and the ``hidden_channels`` of the graph embedding. ``held_out``
    (validation batches) gives the default recipe its reference.
    """
    if not cfg.is_slf:
        loss_cls = losses.resolve(cfg.loss, "regression")
        return losses.build(cfg.loss, task="regression", **loss_options_with_lr(loss_cls, cfg.loss_options, cfg.lr))
    from slf import StochasticLoss
    from slf.decision import DecisionMLP, feature_size

    options: Dict[str, Any] = dict(
        candidates=list(cfg.slf_candidates),
        task="regression",
        num_samples=cfg.slf_samples,
        tau=cfg.slf_tau,
        mode=cfg.slf_mode,
        seed=cfg.seed,
    )
    if cfg.slf_decision_lr is not None:
        options["decision_lr"] = cfg.slf_decision_lr
    if cfg.slf_decision_input == "prediction+embedding":
        options["decision"] = DecisionMLP(feature_size("regression") + hidden_channels, len(cfg.slf_candidates))
    if cfg.slf_mode == "align" and held_out is not None:
        options["held_out"] = held_out
    options.update(cfg.slf_options)
    return StochasticLoss(**options)


def _slf_loss(criterion: nn.Module, prediction: Tensor, target: Tensor, embedding: Optional[Tensor]) -> Tensor:
    """H for one batch; with an embedding, the decision features are the prediction's and z's."""
    if embedding is None:
        return criterion(prediction, target)
    from slf.decision import decision_features

    features = torch.cat([decision_features(prediction, "regression"), embedding.detach().float()], dim=1)
    rows, _ = criterion.combine(list(criterion.candidate_losses(prediction, target).unbind(1)), features=features)
    return rows.mean()


def _graph_loader(graphs: Sequence[Any], batch_size: int, seed: int) -> Any:
    """A shuffling PyG loader; under torch.distributed each rank gets its shard of every
    global batch of ``batch_size`` graphs (:class:`~torch.utils.data.DistributedSampler`).

    A last batch of a single graph is dropped: the models' batch norm cannot normalise one
    sample in training mode (a training set of ``k * batch_size + 1`` graphs, or such a
    validation set for the held-out batches). Any other last batch is kept.
    """
    from torch.utils.data.distributed import DistributedSampler
    from torch_geometric.loader import DataLoader

    world = distributed.world_size()
    per_rank_batch = batch_size if world == 1 else max(1, -(-batch_size // world))
    per_rank = -(-len(graphs) // world)
    drop_single = per_rank > per_rank_batch and per_rank % per_rank_batch == 1
    if world == 1:
        return DataLoader(
            graphs,
            batch_size=batch_size,
            shuffle=True,
            drop_last=drop_single,
            generator=torch.Generator().manual_seed(seed),
        )
    sampler = DistributedSampler(graphs, num_replicas=world, rank=distributed.rank(), shuffle=True, seed=seed)
    return DataLoader(graphs, batch_size=per_rank_batch, sampler=sampler, drop_last=drop_single)


def _endless(loader) -> Iterator[Any]:
    while True:
        yield from loader


@torch.no_grad()
def predict(
    model: nn.Module,
    graphs: Sequence[Any],
    batch_size: int,
    device: torch.device,
    y_mean: float = 0.0,
    y_std: float = 1.0,
) -> Tuple[np.ndarray, np.ndarray]:
    """``(predictions, targets)`` over ``graphs`` in eval mode, predictions mapped back to
    the original units (:math:`\\hat y \\sigma + \\mu`)."""
    from torch_geometric.loader import DataLoader

    was_training = model.training
    model.eval()
    preds, targets = [], []
    for batch in DataLoader(list(graphs), batch_size=batch_size, shuffle=False):
        batch = batch.to(device)
        preds.append(model(batch).double().cpu() * y_std + y_mean)
        targets.append(batch.y.view(-1).double().cpu())
    model.train(was_training)
    return torch.cat(preds).numpy(), torch.cat(targets).numpy()


# ---------------------------------------------------------------------- one seed
def train_graph_regression(
    cfg: GraphRegressionConfig, progress: bool = True, data: Optional[GraphSplits] = None
) -> Dict[str, Any]:
    """Train and evaluate one seed.

    Args:
        cfg: the configuration (``cfg.seed`` is the seed).
        progress: a tqdm progress bar over training steps.
        data: the splits, when the caller loaded or built them (:func:`slf_pyg.graph_data.split_graphs`;
            else loaded from ``cfg``).

    Returns:
        a JSON-serialisable dict: ``config``, ``method``, ``seed``, ``sizes``, per-epoch
        lists ``train_loss``, ``val_r2``, ``test_r2``, ``val_rmse``, ``test_rmse``;
        ``final`` and ``best_val`` (the test metrics of :func:`regression_metrics` after
        the last epoch and at the epoch of best validation R^2), ``best_val_epoch``,
        ``test_predictions`` / ``test_targets`` (final model), ``time_per_step_s``,
        ``num_steps``; for SLF the fields of :func:`slf.train.slf_run_record` and (validation
        mode) per-epoch ``validation_loss``.

    Example:
        >>> cfg = GraphRegressionConfig(data="freesolv", model="gcn", epochs=1)
        >>> result = train_graph_regression(cfg, progress=False)  # doctest: +SKIP
        >>> sorted(result["final"])  # doctest: +SKIP
        ['coefficient_of_determination', 'r2', 'rmse']
    """
    from tqdm.auto import tqdm

    from .models import build_model

    with run_setup(cfg.seed, cfg.device, cfg.num_threads):
        world = distributed.world_size()
        device = distributed.local_device(cfg.device)
        if data is None:
            with distributed.rank_zero_first():  # one process writes the processed data set
                data = load_graph_data(
                    cfg.data,
                    cfg.root,
                    cfg.split,
                    cfg.split_fractions,
                    cfg.seed,
                    cfg.max_train_samples,
                    cfg.dpp4_k,
                    cfg.dpp4_min_nonzero,
                    cfg.smiles_column,
                    cfg.target_column,
                )
        model = build_model(
            cfg.model,
            in_channels=data.in_channels,
            edge_dim=data.edge_dim,
            hidden_channels=cfg.hidden_channels,
            num_layers=cfg.num_layers,
            dropout=cfg.dropout,
            **flatten_readout_size(cfg.model_options, data),
        ).to(device)
        mean, std = data.y_mean, data.y_std

        def standardized(y: Tensor) -> Tensor:
            return (y.view(-1).float() - mean) / std

        def held_out_forward(net: nn.Module, graphs: Any) -> Tuple[Tensor, Tensor]:
            graphs = graphs.to(device)
            return net(graphs), standardized(graphs.y)

        reference = (
            HeldOut(model, _graph_loader(data.val, cfg.batch_size, cfg.seed + 1), held_out_forward)
            if cfg.is_slf and cfg.slf_mode == "align" and len(data.val)
            else None
        )
        criterion = build_graph_criterion(cfg, cfg.hidden_channels, reference).to(device)
        loss_parameters = list(loss_parameters_for_optimizer(criterion, "slf" if cfg.is_slf else "loss"))
        optimizer = build_optimizer(cfg, [*model.parameters(), *loss_parameters])
        trained = distributed.data_parallel(model)
        validation_mode = cfg.is_slf and cfg.slf_mode == "validation"
        learns_online = check_online_loss_world(criterion, cfg.loss, world)
        with_embedding = cfg.is_slf and cfg.slf_decision_input == "prediction+embedding"

        online_held_out = check_online_held_out(criterion, cfg.loss, len(data.val), "a non-empty validation split")
        loader = _graph_loader(data.train, cfg.batch_size, cfg.seed)
        held_out = (
            _endless(_graph_loader(data.val, cfg.batch_size, cfg.seed + 1))
            if validation_mode or online_held_out
            else None
        )
        bar = tqdm(
            total=len(loader) * cfg.epochs,
            disable=not progress or distributed.rank() != 0,
            unit="step",
            dynamic_ncols=True,
            desc=f"{cfg.method} {cfg.model} seed {cfg.seed}",
        )
        result: Dict[str, Any] = {key: [] for key in ("train_loss", "val_r2", "test_r2", "val_rmse", "test_rmse")}
        if validation_mode:
            result["validation_loss"] = []
        step_seconds: List[float] = []
        step = 0
        best: Tuple[float, int, Dict[str, float]] = (-math.inf, 0, {})
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            criterion.train()
            loss_sum, val_losses = 0.0, []
            if world > 1:
                loader.sampler.set_epoch(epoch)
            for batch in loader:
                batch = batch.to(device)
                started = time.perf_counter()
                target = standardized(batch.y)
                if learns_online:  # AdaLFL, L2T-DLF: the loss's look-ahead update, then the model's step
                    if online_held_out:
                        held = next(held_out).to(device)
                        criterion.meta_step(model, batch, target, held, standardized(held.y))
                    else:
                        criterion.meta_step(model, batch, target)
                optimizer.zero_grad(set_to_none=True)
                if cfg.is_slf:
                    prediction, embedding = trained(batch, return_embedding=True)
                    loss = _slf_loss(criterion, prediction, target, embedding if with_embedding else None)
                else:
                    loss = criterion(trained(batch), target)
                loss.backward()
                distributed.average_gradients(loss_parameters)  # DDP covers the model, not the loss
                optimizer.step()
                if validation_mode:
                    held = next(held_out).to(device)
                    info = criterion.validation_step(model, batch, target, held, standardized(held.y))
                    if "validation_loss" in info:
                        val_losses.append(info["validation_loss"])
                step_seconds.append(time.perf_counter() - started)
                value = float(distributed.all_reduce_mean(loss.detach().reshape(1)))
                if not math.isfinite(value):
                    raise FloatingPointError(
                        f"{cfg.method} seed {cfg.seed}: the training loss became {value} at "
                        f"step {step} (epoch {epoch}); try a smaller lr"
                    )
                loss_sum += value
                step += 1
                bar.update(1)
                if step % 10 == 0 or step == 1:
                    postfix = {"loss": f"{value:.4f}"}
                    if cfg.is_slf:
                        postfix["top"] = top_weight(criterion)
                    bar.set_postfix(postfix, refresh=False)
            result["train_loss"].append(loss_sum / max(len(loader), 1))
            if validation_mode:
                result["validation_loss"].append(statistics.fmean(val_losses) if val_losses else float("nan"))
            val = regression_metrics(*predict(model, data.val, cfg.eval_batch_size, device, mean, std))
            test_pred, test_true = predict(model, data.test, cfg.eval_batch_size, device, mean, std)
            test = (
                regression_metrics(test_pred, test_true)
                if len(test_true) >= 2
                else {"r2": float("nan"), "rmse": float("nan"), "coefficient_of_determination": float("nan")}
            )
            for split_name, metrics in (("val", val), ("test", test)):
                result[f"{split_name}_r2"].append(metrics["r2"])
                result[f"{split_name}_rmse"].append(metrics["rmse"])
            score = val["r2"] if math.isfinite(val["r2"]) else -math.inf
            if score > best[0] or epoch == 1:
                best = (score, epoch, test)
            bar.set_postfix({"loss": f"{result['train_loss'][-1]:.4f}", "val R2": f"{val['r2']:.3f}"}, refresh=True)
        bar.close()

    result.update(
        trainer=TRAINER,
        config=asdict(cfg),
        method=cfg.method,
        seed=cfg.seed,
        sizes=data.sizes(),
        final=test,
        best_val_epoch=best[1],
        best_val=best[2],
        test_predictions=[float(v) for v in test_pred],
        test_targets=[float(v) for v in test_true],
        time_per_step_s=statistics.fmean(step_seconds) if step_seconds else float("nan"),
        num_steps=step,
        train_time_s=sum(step_seconds),
    )
    if cfg.is_slf:
        result.update(slf_run_record(criterion))
    if learns_online:
        result.update(online_loss_record(criterion))
    if world > 1:
        result["distributed"] = distributed.rank_agreement(model, criterion.decision if cfg.is_slf else None)
    return result


# ---------------------------------------------------------------------- several seeds
def summarize_graph_runs(runs: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    """Mean, sample std and 95% interval over seeds of test R^2 and RMSE (final and at best
    validation R^2; :func:`slf.train.harness.summarize_seeds`).

    Example:
        >>> runs = [{"method": "mse", "config": {"data": "freesolv", "model": "gcn", "split": "random"},
        ...          "final": {"r2": r, "rmse": 1.0}, "best_val": {"r2": r, "rmse": 1.0},
        ...          "time_per_step_s": 0.01} for r in (0.6, 0.8)]
        >>> s = summarize_graph_runs(runs)
        >>> round(s["r2_mean"], 2), round(s["r2_std"], 4), round(s["r2_ci95"], 3)
        (0.7, 0.1414, 1.271)
    """
    return summarize_seeds(
        runs,
        {
            f"{prefix}{metric}": (lambda run, key=key, metric=metric: run[key][metric])
            for prefix, key in (("", "final"), ("best_val_", "best_val"))
            for metric in ("r2", "rmse")
        },
        fields=("data", "model", "split"),
    )


def format_graph_table(summaries: Sequence[Mapping[str, Any]]) -> str:
    """One row per method: test R^2 and RMSE as the mean over seeds +- its 95% interval.

    Example:
        >>> print(format_graph_table([{"method": "mse", "data": "freesolv", "model": "gcn", "split": "random",
        ...     "seeds": 2, "r2_mean": 0.7, "r2_ci95": 0.1, "rmse_mean": 1.2, "rmse_ci95": 0.1,
        ...     "best_val_r2_mean": 0.72, "best_val_r2_ci95": 0.1, "ms_per_step": 4.0}]))
        ... # doctest: +NORMALIZE_WHITESPACE
        method  data      model  split   seeds  test R2 (final)  test R2 (best val)  test RMSE      ms/step  mean weights
        mse     freesolv  gcn    random      2  0.700 +- 0.100   0.720 +- 0.100      1.200 +- 0.100     4.0
    """
    header = [
        "method",
        "data",
        "model",
        "split",
        "seeds",
        "test R2 (final)",
        "test R2 (best val)",
        "test RMSE",
        "ms/step",
        "mean weights",
    ]
    rows = [
        [
            str(s["method"]),
            str(s["data"]),
            str(s["model"]),
            str(s["split"]),
            str(s["seeds"]),
            interval_cell(s, "r2"),
            interval_cell(s, "best_val_r2"),
            interval_cell(s, "rmse"),
            f"{s['ms_per_step']:.1f}",
            format_top_weights(s.get("mean_weights")),
        ]
        for s in summaries
    ]
    return format_table(header, rows, right=(4, 8))


def write_graph_plots(run_dir: Union[str, Path]) -> List[Path]:
    """(Re)write ``r2.png`` (validation and test R^2 per epoch), ``parity.png`` (predicted
    vs measured test values, every seed) and, for SLF, ``selection_weights.png``.

    Example:
        >>> write_graph_plots("runs/graph/slf-validation")  # doctest: +SKIP
        [PosixPath('runs/graph/slf-validation/r2.png'), ...]
    """
    from slf.plots import plot_curves, plot_parity, plot_run_weights

    run_dir = Path(run_dir)
    results = load_run_results(run_dir, "slf graph")
    runs, method = results["runs"], results.get("method", "run")
    title = f"{method} on {results['config']['data']} / {results['config']['model']}"
    curves = {f"{method} {split}": [run[f"{split}_r2"] for run in runs] for split in ("val", "test")}
    paths = [
        plot_curves(curves, run_dir / "r2.png", ylabel="R² (squared correlation)", title=title),
        plot_parity(
            [run["test_targets"] for run in runs],
            [run["test_predictions"] for run in runs],
            [f"seed {run['seed']}: R² {run['final']['r2']:.3f}" for run in runs],
            run_dir / "parity.png",
            title=f"test set: {title}",
        ),
    ]
    return paths + plot_run_weights(results, run_dir, title)


def run_graph(
    cfg: GraphRegressionConfig, seeds: int, out_dir: Union[str, Path], progress: bool = True, overwrite: bool = False
) -> Dict[str, Any]:
    """Train seeds ``0, ..., seeds-1``, write ``out_dir/results.json`` and PNGs, and summarise
    (:func:`slf.train.harness.run_seeds`: finished seeds are kept and resumed; another run's
    results in ``out_dir`` are refused unless ``overwrite``).

    A scaffold split is the same for every seed (only the model's seed changes); a random
    split is redrawn with each seed.

    Returns:
        :func:`summarize_graph_runs` plus ``out_dir`` and ``plots``.

    Example:
        >>> summary = run_graph(GraphRegressionConfig(loss="slf"), 5, "runs/chebnet-slf")  # doctest: +SKIP
        >>> print(format_graph_table([summary]))  # doctest: +SKIP
    """
    shared = None
    distributed.init_from_environment(cfg.device)
    if cfg.split == "scaffold":
        with distributed.rank_zero_first():
            shared = load_graph_data(
                cfg.data,
                cfg.root,
                cfg.split,
                cfg.split_fractions,
                0,
                cfg.max_train_samples,
                cfg.dpp4_k,
                cfg.dpp4_min_nonzero,
                cfg.smiles_column,
                cfg.target_column,
            )
    return run_seeds(
        cfg,
        seeds,
        out_dir,
        lambda seed_cfg: train_graph_regression(seed_cfg, progress=progress, data=shared),
        summarize_graph_runs,
        write_graph_plots,
        trainer=TRAINER,
        overwrite=overwrite,
    )
