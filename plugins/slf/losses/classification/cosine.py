"""Cosine proximity between softmax probabilities and one-hot targets (``cosine``, classification)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .._utils import gather_target
from ..base import BaseLoss
from ..registry import register
from ..shared_docs import shared_sections


def _cosine_classification(logits: Tensor, target: Tensor) -> Tensor:
    # -p_y / ||p||_2 in log space: log p_y - 0.5 * log sum_c p_c^2, finite for any logits.
    log_p = F.log_softmax(logits, dim=1)
    return -torch.exp(gather_target(log_p, target) - 0.5 * torch.logsumexp(2.0 * log_p, dim=1))


@shared_sections
def cosine_classification_loss(logits: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    r"""Cosine proximity (Keras ``cosine_proximity``) of softmax probabilities and the one-hot target.

    .. math::

        \ell(z, y) = -\cos(p, t) = -\frac{p \cdot t}{\lVert p \rVert_2 \lVert t \rVert_2}
                   = -\frac{p_y}{\lVert p \rVert_2}, \qquad p = \operatorname{softmax}(z)

    The loss is **negative** by definition (as in the paper): values lie in
    :math:`[-1, 0)` and the minimum :math:`-1` is reached as :math:`p \to t`.
    It is computed in log space, so it is finite for any finite logits.

    {CLASSIFICATION_FUNCTION}

    Example:
        >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
        >>> cosine_classification_loss(logits, torch.tensor([0, 2]), reduction="none")
        tensor([-0.9748, -0.9967])
    """
    return CosineClassificationLoss(reduction=reduction)(logits, target)


@register("cosine", "classification")
class CosineClassificationLoss(BaseLoss):
    r"""Negative cosine similarity of softmax and one-hot; see :func:`cosine_classification_loss`.

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - input: :math:`(N, C)` logits; target: :math:`(N,)` class indices.
        - output: :math:`(N,)` for ``'none'``, else a scalar; values in :math:`[-1, 0)`.

    Example:
        >>> loss = CosineClassificationLoss()
        >>> loss(torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]]), torch.tensor([0, 2]))
        tensor(-0.9858)
    """

    task = "classification"
    minimum = -1.0

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _cosine_classification(input, target)
