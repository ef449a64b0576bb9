r"""Dice losses over label maps (registry: ``dice``, task ``segmentation``).

The generalized Dice loss of Sudre et al. (DLMIA 2017), the regional loss the boundary
loss paper combines with, and the plain soft Dice loss (Milletari et al. 2016, first
powers in the denominator).
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
from torch import Tensor

from ..base import BaseLoss, check_reduction, reduce_loss
from ..registry import register
from ..shared_docs import shared_sections
from ._inputs import (
    Classes,
    check_classes,
    check_from_logits,
    check_segmentation_inputs,
    class_probabilities,
    one_hot_labels,
    resolve_classes,
)

VARIANTS = ("generalized", "soft")


def _check_variant(variant: str, name: str) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"{name}: variant must be one of {list(VARIANTS)}, got {variant!r}")
    return variant


def _check_eps(eps: float, name: str) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps) or eps <= 0:
        raise ValueError(f"{name}: eps must be a finite number > 0, got {eps!r}")
    return float(eps)


def _generalized_weights(counts: Tensor) -> Tensor:
    """Sudre's ``1 / n_k^2``, scaled so the largest weight is 1; absent classes get the largest weight."""
    present = counts > 0
    smallest = torch.where(present, counts, torch.full_like(counts, math.inf)).amin(dim=1, keepdim=True)
    smallest = torch.where(torch.isfinite(smallest), smallest, torch.ones_like(smallest))  # no class present
    # (n_min / n_k)^2: the ratio of Sudre's weights, free of 1 / n^2 underflow on large images.
    return torch.where(present, (smallest / counts.clamp(min=1)) ** 2, torch.ones_like(counts))


def _dice(
    input: Tensor,
    target: Tensor,
    variant: str,
    classes: Optional[Tuple[int, ...]],
    from_logits: bool,
    eps: float,
    name: str = "dice",
) -> Tensor:
    selected = list(resolve_classes(classes, input.shape[1], 0, name))
    probs = class_probabilities(input, from_logits)[:, selected].flatten(2)
    truth = one_hot_labels(target, input.shape[1], input.dtype)[:, selected].flatten(2)
    intersection = (probs * truth).sum(dim=2)  # (N, K)
    union = probs.sum(dim=2) + truth.sum(dim=2)
    if variant == "soft":
        return 1 - ((2 * intersection + eps) / (union + eps)).mean(dim=1)
    weights = _generalized_weights(truth.sum(dim=2).detach())
    return 1 - (2 * (weights * intersection).sum(dim=1) + eps) / ((weights * union).sum(dim=1) + eps)


@shared_sections
def dice_loss(
    input: Tensor,
    target: Tensor,
    variant: str = "generalized",
    classes: Classes = None,
    from_logits: bool = True,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    r"""Generalized (Sudre et al. 2017) or soft Dice loss of probabilities against label maps.

    With :math:`s_k` the probabilities and :math:`g_k` the one-hot ground truth of class
    :math:`k \in K`, :math:`I_k = \sum_q s_k g_k`, :math:`U_k = \sum_q (s_k + g_k)` and
    :math:`n_k = \sum_q g_k` per image:

    .. math::

        \ell_{\text{generalized}} = 1 - \frac{2 \sum_k w_k I_k + \epsilon}{\sum_k w_k U_k + \epsilon},
        \quad w_k \propto \frac{1}{n_k^2};
        \qquad
        \ell_{\text{soft}} = 1 - \frac{1}{|K|} \sum_k \frac{2 I_k + \epsilon}{U_k + \epsilon}

    The generalized weights counter the classes' sizes, so a tiny foreground counts as
    much as the background. Only their ratios matter; they are scaled so the largest is 1,
    which keeps :math:`\epsilon` negligible on any image size. A class absent from an image
    (:math:`n_k = 0`, where :math:`1 / n_k^2` is infinite) gets the largest weight of the
    present classes, as in MONAI's ``GeneralizedDiceLoss`` (the reference code's
    :math:`1 / (n_k + 10^{-10})^2` lets such a class swamp the others). Both losses lie in
    :math:`[0, 1]` and are ``0`` at a perfect prediction.

    Args:
        input: class logits (or probabilities with ``from_logits=False``).
        target: integer label maps, class indices in ``[0, C)``.
        variant: ``'generalized'`` or ``'soft'``.
        classes: the classes :math:`K`; default all, background included (as the paper's
            generalized Dice).
        from_logits: ``True`` for logits (softmax over dimension 1), ``False`` for probabilities.
        eps: smoothing :math:`\epsilon > 0`; makes an empty class predicted empty a perfect 0.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {SEGMENTATION_SHAPE}

    Example:
        >>> probs = torch.tensor([[[0.4, 0.8, 0.9, 0.9], [0.6, 0.2, 0.1, 0.1]]])  # (N=1, C=2, 4 pixels)
        >>> target = torch.tensor([[1, 0, 0, 0]])
        >>> dice_loss(probs, target, from_logits=False)  # weights 1/3^2 (background), 1/1^2
        tensor(0.3333)
        >>> dice_loss(probs, target, variant="soft", from_logits=False)  # 1 - (2.6/3 + 0.6/1) / 2
        tensor(0.2667)
    """
    check_reduction(reduction)
    variant = _check_variant(variant, "dice")
    eps = _check_eps(eps, "dice")
    check_from_logits(from_logits, "dice")
    check_segmentation_inputs(input, target, from_logits, "dice")
    return reduce_loss(_dice(input, target, variant, check_classes(classes, "dice"), from_logits, eps), reduction)


@shared_sections
@register("dice", "segmentation")
class DiceLoss(BaseLoss):
    r"""Generalized or soft Dice loss over label maps; see :func:`dice_loss`.

    Args:
        variant: ``'generalized'`` (Sudre et al. 2017) or ``'soft'``.
        classes: the classes to measure; default all.
        from_logits: ``True`` for logits, ``False`` for probabilities.
        eps: smoothing :math:`\epsilon > 0`.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {SEGMENTATION_MODULE_SHAPE}

    Example:
        >>> target = torch.zeros(2, 8, 8, dtype=torch.long)
        >>> target[0, 3:5, 3:5] = 1  # a tiny foreground; the second image has none
        >>> loss = DiceLoss(reduction="none")
        >>> loss(torch.zeros(2, 2, 8, 8), target)  # p = 0.5 everywhere
        tensor([0.8828, 0.5000])
        >>> loss(100 * torch.nn.functional.one_hot(target, 2).movedim(-1, 1).float(), target)
        tensor([0., 0.])
    """

    task = "segmentation"
    minimum = 0.0

    def __init__(
        self,
        variant: str = "generalized",
        classes: Classes = None,
        from_logits: bool = True,
        eps: float = 1e-6,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        self.variant = _check_variant(variant, self.name)
        self.classes = check_classes(classes, self.name)
        self.from_logits = check_from_logits(from_logits, self.name)
        self.eps = _check_eps(eps, self.name)

    def validate(self, input: Tensor, target: Tensor) -> None:
        check_segmentation_inputs(input, target, self.from_logits, self.name)

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _dice(input, target, self.variant, self.classes, self.from_logits, self.eps, self.name)

    def extra_repr(self) -> str:
        classes = "all" if self.classes is None else list(self.classes)
        return (
            f"variant={self.variant!r}, classes={classes}, from_logits={self.from_logits}, eps={self.eps:g}, "
            + super().extra_repr()
        )
