"""Sigmoid focal loss of Lin et al. (2017) for 0/1 targets (``focal``, task ``binary``)."""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ..base import per_sample_mean
from ..registry import register
from ..shared_docs import shared_sections
from ._base import BinaryLoss


def _check_gamma(gamma: float, name: str) -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not math.isfinite(gamma) or gamma < 0:
        raise ValueError(f"{name}: gamma must be a finite number >= 0, got {gamma!r}")
    return float(gamma)


def _check_alpha(alpha: Optional[float], name: str) -> Optional[float]:
    if alpha is None:
        return None
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"{name}: alpha must be None or a number in [0, 1] (the weight of positives), got {alpha!r}")
    return float(alpha)


def _sigmoid_focal(input: Tensor, target: Tensor, gamma: float, alpha: Optional[float], from_logits: bool) -> Tensor:
    target = target.to(input.dtype)
    if from_logits:
        ce = F.binary_cross_entropy_with_logits(input, target, reduction="none")
        p, one_minus_p = torch.sigmoid(input), torch.sigmoid(-input)  # 1 - p without cancellation
    else:
        ce = F.binary_cross_entropy(input, target, reduction="none")  # logs clamped at -100
        p, one_minus_p = input, 1.0 - input
    values = ce
    if gamma != 0.0:
        # 1 - p_t; where it is 0 the loss is 0 too, and the floor keeps pow's gradient finite for gamma < 1
        miss = target * one_minus_p + (1.0 - target) * p
        values = values * miss.clamp(min=torch.finfo(input.dtype).tiny).pow(gamma)
    if alpha is not None:
        values = (alpha * target + (1.0 - alpha) * (1.0 - target)) * values
    return per_sample_mean(values)


@shared_sections
def sigmoid_focal_loss(
    input: Tensor,
    target: Tensor,
    gamma: float = 2.0,
    alpha: Optional[float] = 0.25,
    from_logits: bool = True,
    reduction: str = "mean",
) -> Tensor:
    r"""Sigmoid focal loss: binary cross-entropy down-weighted on well-classified elements.

    .. math::

        \ell(x, y) = -\alpha_t\,(1 - p_t)^{\gamma} \log p_t, \qquad
        p_t = \begin{cases} p & y = 1 \\ 1 - p & y = 0 \end{cases}, \quad
        \alpha_t = \begin{cases} \alpha & y = 1 \\ 1 - \alpha & y = 0 \end{cases}

    with :math:`p = \sigma(x)` from logits or the input itself (Lin et al., "Focal Loss for
    Dense Object Detection", ICCV 2017). :math:`-\log p_t` is
    ``F.binary_cross_entropy_with_logits`` (from probabilities ``F.binary_cross_entropy``,
    logs clamped at :math:`-100`) and :math:`1 - p_t` uses :math:`\sigma(-x)` for
    :math:`1 - p`, so both stay accurate for confident logits. Soft targets
    :math:`y \in [0, 1]` interpolate :math:`p_t` and :math:`\alpha_t` linearly (as
    torchvision's ``sigmoid_focal_loss``). ``alpha=None`` means no weighting; with
    :math:`\gamma = 0` and ``alpha=None`` it is the binary cross-entropy. Per-sample
    values average the non-batch dimensions.

    Args:
        input: logits (``from_logits=True``) or probabilities in ``[0, 1]``.
        target: labels in ``[0, 1]`` (0/1; soft labels are accepted), same shape.
        gamma: focusing parameter :math:`\gamma \geq 0` (default 2).
        alpha: weight :math:`\alpha \in [0, 1]` of the positives, ``1 - alpha`` of the negatives,
            or ``None`` (default 0.25, the paper's choice with :math:`\gamma = 2`).
        from_logits: whether ``input`` holds logits or probabilities.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {BINARY_SHAPE}

    Example:
        >>> x, y = torch.tensor([2.0, -1.0, 0.0]), torch.tensor([1.0, 0.0, 1.0])
        >>> sigmoid_focal_loss(x, y, gamma=0.0, alpha=None, reduction="none")  # binary cross-entropy
        tensor([0.1269, 0.3133, 0.6931])
        >>> sigmoid_focal_loss(x, y, reduction="none")
        tensor([0.0005, 0.0170, 0.0433])
    """
    return SigmoidFocalLoss(gamma, alpha, from_logits, reduction)(input, target)


@shared_sections
@register("focal", "binary")
class SigmoidFocalLoss(BinaryLoss):
    r"""Sigmoid focal loss :math:`-\alpha_t (1 - p_t)^\gamma \log p_t`; see :func:`sigmoid_focal_loss`.

    Args:
        gamma: focusing parameter :math:`\gamma \geq 0` (default 2).
        alpha: weight of the positives in ``[0, 1]``, or ``None`` (default 0.25).
        from_logits: ``True`` (default): the input holds logits; ``False``: probabilities in ``[0, 1]``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {BINARY_MODULE_SHAPE}

    Example:
        >>> loss = SigmoidFocalLoss(gamma=2.0, alpha=None, reduction="none")
        >>> loss(torch.tensor([[2.0, -1.0], [0.0, 0.0]]), torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
        tensor([0.0122, 0.1733])
    """

    def __init__(
        self, gamma: float = 2.0, alpha: Optional[float] = 0.25, from_logits: bool = True, reduction: str = "mean"
    ) -> None:
        super().__init__(from_logits, reduction)
        self.gamma = _check_gamma(gamma, self.name)
        self.alpha = _check_alpha(alpha, self.name)

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _sigmoid_focal(input, target, self.gamma, self.alpha, self.from_logits)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, alpha={self.alpha}, " + super().extra_repr()
