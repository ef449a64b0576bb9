"""Plain-PyTorch image classification with a registry loss, a baseline, SLF or MILS.

One function trains one seed (:func:`train_classifier`); :func:`run_classify` repeats
it over seeds, writes ``results.json`` and PNGs, and summarises test accuracy as
the mean over seeds with its 95% interval.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor, nn

from .. import distributed
from ..data import DatasetSplits, corrupt_labels, load_dataset
from ..models import build_model
from .batching import batches, cycle_batches, steps_per_epoch
from .classify_config import MILS_RULES, OPTIMIZERS, PAPER_CANDIDATES, ClassifyConfig
from .common import (
    format_table,
    format_top_weights,
    load_run_results,
    online_loss_record,
    run_setup,
    slf_run_record,
    top_weight,
)
from .criteria import (
    build_criterion,
    build_extra_losses,
    build_mils,
    build_optimizer,
    check_online_held_out,
    check_online_loss_world,
    loss_parameters_for_optimizer,
    loss_with_extras,
    reads_logits_only,
)
from .harness import interval_cell, run_seeds, summarize_seeds

# Imported from here by the adapters' trainers and the command line, as before the split.
__all__ = [
    "MILS_RULES",
    "OPTIMIZERS",
    "PAPER_CANDIDATES",
    "ClassifyConfig",
    "batches",
    "build_criterion",
    "build_extra_losses",
    "build_mils",
    "build_optimizer",
    "cycle_batches",
    "evaluate_accuracy",
    "format_summary_table",
    "loss_parameters_for_optimizer",
    "noisy_training_labels",
    "print_summary_table",
    "run_classify",
    "steps_per_epoch",
    "summarize_runs",
    "train_classifier",
    "write_run_plots",
]


@torch.no_grad()
def evaluate_accuracy(
    model: nn.Module, criterion: nn.Module, kind: str, inputs: Tensor, targets: Tensor, batch_size: int = 1000
) -> float:
    """Top-1 accuracy of ``model`` (through ``criterion.logits`` for feature losses)."""
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, len(targets), batch_size):
        x = inputs[start : start + batch_size]
        logits = criterion.logits(model.features(x)) if kind == "features" else model(x)
        correct += int((logits.argmax(dim=1) == targets[start : start + batch_size]).sum())
    model.train(was_training)
    return correct / max(len(targets), 1)


# ---------------------------------------------------------------------- one seed
def train_classifier(
    cfg: ClassifyConfig, progress: bool = True, data: Optional[DatasetSplits] = None
) -> Dict[str, Any]:
    """Train and evaluate one seed.

    Args:
        cfg: the run's configuration (``cfg.seed`` is the seed).
        progress: show a tqdm progress bar over training steps.
        data: splits the user built (:func:`slf.data.splits_from_tensors`,
            :func:`slf.data.load_csv_table`) instead of loading ``cfg.data``; then
            ``cfg.data`` only names them in the results, and the size options do not act.

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

    with run_setup(cfg.seed, cfg.device, cfg.num_threads):
        world, rank = distributed.world_size(), distributed.rank()
        device = distributed.local_device(cfg.device)
        data_seed = cfg.seed if cfg.data_seed is None else cfg.data_seed
        splits: DatasetSplits = (
            data
            if data is not None
            else load_dataset(
                cfg.data,
                data_seed,
                cfg.val_size,
                cfg.test_size,
                cfg.max_train_samples,
                cfg.label_column,
                cfg.feature_columns,
            )
        )
        train_x, train_y = (t.to(device) for t in splits.train.tensors)
        noise_record = None
        if cfg.label_noise > 0:
            train_y, noise_record = noisy_training_labels(cfg, splits)
            train_y = train_y.to(device)
        val_x, val_y = (t.to(device) for t in splits.val.tensors)
        test_x, test_y = (t.to(device) for t in splits.test.tensors)

        model = build_model(cfg.model, splits.input_shape, splits.num_classes).to(device)
        criterion, kind = build_criterion(
            cfg, model, splits.num_classes, held_out=_held_out_shards(val_x, val_y, cfg, world, rank)
        )
        criterion = criterion.to(device)
        extras = build_extra_losses(cfg, model, splits.num_classes, device)
        extra_parameters = [p for module, _ in extras.values() for p in module.parameters() if p.requires_grad]
        loss_parameters = [*loss_parameters_for_optimizer(criterion, kind), *extra_parameters]
        optimizer = build_optimizer(cfg, [*model.parameters(), *loss_parameters])
        # DDP where the step is model(x); feature-reading losses average their gradients explicitly.
        trained = distributed.data_parallel(model) if reads_logits_only(cfg, kind, extras) else model
        mils = (
            build_mils(cfg, trained, optimizer, criterion, train_x, train_y, splits.num_classes)
            if kind == "mils"
            else None
        )
        validation_mode = kind == "slf" and criterion.mode == "validation"
        learns_online = check_online_loss_world(criterion, cfg.loss, world)
        if validation_mode and len(val_y) == 0:
            raise ValueError("SLF validation mode needs a non-empty validation split (val_size > 0)")

        shuffle = torch.Generator().manual_seed(cfg.seed)
        online_held_out = check_online_held_out(criterion, cfg.loss, len(val_y), "a validation split (val_size > 0)")
        held_out = (
            cycle_batches(val_x, val_y, cfg.batch_size, torch.Generator().manual_seed(cfg.seed + 1))
            if validation_mode or online_held_out
            else None
        )
        per_epoch = steps_per_epoch(len(train_y), cfg.batch_size)
        bar = tqdm(
            total=per_epoch * cfg.epochs,
            disable=not progress or rank != 0,
            unit="step",
            desc=f"{cfg.method} seed {cfg.seed}",
            dynamic_ncols=True,
        )
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
                    if learns_online:  # AdaLFL, L2T-DLF: the loss's look-ahead update, then the model's step
                        criterion.meta_step(model, x, y, *(next(held_out) if online_held_out else ()))
                    optimizer.zero_grad(set_to_none=True)
                    loss = loss_with_extras(trained, criterion, kind, extras, x, y)
                    loss.backward()
                    if world > 1:
                        distributed.average_gradients(
                            loss_parameters if trained is not model else [*model.parameters(), *loss_parameters]
                        )
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
            result["val_acc"].append(
                evaluate_accuracy(model, criterion, kind, val_x, val_y, cfg.eval_batch_size)
                if len(val_y)
                else float("nan")
            )
            result["test_acc"].append(evaluate_accuracy(model, criterion, kind, test_x, test_y, cfg.eval_batch_size))
            bar.set_postfix(
                {"loss": f"{result['train_loss'][-1]:.4f}", "val": f"{result['val_acc'][-1]:.3f}"}, refresh=True
            )
        bar.close()

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
    if learns_online:
        result.update(online_loss_record(criterion))
    if world > 1:
        result["distributed"] = distributed.rank_agreement(model, criterion.decision if kind == "slf" else None)
    if mils is not None:
        result["mils_stats"] = mils.stats()
    if noise_record is not None:
        result["label_noise"] = noise_record
    return result


def _held_out_shards(
    val_x: Tensor, val_y: Tensor, cfg: ClassifyConfig, world: int, rank: int
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
    record = {
        "rate": cfg.label_noise,
        "type": cfg.noise_type,
        "seed": seed,
        "flipped": int(flipped.sum()),
        "actual_rate": float(flipped.mean()) if len(flipped) else 0.0,
        "clean_labels": clean.tolist(),
        "noisy_labels": noisy.tolist(),
    }
    return torch.from_numpy(noisy), record


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
    summary = summarize_seeds(
        runs,
        {"test_acc": lambda run: run["final_test_acc"], "best_val_test_acc": lambda run: run["best_val_test_acc"]},
        fields=("data", "model"),
    )
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
    from ..plots import accuracy_curves, plot_curves, plot_run_weights

    run_dir = Path(run_dir)
    results = load_run_results(run_dir, "slf classify")
    title = f"{results.get('method', 'run')} on {results['config']['data']} / {results['config']['model']}"
    paths = [plot_curves(accuracy_curves(results), run_dir / "accuracy.png", title=title)]
    return paths + plot_run_weights(results, run_dir, title)


def run_classify(
    cfg: ClassifyConfig, seeds: int, out_dir: Union[str, Path], progress: bool = True, overwrite: bool = False
) -> Dict[str, Any]:
    """Train seeds ``0, ..., seeds-1``, write ``out_dir/results.json`` and PNGs, and summarise
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
    return run_seeds(
        cfg,
        seeds,
        out_dir,
        lambda seed_cfg: train_classifier(seed_cfg, progress=progress),
        summarize_runs,
        write_run_plots,
        overwrite=overwrite,
    )


def format_summary_table(summaries: Sequence[Mapping[str, Any]]) -> str:
    """A plain-text table, one row per method: test accuracy as the mean over seeds +- its 95% interval.

    Example:
        >>> print(format_summary_table([{"method": "ce", "data": "digits", "model": "mlp", "seeds": 2,
        ...     "test_acc_mean": 0.9, "test_acc_ci95": 0.01, "best_val_test_acc_mean": 0.91,
        ...     "best_val_test_acc_ci95": 0.02, "ms_per_step": 3.0}]))  # doctest: +NORMALIZE_WHITESPACE
        method  data    model  seeds  test acc (final)  test acc (best val)  ms/step  mean weights
        ce      digits  mlp        2  0.9000 +- 0.0100  0.9100 +- 0.0200         3.0
    """
    header = ["method", "data", "model", "seeds", "test acc (final)", "test acc (best val)", "ms/step", "mean weights"]
    with_mils = any("mils_attempted" in s for s in summaries)
    if with_mils:
        header.insert(7, "mils accepted")
    rows = []
    for s in summaries:
        rows.append(
            [
                str(s["method"]),
                str(s["data"]),
                str(s["model"]),
                str(s["seeds"]),
                interval_cell(s, "test_acc", 4),
                interval_cell(s, "best_val_test_acc", 4),
                f"{s['ms_per_step']:.1f}",
                format_top_weights(s.get("mean_weights")),
            ]
        )
        if with_mils:
            rows[-1].insert(7, _mils_cell(s))
    return format_table(header, rows, right=(3, 6))


def _mils_cell(summary: Mapping[str, Any]) -> str:
    if "mils_attempted" not in summary:
        return ""
    rate = summary.get("mils_success_rate")
    return f"{summary['mils_accepted']}/{summary['mils_attempted']}" + (
        f" ({100 * rate:.0f}%)" if rate is not None else ""
    )


def print_summary_table(summaries: Sequence[Mapping[str, Any]]) -> None:
    """Print :func:`format_summary_table`."""
    print(format_summary_table(summaries))
