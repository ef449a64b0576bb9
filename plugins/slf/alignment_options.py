"""The checks of :class:`slf.alignment.GradientAlignment`'s arguments, each failing with an error that
names the argument, the value it got and what it takes.

Example:
    >>> checked_alignment_options(
    ...     2, temperature=1e-3, momentum=0.9, reference_momentum=0.95, interval=(1, 4), prior=None,
    ...     margin=0.03, preferred=0, gap=1.0, gap_patience=50, held_interval=4, gap_z=2.0,
    ... )
    (1, 4, [1.0, 1.0])
"""

from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence, Tuple, Union


def _is_integer_at_least_one(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= 1


def checked_alignment_options(
    num_candidates: int,
    *,
    temperature: float,
    momentum: float,
    reference_momentum: float,
    interval: Union[int, Sequence[int]],
    prior: Optional[Sequence[float]],
    margin: float,
    preferred: Optional[int],
    gap: Optional[float],
    gap_patience: int,
    held_interval: int,
    gap_z: float,
) -> Tuple[int, int, List[float]]:
    """Check every argument; return ``interval`` as (k, j), the steps between scores and the scores
    between held-out draws (j = 1 for a plain k), and the prior (uniform when ``None``) as floats."""
    if not _is_integer_at_least_one(num_candidates):
        raise ValueError(f"num_candidates must be an integer >= 1, got {num_candidates!r}")
    if isinstance(temperature, bool) or not (
        isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0
    ):
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}")
    for name, value in (("momentum", momentum), ("reference_momentum", reference_momentum)):
        if isinstance(value, bool) or not (isinstance(value, (int, float)) and 0 <= value < 1):
            raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    pair = tuple(interval) if isinstance(interval, (tuple, list)) else (interval, 1)
    if len(pair) != 2 or not all(_is_integer_at_least_one(value) for value in pair):
        raise ValueError(
            f"interval must be an integer k >= 1 (steps between scores) or a pair (k, j) of them "
            f"(a held-out batch on every j-th score), got {interval!r}"
        )
    if not _is_integer_at_least_one(held_interval):
        raise ValueError(f"held_interval must be an integer >= 1 (steps), got {held_interval!r}")
    if isinstance(margin, bool) or not (isinstance(margin, (int, float)) and 0 <= margin < 2):
        raise ValueError(f"margin must be a number in [0, 2) (a difference of cosines), got {margin!r}")
    if preferred is not None and not (isinstance(preferred, int) and 0 <= preferred < num_candidates):
        raise ValueError(f"preferred must be a candidate index in [0, {num_candidates}) or None, got {preferred!r}")
    if gap is not None and (
        isinstance(gap, bool) or not (isinstance(gap, (int, float)) and math.isfinite(gap) and gap > 0)
    ):
        raise ValueError(f"gap must be a number > 0 (a ratio of training to held-out loss) or None, got {gap!r}")
    if not _is_integer_at_least_one(gap_patience):
        raise ValueError(f"gap_patience must be an integer >= 1 (steps), got {gap_patience!r}")
    if isinstance(gap_z, bool) or not (isinstance(gap_z, (int, float)) and math.isfinite(gap_z) and gap_z >= 0):
        raise ValueError(f"gap_z must be a number >= 0 (standard errors), got {gap_z!r}")
    weights = [1.0] * num_candidates if prior is None else [float(p) for p in prior]
    if len(weights) != num_candidates or not all(math.isfinite(p) and p > 0 for p in weights):
        raise ValueError(f"prior must hold {num_candidates} positive weights, got {weights}")
    return pair[0], pair[1], weights
