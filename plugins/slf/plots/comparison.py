"""Plots that compare methods' final results: means with intervals, a parity plot, a confusion matrix."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..intervals import mean_interval
from .figure import pyplot, save_figure


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
    plt = pyplot()
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
    return save_figure(fig, plt, path)


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
        raise ValueError(
            f"need one target list, prediction list and label per seed, got {len(targets)}, "
            f"{len(predictions)} and {len(labels)}"
        )
    plt = pyplot()
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
    return save_figure(fig, plt, path)


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
        raise ValueError(
            f"need a square matrix with one class name per row, got shape {counts.shape} and {len(class_names)} names"
        )
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    plt = pyplot()
    size = max(4.0, 0.45 * len(class_names) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    if len(class_names) <= 20:
        for (row, column), count in np.ndenumerate(counts):
            if count:
                ax.text(
                    column,
                    row,
                    f"{count:g}",
                    ha="center",
                    va="center",
                    fontsize="x-small",
                    color="white" if shares[row, column] > 0.5 else "black",
                )
    ticks = range(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right", fontsize="small")
    ax.set_yticks(ticks, class_names, fontsize="small")
    ax.set_xlabel("assigned class")
    ax.set_ylabel("true class")
    ax.set_title(title or "confusion matrix", fontsize="small")
    return save_figure(fig, plt, path)
