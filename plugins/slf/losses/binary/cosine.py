"""Cosine proximity of a probability and a 0/1 target read as 2-vectors (``cosine``, task ``binary``)."""

from __future__ import annotations

import torch
from torch import Tensor

from .._utils import to_probability
from ..base import per_sample_mean
from ..registry import register
from ..shared_docs import shared_sections
from ._base import BinaryLoss


def _cosine_binary(input: Tensor, target: Tensor, from_logits: bool) -> Tensor:
    q = to_probability(input, from_logits)
    t = target.to(q.dtype)
    dot = q * t + (1.0 - q) * (1.0 - t)
    # ||(q, 1-q)|| >= 1/sqrt(2) and ||(t, 1-t)|| >= 1/sqrt(2): never zero, no clamping needed.
    norms = torch.sqrt(q.pow(2) + (1.0 - q).pow(2)) * torch.sqrt(t.pow(2) + (1.0 - t).pow(2))
    return per_sample_mean(-dot / norms)


@shared_sections
def cosine_binary_loss(input: Tensor, target: Tensor, from_logits: bool = True, reduction: str = "mean") -> Tensor:
    r"""Cosine proximity of a scalar probability and a 0/1 target, each read as a 2-vector.

    A scalar probability :math:`q` is read as the two-class distribution
    :math:`(q, 1 - q)` and the label :math:`t` as :math:`(t, 1 - t)`; the loss is the
    negative cosine similarity of those vectors (the binary version of the
    classification ``cosine`` loss):

    .. math::

        \ell(x, t) = -\frac{q t + (1 - q)(1 - t)}
            {\sqrt{q^2 + (1 - q)^2}\ \sqrt{t^2 + (1 - t)^2}}, \qquad
        q = \begin{cases} \sigma(x) & \text{from\_logits} \\ x & \text{otherwise} \end{cases}

    For 0/1 labels values lie in :math:`[-1, 0]`; the minimum :math:`-1` is reached
    at :math:`q = t`. Per-sample values average the non-batch dimensions.

    {BINARY_FUNCTION}

    Example:
        >>> q = torch.tensor([1.0, 0.5, 0.0])
        >>> cosine_binary_loss(q, torch.tensor([1.0, 1.0, 1.0]), from_logits=False, reduction="none")
        tensor([-1.0000, -0.7071, -0.0000])
    """
    return CosineBinaryLoss(from_logits, reduction)(input, target)


@register("cosine", "binary")
class CosineBinaryLoss(BinaryLoss):
    r"""Negative cosine of :math:`(q, 1-q)` and :math:`(t, 1-t)`; see :func:`cosine_binary_loss`.

    Args:
        from_logits: ``True`` (default): the input holds logits; ``False``: probabilities in ``[0, 1]``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - input: :math:`(N)` or :math:`(N, *)`; target: same shape, values in ``[0, 1]``.
        - output: :math:`(N,)` for ``'none'``, else a scalar; values in :math:`[-1, 0]`.

    Example:
        >>> loss = CosineBinaryLoss()
        >>> loss(torch.tensor([20.0, -20.0]), torch.tensor([1.0, 0.0]))
        tensor(-1.)
    """

    minimum = -1.0

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _cosine_binary(input, target, self.from_logits)
