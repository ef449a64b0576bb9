"""Per-epoch accuracy (or any metric) curves over seeds, from runs' ``results.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from .figure import pyplot, save_figure


def accuracy_curves(
    run_json: Union[str, Path, Mapping[str, Any]], label: Optional[str] = None
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
    plt = pyplot()
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
    return save_figure(fig, plt, path)
