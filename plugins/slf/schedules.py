"""Temperature schedules for the Gumbel-Softmax.

The schedule is a pure function of the training step, so the step alone (saved in
``StochasticLoss.state_dict()``) restores it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEDULES = ("constant", "exponential")


@dataclass(frozen=True)
class TauSchedule:
    """Temperature over training steps.

    .. math::

        \\tau(t) = \\max(\\tau_{min}, \\tau_0 \\cdot d^{t})  \\quad (\\text{exponential}),
        \\qquad \\tau(t) = \\tau_0 \\quad (\\text{constant}).

    Args:
        initial: :math:`\\tau_0 > 0`.
        kind: ``'constant'`` or ``'exponential'``.
        decay: :math:`d \\in (0, 1]`, per step (exponential only).
        minimum: :math:`\\tau_{min} > 0` (exponential only).

    Example:
        >>> TauSchedule(1.0, "exponential", decay=0.5, minimum=0.2)(3)
        0.2
    """

    initial: float = 1.0
    kind: str = "constant"
    decay: float = 0.999
    minimum: float = 0.1

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ValueError(f"tau schedule must be one of {SCHEDULES}, got {self.kind!r}")
        if not self.initial > 0:
            raise ValueError(f"tau must be > 0, got {self.initial}")
        if not 0 < self.decay <= 1:
            raise ValueError(f"tau decay must be in (0, 1], got {self.decay}")
        if not self.minimum > 0:
            raise ValueError(f"tau minimum must be > 0, got {self.minimum}")

    def __call__(self, step: int) -> float:
        if self.kind == "constant":
            return self.initial
        return max(self.minimum, self.initial * self.decay**step)
