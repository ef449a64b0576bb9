"""IoU of aligned box pairs, and the normalised IoU weights of the IoU-balanced losses (Wu et al.)."""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

from ..base import _describe

IOU_EPS = 1e-6  # mmdet's bbox_overlaps floors the union at the same value


def check_boxes(boxes: Tensor, what: str, name: str) -> None:
    if not torch.is_tensor(boxes) or not boxes.is_floating_point() or boxes.dim() < 1 or boxes.shape[-1] != 4:
        raise ValueError(
            f"{name}: {what} must be a floating point tensor of (x1, y1, x2, y2) boxes of shape (*, 4), "
            f"got {_describe(boxes)}"
        )


def check_ious(ious: Tensor, n: int, name: str) -> None:
    """IoUs ``(n,)``, floating point, in ``[0, 1]``."""
    if not torch.is_tensor(ious) or not ious.is_floating_point() or ious.shape != (n,):
        raise ValueError(
            f"{name}: ious must be a floating point tensor of shape ({n},), one IoU per sample, got {_describe(ious)}"
        )
    if n and not bool(((ious >= 0) & (ious <= 1)).all()):
        bad = ious[~((ious >= 0) & (ious <= 1))]
        raise ValueError(f"{name}: ious must lie in [0, 1], got {float(bad[0])!r}")


def check_sample_weight(weight: Optional[Tensor], n: int, name: str) -> None:
    """Optional per-sample weights ``(n,)``, finite and ``>= 0``."""
    if weight is None:
        return
    if not torch.is_tensor(weight) or not weight.is_floating_point() or weight.shape != (n,):
        raise ValueError(
            f"{name}: weight must be None or a floating point tensor of shape ({n},), got {_describe(weight)}"
        )
    if n and not bool((torch.isfinite(weight) & (weight >= 0)).all()):
        raise ValueError(f"{name}: weight must hold finite values >= 0")


def check_exponent(value: float, what: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name}: {what} must be a finite number >= 0, got {value!r}")
    return float(value)


def aligned_box_iou(boxes1: Tensor, boxes2: Tensor, eps: float = IOU_EPS) -> Tensor:
    r"""IoU of each box with the box at the same position of the other tensor.

    .. math::

        \operatorname{IoU}(A, B) = \frac{|A \cap B|}{\max(|A| + |B| - |A \cap B|,\ \epsilon)}

    Widths and heights are clamped at 0, so an inverted box (``x2 < x1``) has zero
    area, and the union is floored at :math:`\epsilon` (``1e-6``, as mmdet's
    ``bbox_overlaps``): pairs of degenerate boxes give 0, never NaN, with finite gradients.

    Args:
        boxes1: boxes ``(x1, y1, x2, y2)``.
        boxes2: boxes of the same shape.
        eps: floor of the union, ``> 0``.

    Shape:
        - boxes1, boxes2: :math:`(*, 4)`.
        - output: :math:`(*)`.

    Example:
        >>> a = torch.tensor([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
        >>> b = torch.tensor([[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
        >>> aligned_box_iou(a, b)  # 1/7, identical boxes, two points
        tensor([0.1429, 1.0000, 0.0000])
    """
    check_boxes(boxes1, "boxes1", "aligned_box_iou")
    check_boxes(boxes2, "boxes2", "aligned_box_iou")
    if boxes1.shape != boxes2.shape:
        raise ValueError(
            f"aligned_box_iou: boxes1 and boxes2 must have the same shape (*, 4), "
            f"got {tuple(boxes1.shape)} and {tuple(boxes2.shape)}"
        )
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps) or eps <= 0:
        raise ValueError(f"aligned_box_iou: eps must be a finite number > 0, got {eps!r}")
    area1 = (boxes1[..., 2] - boxes1[..., 0]).clamp(min=0) * (boxes1[..., 3] - boxes1[..., 1]).clamp(min=0)
    area2 = (boxes2[..., 2] - boxes2[..., 0]).clamp(min=0) * (boxes2[..., 3] - boxes2[..., 1]).clamp(min=0)
    lt = torch.maximum(boxes1[..., :2], boxes2[..., :2])
    rb = torch.minimum(boxes1[..., 2:], boxes2[..., 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    return inter / (area1 + area2 - inter).clamp(min=eps)


def iou_balanced_weights(
    ious: Tensor, exponent: float, losses: Optional[Tensor] = None, weight: Optional[Tensor] = None
) -> Tensor:
    r"""Normalised IoU weights of the IoU-balanced losses, without gradient.

    .. math::

        w_i = \mathrm{IoU}_i^{\,e}\;
              \frac{\sum_j r_j\,\ell_j}{\sum_j r_j\,\mathrm{IoU}_j^{\,e}\,\ell_j}

    over the given samples (the positives), with :math:`r` the sample weights and
    :math:`\ell` their losses (both 1 when ``None``): so
    :math:`\sum_j r_j w_j \ell_j = \sum_j r_j \ell_j`, the weighted total equals the
    plain one. With :math:`\ell = 1` it keeps :math:`\sum_j r_j w_j = \sum_j r_j`.
    Where the denominator is 0 (every IoU or every loss is 0) the weights are 1, the
    limit of equal IoUs. :math:`e = 0` gives exactly 1 (``0^0 = 1``).

    Args:
        ious: IoU of each sample in ``[0, 1]``.
        exponent: :math:`e \geq 0` (:math:`\eta` or :math:`\lambda` in the paper).
        losses: the samples' unweighted losses, or ``None``.
        weight: the samples' weights :math:`r \geq 0`, or ``None``.

    Shape:
        - ious, losses, weight, output: :math:`(P,)`.

    Example:
        >>> w = iou_balanced_weights(torch.tensor([0.9, 0.5]), 1.5, losses=torch.tensor([1.0, 3.0]))
        >>> w, (w * torch.tensor([1.0, 3.0])).sum()  # high IoU up, low IoU down; total 1 + 3 kept
        (tensor([1.7839, 0.7387]), tensor(4.))
    """
    with torch.no_grad():
        scaled = ious.detach().pow(exponent)
        mass = torch.ones_like(scaled) if losses is None else losses.detach().to(scaled.dtype)
        if weight is not None:
            mass = mass * weight.detach().to(scaled.dtype)
        denominator = (mass * scaled).sum()
        if not bool(denominator > 0):
            return torch.ones_like(scaled)
        return scaled * (mass.sum() / denominator)


__all__ = ["aligned_box_iou", "iou_balanced_weights"]
