"""Absolute error between a probability and a 0/1 target (``mae``, task ``binary``)."""

from __future__ import annotations

import torch  # noqa: F401  (the shared docstring examples use it)
from torch import Tensor

from .._utils import to_probability
from ..base import per_sample_mean
from ..registry import register
from ..shared_docs import shared_sections
from ._base import BinaryLoss


def _mae_binary(input: Tensor, target: Tensor, from_logits: bool) -> Tensor:
    q = to_probability(input, from_logits)
    return per_sample_mean((q - target.to(q.dtype)).abs())


@shared_sections
def mae_binary_loss(input: Tensor, target: Tensor, from_logits: bool = True, reduction: str = "mean") -> Tensor:
    r"""Absolute error between the predicted probability and the 0/1 target.

    .. math::

        \ell(x, t) = |q - t|, \qquad
        q = \begin{cases} \sigma(x) & \text{from\_logits} \\ x & \text{otherwise} \end{cases}

    Per-sample values average the non-batch dimensions; values lie in :math:`[0, 1]`.

    {BINARY_FUNCTION}

    Example:
        >>> mae_binary_loss(torch.tensor([0.9, 0.2]), torch.tensor([1.0, 1.0]), from_logits=False, reduction="none")
        tensor([0.1000, 0.8000])
    """
    return MAEBinaryLoss(from_logits, reduction)(input, target)


@shared_sections
@register("mae", "binary")
class MAEBinaryLoss(BinaryLoss):
    r"""Absolute error of a probability against 0/1 targets; see :func:`mae_binary_loss`.

    {BINARY_MODULE}

    Example:
        >>> loss = MAEBinaryLoss()
        >>> loss(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.0]))
        tensor(0.5000)
    """

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _mae_binary(input, target, self.from_logits)
