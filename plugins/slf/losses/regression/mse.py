"""Mean squared error for regression (``mse``, task ``regression``)."""

from __future__ import annotations

import torch  # noqa: F401  (the shared docstring examples use it)
from torch import Tensor

from ..base import BaseLoss, per_sample_mean
from ..registry import register
from ..shared_docs import shared_sections


def _mse_regression(pred: Tensor, target: Tensor) -> Tensor:
    return per_sample_mean((pred - target).pow(2))


@shared_sections
def mse_regression_loss(pred: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    r"""Squared error, averaged over the non-batch dimensions of each sample.

    .. math::

        \ell(\hat y, y) = \frac{1}{D} \sum_{d=1}^{D} (\hat y_d - y_d)^2

    {REGRESSION_FUNCTION}

    Example:
        >>> mse_regression_loss(torch.tensor([[1.0, 2.0], [0.0, 0.0]]), torch.zeros(2, 2), reduction="none")
        tensor([2.5000, 0.0000])
    """
    return MSERegressionLoss(reduction=reduction)(pred, target)


@shared_sections
@register("mse", "regression")
class MSERegressionLoss(BaseLoss):
    r"""Mean squared error; see :func:`mse_regression_loss`.

    {REGRESSION_MODULE}

    Example:
        >>> MSERegressionLoss()(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0]))
        tensor(5.)
    """

    task = "regression"

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _mse_regression(input, target)
