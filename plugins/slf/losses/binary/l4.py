"""Fourth power of the error between a probability and a 0/1 target (``l4``, task ``binary``): DAC + L4 of the
SLF paper's Table 2."""

from __future__ import annotations

import torch  # noqa: F401  (the shared docstring examples use it)
from torch import Tensor

from .._utils import to_probability
from ..base import per_sample_mean
from ..registry import register
from ..shared_docs import shared_sections
from ._base import BinaryLoss


def _l4_binary(input: Tensor, target: Tensor, from_logits: bool) -> Tensor:
    q = to_probability(input, from_logits)
    return per_sample_mean((q - target.to(q.dtype)).pow(4))


@shared_sections
def l4_binary_loss(input: Tensor, target: Tensor, from_logits: bool = True, reduction: str = "mean") -> Tensor:
    r"""Fourth power of the error between the predicted probability and the 0/1 target.

    .. math::

        \ell(x, t) = (q - t)^4, \qquad
        q = \begin{cases} \sigma(x) & \text{from\_logits} \\ x & \text{otherwise} \end{cases}

    Beside ``mae`` (L1) and ``mse`` (L2), the L4 pairwise loss of the SLF paper's clustering
    table: it weighs the confident pairs' small errors least of the three. Values lie in :math:`[0, 1]`.

    {BINARY_FUNCTION}

    Example:
        >>> l4_binary_loss(torch.tensor([0.9, 0.5]), torch.tensor([1.0, 0.0]), from_logits=False, reduction="none")
        tensor([0.0001, 0.0625])
    """
    return L4BinaryLoss(from_logits, reduction)(input, target)


@shared_sections
@register("l4", "binary")
class L4BinaryLoss(BinaryLoss):
    r"""Fourth power of a probability's error against 0/1 targets; see :func:`l4_binary_loss`.

    {BINARY_MODULE}

    Example:
        >>> L4BinaryLoss()(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.0]))
        tensor(0.0625)
    """

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _l4_binary(input, target, self.from_logits)
