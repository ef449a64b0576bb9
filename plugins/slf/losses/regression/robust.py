"""Barron's general and adaptive robust loss, fixed-shape version (``robust``, task ``regression``).

J. T. Barron, "A General and Adaptive Robust Loss Function", CVPR 2019.
"""

from __future__ import annotations

import math
from typing import Union

import torch
from torch import Tensor

from .._utils import check_positive
from ..base import BaseLoss, per_sample_mean
from ..registry import register
from ..shared_docs import shared_sections


def _rho_general(squared: Tensor, alpha: Tensor) -> Tensor:
    """``|a-2|/a * ((x^2/|a-2| + 1)^(a/2) - 1)`` on ``squared = (x/c)^2``, safe near a = 0 and a = 2.

    ``|a - 2|`` and ``|a|`` are clamped away from zero by the dtype's machine epsilon
    (as in Barron's reference code), and the power is evaluated as
    ``expm1(a/2 * log1p(x^2/|a-2|))``, which keeps full precision for small ``x`` and
    small ``a``: the limits ``a -> 0`` and ``a -> 2`` then come out right to rounding
    error, and exactly 0 and 2 are replaced by their closed forms.
    """
    eps = torch.finfo(squared.dtype).eps
    alpha = alpha.to(squared.dtype)
    beta_safe = (alpha - 2.0).abs().clamp(min=eps)
    alpha_safe = torch.where(alpha >= 0, torch.ones_like(alpha), -torch.ones_like(alpha)) * alpha.abs().clamp(min=eps)
    general = beta_safe / alpha_safe * torch.expm1(0.5 * alpha_safe * torch.log1p(squared / beta_safe))
    general = torch.where(alpha == 0, torch.log1p(0.5 * squared), general)
    return torch.where(alpha == 2, 0.5 * squared, general)


def robust_rho(x: Tensor, alpha: Union[float, Tensor], scale: Union[float, Tensor] = 1.0) -> Tensor:
    r"""Barron's general robust function :math:`\rho(x, \alpha, c)`, elementwise.

    .. math::

        \rho(x, \alpha, c) = \begin{cases}
            \tfrac12 (x/c)^2 & \alpha = 2 \\
            \log\bigl(\tfrac12 (x/c)^2 + 1\bigr) & \alpha = 0 \\
            1 - \exp\bigl(-\tfrac12 (x/c)^2\bigr) & \alpha = -\infty \\
            \exp\bigl(\tfrac12 (x/c)^2\bigr) - 1 & \alpha = +\infty \\
            \frac{|\alpha - 2|}{\alpha} \Bigl( \bigl(\frac{(x/c)^2}{|\alpha - 2|} + 1\bigr)^{\alpha/2} - 1 \Bigr)
                & \text{otherwise}
        \end{cases}

    :math:`\alpha = 1` gives the pseudo-Huber / Charbonnier loss
    :math:`\sqrt{(x/c)^2 + 1} - 1`, :math:`\alpha = -2` Geman-McClure. A float
    ``alpha`` picks the closed form of its special case; a tensor ``alpha``
    (broadcast against ``x``, e.g. one per output dimension) must be finite and uses
    the general form, with 0 and 2 handled exactly and the neighbourhood of 0 and 2
    computed stably (see ``_rho_general``).

    Args:
        x: residuals.
        alpha: shape parameter, a float (``-inf`` and ``inf`` allowed) or a finite tensor.
        scale: scale :math:`c > 0`, a float or a positive tensor broadcast against ``x``.

    Returns:
        :math:`\rho` of the shape of ``x`` (broadcast with ``alpha`` and ``scale``).

    Example:
        >>> x = torch.tensor([0.0, 1.0, 3.0])
        >>> robust_rho(x, 2.0)
        tensor([0.0000, 0.5000, 4.5000])
        >>> robust_rho(x, 1.0)
        tensor([0.0000, 0.4142, 2.1623])
    """
    squared = (x / scale).pow(2)
    if torch.is_tensor(alpha):
        if not bool(torch.isfinite(alpha).all()):
            raise ValueError("robust_rho: a tensor alpha must be finite; pass a float for alpha = +-inf")
        return _rho_general(squared, alpha)
    alpha = float(alpha)
    if math.isnan(alpha):
        raise ValueError("robust_rho: alpha must be a number in [-inf, inf], got nan")
    if alpha == 2.0:
        return 0.5 * squared
    if alpha == 0.0:
        return torch.log1p(0.5 * squared)
    if alpha == -math.inf:
        return -torch.expm1(-0.5 * squared)
    if alpha == math.inf:
        return torch.expm1(0.5 * squared)
    return _rho_general(squared, torch.tensor(alpha, dtype=squared.dtype, device=squared.device))


def _check_alpha(alpha: float, name: str) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or math.isnan(alpha):
        raise ValueError(f"{name}: alpha must be a number in [-inf, inf] (e.g. 2, 1, 0, -2, -inf), got {alpha!r}")
    return float(alpha)


def _robust(pred: Tensor, target: Tensor, alpha: float, scale: float) -> Tensor:
    return per_sample_mean(robust_rho(pred - target, alpha, scale))


@shared_sections
def robust_loss(
    pred: Tensor, target: Tensor, alpha: float = 1.0, scale: float = 1.0, reduction: str = "mean"
) -> Tensor:
    r"""Barron's general robust loss with a fixed shape ``alpha`` and scale ``c``.

    .. math::

        \ell(\hat y, y) = \frac{1}{D} \sum_{d=1}^{D} \rho(\hat y_d - y_d, \alpha, c)

    with :math:`\rho` as in :func:`robust_rho`. The minimum 0 is at :math:`\hat y = y`.

    Args:
        pred: predictions.
        target: targets, same shape.
        alpha: shape parameter in :math:`[-\infty, \infty]` (default 1: pseudo-Huber).
        scale: scale :math:`c > 0` of the quadratic bowl around 0 (default 1).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {REGRESSION_SHAPE}

    Example:
        >>> pred, target = torch.tensor([0.0, 2.0]), torch.zeros(2)
        >>> robust_loss(pred, target, alpha=0.0, reduction="none")
        tensor([0.0000, 1.0986])
        >>> robust_loss(pred, target, alpha=2.0, scale=2.0, reduction="none")
        tensor([0.0000, 0.5000])
    """
    return RobustLoss(alpha, scale, reduction)(pred, target)


@shared_sections
@register("robust", "regression")
class RobustLoss(BaseLoss):
    r"""Barron's general robust loss with fixed ``alpha`` and ``scale``; see :func:`robust_loss`.

    For a loss whose ``alpha`` and ``scale`` are learnt, see
    :class:`~slf.losses.regression.adaptive_robust.AdaptiveRobustLoss`.

    Args:
        alpha: shape parameter in :math:`[-\infty, \infty]` (default 1: pseudo-Huber).
        scale: scale :math:`c > 0` (default 1).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {REGRESSION_MODULE_SHAPE}

    Example:
        >>> RobustLoss(alpha=-float("inf"), reduction="none")(torch.tensor([0.0, 10.0]), torch.zeros(2))
        tensor([0., 1.])
    """

    task = "regression"

    def __init__(self, alpha: float = 1.0, scale: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.alpha = _check_alpha(alpha, self.name)
        self.scale = check_positive(scale, "scale", self.name)

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _robust(input, target, self.alpha, self.scale)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, scale={self.scale}, " + super().extra_repr()
