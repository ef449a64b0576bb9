"""Huber loss for regression (``huber``, task ``regression``)."""

from __future__ import annotations

import torch  # noqa: F401  (the shared docstring examples use it)
import torch.nn.functional as F
from torch import Tensor

from .._utils import check_positive
from ..base import BaseLoss, per_sample_mean
from ..registry import register
from ..shared_docs import shared_sections


def _huber(pred: Tensor, target: Tensor, delta: float) -> Tensor:
    return per_sample_mean(F.huber_loss(pred, target, reduction="none", delta=delta))


@shared_sections
def huber_loss(pred: Tensor, target: Tensor, delta: float = 1.0, reduction: str = "mean") -> Tensor:
    r"""Huber loss: quadratic near zero, linear beyond ``delta``; averaged over non-batch dims.

    .. math::

        \ell(r) = \begin{cases}
            \tfrac12 r^2 & |r| \leq \delta \\
            \delta \bigl(|r| - \tfrac12 \delta\bigr) & |r| > \delta
        \end{cases}, \qquad r = \hat y - y

    Same values as ``F.huber_loss(pred, target, delta=delta)``.

    Args:
        pred: predictions.
        target: targets, same shape.
        delta: threshold between the quadratic and the linear part, ``> 0``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {REGRESSION_SHAPE}

    Example:
        >>> huber_loss(torch.tensor([0.5, 3.0]), torch.zeros(2), reduction="none")
        tensor([0.1250, 2.5000])
    """
    return HuberLoss(delta, reduction)(pred, target)


@shared_sections
@register("huber", "regression")
class HuberLoss(BaseLoss):
    r"""Huber loss; see :func:`huber_loss`.

    Args:
        delta: threshold between the quadratic and the linear part, ``> 0`` (default 1.0).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {REGRESSION_MODULE_SHAPE}

    Example:
        >>> HuberLoss(delta=2.0)(torch.tensor([1.0, 3.0]), torch.zeros(2))
        tensor(2.2500)
    """

    task = "regression"

    def __init__(self, delta: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.delta = check_positive(delta, "delta", self.name)

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _huber(input, target, self.delta)

    def extra_repr(self) -> str:
        return f"delta={self.delta}, " + super().extra_repr()
