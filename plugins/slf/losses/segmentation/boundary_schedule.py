r"""A regional loss plus the boundary loss on a per-epoch schedule (registry: ``regional_boundary``).

Kervadec et al. train with a regional loss first and shift the weight to the boundary loss
epoch by epoch: the boundary loss alone gives a poor start (a random prediction's contour
is far from the ground truth's, and a class whose region is absent gives no signal).
"""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional, Tuple

import torch
from torch import Tensor

from ..base import BaseLoss, check_reduction, reduce_loss
from ..registry import register
from ._inputs import Classes, Spacing, check_from_logits, check_segmentation_inputs
from .boundary import BoundaryLoss
from .cross_entropy import SegmentationCrossEntropyLoss
from .dice import DiceLoss

SCHEDULES = ("rebalance", "increase", "constant")
REGIONAL = {"dice": DiceLoss, "ce": SegmentationCrossEntropyLoss}
# (alpha, alpha_step, alpha_limit) by schedule, from LIVIAETS/boundary-loss (isles.make / wmh.make,
# scheduler.py): StealWeight(to_steal=0.01) with the regional weight floored at 0.1; AddWeightLoss
# adding 0.01 per epoch to a boundary weight that starts at 0.01; a constant weight 0.1 (ISLES).
SCHEDULE_DEFAULTS: Dict[str, Tuple[float, float, Optional[float]]] = {
    "rebalance": (1.0, 0.01, 0.1),
    "increase": (0.01, 0.01, None),
    "constant": (0.1, 0.0, None),
}


def _check_number(value: Any, what: str, low: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < low:
        raise ValueError(f"{name}: {what} must be a finite number >= {low:g}, got {value!r}")
    return float(value)


def _resolve_schedule(
    schedule: str, alpha: Optional[float], alpha_step: Optional[float], alpha_limit: Optional[float], name: str
) -> Tuple[float, float, Optional[float]]:
    if schedule not in SCHEDULES:
        raise ValueError(f"{name}: schedule must be one of {list(SCHEDULES)}, got {schedule!r}")
    default_alpha, default_step, default_limit = SCHEDULE_DEFAULTS[schedule]
    alpha = _check_number(default_alpha if alpha is None else alpha, "alpha", 0.0, name)
    if schedule == "constant":
        if alpha_step not in (None, 0, 0.0) or alpha_limit is not None:
            raise ValueError(
                f"{name}: schedule 'constant' keeps alpha fixed; alpha_step and alpha_limit do not "
                f"apply (got {alpha_step!r}, {alpha_limit!r}); use 'increase' or 'rebalance'"
            )
        return alpha, 0.0, None
    step = _check_number(default_step if alpha_step is None else alpha_step, "alpha_step", 0.0, name)
    limit = default_limit if alpha_limit is None else _check_number(alpha_limit, "alpha_limit", 0.0, name)
    if schedule == "rebalance":
        if alpha > 1:
            raise ValueError(
                f"{name}: with schedule 'rebalance' alpha weighs the regional loss against 1 - alpha: "
                f"it must lie in [0, 1], got {alpha!r}"
            )
        if limit > alpha:
            raise ValueError(
                f"{name}: alpha_limit (the floor alpha decreases to) must be <= alpha = {alpha:g}, got {limit!r}"
            )
    elif limit is not None and limit < alpha:
        raise ValueError(
            f"{name}: alpha_limit (the cap alpha increases to) must be >= alpha = {alpha:g}, got {limit!r}"
        )
    return alpha, step, limit


def schedule_weights(
    epoch: int,
    schedule: str = "rebalance",
    alpha: Optional[float] = None,
    alpha_step: Optional[float] = None,
    alpha_limit: Optional[float] = None,
) -> Tuple[float, float]:
    r"""The (regional, boundary) weights at an epoch of a schedule.

    - ``'rebalance'`` (MedIA 2021): :math:`\alpha L_R + (1 - \alpha) L_B` with
      :math:`\alpha_e = \max(\alpha_{\text{limit}}, \alpha_0 - e\,\Delta)`; defaults
      :math:`\alpha_0 = 1`, :math:`\Delta = 0.01`, floor 0.1.
    - ``'increase'`` (MIDL 2019): :math:`L_R + \alpha L_B` with
      :math:`\alpha_e = \min(\alpha_{\text{limit}}, \alpha_0 + e\,\Delta)`; defaults
      :math:`\alpha_0 = 0.01`, :math:`\Delta = 0.01`, no cap.
    - ``'constant'``: :math:`L_R + \alpha L_B`, default :math:`\alpha = 0.1`.

    The defaults are the reference code's (LIVIAETS/boundary-loss). Its ``StealWeight``
    moves 0.01 per epoch from the regional weight (floored at 0.1) to a boundary weight that
    starts at 0.01 and keeps growing after the floor; ``'rebalance'`` keeps the weights
    summing to 1, so it equals that schedule up to the 0.01 offset until the floor
    (epoch 90) and holds :math:`(0.1, 0.9)` after it.

    Args:
        epoch: completed epochs, ``>= 0``.
        schedule: ``'rebalance'``, ``'increase'`` or ``'constant'``.
        alpha: the start value :math:`\alpha_0` (``None``: the schedule's default).
        alpha_step: the change per epoch :math:`\Delta` (``None``: default).
        alpha_limit: the floor (``'rebalance'``) or cap (``'increase'``) of :math:`\alpha`.

    Example:
        >>> [schedule_weights(e) for e in (0, 1, 95)]
        [(1.0, 0.0), (0.99, 0.01), (0.1, 0.9)]
        >>> schedule_weights(3, "increase")
        (1.0, 0.04)
    """
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"schedule_weights: epoch must be an integer >= 0, got {epoch!r}")
    alpha, step, limit = _resolve_schedule(schedule, alpha, alpha_step, alpha_limit, "schedule_weights")
    return _weights(epoch, schedule, alpha, step, limit)


def _weights(epoch: int, schedule: str, alpha: float, step: float, limit: Optional[float]) -> Tuple[float, float]:
    # Rounded to 12 digits: 1 - 10 * 0.01 is 0.9, not 0.9000000000000000222.
    if schedule == "rebalance":
        current = round(max(limit, alpha - epoch * step), 12)
        return current, round(1.0 - current, 12)
    current = round(alpha + epoch * step, 12)
    return 1.0, current if limit is None else min(limit, current)


@register("regional_boundary", "segmentation")
class RegionalBoundaryLoss(BaseLoss):
    r"""A regional loss and the boundary loss, weighted by a per-epoch schedule.

    .. math::

        \ell = w_R(e)\, \ell_{\text{regional}} + w_B(e)\, \ell_{\text{boundary}}

    with :math:`(w_R, w_B)` from :func:`schedule_weights` at the epoch :math:`e`. Call
    :meth:`step` once at the end of every epoch; the epoch is a buffer, so it is saved in
    ``state_dict`` and a resumed run continues the schedule where it stopped.

    Args:
        regional: ``'dice'`` (:class:`DiceLoss`, by default the generalized Dice of the
            paper) or ``'ce'`` (:class:`SegmentationCrossEntropyLoss`).
        schedule: ``'rebalance'`` (default), ``'increase'`` or ``'constant'``.
        alpha, alpha_step, alpha_limit: the schedule's start, change per epoch and
            floor / cap (``None``: the reference defaults, see :func:`schedule_weights`).
        classes: the boundary loss's classes (default all but the background ``0``).
        from_logits: ``True`` for logits, ``False`` for probabilities (both terms).
        spacing: pixel size(s) for the boundary loss's distance maps.
        regional_kwargs: further arguments of the regional loss, e.g. ``{'variant': 'soft'}``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - input: :math:`(N, C, *spatial)` scores; target: :math:`(N, *spatial)` labels;
          ``distance_maps`` (keyword, optional): :math:`(N, C, *spatial)` for the boundary term.
        - output: :math:`(N,)` for ``'none'``, else a scalar.

    Example:
        >>> loss = RegionalBoundaryLoss("dice")
        >>> loss.weights
        (1.0, 0.0)
        >>> for epoch in range(10):
        ...     loss.step()  # at the end of each epoch
        >>> loss.epoch, loss.weights
        (tensor(10), (0.9, 0.1))
        >>> target = torch.zeros(2, 8, 8, dtype=torch.long)
        >>> target[:, 2:5, 2:5] = 1
        >>> loss(torch.zeros(2, 2, 8, 8), target)  # 0.9 * 0.7583 (Dice) + 0.1 * 0.9467 (boundary)
        tensor(0.7771)
    """

    task = "segmentation"
    minimum = 0.0

    def __init__(
        self,
        regional: str = "dice",
        schedule: str = "rebalance",
        alpha: Optional[float] = None,
        alpha_step: Optional[float] = None,
        alpha_limit: Optional[float] = None,
        classes: Classes = None,
        from_logits: bool = True,
        spacing: Spacing = None,
        regional_kwargs: Optional[Mapping[str, Any]] = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        if regional not in REGIONAL:
            raise ValueError(f"{self.name}: regional must be one of {list(REGIONAL)}, got {regional!r}")
        self.from_logits = check_from_logits(from_logits, self.name)
        kwargs = dict(regional_kwargs or {})
        for fixed in ("from_logits", "reduction"):
            if fixed in kwargs:
                raise ValueError(
                    f"{self.name}: regional_kwargs must not set {fixed!r}; pass it to RegionalBoundaryLoss itself"
                )
        self.schedule = schedule
        self.alpha0, self.alpha_step, self.alpha_limit = _resolve_schedule(
            schedule, alpha, alpha_step, alpha_limit, self.name
        )
        self.regional_name = regional
        self.regional = REGIONAL[regional](from_logits=from_logits, reduction="none", **kwargs)
        self.boundary = BoundaryLoss(classes=classes, from_logits=from_logits, spacing=spacing, reduction="none")
        self.register_buffer("epoch", torch.zeros((), dtype=torch.long))

    @property
    def weights(self) -> Tuple[float, float]:
        """The (regional, boundary) weights at the current epoch."""
        return _weights(int(self.epoch), self.schedule, self.alpha0, self.alpha_step, self.alpha_limit)

    def step(self) -> None:
        """Advance the schedule by one epoch (call once at the end of every epoch)."""
        self.epoch += 1

    def validate(self, input: Tensor, target: Tensor) -> None:
        check_segmentation_inputs(input, target, self.from_logits, self.name)

    def per_sample(self, input: Tensor, target: Tensor, distance_maps: Optional[Tensor] = None) -> Tensor:
        regional_weight, boundary_weight = self.weights
        values = regional_weight * self.regional.per_sample(input, target)
        if boundary_weight != 0.0:  # skip the distance maps while the boundary term has no weight
            values = values + boundary_weight * self.boundary.per_sample(input, target, distance_maps)
        return values

    def forward(
        self, input: Tensor, target: Tensor, reduction: Optional[str] = None, *, distance_maps: Optional[Tensor] = None
    ) -> Tensor:
        self.validate(input, target)
        values = self.per_sample(input, target, distance_maps)
        return reduce_loss(values, check_reduction(reduction) if reduction else self.reduction)

    def extra_repr(self) -> str:
        limit = "" if self.alpha_limit is None else f", alpha_limit={self.alpha_limit:g}"
        return (
            f"regional={self.regional_name!r}, schedule={self.schedule!r}, alpha={self.alpha0:g}, "
            f"alpha_step={self.alpha_step:g}{limit}, epoch={int(self.epoch)}, " + super().extra_repr()
        )
