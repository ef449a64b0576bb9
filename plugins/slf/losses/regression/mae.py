"""Mean absolute error for regression (``mae``, task ``regression``)."""

from __future__ import annotations

import torch  # noqa: F401  (the shared docstring examples use it)
from torch import Tensor

from ..base import BaseLoss, per_sample_mean
from ..registry import register
from ..shared_docs import shared_sections


def _mae_regression(pred: Tensor, target: Tensor) -> Tensor:
    return per_sample_mean((pred - target).abs())


@shared_sections
def mae_regression_loss(pred: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    r"""Absolute error, averaged over the non-batch dimensions of each sample.

    .. math::

        \ell(\hat y, y) = \frac{1}{D} \sum_{d=1}^{D} |\hat y_d - y_d|

    {REGRESSION_FUNCTION}

    Example:
        >>> mae_regression_loss(torch.tensor([[1.0, -2.0], [0.0, 0.0]]), torch.zeros(2, 2), reduction="none")
        tensor([1.5000, 0.0000])
    """
    return MAERegressionLoss(reduction=reduction)(pred, target)


@shared_sections
@register("mae", "regression")
class MAERegressionLoss(BaseLoss):
    r"""Mean absolute error; see :func:`mae_regression_loss`.

    {REGRESSION_MODULE}

    Example:
        >>> MAERegressionLoss()(torch.tensor([1.0, -3.0]), torch.tensor([0.0, 0.0]))
        tensor(2.)
    """

    task = "regression"

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _mae_regression(input, target)
