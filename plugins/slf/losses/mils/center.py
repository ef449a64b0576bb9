"""Center loss of Wen et al. (2016) (registry: ``center``, task ``classification``).

Y. Wen, K. Zhang, Z. Li, Y. Qiao, "A Discriminative Feature Learning Approach for Deep
Face Recognition", ECCV 2016. The loss owns one learnable center per class and reads
penultimate features; it has no classifier of its own (no ``.logits``), so it serves as
an auxiliary next to a loss that trains the model's classifier (e.g. in MILS).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..base import BaseLoss, _describe, check_reduction, reduce_loss
from ..baselines.large_margin_softmax import _check_inputs as check_feature_inputs
from ..registry import register
from ..shared_docs import shared_sections


def _check_size(value: int, what: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: {what} must be a positive integer, got {value!r}")
    return value


def _center(features: Tensor, target: Tensor, centers: Tensor) -> Tensor:
    return 0.5 * (features - centers[target.long()]).pow(2).sum(dim=1)


def center_loss(features: Tensor, target: Tensor, centers: Tensor, reduction: str = "mean") -> Tensor:
    r"""Half the squared distance of each feature to its class center.

    .. math::

        \ell(f, y) = \tfrac{1}{2} \lVert f - c_y \rVert_2^2

    Gradients reach both the features and the centers (the paper's separate center
    update rule with rate :math:`\alpha` is, up to scaling, a gradient step on
    :math:`c_y`; here the centers are an ``nn.Parameter`` updated by an optimizer).

    Args:
        features: penultimate features :math:`f`.
        target: class indices in ``[0, C)``.
        centers: one center per class.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - features: :math:`(N, D)`, floating point.
        - target: :math:`(N,)`, integer.
        - centers: :math:`(C, D)`.
        - output: :math:`(N,)` for ``'none'``, else a scalar.

    Example:
        >>> centers = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
        >>> features = torch.tensor([[0.0, 0.0], [3.0, 1.0]])
        >>> center_loss(features, torch.tensor([0, 1]), centers, reduction="none")
        tensor([0., 2.])
    """
    check_reduction(reduction)
    if not torch.is_tensor(centers) or centers.dim() != 2:
        raise ValueError(f"center: centers must have shape (C, D), got {_describe(centers)}")
    check_feature_inputs(features, target, centers, "center")
    return reduce_loss(_center(features, target, centers), reduction)


@shared_sections
@register("center", "classification")
class CenterLoss(BaseLoss):
    r"""Center loss :math:`\tfrac12 \lVert f - c_y \rVert^2` with learnable centers; see :func:`center_loss`.

    Reads **penultimate features** (``input_kind = "features"``). The centers
    :math:`(C, D)` are an ``nn.Parameter`` initialised from :math:`\mathcal N(0, 1)`;
    the module has no ``logits`` method, so pair it with a loss that trains the
    model's classifier.

    Args:
        in_features: feature dimension :math:`D`.
        num_classes: number of classes :math:`C`.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {FEATURES_MODULE_SHAPE}

    Example:
        >>> loss = CenterLoss(in_features=2, num_classes=3)
        >>> loss.centers.shape
        torch.Size([3, 2])
        >>> features = loss.centers.detach()[[0, 2]]
        >>> loss(features, torch.tensor([0, 2]))
        tensor(0., grad_fn=<DivBackward0>)
    """

    task = "classification"
    input_kind = "features"

    def __init__(self, in_features: int, num_classes: int, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.in_features = _check_size(in_features, "in_features", self.name)
        self.num_classes = _check_size(num_classes, "num_classes", self.name)
        self.centers = nn.Parameter(torch.empty(num_classes, in_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the centers from a standard normal distribution."""
        nn.init.normal_(self.centers)

    def validate(self, input: Tensor, target: Tensor) -> None:
        check_feature_inputs(input, target, self.centers, self.name)

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _center(input, target, self.centers)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, num_classes={self.num_classes}, " + super().extra_repr()
