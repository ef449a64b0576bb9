"""Cross-entropy on logits (registry: ``ce``, task ``classification``)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..base import BaseLoss, check_classification_inputs, check_reduction, reduce_loss
from ..registry import register
from .._utils import gather_target


def _cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    return -gather_target(F.log_softmax(logits, dim=1), target)


def cross_entropy_loss(logits: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    r"""Cross-entropy of the softmax of ``logits`` against class indices.

    .. math::

        \ell(z, y) = -\log p_y, \qquad p = \operatorname{softmax}(z)

    computed with ``log_softmax``, so it is finite for any finite logits.

    Args:
        logits: unnormalised class scores.
        target: class indices in ``[0, C)``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - logits: :math:`(N, C)`, floating point.
        - target: :math:`(N,)`, integer.
        - output: :math:`(N,)` for ``'none'``, else a scalar.

    Example:
        >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
        >>> target = torch.tensor([0, 2])
        >>> cross_entropy_loss(logits, target, reduction="none")
        tensor([0.2413, 0.1096])
    """
    check_reduction(reduction)
    check_classification_inputs(logits, target, "ce")
    return reduce_loss(_cross_entropy(logits, target), reduction)


@register("ce", "classification")
class CrossEntropyLoss(BaseLoss):
    r"""Cross-entropy :math:`-\log \operatorname{softmax}(z)_y`; see :func:`cross_entropy_loss`.

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - input: :math:`(N, C)` logits; target: :math:`(N,)` class indices.
        - output: :math:`(N,)` for ``'none'``, else a scalar.

    Example:
        >>> loss = CrossEntropyLoss()
        >>> loss(torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]]), torch.tensor([0, 2]))
        tensor(0.1755)
    """

    task = "classification"

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _cross_entropy(input, target)
