"""Uncertainty weighting (Kendall, Gal and Cipolla, CVPR 2018) of a multi-part loss's parts.

Each part is read as the likelihood of a task with its own homoscedastic noise
:math:`\\sigma_i^2`, learned with the model through :math:`s_i = \\log \\sigma_i^2`:

.. math::

    L = \\sum_i \\Big(\\frac{P_i}{2 e^{s_i}} + \\frac{s_i}{2}\\Big), \\qquad
    \\lambda_i = \\frac{w_i}{2 e^{s_i}},

with :math:`P_i` the part as the host computes it (its configured weight :math:`w_i` in it),
the form of LibMTL's ``UW`` (one factor 1/2 for every task). A part that stays large gets a
large :math:`s_i` and a small weight; the term :math:`s_i / 2` keeps :math:`s_i` from growing
without bound. Each returned part carries its own :math:`s_i / 2`, so their sum is L.

The start :math:`s_i = -\\log 2` gives :math:`\\lambda = w` (the host's configured loss);
LibMTL starts at :math:`s_i = -0.5` (``init_log_variance=-0.5``). The weights do not keep
their total: uncertainty weighting rescales the whole loss as it learns.
"""

from __future__ import annotations

import math
from typing import Dict, Mapping, Sequence

import torch
from torch import Tensor, nn

from ..part_weighting_base import RecordedPartWeighting


class UncertaintyWeighting(RecordedPartWeighting):
    r"""Kendall et al.'s learned log-variances :math:`s` as the weights of a loss's parts.

    Args:
        parts: part names, e.g. ``('cls', 'obj', 'noobj', 'xy', 'wh')``.
        prior_weights: the configured weight :math:`w_i > 0` of each part.
        init_log_variance: the start of every :math:`s_i` (:math:`-\log 2`: :math:`\lambda = w`).
        history_interval: steps between rows of :attr:`history`.

    :math:`s` is an ``nn.Parameter`` (``log_variances``): the model's optimizer learns it from
    the returned loss, as Kendall et al. and LibMTL do.

    Example:
        >>> weighting = UncertaintyWeighting(["cls", "xy"], [1.0, 2.0])
        >>> out = weighting({"cls": torch.tensor(4.0), "xy": torch.tensor(6.0)})
        >>> round(float(sum(out.values()).detach()), 4)  # 4 + 6 and the two terms s / 2 = -log(2) / 2
        9.3069
        >>> [round(x, 3) for x in weighting.lambdas.tolist()]
        [1.0, 2.0]
    """

    def __init__(
        self,
        parts: Sequence[str],
        prior_weights: Sequence[float],
        init_log_variance: float = -math.log(2.0),
        history_interval: int = 10,
    ) -> None:
        super().__init__(parts, prior_weights, history_interval)
        if not math.isfinite(init_log_variance):
            raise ValueError(f"init_log_variance must be a finite number, got {init_log_variance}")
        self.log_variances = nn.Parameter(torch.full((len(self.part_names),), float(init_log_variance)))

    def start_lambdas(self) -> Tensor:
        return (self.prior_weights / (2 * self.log_variances.exp())).detach().float().cpu()

    def forward(self, parts: Mapping[str, Tensor]) -> Dict[str, Tensor]:
        unweighted = self.unweighted(parts, scalars=True)
        s = self.log_variances.to(unweighted[0].dtype)
        lambdas = self.prior_weights.to(s.dtype) / (2 * s.exp())
        if self.recording(s):
            self.record_step(lambdas)
        return {
            name: (lambdas[i] * unweighted[i] + s[i] / 2).reshape(parts[name].shape)
            for i, name in enumerate(self.part_names)
        }
