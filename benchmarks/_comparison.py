"""Seed-comparison helpers shared by the host benchmarks: summaries, earlier runs, paired t-tests."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from scipy import stats as scipy_stats

from slf.intervals import mean_interval


def summary(values: Sequence[float], digits: int = 2) -> str:
    """``mean +- sample std`` (std 0 for one value)."""
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.{digits}f} +- {std:.{digits}f}"


def mean_and_half_width(values: Sequence[float], level: float = 0.95) -> Tuple[float, float]:
    """Mean and the half-width of its Student-t confidence interval, ``t_{(1+level)/2, n-1} s / sqrt(n)``
    (half-width 0 for one value; :func:`slf.intervals.mean_interval`, as the trainers' summaries)."""
    mean, _, half = mean_interval(values, level)
    return mean, half


def ci_cell(values: Sequence[float], digits: int = 3) -> str:
    """``mean +- half-width of the 95% CI`` over seeds."""
    mean, half = mean_and_half_width(values)
    return f"{mean:.{digits}f} +- {half:.{digits}f}"


def runs_to_fill(
    reuse: Optional[Path], epochs: int, seeds: int, methods: Sequence[str], report: Dict[str, Any]
) -> Dict[str, List[Dict[str, Any]]]:
    """A host benchmark's runs before it trains: an empty list for each method of ``methods``, and from
    an earlier report (``reuse``) the runs of the other methods, with its timing where ``report`` has none.

    Refuses a report made with other epochs or seeds: its runs would not be comparable.
    """
    runs: Dict[str, List[Dict[str, Any]]] = {}
    if reuse:
        previous = json.loads(Path(reuse).read_text())
        if (previous["epochs"], previous["seeds"]) != (epochs, seeds):
            raise SystemExit(
                f"--reuse {reuse} has {previous['epochs']} epochs and {previous['seeds']} seeds; "
                f"this run asks for {epochs} and {seeds}"
            )
        runs = {m: r for m, r in previous["runs"].items() if m not in methods}
        report["timing"] = report.get("timing", previous.get("timing"))
    runs.update({method: [] for method in methods})
    return runs


def paired_t_tests(scores: Dict[str, List[float]], baseline: str, unit: str, digits: int = 2) -> Dict[str, float]:
    """Paired t-test of each method against ``baseline`` over seeds; prints the differences, returns the p-values."""
    p_values: Dict[str, float] = {}
    if baseline not in scores:
        return p_values
    for method, values in scores.items():
        if method == baseline or len(values) < 2:
            continue
        test = scipy_stats.ttest_rel(values, scores[baseline])
        p_values[method] = float(test.pvalue)
        difference = statistics.fmean(values) - statistics.fmean(scores[baseline])
        print(f"  {method} - {baseline}: {difference:+.{digits}f} {unit}, paired t-test p = {test.pvalue:.3f}")
    return p_values


def paired_p(a: Sequence[float], b: Sequence[float]) -> float:
    """p-value of a paired t-test of ``a`` against ``b`` (NaN for one seed or identical scores)."""
    return float(scipy_stats.ttest_rel(a, b).pvalue) if len(a) > 1 and list(a) != list(b) else float("nan")


# Configuration fields added since runs were first saved, with the value that those runs had.
CONFIG_FIELDS_ADDED = {"label_column": None, "feature_columns": None, "smiles_column": None, "target_column": None}


def comparable_config(config: Dict[str, Any]) -> Dict[str, Any]:
    """A run's configuration without what does not act on it: the ``slf_*`` options of a run whose
    loss is not SLF (so a changed SLF default leaves the single-loss runs as they were), and fields
    added since at the value that older runs had (``CONFIG_FIELDS_ADDED``).

    Example:
        >>> comparable_config({"loss": "ce", "slf_mode": "align", "epochs": 3, "label_column": None})
        {'loss': 'ce', 'epochs': 3}
    """
    config = json.loads(json.dumps(config))
    for key, value in CONFIG_FIELDS_ADDED.items():
        if key in config and config[key] == value:
            del config[key]
    if config.get("loss", "slf") != "slf":
        config = {key: value for key, value in config.items() if not key.startswith("slf_")}
    return config


def recipe_signature() -> Dict[str, float]:
    """The default recipe's constants (``slf.alignment``): a run saved under other ones is stale,
    though its config, which names no constant, reads the same."""
    from slf import alignment

    return {
        "temperature": alignment.DEFAULT_TEMPERATURE,
        "momentum": alignment.DEFAULT_MOMENTUM,
        "reference_momentum": alignment.DEFAULT_REFERENCE_MOMENTUM,
        "margin": alignment.DEFAULT_MARGIN,
        "gap": alignment.DEFAULT_GAP,
        "gap_patience": alignment.DEFAULT_GAP_PATIENCE,
        "held_interval": alignment.DEFAULT_HELD_INTERVAL,
        "gap_z": alignment.DEFAULT_GAP_Z,
        "interval": alignment.DEFAULT_INTERVAL,
    }


def uses_default_recipe(config: Dict[str, Any]) -> bool:
    """Whether a run's configuration trains with the default recipe (SLF in ``align`` mode), so
    that its saved result is stale under other recipe constants; no other run depends on them.

    Example:
        >>> uses_default_recipe({"loss": "slf", "slf_mode": "align"}), uses_default_recipe({"loss": "ce"})
        (True, False)
        >>> uses_default_recipe({"method": "slf_align"}), uses_default_recipe({"method": "stock"})
        (True, False)
    """
    if "method" in config:  # mmdet's runs name their head
        return config["method"] == "slf_align"
    return config.get("loss") == "slf" and config.get("slf_mode") == "align"


# Constants recorded only since they were added, at the value that runs saved before then had.
RECIPE_CONSTANTS_ADDED = {"held_interval": 1, "gap_z": 0.0, "interval": 1}
# The constants of the recipe's gap (step 5 of docs/recipe.md).
GAP_CONSTANTS = ("gap", "gap_patience", "gap_z")


def current_recipe(config: Dict[str, Any], saved: Dict[str, Any], gap_acts: bool = True) -> bool:
    """Whether a saved run is current as to the recipe: it does not use it, or it recorded the same
    constants (a default-recipe run that recorded none predates the record, and is stale).
    ``gap_acts=False``: a host where the recipe's gap can never act (no stock candidate, as the
    YOLO head's parts, or no held-out losses, as DAC), whose runs the gap's constants leave
    as they were (``GAP_CONSTANTS`` are not compared).

    Example:
        >>> config = {"loss": "slf", "slf_mode": "align"}
        >>> current_recipe(config, {"recipe": recipe_signature()}), current_recipe(config, {})
        (True, False)
        >>> other_gap = {"recipe": {**recipe_signature(), "gap_z": 9.0}}
        >>> current_recipe(config, other_gap), current_recipe(config, other_gap, gap_acts=False)
        (False, True)
    """
    if not uses_default_recipe(config):
        return True
    recorded = saved.get("recipe")
    if recorded is None:
        return False
    recorded, signature = {**RECIPE_CONSTANTS_ADDED, **recorded}, recipe_signature()
    if not gap_acts:
        recorded, signature = ({k: v for k, v in d.items() if k not in GAP_CONSTANTS} for d in (recorded, signature))
    return recorded == signature


def cached_run(
    path: Path, config: Dict[str, Any], train: Callable[[], Dict[str, Any]], gap_acts: bool = True
) -> Dict[str, Any]:
    """One seed's run, read back from ``path`` when an earlier run with the same ``config`` (and the
    same recipe constants, where the saved run records them; see :func:`current_recipe` for
    ``gap_acts``) saved it, else ``train()`` saved there: an interrupted benchmark continues where
    it stopped."""
    if path.is_file():
        saved = json.loads(path.read_text())
        if comparable_config(saved["config"]) == comparable_config(config) and current_recipe(config, saved, gap_acts):
            return saved
    result = {**train(), "recipe": recipe_signature()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, allow_nan=True))
    return result
