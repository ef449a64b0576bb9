"""Multi-class margin loss on logits (registry: ``multi_margin``, task ``classification``)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .._utils import gather_target
from ..base import BaseLoss
from ..registry import register
from ..shared_docs import shared_sections


def _check_margin(margin: float, name: str) -> float:
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not math.isfinite(margin) or margin < 0:
        raise ValueError(f"{name}: margin must be a finite number >= 0, got {margin!r}")
    return float(margin)


def _multi_margin(logits: Tensor, target: Tensor, margin: float) -> Tensor:
    target_logit = gather_target(logits, target).unsqueeze(1)
    hinge = torch.relu(margin - target_logit + logits)
    mask = torch.nn.functional.one_hot(target.long(), logits.shape[1]).bool()
    return hinge.masked_fill(mask, 0.0).sum(dim=1) / logits.shape[1]


@shared_sections
def multi_margin_loss(logits: Tensor, target: Tensor, margin: float = 1.0, reduction: str = "mean") -> Tensor:
    r"""Multi-class margin (hinge) loss, as ``torch.nn.MultiMarginLoss`` with ``p=1``.

    .. math::

        \ell(z, y) = \frac{1}{C} \sum_{c \neq y} \max(0,\ m - z_y + z_c)

    The sum runs over the :math:`C - 1` wrong classes but is divided by :math:`C`
    (torch's convention), so the values equal
    ``torch.nn.functional.multi_margin_loss(z, y, margin=m, reduction='none')``.
    It is zero once the target logit beats every other logit by at least :math:`m`.

    Args:
        logits: unnormalised class scores.
        target: class indices in ``[0, C)``.
        margin: :math:`m \geq 0` (default 1).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {CLASSIFICATION_SHAPE}

    Example:
        >>> logits = torch.tensor([[2.0, 1.5, -1.0], [0.0, 0.0, 0.0]])
        >>> multi_margin_loss(logits, torch.tensor([0, 2]), reduction="none")  # [0.5/3, 2/3]
        tensor([0.1667, 0.6667])
    """
    return MultiMarginLoss(margin, reduction)(logits, target)


@shared_sections
@register("multi_margin", "classification")
class MultiMarginLoss(BaseLoss):
    r"""Multi-class margin loss :math:`\frac{1}{C}\sum_{c \neq y}\max(0, m - z_y + z_c)`; see :func:`multi_margin_loss`.

    Args:
        margin: :math:`m \geq 0` (default 1).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {CLASSIFICATION_MODULE_SHAPE}

    Example:
        >>> loss = MultiMarginLoss()
        >>> loss(torch.tensor([[2.0, 1.5, -1.0], [0.0, 0.0, 0.0]]), torch.tensor([0, 2]))
        tensor(0.4167)
    """

    task = "classification"

    def __init__(self, margin: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = _check_margin(margin, self.name)

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _multi_margin(input, target, self.margin)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, " + super().extra_repr()
