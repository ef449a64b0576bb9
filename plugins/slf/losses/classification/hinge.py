"""One-vs-all hinge loss on logits, Keras style (``hinge``, classification)."""

from __future__ import annotations

import torch
from torch import Tensor

from .._utils import one_hot_like
from ..base import BaseLoss
from ..registry import register
from ..shared_docs import shared_sections


def _hinge_classification(logits: Tensor, target: Tensor) -> Tensor:
    signs = 2.0 * one_hot_like(target, logits) - 1.0
    return torch.relu(1.0 - signs * logits).mean(dim=1)


@shared_sections
def hinge_classification_loss(logits: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    r"""One-vs-all hinge loss on the logits (Keras ``hinge`` with :math:`\pm 1` labels).

    .. math::

        \ell(z, y) = \frac{1}{C} \sum_{c=1}^{C} \max(0,\ 1 - s_c z_c), \qquad
        s_c = \begin{cases} +1 & c = y \\ -1 & c \neq y \end{cases}

    Zero when the target logit is at least 1 and every other logit at most -1.

    {CLASSIFICATION_FUNCTION}

    Example:
        >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
        >>> hinge_classification_loss(logits, torch.tensor([0, 2]), reduction="none")
        tensor([0.5000, 0.7667])
    """
    return HingeClassificationLoss(reduction=reduction)(logits, target)


@shared_sections
@register("hinge", "classification")
class HingeClassificationLoss(BaseLoss):
    r"""One-vs-all hinge on logits; see :func:`hinge_classification_loss`.

    {CLASSIFICATION_MODULE}

    Example:
        >>> loss = HingeClassificationLoss()
        >>> loss(torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]]), torch.tensor([0, 2]))
        tensor(0.6333)
    """

    task = "classification"

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _hinge_classification(input, target)
