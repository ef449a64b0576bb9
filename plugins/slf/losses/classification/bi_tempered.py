"""Bi-tempered logistic loss of Amid et al. (2019) (registry: ``bi_tempered``, task ``classification``).

Amid, Warmuth, Anil and Koren, "Robust Bi-Tempered Logistic Loss Based on Bregman
Divergences", NeurIPS 2019. The softmax is replaced by a *tempered* softmax with a
heavier tail (temperature ``t2 > 1``) and the logarithm of the log loss by a *tempered*
logarithm that is bounded (``t1 < 1``); both come from :mod:`slf.losses.classification.tempered`.
"""

from __future__ import annotations

from typing import Any, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..base import BaseLoss, check_classification_inputs, check_reduction, reduce_loss
from ..registry import register
from ..shared_docs import shared_sections
from .tempered import _check_num_iters, _check_number, _check_t2, _tempered_log_softmax

_LOG_CLAMP = -100.0  # as torch.nn.functional.binary_cross_entropy: log(0) is clamped here


# --------------------------------------------------------------------------- argument checks


def _check_t1(t1: float, name: str) -> float:
    value = _check_number(t1, "t1", name)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: t1 must lie in [0, 1] (t1 < 1 bounds the loss, t1 = 1 is the logarithm), got {t1!r}")
    return value


def _check_label_smoothing(label_smoothing: float, name: str) -> float:
    value = _check_number(label_smoothing, "label_smoothing", name)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name}: label_smoothing must lie in [0, 1), got {label_smoothing!r}")
    return value


def _check_tempered(
    t1: float, t2: float, label_smoothing: float, num_iters: int, name: str
) -> Tuple[float, float, float, int]:
    """The options of both bi-tempered losses (classification and binary), checked."""
    return (
        _check_t1(t1, name),
        _check_t2(t2, name),
        _check_label_smoothing(label_smoothing, name),
        _check_num_iters(num_iters, name),
    )


def _tempered_repr(loss: Any) -> str:
    return f"t1={loss.t1}, t2={loss.t2}, label_smoothing={loss.label_smoothing}, num_iters={loss.num_iters}, "


# --------------------------------------------------------------------------- the loss


def _bregman_divergence(labels: Tensor, log_p: Tensor, t1: float) -> Tensor:
    """``sum_i y_i (log_t1 y_i - log_t1 p_i) - (y_i^(2-t1) - p_i^(2-t1)) / (2 - t1)`` over the last dim."""
    if t1 == 1.0:
        # the limit of the general form: KL(labels || p) - sum(labels - p); the last sum is 0 on the simplex
        cross = torch.where(labels > 0, labels * log_p, torch.zeros_like(log_p))  # 0 * log 0 = 0
        return (torch.xlogy(labels, labels) - cross).sum(dim=-1)
    k = 1.0 - t1
    log_t_p = torch.expm1(k * log_p) / k  # >= -1/k, also where p = 0
    log_t_labels = (labels.pow(k) - 1.0) / k
    beta = 2.0 - t1
    values = labels * (log_t_labels - log_t_p) - (labels.pow(beta) - torch.exp(beta * log_p)) / beta
    return values.sum(dim=-1)


def _smooth(labels: Tensor, label_smoothing: float) -> Tensor:
    if label_smoothing == 0.0:
        return labels
    return (1.0 - label_smoothing) * labels + label_smoothing / labels.shape[-1]


def _bi_tempered(
    logits: Tensor, labels: Tensor, t1: float, t2: float, label_smoothing: float, num_iters: int
) -> Tensor:
    """Per-sample loss over the last dim: ``logits`` and label distributions of one shape ``(*, C)``."""
    log_p = _tempered_log_softmax(logits, t2, num_iters)
    if t1 == 1.0 and t2 < 1.0:
        log_p = log_p.clamp(min=_LOG_CLAMP)  # a finite support: p can be exactly 0 where the label is not
    return _bregman_divergence(_smooth(labels, label_smoothing), log_p, t1)


def _check_soft_target(logits: Tensor, target: Tensor, name: str) -> None:
    if target.numel() == 0:
        return
    lo, hi = float(target.detach().min()), float(target.detach().max())
    sums = target.detach().sum(dim=1)
    if lo < 0.0 or hi > 1.0 or float((sums - 1.0).abs().max()) > 1e-3:
        raise ValueError(
            f"{name}: a floating point target of shape (N, C) must hold class probabilities (values in [0, 1], "
            f"rows summing to 1), got values in [{lo:g}, {hi:g}] and row sums in "
            f"[{float(sums.min()):g}, {float(sums.max()):g}]"
        )


def bi_tempered_logistic_loss(
    logits: Tensor,
    target: Tensor,
    t1: float,
    t2: float,
    label_smoothing: float = 0.0,
    num_iters: int = 5,
    reduction: str = "mean",
) -> Tensor:
    r"""Bi-tempered logistic loss: a Bregman divergence between the label and a tempered softmax.

    .. math::

        \ell(z, y) = \sum_{i=1}^{C} \Bigl[ y_i \bigl(\log_{t_1} y_i - \log_{t_1} \hat y_i\bigr)
            - \frac{y_i^{2-t_1} - \hat y_i^{2-t_1}}{2 - t_1} \Bigr],
        \qquad \hat y = \exp_{t_2}\bigl(z - \lambda_{t_2}(z)\bigr)

    (Amid et al. 2019, eq. 13, as in the reference implementation). It is :math:`\geq 0`
    and 0 exactly where :math:`\hat y = y`; for a one-hot :math:`y` and :math:`t_2 > 1`
    that is reached only as the margin grows without bound (the tempered softmax has a
    polynomial tail). :math:`t_1 < 1` bounds the loss (robust to outliers), :math:`t_2 > 1`
    gives a heavy tail (robust to label noise near the boundary); :math:`t_1 = t_2 = 1`
    is the cross-entropy. ``label_smoothing`` :math:`\epsilon` replaces :math:`y` by
    :math:`(1 - \epsilon) y + \epsilon / C`, the convention of ``F.cross_entropy``
    (the reference's :math:`\epsilon'` is :math:`\epsilon = \epsilon' C / (C - 1)`); at
    :math:`t_1 = t_2 = 1` the loss is then ``F.cross_entropy(..., label_smoothing=eps)``
    minus the entropy of the smoothed label, which makes its minimum 0.

    Everything is computed from :math:`z - \max z` and the log of :math:`\hat y`, so
    extreme logits give finite values and gradients; the gradient of :math:`\lambda_{t_2}`
    is exact (see :func:`tempered_normalization`). With :math:`t_1 = 1` and
    :math:`t_2 < 1`, :math:`\log \hat y` is clamped at :math:`-100` (where :math:`\hat y` is 0,
    as in ``F.binary_cross_entropy``).

    Args:
        logits: unnormalised class scores.
        target: class indices in ``[0, C)``, or class probabilities (soft labels) of the logits' shape.
        t1: temperature of the logarithm, in ``[0, 1]``.
        t2: temperature of the exponential (the tempered softmax), ``> 0``.
        label_smoothing: smoothing mass :math:`\epsilon \in [0, 1)`.
        num_iters: iterations of the paper's scheme for :math:`\lambda_{t_2}` before Newton's refinement (>= 1).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - logits: :math:`(N, C)`, floating point.
        - target: :math:`(N,)` integer, or :math:`(N, C)` floating point.
        - output: :math:`(N,)` for ``'none'``, else a scalar.

    Example:
        >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0], [0.0, 4.0, 0.0]])
        >>> target = torch.tensor([0, 2, 0])
        >>> bi_tempered_logistic_loss(logits, target, t1=1.0, t2=1.0, reduction="none")  # cross-entropy
        tensor([0.2413, 0.1096, 4.0360])
        >>> bi_tempered_logistic_loss(logits, target, t1=0.8, t2=1.2, reduction="none")
        tensor([0.2131, 0.1141, 2.2015])
    """
    check_reduction(reduction)
    t1, t2, label_smoothing, num_iters = _check_tempered(t1, t2, label_smoothing, num_iters, "bi_tempered")
    if (
        torch.is_tensor(target)
        and target.is_floating_point()
        and torch.is_tensor(logits)
        and target.dim() == 2
        and target.shape == logits.shape
    ):
        if not logits.is_floating_point():
            raise TypeError(f"bi_tempered: logits must be a floating point tensor, got dtype {logits.dtype}")
        _check_soft_target(logits, target, "bi_tempered")
        labels = target.to(logits.dtype)
    else:
        check_classification_inputs(logits, target, "bi_tempered")
        labels = F.one_hot(target.long(), logits.shape[1]).to(logits.dtype)
    return reduce_loss(_bi_tempered(logits, labels, t1, t2, label_smoothing, num_iters), reduction)


@shared_sections
@register("bi_tempered", "classification")
class BiTemperedLoss(BaseLoss):
    r"""Bi-tempered logistic loss of Amid et al. (2019); see :func:`bi_tempered_logistic_loss`.

    Args:
        t1: temperature of the logarithm, in ``[0, 1]`` (default 0.8; < 1 bounds the loss).
        t2: temperature of the tempered softmax, ``> 0`` (default 1.2; > 1 gives a heavy tail).
        label_smoothing: smoothing mass in ``[0, 1)`` (default 0).
        num_iters: iterations of the paper's scheme for the normalisation (default 5, as the reference).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {CLASSIFICATION_MODULE_SHAPE}

    Example:
        >>> loss = BiTemperedLoss(t1=0.5, t2=1.5, reduction="none")
        >>> loss(torch.tensor([[2.0, 0.5, -1.0], [0.0, 4.0, 0.0]]), torch.tensor([0, 0]))
        tensor([0.1951, 1.2088])
    """

    task = "classification"

    def __init__(
        self,
        t1: float = 0.8,
        t2: float = 1.2,
        label_smoothing: float = 0.0,
        num_iters: int = 5,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        self.t1, self.t2, self.label_smoothing, self.num_iters = _check_tempered(
            t1, t2, label_smoothing, num_iters, self.name
        )

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        labels = F.one_hot(target.long(), input.shape[1]).to(input.dtype)
        return _bi_tempered(input, labels, self.t1, self.t2, self.label_smoothing, self.num_iters)

    def extra_repr(self) -> str:
        return _tempered_repr(self) + super().extra_repr()
