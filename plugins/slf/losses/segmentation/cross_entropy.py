r"""Pixel-wise cross-entropy of label maps (registry: ``ce``, task ``segmentation``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..base import BaseLoss, per_sample_mean
from ..registry import register
from ..shared_docs import shared_sections
from ._inputs import check_from_logits, check_segmentation_inputs

_LOG_CLAMP = -100.0  # as torch's binary_cross_entropy


def _log_probabilities(input: Tensor, from_logits: bool) -> Tensor:
    if from_logits:
        return F.log_softmax(input, dim=1)
    # Clamping before the log keeps the gradient finite at p = 0 (log's 1/p times a zero clamp gradient).
    return input.clamp(min=torch.finfo(input.dtype).tiny).log().clamp(min=_LOG_CLAMP)


def _segmentation_cross_entropy(input: Tensor, target: Tensor, from_logits: bool) -> Tensor:
    log_p = _log_probabilities(input, from_logits).gather(1, target.long().unsqueeze(1)).squeeze(1)
    return per_sample_mean(-log_p)


@shared_sections
def segmentation_cross_entropy_loss(
    input: Tensor, target: Tensor, from_logits: bool = True, reduction: str = "mean"
) -> Tensor:
    r"""Cross-entropy of every pixel, averaged over the pixels :math:`\Omega` of each image.

    .. math::

        \ell = -\frac{1}{|\Omega|} \sum_{q \in \Omega} \log s_{y_q}(q),
        \qquad s = \operatorname{softmax}(z) \text{ over the classes}

    from ``log_softmax`` for logits; with ``from_logits=False`` the logs of the
    probabilities are clamped at ``-100`` as in torch's ``binary_cross_entropy``.

    Args:
        input: class logits (or probabilities with ``from_logits=False``).
        target: integer label maps, class indices in ``[0, C)``.
        from_logits: ``True`` for logits, ``False`` for probabilities.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {SEGMENTATION_SHAPE}

    Example:
        >>> logits = torch.tensor([[[2.0, 0.0], [0.0, 2.0]]])  # (N=1, C=2, 2 pixels)
        >>> segmentation_cross_entropy_loss(logits, torch.tensor([[0, 1]]), reduction="none")
        tensor([0.1269])
    """
    return SegmentationCrossEntropyLoss(from_logits, reduction)(input, target)


@shared_sections
@register("ce", "segmentation")
class SegmentationCrossEntropyLoss(BaseLoss):
    r"""Pixel-wise cross-entropy averaged per image; see :func:`segmentation_cross_entropy_loss`.

    Args:
        from_logits: ``True`` for logits, ``False`` for probabilities.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {SEGMENTATION_MODULE_SHAPE}

    Example:
        >>> loss = SegmentationCrossEntropyLoss(reduction="none")
        >>> loss(torch.zeros(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4)))  # log 3 at uniform scores
        tensor([1.0986, 1.0986])
    """

    task = "segmentation"
    minimum = 0.0

    def __init__(self, from_logits: bool = True, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.from_logits = check_from_logits(from_logits, self.name)

    def validate(self, input: Tensor, target: Tensor) -> None:
        check_segmentation_inputs(input, target, self.from_logits, self.name)

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _segmentation_cross_entropy(input, target, self.from_logits)

    def extra_repr(self) -> str:
        return f"from_logits={self.from_logits}, " + super().extra_repr()
