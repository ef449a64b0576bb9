"""IoU-balanced localisation loss of Wu et al. (2019/2022) (registry: ``iou_balanced_loc``, task ``detection``).

Wu, Yang, Wang, Li, "IoU-balanced Loss Functions for Single-stage Object Detection"
(arXiv:1908.05641, 2019; revised 2020).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from ..base import BaseLoss, _describe, check_reduction, reduce_loss
from ..registry import register
from .iou import aligned_box_iou, check_exponent, check_ious, check_sample_weight, iou_balanced_weights

LocTarget = Union[Tensor, Tuple[Tensor, Tensor], Sequence[Tensor]]


def _check_w_loc(w_loc: Optional[float], name: str) -> Optional[float]:
    if w_loc is None:
        return None
    if isinstance(w_loc, bool) or not isinstance(w_loc, (int, float)) or not math.isfinite(w_loc) or w_loc <= 0:
        raise ValueError(f"{name}: w_loc must be None (normalised weights) or a finite number > 0, got {w_loc!r}")
    return float(w_loc)


def _check_beta(beta: float, name: str) -> float:
    return check_exponent(beta, "beta (the smooth L1 threshold; 0 gives L1)", name)


def check_loc_inputs(pred: Tensor, target: Tensor, ious: Optional[Tensor], name: str) -> None:
    """Predictions and targets ``(N, 4)`` (boxes ``(x1, y1, x2, y2)`` when ``ious`` is ``None``)."""
    for what, value in (("pred", pred), ("target", target)):
        if not torch.is_tensor(value) or not value.is_floating_point() or value.dim() != 2 or value.shape[1] != 4:
            raise ValueError(f"{name}: {what} must be a floating point tensor of shape (N, 4), got {_describe(value)}")
    if pred.shape != target.shape:
        raise ValueError(
            f"{name}: pred and target must have the same shape (N, 4), "
            f"got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    if ious is not None:
        check_ious(ious, pred.shape[0], name)


def split_loc_target(target: LocTarget, name: str) -> Tuple[Tensor, Optional[Tensor]]:
    """``(target, ious)`` from a pair, or ``(boxes, None)`` from a box tensor."""
    if torch.is_tensor(target):
        return target, None
    if isinstance(target, (tuple, list)) and len(target) == 2:
        return target[0], target[1]
    raise TypeError(
        f"{name}: target must be ground-truth boxes (N, 4) or a pair (target (N, 4), ious (N,)), "
        f"got {type(target).__name__}"
    )


def _iou_balanced_loc(
    pred: Tensor,
    target: Tensor,
    ious: Optional[Tensor],
    lam: float,
    beta: float,
    w_loc: Optional[float],
    weight: Optional[Tensor],
) -> Tensor:
    if ious is None:
        ious = aligned_box_iou(pred.detach(), target.detach())
    if w_loc is None:
        factors = iou_balanced_weights(ious, lam, weight=weight)
    else:
        factors = w_loc * ious.detach().pow(lam)
    elements = F.smooth_l1_loss(pred, target, reduction="none", beta=beta)
    values = elements.sum(dim=1) * factors.to(elements.dtype)
    return values if weight is None else values * weight.to(values.dtype)


def iou_balanced_loc_loss(
    pred: Tensor,
    target: Tensor,
    ious: Optional[Tensor] = None,
    lam: float = 1.5,
    beta: float = 1.0,
    w_loc: Optional[float] = None,
    weight: Optional[Tensor] = None,
    reduction: str = "mean",
) -> Tensor:
    r"""IoU-balanced localisation loss: each positive's smooth L1 weighted by its IoU.

    .. math::

        L = \sum_{i \in Pos} w_i \sum_{m} \mathrm{smooth}_{L1}(l_i^m - g_i^m),\qquad
        w_i = w_{loc}\,\mathrm{IoU}_i^{\,\lambda}

    Well-localised positives get larger gradients and the outliers with low IoU
    smaller ones; the weights carry no gradient. With ``w_loc=None`` (default)
    :math:`w_{loc} = \sum_j r_j / \sum_j r_j \mathrm{IoU}_j^\lambda` over the given
    samples (weights :math:`r`), so the weights sum to what the plain loss's do (1
    each when every IoU is 0). A number is a hand-set constant, as the authors' code
    takes it (a RetinaNet config there: :math:`\lambda = 1.5` with
    ``loss_weight=3.049``). With :math:`\lambda = 0` and ``w_loc=None`` it is the
    plain smooth L1.

    The IoU is that of the decoded predicted box with its ground-truth box: pass it as
    ``ious`` when ``pred``/``target`` are regression deltas (the paper's setting);
    leave ``ious=None`` when they are boxes ``(x1, y1, x2, y2)`` and it is computed
    from them (:func:`~slf.losses.detection.aligned_box_iou`, detached).

    Args:
        pred: predicted deltas or boxes of the positives.
        target: their regression targets (deltas or boxes).
        ious: IoUs in ``[0, 1]``, or ``None`` to compute them from boxes.
        lam: :math:`\lambda \geq 0` (default 1.5, the authors').
        beta: smooth L1 threshold :math:`\geq 0` (0 gives L1; RetinaNet used 0.11).
        w_loc: ``None`` (normalised weights) or a constant :math:`> 0`.
        weight: optional per-sample weights :math:`\geq 0`.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - pred, target: :math:`(N, 4)`; ious, weight: :math:`(N,)`.
        - output: :math:`(N,)` for ``'none'`` (summed over the 4 coordinates), else a scalar.

    Example:
        >>> gt = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0]])
        >>> pred = gt + torch.tensor([[0.0, 0.0, 1.0, 0.0], [4.0, 0.0, 0.0, 0.0]])
        >>> iou_balanced_loc_loss(pred, gt, lam=0.0, reduction="none")  # plain smooth L1
        tensor([0.5000, 3.5000])
        >>> iou_balanced_loc_loss(pred, gt, lam=1.5, reduction="none")  # IoUs 1/1.1 and 0.6
        tensor([0.6510, 2.4433])
    """
    check_reduction(reduction)
    name = "iou_balanced_loc"
    lam = check_exponent(lam, "lam", name)
    beta = _check_beta(beta, name)
    w_loc = _check_w_loc(w_loc, name)
    check_loc_inputs(pred, target, ious, name)
    check_sample_weight(weight, pred.shape[0], name)
    return reduce_loss(_iou_balanced_loc(pred, target, ious, lam, beta, w_loc, weight), reduction)


@register("iou_balanced_loc", "detection")
class IoUBalancedLocLoss(BaseLoss):
    r"""IoU-balanced smooth L1 localisation loss; see :func:`iou_balanced_loc_loss`.

    The target is either ground-truth boxes ``(N, 4)`` (``input`` then holds the
    decoded predicted boxes and the IoU comes from them) or a pair ``(target, ious)``
    (e.g. regression deltas with the IoUs of their decoded boxes).

    Args:
        lam: :math:`\lambda \geq 0` (default 1.5).
        beta: smooth L1 threshold :math:`\geq 0` (default 1.0).
        w_loc: ``None`` (normalised weights) or a constant :math:`> 0`.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - input: :math:`(N, 4)`; target: :math:`(N, 4)` boxes or ``(target (N, 4), ious (N,))``.
        - output: :math:`(N,)` for ``'none'``, else a scalar.

    Example:
        >>> loss = IoUBalancedLocLoss(lam=1.5, beta=0.11)
        >>> deltas, target = torch.tensor([[0.1, 0.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]]), torch.zeros(2, 4)
        >>> loss(deltas, (target, torch.tensor([0.9, 0.5])), reduction="none")
        tensor([0.0643, 0.5212])
    """

    task = "detection"

    def __init__(
        self, lam: float = 1.5, beta: float = 1.0, w_loc: Optional[float] = None, reduction: str = "mean"
    ) -> None:
        super().__init__(reduction)
        self.lam = check_exponent(lam, "lam", self.name)
        self.beta = _check_beta(beta, self.name)
        self.w_loc = _check_w_loc(w_loc, self.name)

    def validate(self, input: Tensor, target: LocTarget) -> None:
        target, ious = split_loc_target(target, self.name)
        check_loc_inputs(input, target, ious, self.name)

    def per_sample(self, input: Tensor, target: LocTarget) -> Tensor:
        target, ious = split_loc_target(target, self.name)
        return _iou_balanced_loc(input, target, ious, self.lam, self.beta, self.w_loc, None)

    def extra_repr(self) -> str:
        return f"lam={self.lam}, beta={self.beta}, w_loc={self.w_loc}, " + super().extra_repr()
