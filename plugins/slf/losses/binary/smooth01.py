"""Smooth 0-1 loss of Nguyen & Sanner (2013) on a binary margin (``smooth01``, task ``binary``): DAC + Smooth of
the SLF paper's Table 2."""

from __future__ import annotations

import torch
from torch import Tensor

from .._utils import check_positive
from ..base import per_sample_mean
from ..registry import register
from ..shared_docs import shared_sections
from ._base import BinaryLoss

# Probabilities are clamped this far from 0 and 1 before their logit is taken.
PROBABILITY_EPS = 1e-6


def _smooth01_binary(input: Tensor, target: Tensor, from_logits: bool, sharpness: float) -> Tensor:
    logit = input if from_logits else torch.logit(input, eps=PROBABILITY_EPS)
    margin = (2 * target.to(logit.dtype) - 1) * logit
    return per_sample_mean(torch.sigmoid(-sharpness * margin))


def smooth01_binary_loss(
    input: Tensor, target: Tensor, from_logits: bool = True, sharpness: float = 5.0, reduction: str = "mean"
) -> Tensor:
    r"""Smooth 0-1 loss on the binary margin: a sigmoid of the negative signed logit.

    .. math::

        \ell(x, t) = \sigma(-K m), \qquad m = (2t - 1)\, z, \qquad
        z = \begin{cases} x & \text{from\_logits} \\ \log\frac{x}{1 - x} & \text{otherwise} \end{cases}

    T. Nguyen and S. Sanner, "Algorithms for Direct 0-1 Loss Optimization in Binary
    Classification", ICML 2013: as :math:`K \to \infty` it tends to the 0-1 loss; 1/2 at
    :math:`q = 1/2`. Probabilities are clamped to :math:`[10^{-6}, 1 - 10^{-6}]` before their logit.

    Args:
        input: logits or probabilities :math:`(N)` or :math:`(N, *)`.
        target: labels in ``[0, 1]``, same shape.
        from_logits: whether ``input`` holds logits (apply a sigmoid) or probabilities.
        sharpness: :math:`K > 0` (default 5, as the classification ``smooth01``).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - input: :math:`(N)` or :math:`(N, *)`; target: same shape, values in ``[0, 1]``.
        - output: :math:`(N,)` for ``'none'``, else a scalar.

    Example:
        >>> smooth01_binary_loss(torch.tensor([0.9, 0.5]), torch.tensor([1.0, 0.0]), from_logits=False,
        ...                      reduction="none")
        tensor([1.6935e-05, 5.0000e-01])
    """
    return Smooth01BinaryLoss(from_logits, sharpness, reduction)(input, target)


@shared_sections
@register("smooth01", "binary")
class Smooth01BinaryLoss(BinaryLoss):
    r"""Smooth 0-1 loss :math:`\sigma(-K (2t - 1) z)` on a binary logit; see :func:`smooth01_binary_loss`.

    Args:
        from_logits: ``True`` (default): the input holds logits; ``False``: probabilities in ``[0, 1]``.
        sharpness: :math:`K > 0` (default 5).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Example:
        >>> Smooth01BinaryLoss(sharpness=1.0)(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.0]))
        tensor(0.5000)
    """

    def __init__(self, from_logits: bool = True, sharpness: float = 5.0, reduction: str = "mean") -> None:
        super().__init__(from_logits, reduction)
        self.sharpness = check_positive(sharpness, "sharpness", self.name)

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _smooth01_binary(input, target, self.from_logits, self.sharpness)

    def extra_repr(self) -> str:
        return f"sharpness={self.sharpness}, " + super().extra_repr()
