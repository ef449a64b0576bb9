r"""Boundary loss of Kervadec et al. (MIDL 2019; MedIA 2021) (registry: ``boundary``, task ``segmentation``).

"Boundary loss for highly unbalanced segmentation": a distance between the contours of the
prediction and of the ground truth, written as a regional integral of the softmax output
weighted by the ground truth's signed distance map
(:func:`~slf.losses.segmentation.distance_maps.signed_distance_maps`).
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from ..base import BaseLoss, _describe, check_reduction, per_sample_mean, reduce_loss
from ..registry import register
from ._inputs import (
    Classes,
    Spacing,
    check_classes,
    check_from_logits,
    check_segmentation_inputs,
    check_spacing,
    check_spacing_format,
    class_probabilities,
    resolve_classes,
)
from .distance_maps import distance_maps_numpy


def _check_distance_maps(distance_maps: Tensor, input: Tensor, name: str) -> None:
    if not torch.is_tensor(distance_maps) or not distance_maps.is_floating_point():
        raise TypeError(
            f"{name}: distance_maps must be a floating point tensor (N, C, *spatial) from "
            f"signed_distance_maps(labels, C), got {_describe(distance_maps)}"
        )
    if distance_maps.shape != input.shape:
        raise ValueError(
            f"{name}: distance_maps must have the input's shape {tuple(input.shape)} (one map per class, "
            f"as signed_distance_maps(labels, C) gives), got {tuple(distance_maps.shape)}"
        )


def _boundary(
    input: Tensor,
    target: Tensor,
    distance_maps: Optional[Tensor],
    classes: Optional[Tuple[int, ...]],
    from_logits: bool,
    spacing: Spacing,
    name: str = "boundary",
) -> Tensor:
    selected = list(resolve_classes(classes, input.shape[1], 1, name))
    probs = class_probabilities(input, from_logits)[:, selected]
    if distance_maps is None:
        spacing = check_spacing(spacing, target.dim() - 1, name)
        phi = torch.from_numpy(distance_maps_numpy(target.detach().cpu().numpy(), selected, spacing))
    else:
        _check_distance_maps(distance_maps, input, name)
        phi = distance_maps.detach()[:, selected]
    phi = phi.to(device=input.device, dtype=input.dtype)
    index = torch.tensor(selected, device=target.device).view((1, -1) + (1,) * (target.dim() - 1))
    region = (target.unsqueeze(1) == index).to(input.dtype)
    # phi * (s - g) >= 0 everywhere (phi > 0 outside G where s - g >= 0, phi <= 0 inside where s - g <= 0).
    return per_sample_mean(phi * (probs - region))


def boundary_loss(
    input: Tensor,
    target: Tensor,
    distance_maps: Optional[Tensor] = None,
    classes: Classes = None,
    from_logits: bool = True,
    spacing: Spacing = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Boundary loss: the distance of the predicted regions' contours from the ground truth's.

    The paper's loss is :math:`L_B(\theta) = \int_\Omega \phi_G(q)\, s_\theta(q)\, dq` with
    :math:`\phi_G` the signed distance to the ground truth's boundary :math:`\partial G`
    and :math:`s_\theta` the softmax probability. It approximates the contour distance
    :math:`\operatorname{Dist}(\partial G, \partial S) \approx 2 \int_\Omega \phi_G\,(s_\theta - g)`
    up to the constant :math:`\int_\Omega \phi_G\, g` (:math:`g` the one-hot ground truth).
    This loss takes that form, halved, averaged over the selected classes :math:`K` and the
    pixels :math:`\Omega` of each image:

    .. math::

        \ell = \frac{1}{|K|\,|\Omega|} \sum_{k \in K} \sum_{q \in \Omega}
            \phi_{G_k}(q)\,\bigl(s_k(q) - g_k(q)\bigr)

    Its gradient equals that of the paper's (and the reference code's) mean of
    :math:`\phi_G\, s_\theta`, but every term is :math:`\ge 0`: it is ``0`` exactly when
    the prediction is the ground truth's region and grows with the distance of the
    predicted region from it. A class absent from an image has a zero distance map and
    adds nothing.

    Args:
        input: class logits (or probabilities with ``from_logits=False``).
        target: integer label maps, class indices in ``[0, C)``.
        distance_maps: optional precomputed ``signed_distance_maps(target, C, spacing)``
            (e.g. from a data loader); computed from ``target`` when ``None`` (with scipy, on
            the CPU: precomputed maps keep that work out of the training step).
        classes: the classes :math:`K` to measure; default all but the background ``0``
            (the paper's foreground).
        from_logits: ``True`` for logits (softmax over dimension 1), ``False`` for probabilities.
        spacing: pixel size(s) for the distance maps computed here (see
            :func:`~slf.losses.segmentation.distance_maps.signed_distance_maps`).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - input: :math:`(N, C, *spatial)` with :math:`C \ge 2`; target: :math:`(N, *spatial)`.
        - distance_maps: :math:`(N, C, *spatial)`.
        - output: :math:`(N,)` for ``'none'``, else a scalar.

    Example:
        >>> target = torch.zeros(1, 1, 6, dtype=torch.long)
        >>> target[0, 0, 1:3] = 1
        >>> exact = torch.nn.functional.one_hot(target, 2).movedim(-1, 1).float()
        >>> boundary_loss(exact, target, from_logits=False)
        tensor(0.)
        >>> shifted = exact.roll(2, dims=-1)  # moved 2 pixels right: phi = 1, 2 on it, 0 where it left
        >>> boundary_loss(shifted, target, from_logits=False)  # (1 + 2) / 6 pixels
        tensor(0.5000)
    """
    check_reduction(reduction)
    check_from_logits(from_logits, "boundary")
    check_segmentation_inputs(input, target, from_logits, "boundary")
    values = _boundary(input, target, distance_maps, check_classes(classes, "boundary"), from_logits, spacing)
    return reduce_loss(values, reduction)


@register("boundary", "segmentation")
class BoundaryLoss(BaseLoss):
    r"""Boundary loss :math:`\operatorname{mean}\, \phi_G (s_\theta - g)`; see :func:`boundary_loss`.

    Args:
        classes: the classes to measure; default all but the background ``0``.
        from_logits: ``True`` for logits, ``False`` for probabilities.
        spacing: pixel size(s) for the distance maps computed from the labels.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - input: :math:`(N, C, *spatial)` scores; target: :math:`(N, *spatial)` labels;
          ``distance_maps`` (keyword, optional): :math:`(N, C, *spatial)`.
        - output: :math:`(N,)` for ``'none'``, else a scalar.

    Example:
        >>> from slf.losses.segmentation import signed_distance_maps
        >>> target = torch.zeros(2, 8, 8, dtype=torch.long)
        >>> target[:, 2:5, 2:5] = 1
        >>> logits = torch.zeros(2, 2, 8, 8)  # p = 0.5 everywhere
        >>> loss = BoundaryLoss(reduction="none")
        >>> loss(logits, target)
        tensor([0.9467, 0.9467])
        >>> maps = signed_distance_maps(target, 2)  # e.g. computed once in a data loader
        >>> loss(logits, target, distance_maps=maps)
        tensor([0.9467, 0.9467])
    """

    task = "segmentation"
    minimum = 0.0

    def __init__(
        self, classes: Classes = None, from_logits: bool = True, spacing: Spacing = None, reduction: str = "mean"
    ) -> None:
        super().__init__(reduction)
        self.classes = check_classes(classes, self.name)
        self.from_logits = check_from_logits(from_logits, self.name)
        self.spacing = check_spacing_format(spacing, self.name)

    def validate(self, input: Tensor, target: Tensor) -> None:
        check_segmentation_inputs(input, target, self.from_logits, self.name)

    def per_sample(self, input: Tensor, target: Tensor, distance_maps: Optional[Tensor] = None) -> Tensor:
        return _boundary(input, target, distance_maps, self.classes, self.from_logits, self.spacing, self.name)

    def forward(
        self, input: Tensor, target: Tensor, reduction: Optional[str] = None, *, distance_maps: Optional[Tensor] = None
    ) -> Tensor:
        self.validate(input, target)
        values = self.per_sample(input, target, distance_maps)
        return reduce_loss(values, check_reduction(reduction) if reduction else self.reduction)

    def extra_repr(self) -> str:
        classes = "all but 0" if self.classes is None else list(self.classes)
        return f"classes={classes}, from_logits={self.from_logits}, spacing={self.spacing}, " + super().extra_repr()
