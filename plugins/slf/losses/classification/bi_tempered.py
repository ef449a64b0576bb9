"""Bi-tempered logistic loss of Amid et al. (2019) (registry: ``bi_tempered``, task ``classification``).

Amid, Warmuth, Anil and Koren, "Robust Bi-Tempered Logistic Loss Based on Bregman
Divergences", NeurIPS 2019. The softmax is replaced by a *tempered* softmax with a
heavier tail (temperature ``t2 > 1``) and the logarithm of the log loss by a *tempered*
logarithm that is bounded (``t1 < 1``). Also here: the tempered logarithm and exponential,
the normalisation :math:`\\lambda_t` of the tempered softmax (exact gradients by implicit
differentiation) and the tempered softmax itself.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..base import BaseLoss, check_classification_inputs, check_reduction, reduce_loss
from ..registry import register
from ..shared_docs import shared_sections

_LOG_CLAMP = -100.0  # as torch.nn.functional.binary_cross_entropy: log(0) is clamped here
_MAX_NEWTON_STEPS = 30  # Newton converges quadratically from the warm start; this is only a cap


# --------------------------------------------------------------------------- argument checks


def _check_number(value: float, what: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name}: {what} must be a finite number, got {value!r}")
    return float(value)


def _check_t1(t1: float, name: str) -> float:
    value = _check_number(t1, "t1", name)
    if not 0.0 <= value <= 1.0:
        raise ValueError(
            f"{name}: t1 must lie in [0, 1] (t1 < 1 bounds the loss, t1 = 1 is the logarithm), got {t1!r}"
        )
    return value


def _check_t2(t2: float, name: str, what: str = "t2") -> float:
    value = _check_number(t2, what, name)
    if value <= 0.0:
        raise ValueError(
            f"{name}: {what} must be > 0 (t > 1: heavy tail, t = 1: softmax, t < 1: finite support), got {t2!r}"
        )
    return value


def _check_num_iters(num_iters: int, name: str) -> int:
    if isinstance(num_iters, bool) or not isinstance(num_iters, int) or num_iters < 1:
        raise ValueError(f"{name}: num_iters must be an integer >= 1, got {num_iters!r}")
    return num_iters


def _check_label_smoothing(label_smoothing: float, name: str) -> float:
    value = _check_number(label_smoothing, "label_smoothing", name)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name}: label_smoothing must lie in [0, 1), got {label_smoothing!r}")
    return value



def _check_tempered(t1: float, t2: float, label_smoothing: float, num_iters: int, name: str
                    ) -> Tuple[float, float, float, int]:
    """The options of both bi-tempered losses (classification and binary), checked."""
    return (_check_t1(t1, name), _check_t2(t2, name), _check_label_smoothing(label_smoothing, name),
            _check_num_iters(num_iters, name))


def _tempered_repr(loss: Any) -> str:
    return f"t1={loss.t1}, t2={loss.t2}, label_smoothing={loss.label_smoothing}, num_iters={loss.num_iters}, "


def _check_activations(activations: Tensor, name: str) -> None:
    if not torch.is_tensor(activations) or not activations.is_floating_point():
        raise TypeError(f"{name}: activations must be a floating point tensor, got {type(activations).__name__}")
    if activations.dim() < 1 or activations.shape[-1] < 1:
        raise ValueError(
            f"{name}: activations must have shape (..., C) with C >= 1 classes, got {tuple(activations.shape)}"
        )


# --------------------------------------------------------------------------- tempered log / exp


def log_t(x: Tensor, t: float) -> Tensor:
    r"""Tempered logarithm :math:`\log_t x = \frac{x^{1-t} - 1}{1 - t}` (:math:`\log x` at ``t = 1``).

    Computed as :math:`\operatorname{expm1}((1-t)\log x) / (1-t)`, accurate near
    :math:`x = 1`. For :math:`t < 1` it is bounded below by :math:`-1/(1-t)` (its value at 0).

    Args:
        x: non-negative values.
        t: temperature (any finite number).

    Example:
        >>> log_t(torch.tensor([0.0, 0.25, 1.0]), 0.5)
        tensor([-2., -1.,  0.])
    """
    t = _check_number(t, "t", "log_t")
    if t == 1.0:
        return torch.log(x)
    return torch.expm1((1.0 - t) * torch.log(x)) / (1.0 - t)


def exp_t(x: Tensor, t: float) -> Tensor:
    r"""Tempered exponential :math:`\exp_t x = [1 + (1 - t)\, x]_+^{1/(1-t)}` (:math:`e^x` at ``t = 1``).

    The inverse of :func:`log_t`. For :math:`t < 1` it is 0 for
    :math:`x \le -1/(1-t)` (finite support); for :math:`t > 1` it decays polynomially
    as :math:`x \to -\infty` and has a pole at :math:`x = 1/(t-1)`, beyond which the value is ``inf``.

    Args:
        x: any values.
        t: temperature (any finite number).

    Example:
        >>> exp_t(torch.tensor([-3.0, -1.0, 0.0]), 0.5)
        tensor([0.0000, 0.2500, 1.0000])
        >>> exp_t(torch.tensor([-1.0, 0.0]), 2.0)
        tensor([0.5000, 1.0000])
    """
    t = _check_number(t, "t", "exp_t")
    if t == 1.0:
        return torch.exp(x)
    z = (1.0 - t) * x
    inside = z > -1.0
    value = torch.exp(torch.log1p(torch.where(inside, z, torch.zeros_like(z))) / (1.0 - t))
    return torch.where(inside, value, torch.full_like(x, 0.0 if t < 1.0 else math.inf))


# --------------------------------------------------------------------------- the normalisation lambda_t


def _solve_normalization(u: Tensor, t: float, num_iters: int) -> Tensor:
    """lambda >= 0 with ``sum_i exp_t(u_i - lambda) = 1`` along the last dim, for ``max(u) == 0``.

    The paper's scheme gives the starting point (``num_iters`` fixed-point iterations for
    t > 1, bisections for t < 1); Newton steps then solve to the dtype's precision, so the
    value matches the implicit gradient. ``f(lambda) = sum exp_t(u - lambda) - 1`` is convex
    and decreasing for t > 0 and both schemes approach the root from the left (f >= 0),
    where Newton steps neither overshoot nor leave ``[0, hi]``.
    """
    num_classes = u.shape[-1]
    zeros = u.new_zeros(u.shape[:-1] + (1,))
    if t > 1.0:
        # Algorithm 1 of the paper: Z = sum_i exp_t(u_i Z^(1-t)), lambda = -log_t(1/Z).
        x = u
        for _ in range(num_iters):
            z = exp_t(x, t).sum(dim=-1, keepdim=True)
            x = u * z.pow(1.0 - t)
        z = exp_t(x, t).sum(dim=-1, keepdim=True)
        lam = (z.pow(t - 1.0) - 1.0) / (t - 1.0)
        hi = zeros + (num_classes ** (t - 1.0) - 1.0) / (t - 1.0)  # C exp_t(-hi) = 1
    else:
        # Only classes with u > -1/(1-t) can carry mass once lambda >= 0.
        support = (u > -1.0 / (1.0 - t)).sum(dim=-1, keepdim=True).to(u.dtype)
        hi = (1.0 - support.pow(t - 1.0)) / (1.0 - t)
        lo = zeros
        for _ in range(num_iters):
            mid = 0.5 * (lo + hi)
            below = exp_t(u - mid, t).sum(dim=-1, keepdim=True) < 1.0  # mid is past the root
            hi, lo = torch.where(below, mid, hi), torch.where(below, lo, mid)
        lam = lo
    lam = torch.minimum(lam.clamp(min=0.0), hi)
    eps = torch.finfo(u.dtype).eps
    for _ in range(_MAX_NEWTON_STEPS):
        p = exp_t(u - lam, t)
        residual = p.sum(dim=-1, keepdim=True) - 1.0
        step = residual / p.pow(t).sum(dim=-1, keepdim=True)  # f / |f'|, exp_t' = exp_t^t
        new = torch.minimum((lam + step).clamp(min=0.0), hi)
        converged = ((new - lam).abs() <= 4.0 * eps * (1.0 + new)) | (residual.abs() <= 2.0 * num_classes * eps)
        lam = new
        if bool(converged.all()):
            break
    return lam


class _TemperedNormalization(torch.autograd.Function):
    """lambda_t(u) for ``max(u) == 0``; backward by implicit differentiation of ``sum exp_t(u - lambda) = 1``."""

    @staticmethod
    def forward(ctx, u: Tensor, t: float, num_iters: int) -> Tensor:  # type: ignore[override]
        if u.numel() == 0:
            lam = u.new_zeros(u.shape[:-1] + (1,))
        else:
            lam = _solve_normalization(u.detach(), t, num_iters)
        ctx.save_for_backward(u, lam)
        ctx.t = t
        return lam

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tuple[Optional[Tensor], None, None]:  # type: ignore[override]
        u, lam = ctx.saved_tensors
        # d lambda / d u_j = exp_t(u_j - lambda)^t / sum_i exp_t(u_i - lambda)^t (the escort distribution)
        weights = exp_t(u - lam, ctx.t).pow(ctx.t)
        return grad * weights / weights.sum(dim=-1, keepdim=True), None, None


def _shifted(activations: Tensor) -> Tuple[Tensor, Tensor]:
    # The normalisation shifts with the activations (lambda(a + c) = lambda(a) + c), so it is solved
    # for u = a - max(a) and never rounded against a large max.
    top = activations.detach().amax(dim=-1, keepdim=True)
    return activations - top, top


def _normalization_of_shifted(u: Tensor, t: float, num_iters: int) -> Tensor:
    if t == 1.0:
        return torch.logsumexp(u, dim=-1, keepdim=True)
    return _TemperedNormalization.apply(u, t, num_iters)


def tempered_normalization(activations: Tensor, t: float, num_iters: int = 5) -> Tensor:
    r"""The normalisation :math:`\lambda_t(a)` of the tempered softmax, along the last dimension.

    .. math::

        \sum_{i=1}^{C} \exp_t\bigl(a_i - \lambda_t(a)\bigr) = 1

    At :math:`t = 1` it is :math:`\operatorname{logsumexp}(a)`. For :math:`t > 1` the
    starting point comes from ``num_iters`` iterations of the paper's fixed point (its
    Algorithm 1), for :math:`t < 1` from ``num_iters`` bisections (the tempered
    exponential then has a finite support); Newton steps then solve the equation to the
    dtype's precision. The gradient is exact, by implicit differentiation:
    :math:`\partial \lambda / \partial a_j = \exp_t(a_j - \lambda)^t / \sum_i \exp_t(a_i - \lambda)^t`.

    Args:
        activations: unnormalised scores.
        t: temperature :math:`t > 0`.
        num_iters: iterations of the paper's scheme that give Newton's starting point (>= 1).

    Shape:
        - activations: :math:`(*, C)`, floating point.
        - output: :math:`(*, 1)`.

    Example:
        >>> a = torch.tensor([[-0.5, 0.1, 2.0]], dtype=torch.float64)
        >>> lam = tempered_normalization(a, t=1.5)
        >>> exp_t(a - lam, 1.5).sum(dim=-1)
        tensor([1.0000], dtype=torch.float64)
    """
    _check_activations(activations, "tempered_normalization")
    t = _check_t2(t, "tempered_normalization", "t")
    num_iters = _check_num_iters(num_iters, "tempered_normalization")
    u, top = _shifted(activations)
    return top + _normalization_of_shifted(u, t, num_iters)


def _tempered_log_softmax(activations: Tensor, t: float, num_iters: int) -> Tensor:
    """``log tempered_softmax(a)`` along the last dim, from the shifted activations (``-inf`` off the support)."""
    if t == 1.0:
        return F.log_softmax(activations, dim=-1)
    u, _ = _shifted(activations)
    z = (1.0 - t) * (u - _normalization_of_shifted(u, t, num_iters))
    inside = z > -1.0
    # log exp_t(v) = log1p((1 - t) v) / (1 - t); the masked branch keeps log1p's gradient finite.
    log_p = torch.log1p(torch.where(inside, z, torch.zeros_like(z))) / (1.0 - t)
    return torch.where(inside, log_p, torch.full_like(z, -math.inf))


def tempered_softmax(activations: Tensor, t: float, num_iters: int = 5) -> Tensor:
    r"""Tempered softmax :math:`\exp_t(a - \lambda_t(a))` along the last dimension.

    The softmax at :math:`t = 1`; a heavier (polynomial) tail for :math:`t > 1`; a finite
    support for :math:`t < 1` (classes more than about :math:`1/(1-t)` below the top get 0).
    See :func:`tempered_normalization` for :math:`\lambda_t` and ``num_iters``.

    Args:
        activations: unnormalised scores.
        t: temperature :math:`t > 0`.
        num_iters: iterations of the paper's scheme before Newton's refinement (>= 1).

    Shape:
        - activations: :math:`(*, C)`, floating point.
        - output: same shape; non-negative, sums to 1 along the last dimension.

    Example:
        >>> a = torch.tensor([[4.0, -3.0, -6.0]])
        >>> tempered_softmax(a, t=1.0)
        tensor([[9.9904e-01, 9.1101e-04, 4.5357e-05]])
        >>> tempered_softmax(a, t=2.0)
        tensor([[0.7902, 0.1210, 0.0888]])
        >>> tempered_softmax(a, t=0.5)
        tensor([[1., 0., 0.]])
    """
    _check_activations(activations, "tempered_softmax")
    t = _check_t2(t, "tempered_softmax", "t")
    num_iters = _check_num_iters(num_iters, "tempered_softmax")
    return torch.exp(_tempered_log_softmax(activations, t, num_iters))


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
    if (torch.is_tensor(target) and target.is_floating_point() and torch.is_tensor(logits)
            and target.dim() == 2 and target.shape == logits.shape):
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

    def __init__(self, t1: float = 0.8, t2: float = 1.2, label_smoothing: float = 0.0, num_iters: int = 5,
                 reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.t1, self.t2, self.label_smoothing, self.num_iters = _check_tempered(t1, t2, label_smoothing, num_iters,
                                                                                self.name)

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        labels = F.one_hot(target.long(), input.shape[1]).to(input.dtype)
        return _bi_tempered(input, labels, self.t1, self.t2, self.label_smoothing, self.num_iters)

    def extra_repr(self) -> str:
        return _tempered_repr(self) + super().extra_repr()
