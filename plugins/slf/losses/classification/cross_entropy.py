"""Cross-entropy on logits (registry: ``ce``, task ``classification``)."""

from __future__ import annotations

import torch  # noqa: F401  (the shared docstring examples use it)
import torch.nn.functional as F
from torch import Tensor

from .._utils import gather_target
from ..base import BaseLoss
from ..registry import register
from ..shared_docs import shared_sections


def _cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    return -gather_target(F.log_softmax(logits, dim=1), target)


@shared_sections
def cross_entropy_loss(logits: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    r"""Cross-entropy of the softmax of ``logits`` against class indices.

    .. math::

        \ell(z, y) = -\log p_y, \qquad p = \operatorname{softmax}(z)

    computed with ``log_softmax``, so it is finite for any finite logits.

    {CLASSIFICATION_FUNCTION}

    Example:
        >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
        >>> target = torch.tensor([0, 2])
        >>> cross_entropy_loss(logits, target, reduction="none")
        tensor([0.2413, 0.1096])
    """
    return CrossEntropyLoss(reduction=reduction)(logits, target)


@shared_sections
@register("ce", "classification")
class CrossEntropyLoss(BaseLoss):
    r"""Cross-entropy :math:`-\log \operatorname{softmax}(z)_y`; see :func:`cross_entropy_loss`.

    {CLASSIFICATION_MODULE}

    Example:
        >>> loss = CrossEntropyLoss()
        >>> loss(torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]]), torch.tensor([0, 2]))
        tensor(0.1755)
    """

    task = "classification"

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _cross_entropy(input, target)
