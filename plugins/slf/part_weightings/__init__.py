"""Learned weightings of a multi-part loss, by name: SLF's and its peers'.

======================  ==============================================================
``type``                method
======================  ==============================================================
``'slf'``               :class:`slf.LossPartWeighting` (SLF; the default recipe or the paper's update)
``'uncertainty'``       :class:`UncertaintyWeighting` (Kendall, Gal and Cipolla, CVPR 2018)
``'gradnorm'``          :class:`GradNormWeighting` (Chen et al., ICML 2018)
``'dwa'``               :class:`DynamicWeightAverage` (Liu, Johns and Davison, CVPR 2019)
======================  ==============================================================

Each takes the host's parts ``{name: value}`` (the configured weights in them) and gives back
the weighted parts under the same names; their sum is the loss to backpropagate.

Example:
    >>> weighting = build_part_weighting(["cls", "xy"], [1.0, 2.0], type="uncertainty")
    >>> type(weighting).__name__, [round(x, 3) for x in weighting.lambdas.tolist()]
    ('UncertaintyWeighting', [1.0, 2.0])
"""

from __future__ import annotations

import inspect
from typing import Any, Dict, Sequence, Type

from ..part_weighting import LossPartWeighting
from ..part_weighting_base import PartWeighting
from .dwa import DynamicWeightAverage
from .gradnorm import GradNormWeighting
from .uncertainty import UncertaintyWeighting

PART_WEIGHTINGS: Dict[str, Type[PartWeighting]] = {
    "slf": LossPartWeighting,
    "uncertainty": UncertaintyWeighting,
    "gradnorm": GradNormWeighting,
    "dwa": DynamicWeightAverage,
}


def build_part_weighting(
    parts: Sequence[str], prior_weights: Sequence[float], type: str = "slf", **options: Any
) -> PartWeighting:
    """The weighting ``type`` (a key of :data:`PART_WEIGHTINGS`) of ``parts``, with its ``options``.

    An unknown type or option is refused with the valid ones.
    """
    if type not in PART_WEIGHTINGS:
        raise ValueError(f"unknown part weighting type {type!r}; valid: {sorted(PART_WEIGHTINGS)}")
    cls = PART_WEIGHTINGS[type]
    if cls is not LossPartWeighting:  # LossPartWeighting checks its own flat options
        accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "parts", "prior_weights"}
        unknown = sorted(set(options) - accepted)
        if unknown:
            raise TypeError(f"part weighting {type!r} got unexpected option(s) {unknown}; valid: {sorted(accepted)}")
    return cls(parts, prior_weights, **options)


__all__ = [
    "PART_WEIGHTINGS",
    "build_part_weighting",
    "UncertaintyWeighting",
    "GradNormWeighting",
    "DynamicWeightAverage",
]
