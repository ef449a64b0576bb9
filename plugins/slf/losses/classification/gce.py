"""Generalized cross-entropy of Zhang & Sabuncu (2018) (registry: ``gce``, task ``classification``).

Zhang and Sabuncu, "Generalized Cross Entropy Loss for Training Deep Neural Networks with
Noisy Labels", NeurIPS 2018. The negative Box-Cox transform of :math:`p_y`: cross-entropy
as :math:`q \\to 0`, the noise-robust MAE at :math:`q = 1`; the paper uses :math:`q = 0.7`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .._utils import gather_target
from ..base import BaseLoss
from ..registry import register
from ..shared_docs import shared_sections


def _check_q(q: float, name: str) -> float:
    if isinstance(q, bool) or not isinstance(q, (int, float)) or not math.isfinite(q) or not 0.0 < q <= 1.0:
        raise ValueError(
            f"{name}: q must be a number in (0, 1] (q -> 0 tends to cross-entropy, q = 1 is MAE), got {q!r}"
        )
    return float(q)


def _check_k(k: float, name: str) -> float:
    if isinstance(k, bool) or not isinstance(k, (int, float)) or not math.isfinite(k) or not 0.0 <= k < 1.0:
        raise ValueError(f"{name}: the truncation threshold k must be a number in [0, 1) (0: no truncation), got {k!r}")
    return float(k)


def _gce(logits: Tensor, target: Tensor, q: float, k: float) -> Tensor:
    log_p = gather_target(F.log_softmax(logits, dim=1), target)
    if k > 0.0:
        # L_trunc = L_q(max(p_y, k)): constant, with zero gradient, where p_y <= k
        log_p = log_p.clamp(min=math.log(k))
    # (1 - p_y^q) / q with p_y^q = exp(q log p_y); -expm1 keeps it accurate as p_y -> 1 or q -> 0
    return -torch.expm1(q * log_p) / q


@shared_sections
def generalized_cross_entropy_loss(
    logits: Tensor, target: Tensor, q: float = 0.7, k: float = 0.0, reduction: str = "mean"
) -> Tensor:
    r"""Generalized cross-entropy (the :math:`\mathcal{L}_q` loss), robust to noisy labels.

    .. math::

        \mathcal{L}_q(z, y) = \frac{1 - p_y^{\,q}}{q}, \qquad p = \operatorname{softmax}(z),
        \quad 0 < q \le 1

    As :math:`q \to 0` it tends to the cross-entropy :math:`-\log p_y`; at :math:`q = 1` it is
    :math:`1 - p_y`, which is :math:`C/2` times the registry's ``mae``
    (:math:`\frac{1}{C}\sum_c |p_c - t_c| = 2 (1 - p_y) / C`) and half the paper's MAE
    :math:`\lVert t - p \rVert_1`. Its gradient is :math:`p_y^{\,q}` times cross-entropy's, so
    samples the model finds unlikely (often the mislabelled ones) weigh less. Values lie in
    :math:`[0, 1/q]`. :math:`p_y^{\,q}` is :math:`\exp(q \log p_y)` from ``log_softmax`` and
    :math:`1 - p_y^{\,q}` is ``-expm1``, accurate for confident predictions and small ``q``.

    With ``k > 0`` it is the paper's truncated loss
    :math:`\mathcal{L}_{\text{trunc}} = \mathcal{L}_q(\max(p_y, k))`: samples with
    :math:`p_y \le k` contribute the constant :math:`(1 - k^q)/q` and no gradient. (The paper
    also re-selects the pruned samples every few epochs; that schedule belongs to training and
    is not done here: the truncation is applied to every batch as it comes.)

    Args:
        logits: unnormalised class scores.
        target: class indices in ``[0, C)``.
        q: the exponent, in :math:`(0, 1]` (default 0.7, the paper's choice).
        k: truncation threshold in :math:`[0, 1)`; 0 (default) means no truncation
            (the paper's truncated loss uses 0.5).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {CLASSIFICATION_SHAPE}

    Example:
        >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
        >>> target = torch.tensor([0, 1])
        >>> generalized_cross_entropy_loss(logits, target, reduction="none")
        tensor([0.2220, 1.2422])
        >>> generalized_cross_entropy_loss(logits, target, q=1.0, reduction="none")  # 1 - p_y
        tensor([0.2144, 0.9455])
        >>> generalized_cross_entropy_loss(logits, target, k=0.5, reduction="none")  # L_q(0.5) = 0.5492
        tensor([0.2220, 0.5492])
    """
    return GeneralizedCrossEntropyLoss(q, k, reduction)(logits, target)


@shared_sections
@register("gce", "classification")
class GeneralizedCrossEntropyLoss(BaseLoss):
    r"""Generalized cross-entropy :math:`(1 - p_y^q)/q`; see :func:`generalized_cross_entropy_loss`.

    Args:
        q: the exponent, in :math:`(0, 1]` (default 0.7).
        k: truncation threshold in :math:`[0, 1)`; 0 (default): no truncation.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {CLASSIFICATION_MODULE_SHAPE}

    Example:
        >>> loss = GeneralizedCrossEntropyLoss(q=0.7)
        >>> loss(torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]]), torch.tensor([0, 1]))
        tensor(0.7321)
    """

    task = "classification"

    def __init__(self, q: float = 0.7, k: float = 0.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.q = _check_q(q, self.name)
        self.k = _check_k(k, self.name)

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _gce(input, target, self.q, self.k)

    def extra_repr(self) -> str:
        return f"q={self.q}, k={self.k}, " + super().extra_repr()
