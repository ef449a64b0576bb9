"""Log-cosh loss for regression (``log_cosh``, task ``regression``)."""

from __future__ import annotations

import math

import torch  # noqa: F401  (the shared docstring examples use it)
import torch.nn.functional as F
from torch import Tensor

from ..base import BaseLoss, per_sample_mean
from ..registry import register
from ..shared_docs import shared_sections


def _log_cosh(pred: Tensor, target: Tensor) -> Tensor:
    r = (pred - target).abs()
    # log cosh r = |r| + log(1 + exp(-2|r|)) - log 2: no overflow of cosh for large |r|.
    return per_sample_mean(r + F.softplus(-2.0 * r) - math.log(2.0))


@shared_sections
def log_cosh_loss(pred: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    r"""Logarithm of the hyperbolic cosine of the error, averaged over non-batch dims.

    .. math::

        \ell(r) = \log\cosh r = |r| + \operatorname{softplus}(-2|r|) - \log 2, \qquad r = \hat y - y

    The right-hand form is exact and never overflows; :math:`\ell \approx r^2/2` for
    small errors and :math:`|r| - \log 2` for large ones. Its gradient is :math:`\tanh r`.

    {REGRESSION_FUNCTION}

    Example:
        >>> log_cosh_loss(torch.tensor([0.0, 1.0, 30.0]), torch.zeros(3), reduction="none")
        tensor([ 0.0000,  0.4338, 29.3069])
    """
    return LogCoshLoss(reduction=reduction)(pred, target)


@shared_sections
@register("log_cosh", "regression")
class LogCoshLoss(BaseLoss):
    r"""Log-cosh loss; see :func:`log_cosh_loss`.

    {REGRESSION_MODULE}

    Example:
        >>> LogCoshLoss(reduction="sum")(torch.tensor([1.0, -1.0]), torch.zeros(2))
        tensor(0.8676)
    """

    task = "regression"

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _log_cosh(input, target)
