"""The tempered logarithm and exponential, the normalisation :math:`\\lambda_t` of the tempered softmax (exact
gradients by implicit differentiation) and the tempered softmax itself: the functions of Amid et al.'s bi-tempered
losses (:mod:`slf.losses.classification.bi_tempered`, :mod:`slf.losses.binary.bi_tempered`).

Amid, Warmuth, Anil and Koren, "Robust Bi-Tempered Logistic Loss Based on Bregman
Divergences", NeurIPS 2019.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

_MAX_NEWTON_STEPS = 30  # Newton converges quadratically from the warm start; this is only a cap


# --------------------------------------------------------------------------- argument checks


def _check_number(value: float, what: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name}: {what} must be a finite number, got {value!r}")
    return float(value)


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
