"""Helpers shared by the losses: one-hot targets, stable log-space maths, input checks."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import check_same_shape_inputs

_LOG_CLAMP = -100.0  # torch.nn.functional.binary_cross_entropy clamps its logs at -100


def one_hot_like(target: Tensor, logits: Tensor) -> Tensor:
    """One-hot encode class indices ``(N,)`` to the dtype and width of ``logits`` ``(N, C)``."""
    return torch.nn.functional.one_hot(target.long(), logits.shape[1]).to(logits.dtype)


def gather_target(values: Tensor, target: Tensor) -> Tensor:
    """``values[n, target[n]]`` for each row: ``(N, C), (N,) -> (N,)``."""
    return values.gather(1, target.long().unsqueeze(1)).squeeze(1)


def max_other(logits: Tensor, target: Tensor) -> Tensor:
    """Largest logit among the classes other than the target: ``(N, C), (N,) -> (N,)``."""
    mask = torch.nn.functional.one_hot(target.long(), logits.shape[1]).bool()
    return logits.masked_fill(mask, float("-inf")).amax(dim=1)


def log1mexp(x: Tensor) -> Tensor:
    """``log(1 - exp(x))`` for ``x <= 0``, stable, clamped at ``-100`` like torch's BCE.

    Uses ``log(-expm1(x))`` for ``x > -ln 2`` and ``log1p(-exp(x))`` otherwise
    (Maechler 2012). Where ``1 - exp(x)`` is below ``exp(-100)`` (or below the
    smallest normal number of the dtype) the result is the constant ``-100`` with a
    zero gradient, so neither the value nor the gradient is ever infinite or NaN.
    """
    threshold = max(math.exp(_LOG_CLAMP), torch.finfo(x.dtype).tiny)
    inside = x < -threshold
    x_safe = torch.where(inside, x, torch.full_like(x, -1.0))  # keep the unused branch finite
    near_zero = x_safe > -math.log(2.0)
    # each branch is evaluated on inputs where it is finite, the other replaced by -1
    a = torch.log(-torch.expm1(torch.where(near_zero, x_safe, torch.full_like(x, -1.0))))
    b = torch.log1p(-torch.exp(torch.where(near_zero, torch.full_like(x, -1.0), x_safe)))
    value = torch.where(near_zero, a, b).clamp(min=_LOG_CLAMP)
    return torch.where(inside, value, torch.full_like(x, _LOG_CLAMP))


def check_min_classes(logits: Tensor, minimum: int, name: str) -> None:
    if logits.shape[1] < minimum:
        raise ValueError(
            f"{name}: needs at least {minimum} classes (logits of shape (N, C) with C >= {minimum}), "
            f"got C = {logits.shape[1]}"
        )


def check_binary_inputs(input: Tensor, target: Tensor, from_logits: bool, name: str) -> None:
    """Prediction and 0/1 float target of one shape ``(N, *)``; probabilities in ``[0, 1]``."""
    if not isinstance(from_logits, bool):
        raise TypeError(f"{name}: from_logits must be True or False, got {from_logits!r}")
    check_same_shape_inputs(input, target, name)
    if target.numel():
        lo, hi = float(target.detach().min()), float(target.detach().max())
        if not (0.0 <= lo and hi <= 1.0):
            raise ValueError(f"{name}: binary targets must lie in [0, 1] (0/1 labels), got values in [{lo:g}, {hi:g}]")
    if not from_logits and input.numel():
        lo, hi = float(input.detach().min()), float(input.detach().max())
        if not (0.0 <= lo and hi <= 1.0):
            raise ValueError(
                f"{name}: with from_logits=False the prediction must hold probabilities in [0, 1], "
                f"got values in [{lo:g}, {hi:g}]; pass from_logits=True for raw scores"
            )


def to_probability(input: Tensor, from_logits: bool) -> Tensor:
    return torch.sigmoid(input) if from_logits else input


def check_positive(value: float, what: str, name: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: {what} must be a finite number > 0, got {value!r}")
    return float(value)


__all__ = [
    "one_hot_like",
    "gather_target",
    "max_other",
    "log1mexp",
    "check_min_classes",
    "check_binary_inputs",
    "to_probability",
    "check_positive",
]
