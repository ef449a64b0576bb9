"""Input checks and conversions shared by the segmentation losses.

Every segmentation loss reads class scores ``(N, C, *spatial)`` (logits, or probabilities
with ``from_logits=False``) and integer label maps ``(N, *spatial)``.
"""

from __future__ import annotations

import math
from numbers import Integral
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from ..base import _describe

LABEL_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)
Spacing = Optional[Union[float, Sequence[float]]]
Classes = Optional[Sequence[int]]
# Probabilities must sum to one over the classes up to this (float16 rounding included).
_SIMPLEX_TOLERANCE = 1e-3


def check_from_logits(from_logits: bool, name: str) -> bool:
    if not isinstance(from_logits, bool):
        raise TypeError(f"{name}: from_logits must be True or False, got {from_logits!r}")
    return from_logits


def check_labels(labels: Tensor, num_classes: int, name: str) -> None:
    """Integer label maps ``(N, *spatial)`` with values in ``[0, num_classes)``."""
    if not torch.is_tensor(labels) or labels.dtype not in LABEL_DTYPES:
        raise TypeError(
            f"{name}: labels must be an integer tensor of class indices (N, *spatial), got {_describe(labels)}"
        )
    if labels.dim() < 2:
        raise ValueError(
            f"{name}: labels must have shape (N, *spatial) with at least one spatial dimension, "
            f"got {tuple(labels.shape)}"
        )
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(
            f"{name}: labels hold class indices outside [0, {num_classes}): "
            f"min {int(labels.min())}, max {int(labels.max())}"
        )


def check_segmentation_inputs(input: Tensor, target: Tensor, from_logits: bool, name: str) -> None:
    """Scores ``(N, C, *spatial)`` with ``C >= 2`` and labels ``(N, *spatial)`` in ``[0, C)``."""
    if not torch.is_tensor(input) or not input.is_floating_point():
        raise TypeError(
            f"{name}: input must be a floating point tensor of class scores (N, C, *spatial), got {_describe(input)}"
        )
    if input.dim() < 3:
        raise ValueError(
            f"{name}: input must have shape (N, C, *spatial) with at least one spatial dimension, "
            f"got {tuple(input.shape)}"
        )
    if input.shape[1] < 2:
        raise ValueError(
            f"{name}: input needs C >= 2 class channels (background and foreground; a softmax over "
            f"one channel is constant), got C = {input.shape[1]}"
        )
    expected = (input.shape[0],) + tuple(input.shape[2:])
    if torch.is_tensor(target) and tuple(target.shape) != expected:
        raise ValueError(
            f"{name}: target must be a label map of shape {expected} to match input "
            f"{tuple(input.shape)}, got {tuple(target.shape)}"
        )
    check_labels(target, input.shape[1], name)
    if not from_logits and input.numel():
        lo, hi = float(input.detach().min()), float(input.detach().max())
        if not (0.0 <= lo and hi <= 1.0):
            raise ValueError(
                f"{name}: with from_logits=False the input must hold probabilities in [0, 1], got values "
                f"in [{lo:g}, {hi:g}]; pass from_logits=True for logits"
            )
        error = float((input.detach().sum(dim=1) - 1).abs().max())
        if error > _SIMPLEX_TOLERANCE:
            raise ValueError(
                f"{name}: with from_logits=False the probabilities must sum to 1 over the class "
                f"dimension 1, off by up to {error:g}; pass from_logits=True for logits"
            )


def check_classes(classes: Classes, name: str) -> Optional[Tuple[int, ...]]:
    """``None`` or a non-empty sequence of distinct class indices >= 0 (checked against C later)."""
    if classes is None:
        return None
    if torch.is_tensor(classes):
        classes = classes.tolist()
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Sequence):
        raise TypeError(f"{name}: classes must be None or a sequence of class indices, got {classes!r}")
    if not classes or not all(isinstance(c, Integral) and not isinstance(c, bool) and c >= 0 for c in classes):
        raise ValueError(
            f"{name}: classes must be None or a non-empty sequence of class indices >= 0, got {list(classes)!r}"
        )
    if len(set(classes)) != len(classes):
        raise ValueError(f"{name}: classes must not repeat a class, got {list(classes)!r}")
    return tuple(int(c) for c in classes)


def resolve_classes(classes: Optional[Tuple[int, ...]], num_classes: int, first: int, name: str) -> Tuple[int, ...]:
    """The selected classes, by default ``first, ..., C - 1``; every one must be ``< C``."""
    if classes is None:
        return tuple(range(first, num_classes))
    if max(classes) >= num_classes:
        raise ValueError(
            f"{name}: classes {list(classes)} name a class >= C = {num_classes}; valid classes are 0..{num_classes - 1}"
        )
    return classes


def check_spacing(spacing: Spacing, ndim: int, name: str) -> Optional[Tuple[float, ...]]:
    """``None`` (unit pixels), one number, or one positive size per spatial dimension."""
    if spacing is None:
        return None
    values = [spacing] * ndim if isinstance(spacing, (int, float)) and not isinstance(spacing, bool) else spacing
    try:
        values = [float(v) for v in values]
    except (TypeError, ValueError):
        raise TypeError(
            f"{name}: spacing must be None, a number or one number per spatial dimension, got {spacing!r}"
        ) from None
    if len(values) != ndim or not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(
            f"{name}: spacing must hold {ndim} finite pixel sizes > 0 (one per spatial dimension), got {spacing!r}"
        )
    return tuple(values)


def check_spacing_format(spacing: Spacing, name: str) -> Spacing:
    """A spacing checked as far as possible before the number of spatial dimensions is known."""
    if spacing is None or (isinstance(spacing, (int, float)) and not isinstance(spacing, bool)):
        return None if spacing is None else check_spacing(spacing, 1, name)[0]
    if isinstance(spacing, (str, bytes)) or not isinstance(spacing, Sequence):
        raise TypeError(f"{name}: spacing must be None, a number or one number per spatial dimension, got {spacing!r}")
    return check_spacing(spacing, len(spacing), name)


def class_probabilities(input: Tensor, from_logits: bool) -> Tensor:
    return F.softmax(input, dim=1) if from_logits else input


def one_hot_labels(target: Tensor, num_classes: int, dtype: torch.dtype) -> Tensor:
    """``(N, *spatial)`` indices to ``(N, C, *spatial)`` one-hot maps."""
    return F.one_hot(target.long(), num_classes).movedim(-1, 1).to(dtype)
