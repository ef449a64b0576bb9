"""One run harness for the plain trainers: a configuration over seeds 0..N-1, each finished seed kept,
summarised with the mean and its 95% interval (:func:`summarize_seeds`).

``run_seeds`` trains the seeds one after another and, after each, writes ``OUT/results.json``
atomically (a temporary file, then a rename) with the runs so far and ``"complete"``; so

- an interrupted run keeps every finished seed, and the same command started again trains
  only the missing ones (a run of more seeds extends one of fewer);
- a folder that holds another configuration's results is refused (``FileExistsError`` naming
  ``--overwrite``) unless the caller says to replace them;
- under torchrun every rank trains, rank 0 writes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from .. import distributed
from ..atomic_file import atomic_write_text
from ..intervals import mean_interval
from .common import RESULTS_FILE, mean_selection_weights

# Settings that change how fast a run goes, not what it computes.
NOT_COMPARED = ("seed", "num_threads")


def _compared(config: Mapping[str, Any]) -> Dict[str, Any]:
    # Through JSON, so tuples and lists compare alike.
    return json.loads(json.dumps({key: value for key, value in config.items() if key not in NOT_COMPARED}))


def finished_runs(
    out_dir: Union[str, Path], config: Mapping[str, Any], replace_other: bool = False
) -> Dict[int, Dict[str, Any]]:
    """The runs by seed that ``out_dir/results.json`` holds for ``config`` (empty when there is none).

    Raises:
        FileExistsError: the file holds another configuration's results and ``replace_other`` is False.
    """
    path = Path(out_dir) / RESULTS_FILE
    if not path.is_file():
        return {}
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
        written = results["config"]
        runs = {int(seed): run for seed, run in zip(results["seeds"], results["runs"])}
    except (ValueError, KeyError, TypeError) as error:
        if replace_other:
            return {}
        raise FileExistsError(
            f"{path} is not a results file of this trainer ({error}); choose another --out, or "
            f"pass --overwrite to replace it"
        ) from None
    before, now = _compared(written), _compared(config)
    if before == now:
        return runs
    if replace_other:
        return {}
    differences = sorted(key for key in set(before) | set(now) if before.get(key) != now.get(key))
    raise FileExistsError(
        f"{path} holds another run ({results.get('method', '?')}; its settings differ in "
        f"{', '.join(differences)}); choose another --out, or pass --overwrite to replace it"
    )


def summarize_seeds(
    runs: Sequence[Mapping[str, Any]],
    metrics: Mapping[str, Callable[[Mapping[str, Any]], float]],
    fields: Sequence[str] = (),
) -> Dict[str, Any]:
    """The summary every trainer writes: ``method``, the config ``fields``, ``seeds``,
    ``ms_per_step``, SLF's ``mean_weights``, and per metric its ``<name>_mean``, ``<name>_std``
    (n - 1) and ``<name>_ci95``, the half-width of the mean's 95% Student-t interval.

    Example:
        >>> runs = [{"method": "ce", "config": {"data": "digits"}, "acc": a, "time_per_step_s": 0.01}
        ...         for a in (0.8, 0.9, 1.0)]
        >>> s = summarize_seeds(runs, {"acc": lambda run: run["acc"]}, fields=("data",))
        >>> s["data"], s["seeds"], round(s["acc_mean"], 3), round(s["acc_ci95"], 3)
        ('digits', 3, 0.9, 0.248)
    """
    if not runs:
        raise ValueError("no runs to summarise")
    first = runs[0]
    summary: Dict[str, Any] = {
        "method": first["method"],
        **{field: first["config"][field] for field in fields},
        "seeds": len(runs),
        "ms_per_step": 1000 * sum(run["time_per_step_s"] for run in runs) / len(runs),
    }
    for name, value in metrics.items():
        summary[f"{name}_mean"], summary[f"{name}_std"], summary[f"{name}_ci95"] = mean_interval(
            [value(run) for run in runs]
        )
    weights = mean_selection_weights(runs)
    if weights is not None:
        summary["mean_weights"] = weights
    return summary


def interval_cell(summary: Mapping[str, Any], name: str, digits: int = 3) -> str:
    """``mean +- half-width`` of the 95% interval of a :func:`summarize_seeds` metric.

    Example:
        >>> interval_cell({"acc_mean": 0.9, "acc_ci95": 0.0248}, "acc")
        '0.900 +- 0.025'
    """
    return f"{summary[f'{name}_mean']:.{digits}f} +- {summary.get(f'{name}_ci95', 0.0):.{digits}f}"


def run_seeds(
    cfg: Any,
    seeds: int,
    out_dir: Union[str, Path],
    train: Callable[[Any], Dict[str, Any]],
    summarize: Callable[[Sequence[Mapping[str, Any]]], Dict[str, Any]],
    write_plots: Callable[[Path], Sequence[Path]],
    trainer: Optional[str] = None,
    overwrite: bool = False,
    method: Optional[str] = None,
) -> Dict[str, Any]:
    """Train ``cfg`` (a dataclass with a ``seed`` field) for seeds ``0, ..., seeds-1`` and summarise.

    Args:
        train: trains one configuration (``cfg`` with its seed set), returns the run's record.
        summarize: the summary of a list of runs.
        write_plots: writes the folder's PNGs from its ``results.json``.
        trainer: the ``trainer`` field of ``results.json`` (``slf plot`` picks the plot writer by it).
        overwrite: replace another configuration's results in ``out_dir`` instead of refusing.
        method: the ``method`` field (default: ``cfg.method``).

    Returns:
        the summary plus ``out_dir`` and ``plots`` (PNG paths; none on ranks other than 0).

    Example:
        >>> import tempfile
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class Config:
        ...     lr: float = 0.1
        ...     seed: int = 0
        >>> out = tempfile.mkdtemp()
        >>> summary = run_seeds(Config(), 2, out, lambda c: {"score": c.seed}, lambda runs: {"runs": len(runs)},
        ...                     lambda folder: [], method="demo")
        >>> summary["runs"], json.loads((Path(out) / "results.json").read_text())["complete"]
        (2, True)
        >>> run_seeds(Config(lr=0.2), 2, out, lambda c: {}, lambda runs: {}, lambda folder: [], method="demo")
        Traceback (most recent call last):
        ...
        FileExistsError: ... holds another run (demo; its settings differ in lr); choose another --out, or pass ...
    """
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    out_dir = Path(out_dir)
    config = asdict(cfg)
    kept = finished_runs(out_dir, config, replace_other=overwrite)
    writer = distributed.rank() == 0  # under torchrun, rank 0 writes for all
    if writer:
        out_dir.mkdir(parents=True, exist_ok=True)
    header = {**({"trainer": trainer} if trainer else {}), "method": method or cfg.method, "config": config}
    runs: List[Dict[str, Any]] = []
    for seed in range(seeds):
        if seed in kept:
            runs.append(kept[seed])
            continue
        runs.append(train(replace(cfg, seed=seed)))
        if writer:
            _write(out_dir, header, runs, summarize(runs), complete=seed == seeds - 1)
    summary = summarize(runs)
    if not writer:
        return {**summary, "out_dir": str(out_dir), "plots": []}
    plots = write_plots(out_dir)
    return {**summary, "out_dir": str(out_dir), "plots": [str(p) for p in plots]}


def _write(
    out_dir: Path, header: Mapping[str, Any], runs: List[Dict[str, Any]], summary: Dict[str, Any], complete: bool
) -> None:
    results = {**header, "seeds": list(range(len(runs))), "complete": complete, "summary": summary, "runs": runs}
    atomic_write_text(out_dir / RESULTS_FILE, json.dumps(results, indent=1, allow_nan=True))
