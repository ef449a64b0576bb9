"""Smooth 0-1 loss of Nguyen & Sanner (2013) on the multi-class margin (``smooth01``, classification)."""

from __future__ import annotations

import torch
from torch import Tensor

from .._utils import check_min_classes, check_positive, gather_target, max_other
from ..base import BaseLoss, check_classification_inputs
from ..registry import register
from ..shared_docs import shared_sections


def _smooth01(logits: Tensor, target: Tensor, sharpness: float) -> Tensor:
    margin = gather_target(logits, target) - max_other(logits, target)
    return torch.sigmoid(-sharpness * margin)


def _check(logits: Tensor, target: Tensor, name: str) -> None:
    check_classification_inputs(logits, target, name)
    check_min_classes(logits, 2, name)


@shared_sections
def smooth01_loss(logits: Tensor, target: Tensor, sharpness: float = 5.0, reduction: str = "mean") -> Tensor:
    r"""Smooth 0-1 loss: a sigmoid of the negative multi-class margin.

    .. math::

        \ell(z, y) = \sigma(-K m) = \frac{1}{1 + e^{K m}}, \qquad m = z_y - \max_{c \neq y} z_c

    T. Nguyen and S. Sanner, "Algorithms for Direct 0-1 Loss Optimization in Binary
    Classification", ICML 2013, extended to several classes through the margin
    :math:`m`. As :math:`K \to \infty` it tends to the 0-1 loss; values lie in
    :math:`(0, 1)`, 1/2 at a tie.

    Args:
        logits: unnormalised class scores, at least 2 classes.
        target: class indices in ``[0, C)``.
        sharpness: :math:`K > 0` (default 5).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {TWO_CLASS_SHAPE}

    Example:
        >>> logits = torch.tensor([[2.0, 1.5, -1.0], [0.1, 0.2, 3.0]])
        >>> smooth01_loss(logits, torch.tensor([0, 1]), reduction="none")
        tensor([0.0759, 1.0000])
    """
    return Smooth01Loss(sharpness, reduction)(logits, target)


@shared_sections
@register("smooth01", "classification")
class Smooth01Loss(BaseLoss):
    r"""Smooth 0-1 loss :math:`\sigma(-K (z_y - \max_{c \neq y} z_c))`; see :func:`smooth01_loss`.

    Args:
        sharpness: :math:`K > 0` (default 5).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {TWO_CLASS_MODULE_SHAPE}

    Example:
        >>> Smooth01Loss(sharpness=1.0)(torch.tensor([[0.0, 0.0]]), torch.tensor([1]))
        tensor(0.5000)
    """

    task = "classification"

    def __init__(self, sharpness: float = 5.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.sharpness = check_positive(sharpness, "sharpness", self.name)

    def validate(self, input: Tensor, target: Tensor) -> None:
        _check(input, target, self.name)

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _smooth01(input, target, self.sharpness)

    def extra_repr(self) -> str:
        return f"sharpness={self.sharpness}, " + super().extra_repr()
