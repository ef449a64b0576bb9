"""Dynamic Weight Average (Liu, Johns and Davison, CVPR 2019) of a multi-part loss's parts.

Each part's weight follows how fast it fell over the last two periods (epochs):

.. math::

    r_i(e) = \\frac{\\bar u_i(e-1)}{\\bar u_i(e-2)}, \\qquad
    \\lambda(e) = S\\,\\operatorname{softmax}\\Big(\\log\\frac{w}{S} + \\frac{r(e)}{T}\\Big),

with :math:`\\bar u_i(e)` the mean of the unweighted part :math:`u_i = P_i / w_i` over period e's
training steps, T the temperature (2, as in the paper and LibMTL) and :math:`S = \\sum_i w_i`.
A part that falls slowly (r near 1 or above) gains weight. In the first two periods
:math:`\\lambda = w`. With equal configured weights this is the paper's
:math:`\\lambda_i = K \\exp(r_i / T) / \\sum_j \\exp(r_j / T)` (LibMTL's ``DWA``); otherwise the
configured weights are the start that the rates tilt. Nothing is learned by gradient.

A period is the host's epoch, passed to each training forward (``epoch=``), or every
``period`` training steps.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

import torch
from torch import Tensor

from ..part_weighting_base import RecordedPartWeighting


class DynamicWeightAverage(RecordedPartWeighting):
    r"""DWA's weights :math:`\lambda` from each part's rate of descent over the last two periods.

    Args:
        parts: part names, e.g. ``('cls', 'obj', 'noobj', 'xy', 'wh')``.
        prior_weights: the configured weight :math:`w_i > 0` of each part.
        temperature: T > 0; larger is closer to the configured weights.
        period: training steps per period, for a host that passes no ``epoch``.
        history_interval: steps between rows of :attr:`history`.

    Example:
        >>> dwa = DynamicWeightAverage(["cls", "xy"], [1.0, 1.0], period=1)
        >>> for cls, xy in [(4.0, 4.0), (2.0, 4.0), (1.0, 4.0)]:  # cls halves, xy stands still
        ...     out = dwa({"cls": torch.tensor(cls, requires_grad=True), "xy": torch.tensor(xy, requires_grad=True)})
        >>> [round(x, 3) for x in dwa.lambdas.tolist()]  # 2 softmax((0.5, 1.0) / 2)
        [0.876, 1.124]
    """

    def __init__(
        self,
        parts: Sequence[str],
        prior_weights: Sequence[float],
        temperature: float = 2.0,
        period: Optional[int] = None,
        history_interval: int = 10,
    ) -> None:
        super().__init__(parts, prior_weights, history_interval)
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if period is not None and period < 1:
            raise ValueError(f"period must be >= 1 training steps, or None when the host passes epoch=, got {period}")
        self.temperature = float(temperature)
        self.period = period
        self.period_index: Optional[int] = None
        self.period_sums = [0.0] * len(self.part_names)
        self.period_steps = 0
        self.finished_means: List[List[float]] = []  # the last two finished periods' means, oldest first

    def current_lambdas(self) -> Tensor:
        """:math:`\\lambda` for the current period, from the two periods before it."""
        if len(self.finished_means) < 2:
            return self.prior_weights.detach().float().clone()
        before, last = (torch.tensor(means, dtype=torch.float64) for means in self.finished_means)
        rates = last / before
        logits = torch.log(self.prior_weights.double().cpu() / self.total) + rates / self.temperature
        return (self.total * torch.softmax(logits, dim=0)).float().to(self.prior_weights.device)

    def _enter_period(self, index: int) -> None:
        if self.period_index is not None and index != self.period_index and self.period_steps:
            self.finished_means = (self.finished_means + [[s / self.period_steps for s in self.period_sums]])[-2:]
            self.period_sums = [0.0] * len(self.part_names)
            self.period_steps = 0
        self.period_index = index

    def forward(self, parts: Mapping[str, Tensor], epoch: Optional[int] = None) -> Dict[str, Tensor]:
        """The weighted parts; ``epoch``: the host's epoch (a change starts a new period)."""
        unweighted = self.unweighted(parts, scalars=True)
        stacked = torch.stack(unweighted).reshape(-1)
        if self.recording(stacked):
            if epoch is None and self.period is None:
                raise ValueError(
                    "DynamicWeightAverage needs its periods: pass epoch= to each training forward, or build it "
                    "with period=<training steps per period>"
                )
            self._enter_period(int(epoch) if epoch is not None else self.step // int(self.period))
            lambdas = self.current_lambdas().to(stacked.device)
            values = stacked.detach().double().cpu().tolist()
            self.period_sums = [total + value for total, value in zip(self.period_sums, values)]
            self.period_steps += 1
            self.record_step(lambdas)
        else:
            lambdas = self.current_lambdas().to(stacked.device)
        lambdas = lambdas.to(stacked.dtype)
        return {name: (lambdas[i] * unweighted[i]).reshape(parts[name].shape) for i, name in enumerate(self.part_names)}

    def plain_state(self) -> Dict[str, Any]:
        return dict(
            super().plain_state(),
            period_index=self.period_index,
            period_sums=list(self.period_sums),
            period_steps=self.period_steps,
            finished_means=[list(m) for m in self.finished_means],
        )

    def load_plain_state(self, state: Mapping[str, Any]) -> None:
        super().load_plain_state(state)
        self.period_index = state["period_index"]
        self.period_sums = list(state["period_sums"])
        self.period_steps = int(state["period_steps"])
        self.finished_means = [list(m) for m in state["finished_means"]]

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, temperature={self.temperature}, period={self.period}"
