"""Mean absolute error between softmax probabilities and one-hot targets (``mae``, classification)."""

from __future__ import annotations

import torch  # noqa: F401  (the shared docstring examples use it)
import torch.nn.functional as F
from torch import Tensor

from .._utils import one_hot_like
from ..base import BaseLoss
from ..registry import register
from ..shared_docs import shared_sections


def _mae_classification(logits: Tensor, target: Tensor) -> Tensor:
    return (F.softmax(logits, dim=1) - one_hot_like(target, logits)).abs().mean(dim=1)


@shared_sections
def mae_classification_loss(logits: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    r"""Mean absolute error between the softmax probabilities and the one-hot target.

    .. math::

        \ell(z, y) = \frac{1}{C} \sum_{c=1}^{C} |p_c - t_c| = \frac{2 (1 - p_y)}{C}, \qquad
        p = \operatorname{softmax}(z),\ t = \operatorname{onehot}(y)

    Values lie in :math:`[0, 2/C]`; the minimum 0 is reached as :math:`p \to t`.

    {CLASSIFICATION_FUNCTION}

    Example:
        >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
        >>> mae_classification_loss(logits, torch.tensor([0, 2]), reduction="none")
        tensor([0.1429, 0.0692])
    """
    return MAEClassificationLoss(reduction=reduction)(logits, target)


@shared_sections
@register("mae", "classification")
class MAEClassificationLoss(BaseLoss):
    r"""Mean absolute error on softmax probabilities; see :func:`mae_classification_loss`.

    {CLASSIFICATION_MODULE}

    Example:
        >>> loss = MAEClassificationLoss()
        >>> loss(torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]]), torch.tensor([0, 2]))
        tensor(0.1061)
    """

    task = "classification"

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _mae_classification(input, target)
