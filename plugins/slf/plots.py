"""PNG plots of SLF selection weights and accuracy curves (matplotlib, Agg backend)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .atomic_file import atomic_destination
from .intervals import mean_interval

History = Sequence[Mapping[str, Any]]
RunSource = Union[str, Path, Mapping[str, Any], History, Sequence[History]]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _is_history(value: Any) -> bool:
    return (
        isinstance(value, Sequence)
        and not isinstance(value, (str, bytes))
        and all(isinstance(row, Mapping) and "weights" in row for row in value)
    )


def weight_histories(source: RunSource) -> Tuple[List[History], Optional[List[str]]]:
    """Per-seed weight histories (and candidate names when the source holds them).

    Args:
        source: a ``results.json`` path, its loaded dict (``{'runs': [{'weights_history':
            ..., 'candidates': ...}, ...]}``), one run's dict, one history (a list of
            ``{'step', 'weights'}`` rows, as in ``StochasticLoss.history``) or a list of
            histories (one per seed).

    Example:
        >>> weight_histories([{"step": 0, "weights": [0.5, 0.5]}])
        ([[{'step': 0, 'weights': [0.5, 0.5]}]], None)
    """
    if isinstance(source, (str, Path)):
        source = json.loads(Path(source).read_text(encoding="utf-8"))
    if isinstance(source, Mapping):
        runs = source.get("runs", [source])
        histories = [run["weights_history"] for run in runs if run.get("weights_history")]
        names = next((list(run["candidates"]) for run in runs if run.get("candidates")), None)
        return histories, names
    if _is_history(source):
        return [list(source)], None
    if isinstance(source, Sequence) and all(_is_history(item) for item in source):
        return [list(item) for item in source], None
    raise TypeError(
        "expected a results.json path or dict, a weights history (list of {'step', 'weights'}) "
        f"or a list of histories, got {type(source).__name__}"
    )


def _aligned(histories: Sequence[History]) -> Tuple[np.ndarray, np.ndarray]:
    """Steps common to every history and weights ``(seeds, steps, candidates)`` there."""
    common = sorted(set.intersection(*(set(int(row["step"]) for row in h) for h in histories)))
    if not common:
        # Histories recorded at different steps: fall back to the shortest length.
        length = min(len(h) for h in histories)
        steps = np.array([int(row["step"]) for row in histories[0][:length]])
        weights = np.array([[row["weights"] for row in h[:length]] for h in histories], dtype=float)
        return steps, weights
    by_step = [{int(row["step"]): row["weights"] for row in h} for h in histories]
    weights = np.array([[rows[s] for s in common] for rows in by_step], dtype=float)
    return np.array(common), weights


def plot_selection_weights(
    history_or_run_json: RunSource,
    names: Optional[Sequence[str]] = None,
    path: Union[str, Path] = "selection_weights.png",
    title: Optional[str] = None,
) -> Path:
    """Plot each candidate's selection weight over training steps.

    One seed: a stacked area (the weights sum to one). Several seeds: one line per
    candidate at the mean over seeds, with a +-1 std band (sample std, n-1, as in the summary table).

    Args:
        history_or_run_json: see :func:`weight_histories`.
        names: candidate names (default: from the results, else ``loss 0``, ``loss 1``, ...).
        path: where to write the PNG.
        title: figure title.

    Returns:
        the PNG's path.

    Example:
        >>> import tempfile, os
        >>> history = [{"step": s, "weights": [0.2 + 0.01 * s, 0.8 - 0.01 * s]} for s in range(10)]
        >>> out = plot_selection_weights(history, ["ce", "mae"], os.path.join(tempfile.mkdtemp(), "w.png"))
        >>> out.suffix
        '.png'
    """
    histories, found_names = weight_histories(history_or_run_json)
    if not histories:
        raise ValueError("no selection-weight history to plot (was this an SLF run?)")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    default_title = _draw_weights(ax, plt, histories, names or found_names)
    ax.set_title(title or default_title)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small")
    return _save(fig, plt, path)


def plot_run_weights(results: Mapping[str, Any], run_dir: Union[str, Path], title: str) -> List[Path]:
    """``run_dir/selection_weights.png`` where the run's seeds recorded selection weights (an SLF
    run); nothing for a single loss. The trainers' plot writers end with it.

    Example:
        >>> import tempfile
        >>> plot_run_weights({"runs": [{"seed": 0, "final": {}}]}, tempfile.mkdtemp(), "ce on digits")
        []
    """
    if not any(run.get("weights_history") for run in results["runs"]):
        return []
    return [plot_selection_weights(results, None, Path(run_dir) / "selection_weights.png",
                                   title=f"selection weights: {title}")]


def _draw_weights(ax: Any, plt: Any, histories: Sequence[History], names: Optional[Sequence[str]]) -> str:
    """Draw one panel of selection weights on ``ax``; returns the panel's default title."""
    steps, weights = _aligned(histories)
    num = weights.shape[2]
    names = list(names or [f"loss {i}" for i in range(num)])
    if len(names) != num:
        raise ValueError(f"{len(names)} names for {num} candidates: {names}")
    colors = plt.get_cmap("tab10").colors
    ax.set_xlabel("training step")
    ax.set_ylabel("weight")
    if len(histories) == 1:
        ax.stackplot(steps, weights[0].T, labels=names, colors=[colors[i % len(colors)] for i in range(num)],
                     alpha=0.85)
        ax.set_ylim(0, 1)
        return "SLF selection weights"
    mean, std = weights.mean(axis=0), weights.std(axis=0, ddof=1)
    for i, name in enumerate(names):
        color = colors[i % len(colors)]
        ax.plot(steps, mean[:, i], label=name, color=color)
        ax.fill_between(steps, mean[:, i] - std[:, i], mean[:, i] + std[:, i], color=color, alpha=0.2)
    ax.set_ylim(bottom=0)
    return f"SLF selection weights (mean +- std over {len(histories)} seeds)"


def plot_selection_weight_grid(panels: Mapping[str, RunSource], path: Union[str, Path] = "selection_weights.png",
                               columns: int = 3, title: Optional[str] = None) -> Path:
    """Several selection-weight plots side by side, one panel per titled source, one legend.

    Each panel is drawn as by :func:`plot_selection_weights` (mean +- std over seeds); the
    candidates of the first panel name the legend, so every panel must weigh the same ones.

    Args:
        panels: panel title -> run source (see :func:`weight_histories`).
        path: where to write the PNG.
        columns: panels per row.
        title: figure title.

    Returns:
        the PNG's path.

    Example:
        >>> import tempfile, os
        >>> history = [{"step": s, "weights": [0.9, 0.1]} for s in range(3)]
        >>> run = {"candidates": ["ce", "mae"], "weights_history": history}
        >>> plot_selection_weight_grid({"a": run, "b": run}, os.path.join(tempfile.mkdtemp(), "g.png")).suffix
        '.png'
    """
    if not panels:
        raise ValueError("plot_selection_weight_grid needs at least one panel")
    if columns < 1:
        raise ValueError(f"columns must be >= 1, got {columns}")
    loaded = {name: weight_histories(source) for name, source in panels.items()}
    empty = [name for name, (histories, _) in loaded.items() if not histories]
    if empty:
        raise ValueError(f"no selection-weight history to plot for panels {empty} (were these SLF runs?)")
    names = next((found for _, found in loaded.values() if found), None)
    plt = _pyplot()
    rows = -(-len(loaded) // columns)
    fig, axes = plt.subplots(rows, min(columns, len(loaded)), figsize=(4.2 * min(columns, len(loaded)), 3.2 * rows),
                             squeeze=False, sharey=True)
    for ax, (panel, (histories, found)) in zip(axes.flat, loaded.items()):
        _draw_weights(ax, plt, histories, found or names)
        ax.set_title(panel, fontsize="medium")
    for ax in list(axes.flat)[len(loaded):]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small")
    if title:
        fig.suptitle(title)
    return _save(fig, plt, path)


def accuracy_curves(run_json: Union[str, Path, Mapping[str, Any]], label: Optional[str] = None
                    ) -> Dict[str, List[List[float]]]:
    """Per-seed validation and test accuracy per epoch from one ``results.json``.

    Example:
        >>> accuracy_curves({"method": "ce", "runs": [{"val_acc": [0.8], "test_acc": [0.79]}]})
        {'ce val': [[0.8]], 'ce test': [[0.79]]}
    """
    if isinstance(run_json, (str, Path)):
        run_json = json.loads(Path(run_json).read_text(encoding="utf-8"))
    label = label or run_json.get("method", "run")
    runs = run_json.get("runs", [run_json])
    return {
        f"{label} val": [list(run["val_acc"]) for run in runs],
        f"{label} test": [list(run["test_acc"]) for run in runs],
    }


def plot_curves(
    curves: Mapping[str, Sequence[Sequence[float]]],
    path: Union[str, Path] = "accuracy.png",
    ylabel: str = "accuracy",
    title: Optional[str] = None,
    xlabel: str = "epoch",
) -> Path:
    """Plot per-epoch curves, one line per label (mean over seeds, +-1 std band).

    Args:
        curves: label (e.g. ``'slf test'``) -> one sequence of per-epoch values per seed.
        path: where to write the PNG.
        ylabel: y axis label.
        title: figure title.
        xlabel: x axis label (the unit of one value: ``'epoch'``, ``'round'``, ...).

    Returns:
        the PNG's path.

    Example:
        >>> import tempfile, os
        >>> curves = {"ce test": [[0.80, 0.90], [0.82, 0.91]], "slf test": [[0.81, 0.92]]}
        >>> plot_curves(curves, os.path.join(tempfile.mkdtemp(), "acc.png")).name
        'acc.png'
    """
    if not curves:
        raise ValueError("no curves to plot")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, per_seed in curves.items():
        length = min(len(values) for values in per_seed)
        if length == 0:
            continue
        values = np.array([list(v)[:length] for v in per_seed], dtype=float)
        epochs = np.arange(1, length + 1)
        mean = values.mean(axis=0)
        std = values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros_like(mean)
        (line,) = ax.plot(epochs, mean, marker="o", markersize=3, label=f"{label} (n={len(per_seed)})")
        if len(per_seed) > 1:
            ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"{ylabel} per {xlabel} (mean +- std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return _save(fig, plt, path)


def comparison_axis_limits(means: Sequence[float], halves: Sequence[float]) -> Tuple[float, float]:
    """y range that shows every bar's interval with a 10% margin, clipped to [0, 1] only for fractions.

    Scores such as accuracy or mAP live in [0, 1], so when every mean does the axis stops at 1; scores
    such as BLEU or a loss do not, and clipping them at 1 would hide the bars.

    Args:
        means: one mean per bar.
        halves: the half-width of each bar's interval.

    Returns:
        (bottom, top) of the y axis.

    Example:
        >>> comparison_axis_limits([0.9, 0.95], [0.01, 0.01])
        (0.883, 0.967)
        >>> comparison_axis_limits([2.3, 0.35], [0.4, 0.06])[1] > 2.7
        True
    """
    low = min(m - h for m, h in zip(means, halves))
    high = max(m + h for m, h in zip(means, halves))
    margin = 0.1 * (high - low + 1e-9)
    bottom, top = max(0.0, low - margin), high + margin
    if max(means) <= 1.0:
        top = min(1.0, top)
    return round(bottom, 6), round(top, 6)


def plot_method_comparison(
    scores: Mapping[str, Sequence[float]],
    path: Union[str, Path] = "methods.png",
    ylabel: str = "test accuracy",
    title: Optional[str] = None,
) -> Path:
    """Bar per method: mean over seeds with a 95% confidence interval (Student t).

    Args:
        scores: method -> one score per seed.
        path: where to write the PNG.
        ylabel: y axis label.
        title: figure title.

    Returns:
        the PNG's path.

    Example:
        >>> import tempfile, os
        >>> scores = {"ce": [0.93, 0.94, 0.92], "slf": [0.94, 0.95, 0.93]}
        >>> plot_method_comparison(scores, os.path.join(tempfile.mkdtemp(), "m.png")).name
        'm.png'
    """
    if not scores:
        raise ValueError("no scores to plot")
    plt = _pyplot()
    labels = list(scores)
    means, _, halves = (list(column) for column in zip(*(mean_interval(scores[label]) for label in labels)))
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(labels) + 2), 4))
    colors = ["tab:orange" if label.lower().startswith(("slf", "mils")) else "tab:blue" for label in labels]
    ax.bar(range(len(labels)), means, yerr=halves, capsize=3, color=colors)
    ax.set_ylim(*comparison_axis_limits(means, halves))
    ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right", fontsize="small")
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"{ylabel}: mean and 95% CI over seeds")
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, plt, path)


def plot_parity(
    targets: Sequence[Sequence[float]],
    predictions: Sequence[Sequence[float]],
    labels: Sequence[str],
    path: Union[str, Path] = "parity.png",
    title: Optional[str] = None,
) -> Path:
    """Predicted against measured values, one colour per seed, with the identity line.

    Args:
        targets, predictions: one sequence of values per seed.
        labels: one legend label per seed.
        path: where to write the PNG.
        title: figure title.

    Example:
        >>> import tempfile, os
        >>> plot_parity([[1.0, 2.0]], [[1.1, 1.8]], ["seed 0"], os.path.join(tempfile.mkdtemp(), "p.png")).name
        'p.png'
    """
    if not (len(targets) == len(predictions) == len(labels)):
        raise ValueError(f"need one target list, prediction list and label per seed, got {len(targets)}, "
                         f"{len(predictions)} and {len(labels)}")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for true, pred, label in zip(targets, predictions, labels):
        ax.scatter(true, pred, s=8, alpha=0.5, label=label)
    values = [float(v) for seq in (*targets, *predictions) for v in seq]
    if values:
        ax.plot([min(values), max(values)], [min(values), max(values)], color="gray", linewidth=1)
    ax.set_xlabel("measured")
    ax.set_ylabel("predicted")
    ax.set_title(title or "predicted vs measured", fontsize="small")
    ax.legend(fontsize="x-small")
    return _save(fig, plt, path)


def plot_confusion_matrix(
    matrix: Sequence[Sequence[float]],
    class_names: Sequence[str],
    path: Union[str, Path] = "confusion.png",
    title: Optional[str] = None,
) -> Path:
    """Confusion matrix as a heat map: rows are true classes, columns predicted (or assigned)
    classes; colours show each row's share, cells the counts.

    Args:
        matrix: counts ``(C, C)``.
        class_names: one name per row/column.
        path: where to write the PNG.
        title: figure title.

    Example:
        >>> import tempfile, os
        >>> plot_confusion_matrix([[5, 1], [0, 6]], ["cat", "dog"], os.path.join(tempfile.mkdtemp(), "c.png")).name
        'c.png'
    """
    counts = np.asarray(matrix, dtype=float)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] != len(class_names):
        raise ValueError(f"need a square matrix with one class name per row, got shape {counts.shape} and "
                         f"{len(class_names)} names")
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    plt = _pyplot()
    size = max(4.0, 0.45 * len(class_names) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    if len(class_names) <= 20:
        for (row, column), count in np.ndenumerate(counts):
            if count:
                ax.text(column, row, f"{count:g}", ha="center", va="center", fontsize="x-small",
                        color="white" if shares[row, column] > 0.5 else "black")
    ticks = range(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right", fontsize="small")
    ax.set_yticks(ticks, class_names, fontsize="small")
    ax.set_xlabel("assigned class")
    ax.set_ylabel("true class")
    ax.set_title(title or "confusion matrix", fontsize="small")
    return _save(fig, plt, path)


def _save(fig, plt, path: Union[str, Path]) -> Path:
    """Write the figure as ``path`` atomically (a reader never sees half a PNG) and close it."""
    try:
        fig.tight_layout()
        with atomic_destination(path) as temporary:
            fig.savefig(temporary, dpi=120, bbox_inches="tight")
    finally:
        plt.close(fig)
    return Path(path)
