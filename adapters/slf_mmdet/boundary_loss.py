"""``type='BoundaryLoss'`` in mmdet's MODELS: the core boundary loss on sigmoid mask logits.

mmdet's mask-loss contract, as its own ``DiceLoss``: ``pred`` holds one mask logit map per
instance, ``target`` the binary masks of the same shape, and ``forward(pred, target,
weight=None, reduction_override=None, avg_factor=None)`` weights and reduces one value
per mask with mmdet's ``weight_reduce_loss``. The maths is
:func:`slf.losses.segmentation.boundary_loss` on the two classes (background, mask):
``softmax([0, x]) = (1 - sigmoid(x), sigmoid(x))``, so the mask logit ``x`` enters the core
loss unchanged.
"""

from __future__ import annotations

from typing import Optional

import torch
from mmdet.models.losses.utils import weight_reduce_loss
from mmdet.registry import MODELS
from torch import Tensor, nn

from slf.losses.segmentation import boundary_loss
from slf.losses.segmentation._inputs import Spacing, check_spacing_format

REDUCTIONS = ("none", "mean", "sum")


@MODELS.register_module(name="BoundaryLoss")
class MMDetBoundaryLoss(nn.Module):
    r"""Boundary loss of Kervadec et al. for instance masks, with mmdet's loss contract.

    For each mask, the mean over its pixels of :math:`\phi_G\,(\sigma(x) - g)`, where
    :math:`\phi_G` is the signed distance to the target mask's contour; ``0`` at a perfect
    mask, growing with the distance of the predicted mask from the target (see
    :func:`slf.losses.segmentation.boundary_loss`). An empty target mask gives ``0``.

    Needs whole masks: point-sampled masks ``(N, P)`` (as Mask2Former's point loss) have no
    contour and are refused.

    Args:
        use_sigmoid: must be ``True`` (mask logits through a sigmoid), as in mmdet's ``DiceLoss``.
        activate: ``True``: ``pred`` holds logits; ``False``: probabilities in ``[0, 1]``.
        reduction: ``'mean'``, ``'sum'`` or ``'none'``.
        loss_weight: multiplies the loss.
        spacing: pixel size(s) of the masks for the distance maps (default unit pixels).

    Shape:
        - pred: :math:`(N, H, W)` (or :math:`(N, D, H, W)`) mask logits.
        - target: ``pred``'s shape, binary masks (values above 0.5 are inside).
        - weight: :math:`(N,)` per-mask weights.
        - output: :math:`(N,)` for ``'none'``, else a scalar.

    Example:
        >>> from mmdet.registry import MODELS
        >>> from mmengine.registry import init_default_scope
        >>> init_default_scope('mmdet')
        >>> import slf_mmdet  # registers BoundaryLoss
        >>> loss = MODELS.build(dict(type='BoundaryLoss', loss_weight=1.0))
        >>> target = torch.zeros(2, 8, 8)
        >>> target[:, 2:5, 2:5] = 1
        >>> loss(torch.zeros(2, 8, 8), target, reduction_override='none')  # sigmoid(0) = 0.5
        tensor([0.9467, 0.9467])
        >>> float(loss(40 * (2 * target - 1), target)) < 1e-15  # saturated, perfect masks
        True
    """

    def __init__(
        self,
        use_sigmoid: bool = True,
        activate: bool = True,
        reduction: str = "mean",
        loss_weight: float = 1.0,
        spacing: Spacing = None,
    ) -> None:
        super().__init__()
        if use_sigmoid is not True:
            raise ValueError(
                "BoundaryLoss: only sigmoid masks are supported (use_sigmoid=True), as in mmdet's "
                f"DiceLoss; got use_sigmoid={use_sigmoid!r}"
            )
        if not isinstance(activate, bool):
            raise TypeError(f"BoundaryLoss: activate must be True or False, got {activate!r}")
        if reduction not in REDUCTIONS:
            raise ValueError(f"BoundaryLoss: reduction must be one of {list(REDUCTIONS)}, got {reduction!r}")
        self.use_sigmoid = use_sigmoid
        self.activate = activate
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.spacing = check_spacing_format(spacing, "BoundaryLoss")

    def forward(
        self,
        pred: Tensor,
        target: Tensor,
        weight: Optional[Tensor] = None,
        reduction_override: Optional[str] = None,
        avg_factor: Optional[float] = None,
    ) -> Tensor:
        if reduction_override not in (None,) + REDUCTIONS:
            raise ValueError(
                f"BoundaryLoss: reduction_override must be None or one of {list(REDUCTIONS)}, "
                f"got {reduction_override!r}"
            )
        reduction = reduction_override or self.reduction
        if not torch.is_tensor(pred) or pred.dim() < 3:
            shape = tuple(pred.shape) if torch.is_tensor(pred) else type(pred).__name__
            raise ValueError(
                f"BoundaryLoss: pred must hold whole mask logits (N, H, W) or (N, D, H, W), got {shape}; "
                "point-sampled masks (N, P) have no contour"
            )
        if not torch.is_tensor(target) or target.shape != pred.shape:
            shape = tuple(target.shape) if torch.is_tensor(target) else type(target).__name__
            raise ValueError(
                f"BoundaryLoss: target must be binary masks of pred's shape {tuple(pred.shape)}, got {shape}"
            )
        if weight is not None and (weight.dim() != 1 or weight.shape[0] != pred.shape[0]):
            raise ValueError(
                f"BoundaryLoss: weight must hold one weight per mask, shape ({pred.shape[0]},), "
                f"got {tuple(weight.shape)}"
            )
        if avg_factor is not None and reduction == "sum":
            raise ValueError('avg_factor can not be used with reduction="sum"')
        if pred.numel() == 0:
            # mmdet's convention: a zero that keeps the graph.
            return pred.flatten(1).sum(dim=1) * 0 if reduction == "none" else pred.sum() * 0
        if self.activate:
            scores = torch.stack([torch.zeros_like(pred), pred], dim=1)
        else:
            scores = torch.stack([1 - pred, pred], dim=1)
        per_mask = boundary_loss(
            scores,
            (target > 0.5).long(),
            classes=(1,),
            from_logits=self.activate,
            spacing=self.spacing,
            reduction="none",
        )
        return self.loss_weight * weight_reduce_loss(per_mask, weight, reduction, avg_factor)
