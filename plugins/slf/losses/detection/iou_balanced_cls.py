"""IoU-balanced classification loss of Wu et al. (2019/2022) (registry: ``iou_balanced_cls``, task ``detection``).

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
from .iou import check_exponent, check_ious, check_sample_weight, iou_balanced_weights

ClsTarget = Union[Tuple[Tensor, Tensor], Sequence[Tensor]]
_INDEX_DTYPES = (torch.int64, torch.int32, torch.int16, torch.uint8)


def _check_alpha(alpha: Optional[float], use_sigmoid: bool, name: str) -> Optional[float]:
    if alpha is None:
        return None
    if not use_sigmoid:
        raise ValueError(
            f"{name}: alpha applies to the sigmoid form only (use_sigmoid=True); got alpha={alpha!r} "
            "with use_sigmoid=False"
        )
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not (math.isfinite(alpha) and 0 <= alpha <= 1):
        raise ValueError(f"{name}: alpha must be None or a number in [0, 1], got {alpha!r}")
    return float(alpha)


def _check_use_sigmoid(use_sigmoid: bool, name: str) -> bool:
    if not isinstance(use_sigmoid, bool):
        raise TypeError(
            f"{name}: use_sigmoid must be True (one-vs-all sigmoid) or False (softmax), got {use_sigmoid!r}"
        )
    return use_sigmoid


def split_target(target: ClsTarget, name: str) -> Tuple[Tensor, Tensor]:
    """``(labels, ious)`` from a target pair, as mmdet's ``QualityFocalLoss`` takes it."""
    if torch.is_tensor(target) or not isinstance(target, (tuple, list)) or len(target) != 2:
        raise TypeError(
            f"{name}: target must be a pair (labels, ious) of tensors of shape (N,), got "
            f"{_describe(target) if torch.is_tensor(target) else repr(type(target).__name__)}"
        )
    return target[0], target[1]


def check_cls_inputs(logits: Tensor, labels: Tensor, ious: Tensor, use_sigmoid: bool, name: str) -> None:
    """Logits ``(N, C)``; labels ``(N,)`` in ``[0, C]`` (sigmoid) or ``[0, C)`` (softmax); IoUs ``(N,)``."""
    if not torch.is_tensor(logits) or not logits.is_floating_point() or logits.dim() != 2:
        raise ValueError(f"{name}: logits must be a floating point tensor of shape (N, C), got {_describe(logits)}")
    n, c = logits.shape
    if not use_sigmoid and c < 2:
        raise ValueError(
            f"{name}: the softmax form needs C >= 2 columns (the classes, then the background), got C = {c}"
        )
    if not torch.is_tensor(labels) or labels.dtype not in _INDEX_DTYPES or labels.shape != (n,):
        raise ValueError(
            f"{name}: labels must be an integer tensor of class indices of shape ({n},), got {_describe(labels)}"
        )
    top = c if use_sigmoid else c - 1
    if n and (int(labels.min()) < 0 or int(labels.max()) > top):
        form = (
            f"sigmoid form: classes 0..{c - 1}, background {c}"
            if use_sigmoid
            else f"softmax form: classes 0..{c - 2}, background {c - 1} (the last column)"
        )
        raise ValueError(
            f"{name}: labels must lie in [0, {top}] ({form}), got min {int(labels.min())}, max {int(labels.max())}"
        )
    check_ious(ious, n, name)


def positive_mask(logits: Tensor, labels: Tensor, use_sigmoid: bool) -> Tensor:
    """Foreground samples: labels below the background index (``C`` sigmoid, ``C - 1`` softmax)."""
    background = logits.shape[1] if use_sigmoid else logits.shape[1] - 1
    return labels.long() < background


def _iou_balanced_cls(
    logits: Tensor,
    labels: Tensor,
    ious: Tensor,
    eta: float,
    use_sigmoid: bool,
    gamma: float,
    alpha: Optional[float],
    weight: Optional[Tensor],
) -> Tensor:
    labels = labels.long()
    positive = positive_mask(logits, labels, use_sigmoid)
    if use_sigmoid:
        # one-vs-all: a positive is a positive for its own class only (the other columns are negatives)
        onehot = F.one_hot(labels, logits.shape[1] + 1)[:, :-1].to(logits.dtype)
        elements = F.binary_cross_entropy_with_logits(logits, onehot, reduction="none")
        if gamma != 0.0:
            # 1 - p_t = sigmoid(-z) for the target class, sigmoid(z) otherwise: accurate near p_t = 1
            elements = torch.sigmoid(torch.where(onehot > 0, -logits, logits)).pow(gamma) * elements
        if alpha is not None:
            elements = (alpha * onehot + (1.0 - alpha) * (1.0 - onehot)) * elements
        rows = torch.nonzero(positive).squeeze(1)
        positive_losses = elements[rows, labels[rows]]
    else:
        log_p = F.log_softmax(logits, dim=1).gather(1, labels.unsqueeze(1)).squeeze(1)
        elements = -log_p
        if gamma != 0.0:
            elements = (-torch.expm1(log_p)).clamp(min=0.0).pow(gamma) * elements
        positive_losses = elements[positive]
    pos_weight = None if weight is None else weight[positive]
    w = iou_balanced_weights(ious[positive], eta, losses=positive_losses, weight=pos_weight)
    factors = torch.ones(logits.shape[0], dtype=logits.dtype, device=logits.device)
    factors[positive] = w.to(logits.dtype)
    if use_sigmoid:
        # only the positives' own-class entries are rescaled
        scale = torch.ones_like(elements)
        scale[rows, labels[rows]] = factors[rows]
        values = (elements * scale).sum(dim=1)
    else:
        values = elements * factors
    return values if weight is None else values * weight.to(values.dtype)


def iou_balanced_cls_loss(
    logits: Tensor,
    labels: Tensor,
    ious: Tensor,
    eta: float = 1.5,
    use_sigmoid: bool = True,
    gamma: float = 0.0,
    alpha: Optional[float] = None,
    weight: Optional[Tensor] = None,
    reduction: str = "mean",
) -> Tensor:
    r"""IoU-balanced classification loss: positives' cross-entropy weighted by their normalised IoU.

    .. math::

        L = \sum_{i \in Pos} w_i\,\mathrm{CE}_i + \sum_{i \in Neg} \mathrm{CE}_i,\qquad
        w_i = \mathrm{IoU}_i^{\,\eta}\,
              \frac{\sum_{j \in Pos} \mathrm{CE}_j}{\sum_{j \in Pos} \mathrm{IoU}_j^{\,\eta}\,\mathrm{CE}_j}

    Positives whose predicted box overlaps their ground truth well get more weight,
    the poorly localised less, and the normalisation keeps the positives' total loss
    what the plain cross-entropy gives. The weights :math:`w_i`,
    normaliser included, carry no gradient (the authors' code detaches them), and the
    IoU is that of the *decoded predicted* box with its ground-truth box. Negatives keep
    weight 1; with :math:`\eta = 0` the loss is the plain cross-entropy.

    Forms:

    - ``use_sigmoid=True`` (mmdet's one-vs-all, as RetinaNet): ``C`` logits, label
      ``C`` is the background; :math:`\mathrm{CE}` is the binary cross-entropy of each
      class column. A positive is a positive for its own class only, so only its
      entry ``(i, label_i)`` is rescaled (as the authors' implementation); its other
      columns are negatives of those classes. ``gamma``/``alpha`` turn each entry into
      the sigmoid focal loss :math:`\alpha_t (1 - p_t)^\gamma \mathrm{BCE}` (mmdet's
      ``FocalLoss`` convention): the paper's RetinaNet setting.
    - ``use_sigmoid=False`` (softmax): ``C`` logits whose last column is the
      background (mmdet's ``num_classes + 1`` outputs), labels in ``[0, C)``;
      ``gamma`` gives the softmax focal factor :math:`(1 - p_y)^\gamma`.

    The paper (and the authors' RetinaNet config) use :math:`\eta = 1.5`.

    Args:
        logits: raw class scores.
        labels: class indices, the background index for negatives.
        ious: IoU in ``[0, 1]`` of each sample's decoded predicted box with its
            ground truth (read for positives only; give 0 for negatives). Detached.
        eta: :math:`\eta \geq 0` (default 1.5).
        use_sigmoid: sigmoid (one-vs-all) or softmax form.
        gamma: focal exponent :math:`\geq 0` (default 0: cross-entropy).
        alpha: sigmoid focal balance in ``[0, 1]`` or ``None``.
        weight: optional per-sample weights :math:`\geq 0` (mmdet's ``label_weights``);
            they scale each sample and enter the normalisation.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - logits: :math:`(N, C)`; labels, ious, weight: :math:`(N,)`.
        - output: :math:`(N,)` for ``'none'`` (summed over the class columns), else a scalar.

    Example:
        >>> logits = torch.tensor([[2.0, -1.0], [0.5, 0.0], [-1.0, -2.0]])
        >>> labels = torch.tensor([0, 0, 2])  # two positives of class 0, one background (= C)
        >>> ious = torch.tensor([0.9, 0.3, 0.0])
        >>> iou_balanced_cls_loss(logits, labels, ious, eta=0.0, reduction="none")  # plain BCE
        tensor([0.4402, 1.1672, 0.4402])
        >>> iou_balanced_cls_loss(logits, labels, ious, eta=1.5, reduction="none")  # same positive total
        tensor([0.6629, 0.9445, 0.4402])
    """
    check_reduction(reduction)
    name = "iou_balanced_cls"
    eta = check_exponent(eta, "eta", name)
    gamma = check_exponent(gamma, "gamma", name)
    use_sigmoid = _check_use_sigmoid(use_sigmoid, name)
    alpha = _check_alpha(alpha, use_sigmoid, name)
    check_cls_inputs(logits, labels, ious, use_sigmoid, name)
    check_sample_weight(weight, logits.shape[0], name)
    return reduce_loss(_iou_balanced_cls(logits, labels, ious, eta, use_sigmoid, gamma, alpha, weight), reduction)


@register("iou_balanced_cls", "detection")
class IoUBalancedClsLoss(BaseLoss):
    r"""IoU-balanced classification loss; see :func:`iou_balanced_cls_loss`.

    The target is the pair ``(labels, ious)``, as mmdet's ``QualityFocalLoss`` takes it.

    Args:
        eta: :math:`\eta \geq 0` (default 1.5, the paper's).
        use_sigmoid: sigmoid one-vs-all form (background label ``C``) or softmax form
            (background is the last of the ``C`` columns).
        gamma: focal exponent :math:`\geq 0` (default 0: cross-entropy).
        alpha: sigmoid focal balance in ``[0, 1]`` or ``None``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - input: :math:`(N, C)` logits; target: ``(labels, ious)``, each :math:`(N,)`.
        - output: :math:`(N,)` for ``'none'``, else a scalar.

    Example:
        >>> loss = IoUBalancedClsLoss(eta=1.5, use_sigmoid=False)
        >>> logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.5, 0.0], [0.0, 0.0, 3.0]])
        >>> labels, ious = torch.tensor([0, 1, 2]), torch.tensor([0.8, 0.4, 0.0])  # class 2: background
        >>> loss(logits, (labels, ious), reduction="none")
        tensor([0.3634, 0.6009, 0.0949])
    """

    task = "detection"

    def __init__(
        self,
        eta: float = 1.5,
        use_sigmoid: bool = True,
        gamma: float = 0.0,
        alpha: Optional[float] = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        self.eta = check_exponent(eta, "eta", self.name)
        self.gamma = check_exponent(gamma, "gamma", self.name)
        self.use_sigmoid = _check_use_sigmoid(use_sigmoid, self.name)
        self.alpha = _check_alpha(alpha, self.use_sigmoid, self.name)

    def validate(self, input: Tensor, target: ClsTarget) -> None:
        labels, ious = split_target(target, self.name)
        check_cls_inputs(input, labels, ious, self.use_sigmoid, self.name)

    def per_sample(self, input: Tensor, target: ClsTarget) -> Tensor:
        labels, ious = split_target(target, self.name)
        return _iou_balanced_cls(input, labels, ious, self.eta, self.use_sigmoid, self.gamma, self.alpha, None)

    def extra_repr(self) -> str:
        return (
            f"eta={self.eta}, use_sigmoid={self.use_sigmoid}, gamma={self.gamma}, alpha={self.alpha}, "
            + super().extra_repr()
        )
