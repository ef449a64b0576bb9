"""Large-margin softmax (L-Softmax) of Liu et al. (2016) (``large_margin_softmax``, classification).

W. Liu, Y. Wen, Z. Yu, M. Yang, "Large-Margin Softmax Loss for Convolutional Neural
Networks", ICML 2016. The loss owns the last (bias-free) linear layer.
"""

from __future__ import annotations

import math
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._utils import gather_target, one_hot_like
from ..base import BaseLoss, _describe, check_feature_matrix, check_reduction, reduce_loss
from ..registry import register
from ..shared_docs import shared_sections

_INT_DTYPES = (torch.int64, torch.int32, torch.int16, torch.uint8)


def _chebyshev(cos: Tensor, m: int) -> Tensor:
    """:math:`T_m(\\cos\\theta) = \\cos(m\\theta)` by the recurrence ``T_{k+1} = 2c T_k - T_{k-1}``."""
    previous, current = torch.ones_like(cos), cos
    if m == 0:
        return previous
    for _ in range(m - 1):
        previous, current = current, 2.0 * cos * current - previous
    return current


def _norm(rows: Tensor) -> Tensor:
    """Row norms ``(R, D) -> (R,)`` that do not overflow for huge entries (e.g. 1e30 in float32).

    Each row is divided by its largest magnitude (a constant for autograd) before the
    squares are taken; the value and the gradient ``v / ||v||`` are unchanged.
    """
    peak = rows.detach().abs().amax(dim=1, keepdim=True).clamp(min=torch.finfo(rows.dtype).tiny)
    return peak.squeeze(1) * (rows / peak).norm(dim=1)


def _margin_logits(features: Tensor, target: Tensor, weight: Tensor, margin: int, lam: Union[float, Tensor]) -> Tensor:
    wx = features @ weight.t()  # (N, C)
    target_wx = gather_target(wx, target)
    norm_product = _norm(weight)[target.long()] * _norm(features)  # ||W_y|| ||x||
    tiny = torch.finfo(wx.dtype).tiny
    cos = (target_wx / norm_product.clamp(min=tiny)).clamp(-1.0, 1.0)
    with torch.no_grad():  # k with theta in [k pi / m, (k+1) pi / m], from cos: no acos
        k = torch.zeros_like(cos)
        for j in range(1, margin):
            k += (cos <= math.cos(j * math.pi / margin)).to(cos.dtype)
        sign = 1.0 - 2.0 * torch.remainder(k, 2.0)  # (-1)^k
    psi = sign * _chebyshev(cos, margin) - 2.0 * k
    target_logit = (lam * target_wx + norm_product * psi) / (1.0 + lam)
    return wx + one_hot_like(target, wx) * (target_logit - target_wx).unsqueeze(1)


def _large_margin_softmax(
    features: Tensor, target: Tensor, weight: Tensor, margin: int, lam: Union[float, Tensor]
) -> Tensor:
    logits = _margin_logits(features, target, weight, margin, lam)
    return -gather_target(F.log_softmax(logits, dim=1), target)


def _check_inputs(features: Tensor, target: Tensor, weight: Tensor, name: str) -> None:
    num_classes, in_features = weight.shape
    if not torch.is_tensor(features) or not features.is_floating_point():
        raise TypeError(f"{name}: features must be a floating point tensor (N, D), got {_describe(features)}")
    if features.dim() != 2 or features.shape[1] != in_features:
        raise ValueError(
            f"{name}: features must have shape (N, {in_features}) (in_features of the last layer), "
            f"got {tuple(features.shape)}"
        )
    if not torch.is_tensor(target) or target.dtype not in _INT_DTYPES:
        raise TypeError(f"{name}: target must be an integer tensor of class indices (N,), got {_describe(target)}")
    if target.dim() != 1 or target.shape[0] != features.shape[0]:
        raise ValueError(
            f"{name}: target must have shape ({features.shape[0]},) to match features "
            f"{tuple(features.shape)}, got {tuple(target.shape)}"
        )
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= num_classes):
        raise ValueError(
            f"{name}: target holds class indices outside [0, {num_classes}): "
            f"min {int(target.min())}, max {int(target.max())}"
        )


def _check_margin(margin: int, name: str) -> int:
    if isinstance(margin, bool) or not isinstance(margin, int) or margin < 1:
        raise ValueError(f"{name}: margin must be an integer >= 1 (1 = plain softmax), got {margin!r}")
    return margin


def large_margin_softmax_loss(
    features: Tensor,
    target: Tensor,
    weight: Tensor,
    margin: int = 2,
    lam: float = 0.0,
    reduction: str = "mean",
) -> Tensor:
    r"""L-Softmax: cross-entropy on logits whose target entry has an angular margin.

    With :math:`\theta` the angle between the feature :math:`x` and the target
    class's weight :math:`W_y`, the target logit :math:`W_y^\top x = \lVert W_y
    \rVert \lVert x \rVert \cos\theta` is replaced by

    .. math::

        f_y = \frac{\lambda \lVert W_y \rVert \lVert x \rVert \cos\theta
                    + \lVert W_y \rVert \lVert x \rVert \psi(\theta)}{1 + \lambda},
        \qquad
        \psi(\theta) = (-1)^k \cos(m\theta) - 2k, \quad
        \theta \in \Bigl[\frac{k\pi}{m}, \frac{(k+1)\pi}{m}\Bigr],

    the other logits stay :math:`W_c^\top x`, and the loss is
    :math:`-\log \operatorname{softmax}(f)_y`. :math:`\cos(m\theta)` is the Chebyshev
    polynomial :math:`T_m(\cos\theta)` and :math:`k` is found by comparing
    :math:`\cos\theta` with :math:`\cos(j\pi/m)`, so no ``acos`` (and none of its
    infinite gradients at :math:`\pm 1`) is involved. ``margin=1`` or a large
    :math:`\lambda` gives the plain softmax cross-entropy of :math:`Wx`.

    Args:
        features: penultimate features :math:`x`.
        target: class indices in ``[0, C)``.
        weight: last-layer weights :math:`W`, one row per class.
        margin: integer :math:`m \geq 1`.
        lam: :math:`\lambda \geq 0`, float or scalar tensor (annealed from large to small in training).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - features: :math:`(N, D)`, floating point.
        - target: :math:`(N,)`, integer.
        - weight: :math:`(C, D)`.
        - output: :math:`(N,)` for ``'none'``, else a scalar.

    Example:
        >>> weight = torch.eye(2)
        >>> features = torch.tensor([[1.0, 1.0]])  # 45 degrees from both classes
        >>> large_margin_softmax_loss(features, torch.tensor([0]), weight, margin=1)  # log 2
        tensor(0.6931)
        >>> large_margin_softmax_loss(features, torch.tensor([0]), weight, margin=2)  # f_y = 0 < 1
        tensor(1.3133)
    """
    check_reduction(reduction)
    _check_margin(margin, "large_margin_softmax")
    if not torch.is_tensor(weight) or weight.dim() != 2:
        raise ValueError(f"large_margin_softmax: weight must have shape (C, D), got {_describe(weight)}")
    _check_inputs(features, target, weight, "large_margin_softmax")
    return reduce_loss(_large_margin_softmax(features, target, weight, margin, lam), reduction)


@shared_sections
@register("large_margin_softmax", "classification")
class LargeMarginSoftmaxLoss(BaseLoss):
    r"""L-Softmax loss that owns the last linear layer; see :func:`large_margin_softmax_loss`.

    The module holds the class weights ``weight`` :math:`(C, D)` (no bias) and reads the
    model's **penultimate features** (``input_kind = "features"``), not logits. Use
    :meth:`logits` for predictions. :math:`\lambda` is annealed as in the authors' code,

    .. math::

        \lambda = \max\bigl(\lambda_{min},\ \lambda_{base} (1 + \gamma\, t)^{-p}\bigr),

    where the iteration :math:`t` is incremented at every forward in training mode
    (before computing :math:`\lambda`) and stored in the buffer ``iteration``, so it is
    saved in and restored from ``state_dict``. In eval mode :math:`t` does not move.

    Args:
        in_features: feature dimension :math:`D`.
        num_classes: number of classes :math:`C`.
        margin: integer :math:`m \geq 1` (default 2).
        lambda_base: :math:`\lambda_{base}` (default 1000).
        gamma: :math:`\gamma` (default 0.12).
        power: :math:`p` (default 1).
        lambda_min: :math:`\lambda_{min}` (default 0).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {FEATURES_MODULE_SHAPE}

    Example:
        >>> loss = LargeMarginSoftmaxLoss(in_features=4, num_classes=3)
        >>> features, target = torch.randn(8, 4), torch.randint(0, 3, (8,))
        >>> value = loss(features, target)
        >>> int(loss.iteration), round(loss.current_lambda(), 2)
        (1, 892.86)
        >>> loss.logits(features).shape
        torch.Size([8, 3])
    """

    task = "classification"
    input_kind = "features"

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        margin: int = 2,
        lambda_base: float = 1000.0,
        gamma: float = 0.12,
        power: float = 1.0,
        lambda_min: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        name = self.name
        for what, value in (("in_features", in_features), ("num_classes", num_classes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: {what} must be a positive integer, got {value!r}")
        self.margin = _check_margin(margin, name)
        schedule = (("lambda_base", lambda_base), ("gamma", gamma), ("power", power), ("lambda_min", lambda_min))
        for what, value in schedule:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name}: {what} must be a finite number >= 0, got {value!r}")
        self.in_features, self.num_classes = in_features, num_classes
        self.lambda_base, self.gamma = float(lambda_base), float(gamma)
        self.power, self.lambda_min = float(power), float(lambda_min)
        self.weight = nn.Parameter(torch.empty(num_classes, in_features))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # as nn.Linear
        self.register_buffer("iteration", torch.zeros((), dtype=torch.long))

    def _lambda(self, dtype: torch.dtype) -> Tensor:
        t = self.iteration.to(dtype)
        lam = self.lambda_base * torch.pow(1.0 + self.gamma * t, -self.power)
        return lam.clamp(min=self.lambda_min)

    def current_lambda(self) -> float:
        """:math:`\\lambda` at the current iteration (what the next eval-mode forward uses)."""
        return float(self._lambda(torch.float64))

    def validate(self, input: Tensor, target: Tensor) -> None:
        _check_inputs(input, target, self.weight, self.name)

    def forward(self, input: Tensor, target: Tensor, reduction: Optional[str] = None) -> Tensor:
        """Loss of features ``(N, D)`` against class indices ``(N,)``; advances the iteration in training mode."""
        self.validate(input, target)
        if self.training:
            with torch.no_grad():
                self.iteration += 1
        values = self.per_sample(input, target)
        return reduce_loss(values, check_reduction(reduction) if reduction else self.reduction)

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _large_margin_softmax(input, target, self.weight, self.margin, self._lambda(input.dtype))

    def logits(self, features: Tensor) -> Tensor:
        """Plain class scores :math:`W x`, ``(N, D) -> (N, C)``, for prediction."""
        check_feature_matrix(features, self.in_features, self.name)
        return features @ self.weight.t()

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, num_classes={self.num_classes}, margin={self.margin}, "
            f"lambda_base={self.lambda_base}, gamma={self.gamma}, power={self.power}, "
            f"lambda_min={self.lambda_min}, " + super().extra_repr()
        )
