"""Poly-1 cross-entropy on logits (registry: ``poly1``, task ``classification``)."""

from __future__ import annotations

import torch  # noqa: F401  (the shared docstring examples use it)
import torch.nn.functional as F
from torch import Tensor

from .._utils import gather_target
from ..base import BaseLoss
from ..registry import register


def _poly1(logits: Tensor, target: Tensor, epsilon: float) -> Tensor:
    log_p = gather_target(F.log_softmax(logits, dim=1), target)
    return -log_p + epsilon * (1 - log_p.exp())


def poly1_loss(logits: Tensor, target: Tensor, epsilon: float = 1.0, reduction: str = "mean") -> Tensor:
    r"""Poly-1 loss (Leng et al., ICLR 2022): cross-entropy plus its first polynomial term.

    .. math::

        \ell(z, y) = -\log p_y + \epsilon\,(1 - p_y), \qquad p = \operatorname{softmax}(z)

    Cross-entropy's Taylor series in :math:`1 - p_y` has coefficients :math:`1/j`;
    Poly-1 raises the first by :math:`\epsilon`, pushing harder on confident mistakes
    (:math:`\epsilon > 0`) or softer (:math:`-1 \le \epsilon < 0`). Inputs may be logits
    or log-probabilities (softmax of log-probabilities is the probabilities).

    Args:
        logits: unnormalised class scores.
        target: class indices in ``[0, C)``.
        epsilon: weight of the first polynomial term (``>= -1`` keeps the loss non-negative).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - logits: :math:`(N, C)`; target: :math:`(N,)`.
        - output: :math:`(N,)` for ``'none'``, else a scalar.

    Example:
        >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
        >>> poly1_loss(logits, torch.tensor([0, 2]), epsilon=1.0, reduction="none")
        tensor([0.4557, 0.2134])
    """
    return Poly1Loss(epsilon, reduction)(logits, target)


@register("poly1", "classification")
class Poly1Loss(BaseLoss):
    r"""Poly-1 cross-entropy :math:`-\log p_y + \epsilon (1 - p_y)`; see :func:`poly1_loss`.

    Args:
        epsilon: weight of the first polynomial term (``>= -1``).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Example:
        >>> Poly1Loss(epsilon=1.0)(torch.tensor([[2.0, 0.5, -1.0]]), torch.tensor([0]))
        tensor(0.4557)
    """

    task = "classification"

    def __init__(self, epsilon: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        if epsilon < -1:
            raise ValueError(f"poly1: epsilon must be >= -1 (else the loss goes negative), got {epsilon}")
        self.epsilon = epsilon

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _poly1(input, target, self.epsilon)
