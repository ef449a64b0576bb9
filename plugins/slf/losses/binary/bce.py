"""Binary cross-entropy for 0/1 (or pairwise) targets (``bce``, task ``binary``)."""

from __future__ import annotations

import torch  # noqa: F401  (the shared docstring examples use it)
import torch.nn.functional as F
from torch import Tensor

from ..base import per_sample_mean
from ..registry import register
from ..shared_docs import shared_sections
from ._base import BinaryLoss


def _bce_binary(input: Tensor, target: Tensor, from_logits: bool) -> Tensor:
    target = target.to(input.dtype)
    if from_logits:
        values = F.binary_cross_entropy_with_logits(input, target, reduction="none")
    else:
        values = F.binary_cross_entropy(input, target, reduction="none")  # logs clamped at -100
    return per_sample_mean(values)


@shared_sections
def bce_binary_loss(input: Tensor, target: Tensor, from_logits: bool = True, reduction: str = "mean") -> Tensor:
    r"""Binary cross-entropy against 0/1 targets, from logits or from probabilities.

    .. math::

        \ell(x, t) = -\bigl[t \log q + (1 - t) \log(1 - q)\bigr], \qquad
        q = \begin{cases} \sigma(x) & \text{from\_logits} \\ x & \text{otherwise} \end{cases}

    From logits it is ``F.binary_cross_entropy_with_logits`` (stable for any finite
    logits); from probabilities it is ``F.binary_cross_entropy``, whose logs are
    clamped at :math:`-100`. Per-sample values average the non-batch dimensions.

    Args:
        input: logits (``from_logits=True``) or probabilities in ``[0, 1]``.
        target: labels in ``[0, 1]`` (0/1; soft labels are accepted), same shape.
        from_logits: whether ``input`` holds logits (apply a sigmoid) or probabilities.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {BINARY_SHAPE}

    Example:
        >>> x = torch.tensor([2.0, -1.0, 0.0])
        >>> bce_binary_loss(x, torch.tensor([1.0, 0.0, 1.0]), reduction="none")
        tensor([0.1269, 0.3133, 0.6931])
        >>> bce_binary_loss(torch.sigmoid(x), torch.tensor([1.0, 0.0, 1.0]), from_logits=False)
        tensor(0.3778)
    """
    return BCEBinaryLoss(from_logits, reduction)(input, target)


@shared_sections
@register("bce", "binary")
class BCEBinaryLoss(BinaryLoss):
    r"""Binary cross-entropy for binary / pairwise problems; see :func:`bce_binary_loss`.

    {BINARY_MODULE}

    Example:
        >>> loss = BCEBinaryLoss(reduction="none")
        >>> loss(torch.tensor([[2.0, -1.0], [0.0, 0.0]]), torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
        tensor([0.2201, 0.6931])
    """

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _bce_binary(input, target, self.from_logits)
