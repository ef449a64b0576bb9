"""Squared error between a probability and a 0/1 target (``mse``, task ``binary``)."""

from __future__ import annotations

import torch  # noqa: F401  (the shared docstring examples use it)
from torch import Tensor

from .._utils import to_probability
from ..base import per_sample_mean
from ..registry import register
from ..shared_docs import shared_sections
from ._base import BinaryLoss


def _mse_binary(input: Tensor, target: Tensor, from_logits: bool) -> Tensor:
    q = to_probability(input, from_logits)
    return per_sample_mean((q - target.to(q.dtype)).pow(2))


@shared_sections
def mse_binary_loss(input: Tensor, target: Tensor, from_logits: bool = True, reduction: str = "mean") -> Tensor:
    r"""Squared error between the predicted probability and the 0/1 target (Brier score).

    .. math::

        \ell(x, t) = (q - t)^2, \qquad
        q = \begin{cases} \sigma(x) & \text{from\_logits} \\ x & \text{otherwise} \end{cases}

    Per-sample values average the non-batch dimensions; values lie in :math:`[0, 1]`.

    {BINARY_FUNCTION}

    Example:
        >>> mse_binary_loss(torch.tensor([0.9, 0.2]), torch.tensor([1.0, 1.0]), from_logits=False, reduction="none")
        tensor([0.0100, 0.6400])
    """
    return MSEBinaryLoss(from_logits, reduction)(input, target)


@shared_sections
@register("mse", "binary")
class MSEBinaryLoss(BinaryLoss):
    r"""Squared error of a probability against 0/1 targets; see :func:`mse_binary_loss`.

    {BINARY_MODULE}

    Example:
        >>> loss = MSEBinaryLoss()
        >>> loss(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.0]))
        tensor(0.2500)
    """

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _mse_binary(input, target, self.from_logits)
