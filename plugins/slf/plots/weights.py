"""Plots of SLF's selection weights over training steps: one run, a run's seeds, a grid of runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .figure import pyplot, save_figure

History = Sequence[Mapping[str, Any]]
RunSource = Union[str, Path, Mapping[str, Any], History, Sequence[History]]


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
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    default_title = _draw_weights(ax, plt, histories, names or found_names)
    ax.set_title(title or default_title)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small")
    return save_figure(fig, plt, path)


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
    return [
        plot_selection_weights(
            results, None, Path(run_dir) / "selection_weights.png", title=f"selection weights: {title}"
        )
    ]


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
        ax.stackplot(
            steps, weights[0].T, labels=names, colors=[colors[i % len(colors)] for i in range(num)], alpha=0.85
        )
        ax.set_ylim(0, 1)
        return "SLF selection weights"
    mean, std = weights.mean(axis=0), weights.std(axis=0, ddof=1)
    for i, name in enumerate(names):
        color = colors[i % len(colors)]
        ax.plot(steps, mean[:, i], label=name, color=color)
        ax.fill_between(steps, mean[:, i] - std[:, i], mean[:, i] + std[:, i], color=color, alpha=0.2)
    ax.set_ylim(bottom=0)
    return f"SLF selection weights (mean +- std over {len(histories)} seeds)"


def plot_selection_weight_grid(
    panels: Mapping[str, RunSource],
    path: Union[str, Path] = "selection_weights.png",
    columns: int = 3,
    title: Optional[str] = None,
) -> Path:
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
    plt = pyplot()
    rows = -(-len(loaded) // columns)
    fig, axes = plt.subplots(
        rows,
        min(columns, len(loaded)),
        figsize=(4.2 * min(columns, len(loaded)), 3.2 * rows),
        squeeze=False,
        sharey=True,
    )
    for ax, (panel, (histories, found)) in zip(axes.flat, loaded.items()):
        _draw_weights(ax, plt, histories, found or names)
        ax.set_title(panel, fontsize="medium")
    for ax in list(axes.flat)[len(loaded) :]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small")
    if title:
        fig.suptitle(title)
    return save_figure(fig, plt, path)
