"""The mean over seeds and its 95% interval, as every summary, table and bar chart of the suite
reports it (the trainers' harness, the plots, the benchmarks' report).
"""

from __future__ import annotations

import math
import statistics
from typing import Sequence, Tuple


def mean_std(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and sample standard deviation (n - 1; 0 for one value).

    Example:
        >>> mean, std = mean_std([0.8, 0.9])
        >>> round(mean, 4), round(std, 4)
        (0.85, 0.0707)
    """
    values = [float(v) for v in values]
    if not values:
        raise ValueError("mean_std() needs at least one value")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> Tuple[float, float, float]:
    r"""Mean, sample standard deviation and the half-width of the mean's Student-t interval.

    .. math::

        \bar x \pm t_{(1 + c)/2,\, n-1}\, s / \sqrt{n}

    (half-width 0 for one value: no interval can be told from it).

    Example:
        >>> mean, std, half = mean_interval([0.8, 0.9, 1.0])
        >>> round(mean, 4), round(std, 4), round(half, 4)
        (0.9, 0.1, 0.2484)
    """
    from scipy import stats  # lazy, like the other scipy users of the core

    mean, std = mean_std(values)
    if len(values) < 2:
        return mean, std, 0.0
    return mean, std, float(stats.t.ppf((1 + confidence) / 2, len(values) - 1) * std / math.sqrt(len(values)))
