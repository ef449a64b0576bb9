r"""DAC's adaptive selection of confident pairs (Chang et al., ICCV 2017, Sec. 3.2-3.3).

DAC trains a network whose output for image :math:`\mathbf x_i` is a *label feature*
:math:`\mathbf l_i \in \mathbb R^k` with :math:`\lVert \mathbf l_i \rVert_2 = 1` and
:math:`l_{ih} \ge 0` (a k-way softmax, then L2-normalised). The similarity of two images is

.. math::

    g(\mathbf x_i, \mathbf x_j; \mathbf w) = \mathbf l_i \cdot \mathbf l_j \in [0, 1].

A pair is labelled only where the network is confident:

.. math::

    r_{ij} = \begin{cases} 1 & g_{ij} \ge u(\lambda) \\ 0 & g_{ij} < l(\lambda) \\
        \text{unlabelled} & \text{otherwise} \end{cases}, \qquad
    v_{ij} = [\, g_{ij} \ge u(\lambda) \ \lor\ g_{ij} < l(\lambda) \,],

and the model minimises :math:`\sum_{i,j} v_{ij}\, L(r_{ij}, g_{ij})` over the selected
pairs. The thresholds are linear in :math:`\lambda`,

.. math::

    u(\lambda) = 0.95 - \lambda, \qquad l(\lambda) = 0.455 + 0.1\,\lambda,

and :math:`\lambda` grows after every round by :math:`\eta\,\lvert\partial(u - l)/\partial\lambda\rvert
= 1.1\,\eta` with :math:`\eta = 0.009`, so more and more pairs are selected; training
stops once :math:`u(\lambda) \le l(\lambda)` (46 rounds with these constants).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Tuple

import torch
from torch import Tensor

__all__ = ["AdaptiveThresholds", "pair_similarities", "select_pairs"]


@dataclass(frozen=True)
class AdaptiveThresholds:
    r"""The schedule :math:`u(\lambda) = u_0 - \lambda`, :math:`l(\lambda) = l_0 + s\lambda`,
    :math:`\lambda_t = t\,\Delta` for rounds :math:`t = 0, 1, \dots` while :math:`u > l`.

    Args:
        upper_start: :math:`u_0` (DAC: 0.95).
        lower_start: :math:`l_0` (DAC: 0.455).
        lower_slope: :math:`s` (DAC: 0.1).
        lambda_step: :math:`\Delta`, the growth of :math:`\lambda` per round
            (DAC: :math:`1.1 \times 0.009`).

    Example:
        >>> schedule = AdaptiveThresholds()
        >>> schedule.num_rounds
        46
        >>> round(schedule.upper(1), 4), round(schedule.lower(1), 5)
        (0.9401, 0.45599)
        >>> AdaptiveThresholds.with_rounds(10).num_rounds
        10
    """

    upper_start: float = 0.95
    lower_start: float = 0.455
    lower_slope: float = 0.1
    lambda_step: float = 1.1 * 0.009

    def __post_init__(self) -> None:
        if not 0.0 <= self.lower_start < self.upper_start <= 1.0:
            raise ValueError(
                f"thresholds need 0 <= lower_start < upper_start <= 1, got lower_start="
                f"{self.lower_start}, upper_start={self.upper_start}"
            )
        if self.lower_slope < 0:
            raise ValueError(f"lower_slope must be >= 0, got {self.lower_slope}")
        if not self.lambda_step > 0:
            raise ValueError(f"lambda_step must be > 0, got {self.lambda_step}")

    @classmethod
    def with_rounds(
        cls, rounds: int, upper_start: float = 0.95, lower_start: float = 0.455, lower_slope: float = 0.1
    ) -> "AdaptiveThresholds":
        """The same thresholds with :math:`\\Delta` chosen so that training stops after ``rounds`` rounds."""
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
            raise ValueError(f"rounds must be an integer >= 1, got {rounds!r}")
        step = (upper_start - lower_start) / ((1.0 + lower_slope) * rounds)
        # A hair above the exact value, so round `rounds` lands past the crossing despite rounding.
        return cls(upper_start, lower_start, lower_slope, step * (1 + 1e-9))

    def lam(self, round_index: int) -> float:
        r""":math:`\lambda` at round ``round_index`` (0-based)."""
        return round_index * self.lambda_step

    def upper(self, round_index: int) -> float:
        r""":math:`u(\lambda)`: pairs at least this similar are labelled similar."""
        return self.upper_start - self.lam(round_index)

    def lower(self, round_index: int) -> float:
        r""":math:`l(\lambda)`: pairs less similar than this are labelled dissimilar."""
        return self.lower_start + self.lower_slope * self.lam(round_index)

    @property
    def num_rounds(self) -> int:
        r"""Rounds trained before :math:`u(\lambda) \le l(\lambda)` stops DAC."""
        gap = self.upper_start - self.lower_start
        return max(1, math.ceil(gap / ((1.0 + self.lower_slope) * self.lambda_step) - 1e-9))


def pair_similarities(label_features: Tensor) -> Tensor:
    r"""Cosine similarities :math:`g_{ij} = \mathbf l_i \cdot \mathbf l_j` of label features, ``(N, N)``.

    The features are L2-normalised here, so any non-negative ``(N, k)`` tensor (DAC's
    softmax output) gives similarities in :math:`[0, 1]`.

    Example:
        >>> pair_similarities(torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]]))
        tensor([[1., 1., 0.],
                [1., 1., 0.],
                [0., 0., 1.]])
    """
    if label_features.dim() != 2 or label_features.shape[0] == 0:
        raise ValueError(f"label features must be (N, k) with N >= 1, got shape {tuple(label_features.shape)}")
    normalised = torch.nn.functional.normalize(label_features, p=2, dim=1)
    return normalised @ normalised.T


def select_pairs(similarity: Tensor, upper: float, lower: float, include_self: bool = False) -> Tuple[Tensor, Tensor]:
    r"""DAC's pair labels :math:`r_{ij}` and selection mask :math:`v_{ij}` for thresholds u, l.

    Args:
        similarity: ``(N, N)`` similarities :math:`g_{ij}`.
        upper: :math:`u(\lambda)`; :math:`g_{ij} \ge u` labels the pair similar (1).
        lower: :math:`l(\lambda)`; :math:`g_{ij} < l` labels the pair dissimilar (0).
        include_self: keep the pairs :math:`(i, i)` (always similar, :math:`g_{ii} = 1`,
            so they carry no gradient; excluded by default).

    Returns:
        ``(targets, selected)``: float 0/1 labels ``(N, N)`` and a boolean mask ``(N, N)``.

    Example:
        >>> g = torch.tensor([[1.0, 0.97, 0.2], [0.97, 1.0, 0.6], [0.2, 0.6, 1.0]])
        >>> targets, selected = select_pairs(g, upper=0.95, lower=0.455)
        >>> targets
        tensor([[0., 1., 0.],
                [1., 0., 0.],
                [0., 0., 0.]])
        >>> selected
        tensor([[False,  True,  True],
                [ True, False, False],
                [ True, False, False]])
    """
    if similarity.dim() != 2 or similarity.shape[0] != similarity.shape[1]:
        raise ValueError(f"similarity must be a square (N, N) matrix, got shape {tuple(similarity.shape)}")
    if not lower <= upper:
        raise ValueError(f"select_pairs needs lower <= upper, got lower={lower}, upper={upper}")
    similarity = similarity.detach()
    positive = similarity >= upper
    selected = positive | (similarity < lower)
    if not include_self:
        off_diagonal = ~torch.eye(similarity.shape[0], dtype=torch.bool, device=similarity.device)
        positive &= off_diagonal
        selected &= off_diagonal
    return positive.to(similarity.dtype), selected
