"""Hinge loss for 0/1 targets (``hinge``, task ``binary``)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..base import per_sample_mean
from ..registry import register
from ..shared_docs import shared_sections
from ._base import BinaryLoss


def _hinge_binary(input: Tensor, target: Tensor, from_logits: bool) -> Tensor:
    signs = 2.0 * target.to(input.dtype) - 1.0
    margin = input if from_logits else 2.0 * input - 1.0
    return per_sample_mean(torch.relu(1.0 - signs * margin))


@shared_sections
def hinge_binary_loss(input: Tensor, target: Tensor, from_logits: bool = True, reduction: str = "mean") -> Tensor:
    r"""Hinge loss with labels mapped to :math:`s = 2t - 1 \in \{-1, +1\}`.

    .. math::

        \ell(x, t) = \max(0,\ 1 - s\, m), \qquad s = 2t - 1, \qquad
        m = \begin{cases} x & \text{from\_logits} \\ 2x - 1 & \text{otherwise} \end{cases}

    On logits the margin score is the logit itself; on a probability :math:`q` it is
    :math:`2q - 1 \in [-1, 1]`, so the loss is :math:`2|q - t|` there and zero only at
    :math:`q = t`. Per-sample values average the non-batch dimensions.

    Args:
        input: logits (``from_logits=True``) or probabilities in ``[0, 1]``.
        target: labels in ``[0, 1]``, same shape.
        from_logits: whether ``input`` holds logits or probabilities.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {BINARY_SHAPE}

    Example:
        >>> hinge_binary_loss(torch.tensor([2.0, 0.5, 0.5]), torch.tensor([1.0, 1.0, 0.0]), reduction="none")
        tensor([0.0000, 0.5000, 1.5000])
    """
    return HingeBinaryLoss(from_logits, reduction)(input, target)


@shared_sections
@register("hinge", "binary")
class HingeBinaryLoss(BinaryLoss):
    r"""Hinge loss for 0/1 targets; see :func:`hinge_binary_loss`.

    {BINARY_MODULE}

    Example:
        >>> loss = HingeBinaryLoss(from_logits=False)
        >>> loss(torch.tensor([0.75, 0.75]), torch.tensor([1.0, 0.0]))
        tensor(1.)
    """

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _hinge_binary(input, target, self.from_logits)
