"""Crammer-Singer multi-class hinge loss on logits (``categorical_hinge``, classification)."""

from __future__ import annotations

import torch
from torch import Tensor

from .._utils import check_min_classes, gather_target, max_other
from ..base import BaseLoss, check_classification_inputs
from ..registry import register
from ..shared_docs import shared_sections


def _categorical_hinge(logits: Tensor, target: Tensor) -> Tensor:
    return torch.relu(1.0 + max_other(logits, target) - gather_target(logits, target))


def _check(logits: Tensor, target: Tensor, name: str) -> None:
    check_classification_inputs(logits, target, name)
    check_min_classes(logits, 2, name)


@shared_sections
def categorical_hinge_loss(logits: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    r"""Crammer-Singer hinge loss (Keras ``categorical_hinge``) on the logits.

    .. math::

        \ell(z, y) = \max\bigl(0,\ 1 + \max_{c \neq y} z_c - z_y\bigr)

    Zero once the target logit beats every other logit by a margin of at least 1.

    Args:
        logits: unnormalised class scores, at least 2 classes.
        target: class indices in ``[0, C)``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {TWO_CLASS_SHAPE}

    Example:
        >>> logits = torch.tensor([[2.0, 1.5, -1.0], [0.1, 0.2, 3.0]])
        >>> categorical_hinge_loss(logits, torch.tensor([0, 1]), reduction="none")
        tensor([0.5000, 3.8000])
    """
    return CategoricalHingeLoss(reduction=reduction)(logits, target)


@shared_sections
@register("categorical_hinge", "classification")
class CategoricalHingeLoss(BaseLoss):
    r"""Crammer-Singer hinge on logits; see :func:`categorical_hinge_loss`.

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {TWO_CLASS_MODULE_SHAPE}

    Example:
        >>> loss = CategoricalHingeLoss()
        >>> loss(torch.tensor([[2.0, 1.5, -1.0], [0.1, 0.2, 3.0]]), torch.tensor([0, 1]))
        tensor(2.1500)
    """

    task = "classification"

    def validate(self, input: Tensor, target: Tensor) -> None:
        _check(input, target, self.name)

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _categorical_hinge(input, target)
