"""Interleaved step timing shared by the overhead benchmarks."""
from __future__ import annotations

import statistics
from typing import Callable, Dict, List, Mapping


def interleaved_times(steps: Mapping[str, Callable[[], float]], rounds: int, warmup: int) -> Dict[str, List[float]]:
    """Run every step once per round, in turn, so all variants see the same machine state.

    Each step returns its own duration in seconds; ``warmup`` rounds (compilation, caches)
    are discarded.
    """
    for _ in range(warmup):
        for step in steps.values():
            step()
    times: Dict[str, List[float]] = {label: [] for label in steps}
    for _ in range(rounds):
        for label, step in steps.items():
            times[label].append(step())
    return times


def median_ratio(values: List[float], base: List[float]) -> float:
    """Median over rounds of the per-round ratio ``value / base``."""
    return statistics.median(v / b for v, b in zip(values, base))
