"""What every plain trainer of the suite shares: seeding, SLF run records, summaries, tables.

The classification trainer (:mod:`slf.train.classify`) and the hosts' trainers (the graph
regression trainer of ``slf_pyg``, ...) record a StochasticLoss run the same way, so
``slf plot`` and the benchmarks read one format.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import statistics
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from .. import distributed

MAX_HISTORY_ROWS = 1000
RESULTS_FILE = "results.json"


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators.

    Example:
        >>> seed_everything(3); a = torch.rand(1); seed_everything(3)
        >>> bool(torch.rand(1) == a)
        True
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def run_setup(seed: int, device: str, num_threads: Optional[int]) -> Iterator[None]:
    """The process state of one training run: torch's CPU threads (``None``: as they are; restored
    when the block ends), the seeds (:func:`seed_everything`), and ``torch.distributed`` where
    torchrun started the process (:func:`slf.distributed.init_from_environment`).

    Example:
        >>> threads = torch.get_num_threads()
        >>> with run_setup(0, "cpu", 1):
        ...     torch.get_num_threads()
        1
        >>> torch.get_num_threads() == threads
        True
    """
    previous_threads = torch.get_num_threads()
    if num_threads:
        torch.set_num_threads(num_threads)
    try:
        seed_everything(seed)
        distributed.init_from_environment(device)
        yield
    finally:
        torch.set_num_threads(previous_threads)


def thin_history(history: Sequence[Mapping[str, Any]], max_rows: int = MAX_HISTORY_ROWS) -> List[Dict[str, Any]]:
    """At most about ``max_rows`` evenly spaced rows of a weight history, the last row kept.

    Example:
        >>> rows = [{"step": s, "weights": [1.0]} for s in range(10)]
        >>> [row["step"] for row in thin_history(rows, max_rows=4)]
        [0, 3, 6, 9]
    """
    stride = max(1, math.ceil(len(history) / max_rows))
    rows = [dict(row) for row in history[::stride]]
    if history and rows[-1]["step"] != history[-1]["step"]:
        rows.append(dict(history[-1]))
    return rows


def top_weight(criterion: nn.Module) -> str:
    """The heaviest candidate of a StochasticLoss's last step, e.g. ``'mae 0.62'`` (for progress bars).

    Example:
        >>> from slf import StochasticLoss
        >>> top_weight(StochasticLoss(["mse", "mae"], task="regression"))
        'mse 0.50'
    """
    weights = criterion.weights
    index = int(torch.argmax(weights))
    return f"{criterion.candidate_names[index]} {float(weights[index]):.2f}"


def slf_run_record(criterion: nn.Module) -> Dict[str, Any]:
    """The SLF fields of one run's JSON: ``candidates``, ``weights_history`` (thinned),
    ``final_weights``, ``mean_weights`` and ``slf_stats``.

    Example:
        >>> from slf import StochasticLoss
        >>> sorted(slf_run_record(StochasticLoss(["mse", "mae"], task="regression")))
        ['candidates', 'final_weights', 'mean_weights', 'slf_stats', 'weights_history']
    """
    return {
        "candidates": list(criterion.candidate_names),
        "weights_history": thin_history(criterion.history),
        "final_weights": [float(w) for w in criterion.weights],
        "mean_weights": [float(w) for w in getattr(criterion, "mean_weights", criterion.weights)],
        "slf_stats": {key: float(value) for key, value in criterion.stats().items()},
    }


def online_loss_record(criterion: nn.Module) -> Dict[str, Any]:
    """The ``loss_learning`` field of a run whose loss learns online (AdaLFL, L2T-DLF; its ``online``, a
    :class:`slf.unrolled_step.OnlineLookahead`): its look-ahead updates (``meta_steps``) and the outer loss
    after each look-ahead step, averaged over the first and the last tenth of them (``meta_loss_first``,
    ``meta_loss_last``).

    Example:
        >>> from slf.losses import AdaLFLClassificationLoss
        >>> online_loss_record(AdaLFLClassificationLoss())["loss_learning"]["meta_steps"]
        0
    """
    values = list(criterion.online.losses)
    tenth = max(1, len(values) // 10)
    mean = statistics.fmean
    return {
        "loss_learning": {
            "meta_steps": criterion.online.steps,
            "meta_loss_first": mean(values[:tenth]) if values else float("nan"),
            "meta_loss_last": mean(values[-tenth:]) if values else float("nan"),
        }
    }


def mean_selection_weights(runs: Sequence[Mapping[str, Any]]) -> Optional[Dict[str, float]]:
    """Each candidate's weight averaged over training and over seeds, or None for non-SLF runs.

    Uses ``mean_weights`` (the average over steps) when every run has it, else ``final_weights``.

    Example:
        >>> mean_selection_weights([{"candidates": ["mse", "mae"], "mean_weights": [0.2, 0.8]},
        ...                         {"candidates": ["mse", "mae"], "mean_weights": [0.4, 0.6]}])
        {'mse': 0.30000000000000004, 'mae': 0.7}
    """
    if not runs or not runs[0].get("candidates"):
        return None
    key = "mean_weights" if all(run.get("mean_weights") for run in runs) else "final_weights"
    mean = np.mean([run[key] for run in runs], axis=0)
    return {name: float(w) for name, w in zip(runs[0]["candidates"], mean)}


def format_top_weights(weights: Optional[Mapping[str, float]], top: int = 3) -> str:
    """The ``top`` heaviest candidates as ``'mae 0.70, mse 0.30'`` ('' when there are none).

    Example:
        >>> format_top_weights({"mse": 0.3, "mae": 0.7})
        'mae 0.70, mse 0.30'
    """
    ranked = sorted((weights or {}).items(), key=lambda item: -item[1])[:top]
    return ", ".join(f"{name} {w:.2f}" for name, w in ranked)


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    """A plain-text table with columns padded to their widest cell; columns ``right`` right-aligned.

    Example:
        >>> print(format_table(["method", "seeds"], [["ce", "5"], ["slf-validation", "5"]], right=[1]))
        method          seeds
        ce                  5
        slf-validation      5
    """
    widths = [max(len(header[i]), *(len(row[i]) for row in rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    return "\n".join([line(header), *(line(row) for row in rows)])


def load_run_results(run_dir: Union[str, Path], command: str) -> Dict[str, Any]:
    """The ``results.json`` of a run folder written by ``command`` (e.g. ``'slf graph'``).

    Raises:
        FileNotFoundError: the folder has no ``results.json`` (the message names the command).

    Example:
        >>> load_run_results("/nonexistent", "slf graph")
        Traceback (most recent call last):
        ...
        FileNotFoundError: /nonexistent/results.json not found: is /nonexistent a run folder written by `slf graph`?
    """
    path = Path(run_dir) / RESULTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {run_dir} a run folder written by `{command}`?")
    return json.loads(path.read_text(encoding="utf-8"))
