"""Symmetric cross-entropy of Wang et al. (2019) (registry: ``sce``, task ``classification``).

Wang, Ma, Chen, Luo, Yi and Bailey, "Symmetric Cross Entropy for Robust Learning with Noisy
Labels", ICCV 2019. Cross-entropy plus its reverse, the cross-entropy of the one-hot label
under the model's distribution, with :math:`\\log 0` truncated to a constant :math:`A < 0`.
"""

from __future__ import annotations

import math
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .._utils import gather_target
from ..base import BaseLoss
from ..registry import register
from ..shared_docs import shared_sections


def _check_weight(value: float, what: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name}: {what} must be a finite number >= 0, got {value!r}")
    return float(value)


def _check_log_zero(A: float, name: str) -> float:
    if isinstance(A, bool) or not isinstance(A, (int, float)) or not math.isfinite(A) or A >= 0:
        raise ValueError(f"{name}: A (the value given to log 0) must be a finite number < 0, got {A!r}")
    return float(A)


def _check_weights(alpha: float, beta: float, name: str) -> Tuple[float, float]:
    alpha, beta = _check_weight(alpha, "alpha", name), _check_weight(beta, "beta", name)
    if alpha == 0.0 and beta == 0.0:
        raise ValueError(f"{name}: alpha and beta are both 0, which makes the loss 0 everywhere; give one > 0")
    return alpha, beta


def _sce(logits: Tensor, target: Tensor, alpha: float, beta: float, A: float) -> Tensor:
    log_p = gather_target(F.log_softmax(logits, dim=1), target)
    # RCE = -sum_k p_k log t_k = -A (1 - p_y); 1 - p_y = -expm1(log p_y), accurate as p_y -> 1
    one_minus_p = -torch.expm1(log_p)
    return alpha * (-log_p) - (beta * A) * one_minus_p


@shared_sections
def symmetric_cross_entropy_loss(
    logits: Tensor,
    target: Tensor,
    alpha: float = 0.1,
    beta: float = 1.0,
    A: float = -4.0,
    reduction: str = "mean",
) -> Tensor:
    r"""Symmetric cross-entropy: cross-entropy plus the noise-robust reverse cross-entropy.

    .. math::

        \ell(z, y) = \alpha \underbrace{\bigl(-\log p_y\bigr)}_{\text{CE}}
        + \beta \underbrace{\Bigl(-\sum_{k=1}^{C} p_k \log t_k\Bigr)}_{\text{RCE}}
        = -\alpha \log p_y - \beta A\,(1 - p_y),
        \qquad p = \operatorname{softmax}(z),\ t = \operatorname{onehot}(y),\ \log 0 := A

    The reverse term is :math:`-A/2` times the :math:`L_1` distance :math:`\lVert t - p \rVert_1`
    (an MAE, robust to symmetric label noise); the cross-entropy term keeps hard classes learning.
    Defaults: :math:`A = -4` as in the paper, and :math:`\alpha = 0.1`, :math:`\beta = 1`, its
    CIFAR-10 setting (the authors' code, ``train_models.py`` of
    ``YisenWang/symmetric_cross_entropy_for_noisy_labels``, uses :math:`\alpha = 0.01` for MNIST
    and :math:`\alpha = 6`, :math:`\beta = 0.1` for CIFAR-100; its ``loss.py`` clips the label at
    ``1e-4``, i.e. :math:`A = \log 10^{-4} \approx -9.21`). The minimum 0 is reached as
    :math:`p \to t`. :math:`\log p_y` comes from ``log_softmax`` and :math:`1 - p_y` from
    ``-expm1(log p_y)``.

    Args:
        logits: unnormalised class scores.
        target: class indices in ``[0, C)``.
        alpha: weight of the cross-entropy, :math:`\geq 0` (default 0.1).
        beta: weight of the reverse cross-entropy, :math:`\geq 0` (default 1).
        A: the value given to :math:`\log 0` in the reverse term, :math:`< 0` (default -4).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {CLASSIFICATION_SHAPE}

    Example:
        >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
        >>> target = torch.tensor([0, 1])
        >>> symmetric_cross_entropy_loss(logits, target, reduction="none")
        tensor([0.8817, 4.0730])
        >>> symmetric_cross_entropy_loss(logits, target, alpha=0.0, reduction="none")  # 4 (1 - p_y)
        tensor([0.8576, 3.7820])
    """
    return SymmetricCrossEntropyLoss(alpha, beta, A, reduction)(logits, target)


@shared_sections
@register("sce", "classification")
class SymmetricCrossEntropyLoss(BaseLoss):
    r"""Symmetric cross-entropy :math:`-\alpha \log p_y - \beta A (1 - p_y)`.

    See :func:`symmetric_cross_entropy_loss`.

    Args:
        alpha: weight of the cross-entropy, :math:`\geq 0` (default 0.1).
        beta: weight of the reverse cross-entropy, :math:`\geq 0` (default 1).
        A: the value given to :math:`\log 0`, :math:`< 0` (default -4).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {CLASSIFICATION_MODULE_SHAPE}

    Example:
        >>> loss = SymmetricCrossEntropyLoss(alpha=0.1, beta=1.0, A=-4.0)
        >>> loss(torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]]), torch.tensor([0, 1]))
        tensor(2.4774)
    """

    task = "classification"

    def __init__(self, alpha: float = 0.1, beta: float = 1.0, A: float = -4.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.alpha, self.beta = _check_weights(alpha, beta, self.name)
        self.A = _check_log_zero(A, self.name)

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _sce(input, target, self.alpha, self.beta, self.A)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, beta={self.beta}, A={self.A}, " + super().extra_repr()
