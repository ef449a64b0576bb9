"""Mean squared error between softmax probabilities and one-hot targets (``mse``, classification)."""

from __future__ import annotations

import torch  # noqa: F401  (the shared docstring examples use it)
import torch.nn.functional as F
from torch import Tensor

from .._utils import one_hot_like
from ..base import BaseLoss
from ..registry import register
from ..shared_docs import shared_sections


def _mse_classification(logits: Tensor, target: Tensor) -> Tensor:
    return (F.softmax(logits, dim=1) - one_hot_like(target, logits)).pow(2).mean(dim=1)


@shared_sections
def mse_classification_loss(logits: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    r"""Mean squared error between the softmax probabilities and the one-hot target.

    .. math::

        \ell(z, y) = \frac{1}{C} \sum_{c=1}^{C} (p_c - t_c)^2, \qquad
        p = \operatorname{softmax}(z),\ t = \operatorname{onehot}(y)

    Values lie in :math:`[0, 2/C]`; the minimum 0 is reached as :math:`p \to t`.

    {CLASSIFICATION_FUNCTION}

    Example:
        >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
        >>> mse_classification_loss(logits, torch.tensor([0, 2]), reduction="none")
        tensor([0.0261, 0.0054])
    """
    return MSEClassificationLoss(reduction=reduction)(logits, target)


@shared_sections
@register("mse", "classification")
class MSEClassificationLoss(BaseLoss):
    r"""Mean squared error on softmax probabilities; see :func:`mse_classification_loss`.

    {CLASSIFICATION_MODULE}

    Example:
        >>> loss = MSEClassificationLoss(reduction="sum")
        >>> loss(torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]]), torch.tensor([0, 2]))
        tensor(0.0315)
    """

    task = "classification"

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _mse_classification(input, target)
