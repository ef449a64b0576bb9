"""IoU-balanced losses of Wu et al. (arXiv:1908.05641) in mmdet's ``MODELS``.

- ``IoUBalancedClsLoss``: the classification loss; its target is ``(labels, ious)``
  as for mmdet's ``QualityFocalLoss``, so the head must supply the IoUs:
- ``IoUBalancedRetinaHead``: mmdet's ``RetinaHead`` whose per-level loss decodes the
  positive anchors' predicted boxes with the head's own ``bbox_coder``, measures their
  IoU with the ground truth by ``bbox_overlaps(..., is_aligned=True)`` (detached) and
  passes ``(labels, ious)`` to ``loss_cls`` (and ``(targets, ious)`` to an IoU-balanced
  ``loss_bbox`` on deltas).
- ``IoUBalancedLocLoss``: the IoU-balanced smooth L1, mmdet's bbox-loss contract. On
  decoded boxes (``reg_decoded_bbox=True``, any head) it measures the IoU itself; on
  deltas (the paper's setting) it takes ``(targets, ious)`` from the head above.

The maths (IoU weights and their normalisation) is :mod:`slf.losses.detection`'s.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple, Union

import torch
from mmdet.models.dense_heads import RetinaHead
from mmdet.models.losses.smooth_l1_loss import smooth_l1_loss
from mmdet.models.losses.utils import weight_reduce_loss
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox_overlaps, get_box_tensor
from mmdet.utils import ConfigType
from torch import Tensor, nn

from slf.losses.detection import IoUBalancedClsLoss, iou_balanced_cls_loss, iou_balanced_weights
from slf.losses.detection.iou import check_exponent
from slf.losses.detection.iou_balanced_loc import _check_w_loc

REDUCTIONS = ("none", "mean", "sum")


def _reduction(default: str, override: Optional[str], avg_factor: Optional[float]) -> str:
    if override not in (None,) + REDUCTIONS:
        raise ValueError(f"reduction_override must be None or one of {list(REDUCTIONS)}, got {override!r}")
    reduction = override or default
    if avg_factor is not None and reduction == "sum":
        raise ValueError('avg_factor can not be used with reduction="sum"')
    return reduction


def _check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {list(REDUCTIONS)}, got {reduction!r}")
    return reduction


@MODELS.register_module(name="IoUBalancedClsLoss")
class MMDetIoUBalancedClsLoss(nn.Module):
    r"""IoU-balanced classification loss with mmdet's loss contract.

    Positives' (focal) cross-entropy is weighted by
    :math:`w_i = \mathrm{IoU}_i^\eta \sum_j \mathrm{CE}_j / \sum_j \mathrm{IoU}_j^\eta \mathrm{CE}_j`
    (:func:`slf.losses.detection.iou_balanced_cls_loss`), negatives by 1. Called by
    mmdet's dense heads once per FPN level, so the normalisation runs per level (as in
    the authors' mmdet code), which keeps each level's positive total and so the sum.

    Args:
        use_sigmoid: one-vs-all sigmoid form (background label ``num_classes``) or
            softmax form (``num_classes + 1`` outputs, the last the background).
        eta: :math:`\eta \geq 0` (default 1.5, the paper's; 0 gives the plain loss).
        gamma, alpha: focal terms (``gamma=2, alpha=0.25`` is RetinaNet's ``FocalLoss``);
            the defaults ``0, None`` give the cross-entropy.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
        loss_weight: multiplies the result.

    Shape:
        - pred: :math:`(N, C)` logits.
        - target: ``(labels, ious)``, each :math:`(N,)`; IoUs of the decoded predicted
          boxes with their ground truth, read for positives.
        - weight: :math:`(N,)` per-anchor weights (``label_weights``) or ``None``.
        - result: scalar, or :math:`(N,)` (summed over classes) for ``'none'``. As for
          ``QualityFocalLoss``, ``'mean'`` without ``avg_factor`` averages over the
          :math:`N` anchors (``CrossEntropyLoss(use_sigmoid=True)`` over the
          :math:`N C` entries); with ``avg_factor`` (dense heads) both are the same.

    Example:
        >>> from mmdet.registry import MODELS
        >>> from mmengine.registry import init_default_scope
        >>> init_default_scope('mmdet')
        >>> import slf_mmdet
        >>> loss = MODELS.build(dict(type='IoUBalancedClsLoss', eta=1.5))
        >>> logits, labels = torch.tensor([[2.0, -1.0], [0.5, 0.0], [-1.0, -2.0]]), torch.tensor([0, 0, 2])
        >>> loss(logits, (labels, torch.tensor([0.9, 0.3, 0.0])), avg_factor=2.0)
        tensor(1.0238)
    """

    def __init__(
        self,
        use_sigmoid: bool = True,
        eta: float = 1.5,
        gamma: float = 0.0,
        alpha: Optional[float] = None,
        reduction: str = "mean",
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        core = IoUBalancedClsLoss(eta=eta, use_sigmoid=use_sigmoid, gamma=gamma, alpha=alpha)  # checks the options
        self.use_sigmoid, self.eta, self.gamma, self.alpha = core.use_sigmoid, core.eta, core.gamma, core.alpha
        self.reduction = _check_reduction(reduction)
        self.loss_weight = loss_weight

    def forward(
        self,
        pred: Tensor,
        target: Union[Tuple[Tensor, Tensor], Sequence[Tensor]],
        weight: Optional[Tensor] = None,
        avg_factor: Optional[float] = None,
        reduction_override: Optional[str] = None,
    ) -> Tensor:
        reduction = _reduction(self.reduction, reduction_override, avg_factor)
        if torch.is_tensor(target) or not isinstance(target, (tuple, list)) or len(target) != 2:
            raise TypeError(
                "IoUBalancedClsLoss: target must be a pair (labels, ious) of tensors of shape (N,), "
                "as IoUBalancedRetinaHead passes it"
            )
        labels, ious = target
        if pred.numel() == 0:  # mmdet's convention: a zero that keeps the graph
            return pred.sum(dim=-1) * 0 if reduction == "none" else pred.sum() * 0
        if weight is not None:
            if weight.shape != labels.shape:
                raise ValueError(
                    f"IoUBalancedClsLoss: weight must be per anchor, of shape {tuple(labels.shape)}, "
                    f"got {tuple(weight.shape)}"
                )
            weight = weight.to(pred.dtype)
        per_anchor = iou_balanced_cls_loss(
            pred,
            labels,
            ious.to(pred.dtype),
            eta=self.eta,
            use_sigmoid=self.use_sigmoid,
            gamma=self.gamma,
            alpha=self.alpha,
            weight=weight,
            reduction="none",
        )
        return self.loss_weight * weight_reduce_loss(per_anchor, None, reduction, avg_factor)


@MODELS.register_module(name="IoUBalancedLocLoss")
class MMDetIoUBalancedLocLoss(nn.Module):
    r"""IoU-balanced smooth L1 with mmdet's bbox-loss contract.

    Each row's smooth L1 is weighted by :math:`w_i = w_{loc}\,\mathrm{IoU}_i^\lambda`
    (detached); with ``w_loc=None`` the weights are normalised so that
    :math:`\sum_i r_i w_i = \sum_i r_i` over the rows' weights :math:`r_i` (the mean of
    each row of ``weight``: 1 for positive anchors, 0 for the rest), i.e. the positives'
    weights keep their sum (:func:`slf.losses.detection.iou_balanced_weights`). The
    smooth L1 and the reduction are mmdet's ``smooth_l1_loss``: with ``lam=0`` this is
    exactly ``SmoothL1Loss``.

    Args:
        lam: :math:`\lambda \geq 0` (default 1.5, the authors').
        beta: smooth L1 threshold ``> 0`` (RetinaNet's smooth L1 used 0.11).
        w_loc: ``None`` (normalised weights) or a constant ``> 0``.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
        loss_weight: multiplies the result.

    Shape:
        - pred: :math:`(N, 4)` decoded boxes (``reg_decoded_bbox=True``) or deltas.
        - target: :math:`(N, 4)` ground-truth boxes (the IoU is then
          ``bbox_overlaps(pred, target, is_aligned=True)``), or ``(targets, ious)``
          with ``ious`` :math:`(N,)` (deltas, from :class:`IoUBalancedRetinaHead`).
        - weight: :math:`(N, 4)` or :math:`(N,)`, or ``None``.
        - result: scalar, or :math:`(N, 4)` for ``'none'``.

    Example:
        >>> from mmdet.registry import MODELS
        >>> from mmengine.registry import init_default_scope
        >>> init_default_scope('mmdet')
        >>> import slf_mmdet
        >>> loss = MODELS.build(dict(type='IoUBalancedLocLoss', lam=1.5, beta=1.0))
        >>> gt = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0]])
        >>> pred = gt + torch.tensor([[0.0, 0.0, 1.0, 0.0], [4.0, 0.0, 0.0, 0.0]])
        >>> loss(pred, gt, reduction_override='sum')  # IoUs 1/1.1 and 0.6
        tensor(3.0942)
    """

    def __init__(
        self,
        lam: float = 1.5,
        beta: float = 1.0,
        w_loc: Optional[float] = None,
        reduction: str = "mean",
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta > 0:
            raise ValueError(f"IoUBalancedLocLoss: beta must be a number > 0 (mmdet's smooth L1), got {beta!r}")
        self.lam = check_exponent(lam, "lam", "IoUBalancedLocLoss")
        self.beta = float(beta)
        self.w_loc = _check_w_loc(w_loc, "IoUBalancedLocLoss")
        self.reduction = _check_reduction(reduction)
        self.loss_weight = loss_weight

    def forward(
        self,
        pred: Tensor,
        target: Union[Tensor, Tuple[Tensor, Tensor], Sequence[Tensor]],
        weight: Optional[Tensor] = None,
        avg_factor: Optional[float] = None,
        reduction_override: Optional[str] = None,
        **kwargs,
    ) -> Tensor:
        reduction = _reduction(self.reduction, reduction_override, avg_factor)
        if torch.is_tensor(target):
            ious = None
        elif isinstance(target, (tuple, list)) and len(target) == 2:
            target, ious = target
        else:
            raise TypeError("IoUBalancedLocLoss: target must be boxes (N, 4) or a pair (targets (N, 4), ious (N,))")
        if pred.shape != target.shape or pred.dim() != 2 or pred.shape[-1] != 4:
            raise ValueError(
                f"IoUBalancedLocLoss: pred and target must both be (N, 4), "
                f"got {tuple(pred.shape)} and {tuple(target.shape)}"
            )
        if pred.numel() == 0:
            return pred * 0 if reduction == "none" else pred.sum() * 0
        if weight is not None and weight.dim() == 1:
            weight = weight.unsqueeze(1).expand_as(pred)
        if ious is None:
            ious = bbox_overlaps(pred.detach(), target.detach(), is_aligned=True)
        ious = ious.detach().to(pred.dtype).clamp(0.0, 1.0)
        if self.w_loc is None:
            factors = iou_balanced_weights(ious, self.lam, weight=None if weight is None else weight.mean(dim=1))
        else:
            factors = self.w_loc * ious.pow(self.lam)
        element_weight = factors.unsqueeze(1).expand_as(pred)
        if weight is not None:
            element_weight = element_weight * weight.to(pred.dtype)
        return self.loss_weight * smooth_l1_loss(
            pred, target, element_weight, beta=self.beta, reduction=reduction, avg_factor=avg_factor
        )


@MODELS.register_module()
class IoUBalancedRetinaHead(RetinaHead):
    """mmdet's ``RetinaHead`` that gives its losses the IoU of each positive's predicted box.

    Per FPN level it decodes the positive anchors' predictions and (without
    ``reg_decoded_bbox``) their regression targets with ``bbox_coder``, takes
    ``bbox_overlaps(..., is_aligned=True)`` between them (no gradient), and calls

    - ``loss_cls(cls_score, (labels, ious), label_weights, avg_factor)`` when ``loss_cls``
      is an ``IoUBalancedClsLoss`` (else mmdet's ``loss_cls(cls_score, labels, ...)``);
    - ``loss_bbox(bbox_pred, (bbox_targets, ious), ...)`` when ``loss_bbox`` is an
      ``IoUBalancedLocLoss`` on deltas; with ``reg_decoded_bbox=True``, or any other
      ``loss_bbox``, mmdet's own call on decoded boxes or deltas.

    Targets, anchors, sampling and everything else are ``RetinaHead``'s. Negatives get IoU 0.
    The defaults are the paper's RetinaNet losses: ``IoUBalancedClsLoss`` with the sigmoid
    focal terms (``gamma=2, alpha=0.25``) and ``eta=1.5``, ``IoUBalancedLocLoss`` on deltas
    with ``lam=1.5, beta=0.11``.

    Args:
        loss_cls, loss_bbox: loss configs. An ``IoUBalancedClsLoss`` config without
            ``use_sigmoid`` gets the loss's own default ``True`` (``AnchorHead`` reads the
            flag from the config to size ``retina_cls``, and would assume ``False``).
        *args: ``RetinaHead``'s positional arguments.
        **kwargs: ``RetinaHead``'s keyword arguments.

    Example:
        >>> from mmdet.registry import MODELS
        >>> from mmengine.registry import init_default_scope
        >>> init_default_scope('mmdet')
        >>> import slf_mmdet
        >>> head = MODELS.build(dict(type='IoUBalancedRetinaHead', num_classes=1, in_channels=8, feat_channels=8,
        ...                          stacked_convs=1, loss_cls=dict(type='IoUBalancedClsLoss', gamma=2.0, alpha=0.25),
        ...                          loss_bbox=dict(type='IoUBalancedLocLoss', beta=0.11)))
        >>> type(head.loss_cls).__name__, type(head.loss_bbox).__name__
        ('MMDetIoUBalancedClsLoss', 'MMDetIoUBalancedLocLoss')
    """

    def __init__(
        self,
        *args: Any,
        loss_cls: ConfigType = dict(type="IoUBalancedClsLoss", use_sigmoid=True, eta=1.5, gamma=2.0, alpha=0.25),
        loss_bbox: ConfigType = dict(type="IoUBalancedLocLoss", lam=1.5, beta=0.11),
        **kwargs: Any,
    ) -> None:
        loss_cls = dict(loss_cls)
        if loss_cls.get("type") in ("IoUBalancedClsLoss", MMDetIoUBalancedClsLoss):
            loss_cls.setdefault("use_sigmoid", True)
        super().__init__(*args, loss_cls=loss_cls, loss_bbox=loss_bbox, **kwargs)

    def positive_ious(self, anchors: Tensor, bbox_pred: Tensor, bbox_targets: Tensor, labels: Tensor) -> Tensor:
        """IoU of each positive anchor's decoded prediction with its ground truth; 0 elsewhere. ``(N,)``, detached."""
        ious = bbox_pred.new_zeros(labels.shape[0])
        positive = torch.nonzero((labels >= 0) & (labels < self.num_classes)).squeeze(1)
        if positive.numel() == 0:
            return ious
        with torch.no_grad():
            pos_anchors = anchors[positive]
            boxes = get_box_tensor(self.bbox_coder.decode(pos_anchors, bbox_pred[positive].detach()))
            gt = bbox_targets[positive]
            if not self.reg_decoded_bbox:
                gt = get_box_tensor(self.bbox_coder.decode(pos_anchors, gt))
            ious[positive] = bbox_overlaps(boxes, gt, is_aligned=True).clamp(0.0, 1.0).to(ious.dtype)
        return ious

    def loss_by_feat_single(
        self,
        cls_score: Tensor,
        bbox_pred: Tensor,
        anchors: Tensor,
        labels: Tensor,
        label_weights: Tensor,
        bbox_targets: Tensor,
        bbox_weights: Tensor,
        avg_factor: int,
    ) -> tuple:
        # the reshapes of AnchorHead.loss_by_feat_single, then the IoUs of the positives
        labels = labels.reshape(-1)
        label_weights = label_weights.reshape(-1)
        cls_score = cls_score.permute(0, 2, 3, 1).reshape(-1, self.cls_out_channels)
        target_dim = bbox_targets.size(-1)
        bbox_targets = bbox_targets.reshape(-1, target_dim)
        bbox_weights = bbox_weights.reshape(-1, target_dim)
        bbox_pred = bbox_pred.permute(0, 2, 3, 1).reshape(-1, self.bbox_coder.encode_size)
        anchors = anchors.reshape(-1, anchors.size(-1))
        ious = self.positive_ious(anchors, bbox_pred, bbox_targets, labels)

        cls_target = (labels, ious) if isinstance(self.loss_cls, MMDetIoUBalancedClsLoss) else labels
        loss_cls = self.loss_cls(cls_score, cls_target, label_weights, avg_factor=avg_factor)
        if self.reg_decoded_bbox:
            bbox_pred = get_box_tensor(self.bbox_coder.decode(anchors, bbox_pred))
            bbox_target = bbox_targets
        elif isinstance(self.loss_bbox, MMDetIoUBalancedLocLoss):
            bbox_target = (bbox_targets, ious)
        else:
            bbox_target = bbox_targets
        loss_bbox = self.loss_bbox(bbox_pred, bbox_target, bbox_weights, avg_factor=avg_factor)
        return loss_cls, loss_bbox


__all__ = ["IoUBalancedRetinaHead", "MMDetIoUBalancedClsLoss", "MMDetIoUBalancedLocLoss"]
