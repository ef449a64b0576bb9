"""Softmax focal loss of Lin et al. (2017) (registry: ``focal``, task ``classification``)."""

from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from .._utils import gather_target
from ..base import BaseLoss
from ..registry import register
from ..shared_docs import shared_sections

Alpha = Optional[Union[float, Sequence[float], Tensor]]


def _check_gamma(gamma: float, name: str) -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not math.isfinite(gamma) or gamma < 0:
        raise ValueError(f"{name}: gamma must be a finite number >= 0, got {gamma!r}")
    return float(gamma)


def _check_alpha(alpha: Alpha, name: str) -> Optional[Union[float, Tensor]]:
    if alpha is None:
        return None
    if isinstance(alpha, (int, float)) and not isinstance(alpha, bool):
        if not math.isfinite(alpha) or alpha < 0:
            raise ValueError(f"{name}: alpha must be a finite number >= 0, got {alpha!r}")
        return float(alpha)
    try:
        values = torch.as_tensor(alpha, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(
            f"{name}: alpha must be None, a number or a list of per-class weights, got {alpha!r}"
        ) from None
    if values.dim() != 1 or values.numel() == 0 or not torch.isfinite(values).all() or (values < 0).any():
        raise ValueError(
            f"{name}: alpha must be None, a number >= 0 or a 1-D list of finite weights >= 0, got {alpha!r}"
        )
    return values


def _focal(logits: Tensor, target: Tensor, gamma: float, alpha: Optional[Union[float, Tensor]]) -> Tensor:
    log_p = gather_target(F.log_softmax(logits, dim=1), target)
    values = -log_p
    if gamma != 0.0:
        # 1 - p_y = -expm1(log p_y): accurate as p_y -> 1
        values = (-torch.expm1(log_p)).clamp(min=0.0).pow(gamma) * values
    if alpha is None:
        return values
    if isinstance(alpha, float):
        return alpha * values
    if alpha.numel() != logits.shape[1]:
        raise ValueError(f"focal: alpha holds {alpha.numel()} class weights but logits have C = {logits.shape[1]}")
    return alpha.to(device=logits.device, dtype=logits.dtype)[target.long()] * values


@shared_sections
def focal_loss(
    logits: Tensor, target: Tensor, gamma: float = 2.0, alpha: Alpha = None, reduction: str = "mean"
) -> Tensor:
    r"""Softmax focal loss: cross-entropy down-weighted on well-classified samples.

    .. math::

        \ell(z, y) = -\alpha_y\,(1 - p_y)^{\gamma} \log p_y,
        \qquad p = \operatorname{softmax}(z)

    :math:`\log p_y` comes from ``log_softmax`` and :math:`1 - p_y` from
    ``-expm1(log p_y)``, so both stay accurate for confident predictions. ``alpha=None``
    means :math:`\alpha_y = 1`; a number scales every class alike; a list gives one
    weight per class. With :math:`\gamma = 0` and ``alpha=None`` it is the cross-entropy.

    Args:
        logits: unnormalised class scores.
        target: class indices in ``[0, C)``.
        gamma: focusing parameter :math:`\gamma \geq 0` (default 2).
        alpha: ``None``, a number, or ``C`` per-class weights.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {CLASSIFICATION_SHAPE}

    Example:
        >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
        >>> target = torch.tensor([0, 2])
        >>> focal_loss(logits, target, gamma=0.0, reduction="none")  # cross-entropy
        tensor([0.2413, 0.1096])
        >>> focal_loss(logits, target, gamma=2.0, reduction="none")
        tensor([0.0111, 0.0012])
    """
    return FocalLoss(gamma, alpha, reduction)(logits, target)


@shared_sections
@register("focal", "classification")
class FocalLoss(BaseLoss):
    r"""Focal loss :math:`-\alpha_y (1 - p_y)^\gamma \log p_y`; see :func:`focal_loss`.

    Args:
        gamma: focusing parameter :math:`\gamma \geq 0` (default 2).
        alpha: ``None``, a number, or ``C`` per-class weights.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {CLASSIFICATION_MODULE_SHAPE}

    Example:
        >>> loss = FocalLoss(gamma=2.0, alpha=[1.0, 1.0, 0.5])
        >>> loss(torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]]), torch.tensor([0, 2]), reduction="none")
        tensor([0.0111, 0.0006])
    """

    task = "classification"

    def __init__(self, gamma: float = 2.0, alpha: Alpha = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.gamma = _check_gamma(gamma, self.name)
        self.alpha = _check_alpha(alpha, self.name)

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _focal(input, target, self.gamma, self.alpha)

    def extra_repr(self) -> str:
        alpha = self.alpha.tolist() if torch.is_tensor(self.alpha) else self.alpha
        return f"gamma={self.gamma}, alpha={alpha}, " + super().extra_repr()
