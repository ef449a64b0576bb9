"""Large-margin Gaussian mixture loss of Wan et al. (2018) (registry: ``lgm``, task ``classification``).

W. Wan, Y. Zhong, T. Li, J. Chen, "Rethinking Feature Distribution for Loss Functions
in Image Classification", CVPR 2018. Identity-covariance variant with equal priors:
the loss owns one learnable mean per class and reads penultimate features.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._utils import gather_target, one_hot_like
from ..base import BaseLoss, _describe, check_feature_matrix, check_reduction, reduce_loss
from ..baselines.large_margin_softmax import _check_inputs as check_feature_inputs
from ..registry import register
from ..shared_docs import shared_sections
from .center import _check_size


def _check_nonnegative(value: float, what: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name}: {what} must be a finite number >= 0, got {value!r}")
    return float(value)


def _distances(features: Tensor, means: Tensor) -> Tensor:
    """:math:`d_k = \\tfrac12 \\lVert f - \\mu_k \\rVert^2`, ``(N, D), (C, D) -> (N, C)``."""
    return 0.5 * (features.unsqueeze(1) - means.unsqueeze(0)).pow(2).sum(dim=2)


def _lgm(features: Tensor, target: Tensor, means: Tensor, alpha: float, lambda_lkd: float) -> Tensor:
    d = _distances(features, means)
    d_target = gather_target(d, target)
    logits = -(d + alpha * one_hot_like(target, d) * d)  # the target's distance times (1 + alpha)
    classification = -gather_target(F.log_softmax(logits, dim=1), target)
    return classification + lambda_lkd * d_target


def lgm_loss(
    features: Tensor,
    target: Tensor,
    means: Tensor,
    alpha: float = 0.1,
    lambda_lkd: float = 0.1,
    reduction: str = "mean",
) -> Tensor:
    r"""L-GM loss: Gaussian-mixture classification with a margin plus a likelihood term.

    With identity covariances and equal priors, class :math:`k`'s log-likelihood is
    :math:`-d_k` up to a constant, where :math:`d_k = \tfrac12 \lVert f - \mu_k \rVert^2`.
    The margin multiplies the target's distance by :math:`1 + \alpha`:

    .. math::

        \ell(f, y) = -\log \frac{e^{-(1+\alpha) d_y}}
                                {e^{-(1+\alpha) d_y} + \sum_{k \neq y} e^{-d_k}}
                     + \lambda_{lkd}\, d_y

    The first term is the cross-entropy of the logits :math:`-d` with the margin on the
    target; the second (the likelihood regulariser) pulls features to their class mean.

    Args:
        features: penultimate features :math:`f`.
        target: class indices in ``[0, C)``.
        means: class means :math:`\mu`, one row per class.
        alpha: margin :math:`\alpha \geq 0` (default 0.1).
        lambda_lkd: weight :math:`\lambda_{lkd} \geq 0` of the likelihood term (default 0.1).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - features: :math:`(N, D)`, floating point.
        - target: :math:`(N,)`, integer.
        - means: :math:`(C, D)`.
        - output: :math:`(N,)` for ``'none'``, else a scalar.

    Example:
        >>> means = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
        >>> features = torch.tensor([[0.0, 0.0], [1.0, 0.0]])  # at mean 0; halfway
        >>> lgm_loss(features, torch.tensor([0, 1]), means, alpha=0.0, lambda_lkd=0.0, reduction="none")
        tensor([0.1269, 0.6931])
    """
    check_reduction(reduction)
    alpha = _check_nonnegative(alpha, "alpha", "lgm")
    lambda_lkd = _check_nonnegative(lambda_lkd, "lambda_lkd", "lgm")
    if not torch.is_tensor(means) or means.dim() != 2:
        raise ValueError(f"lgm: means must have shape (C, D), got {_describe(means)}")
    check_feature_inputs(features, target, means, "lgm")
    return reduce_loss(_lgm(features, target, means, alpha, lambda_lkd), reduction)


@shared_sections
@register("lgm", "classification")
class LGMLoss(BaseLoss):
    r"""L-GM loss with learnable class means (identity covariance); see :func:`lgm_loss`.

    Reads **penultimate features** (``input_kind = "features"``) and owns the means
    :math:`(C, D)`, an ``nn.Parameter`` initialised from :math:`\mathcal N(0, 1)`.
    :meth:`logits` gives :math:`-d` without the margin, for prediction.

    Args:
        in_features: feature dimension :math:`D`.
        num_classes: number of classes :math:`C`.
        alpha: margin :math:`\alpha \geq 0` (default 0.1).
        lambda_lkd: weight of the likelihood term (default 0.1).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {FEATURES_MODULE_SHAPE}

    Example:
        >>> loss = LGMLoss(in_features=4, num_classes=3)
        >>> features, target = torch.randn(8, 4), torch.randint(0, 3, (8,))
        >>> loss(features, target).shape, loss.logits(features).shape
        (torch.Size([]), torch.Size([8, 3]))
    """

    task = "classification"
    input_kind = "features"

    def __init__(
        self, in_features: int, num_classes: int, alpha: float = 0.1, lambda_lkd: float = 0.1, reduction: str = "mean"
    ) -> None:
        super().__init__(reduction)
        self.in_features = _check_size(in_features, "in_features", self.name)
        self.num_classes = _check_size(num_classes, "num_classes", self.name)
        self.alpha = _check_nonnegative(alpha, "alpha", self.name)
        self.lambda_lkd = _check_nonnegative(lambda_lkd, "lambda_lkd", self.name)
        self.means = nn.Parameter(torch.empty(num_classes, in_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the means from a standard normal distribution."""
        nn.init.normal_(self.means)

    def validate(self, input: Tensor, target: Tensor) -> None:
        check_feature_inputs(input, target, self.means, self.name)

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _lgm(input, target, self.means, self.alpha, self.lambda_lkd)

    def logits(self, features: Tensor) -> Tensor:
        """Class scores :math:`-d_k` (no margin), ``(N, D) -> (N, C)``, for prediction."""
        check_feature_matrix(features, self.in_features, self.name)
        return -_distances(features, self.means)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, num_classes={self.num_classes}, alpha={self.alpha}, "
            f"lambda_lkd={self.lambda_lkd}, " + super().extra_repr()
        )
