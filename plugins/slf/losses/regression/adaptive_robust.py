"""Barron's adaptive robust loss with learnt shape and scale (``adaptive_robust``, task ``regression``).

J. T. Barron, "A General and Adaptive Robust Loss Function", CVPR 2019, section 2.
"""

from __future__ import annotations

import math
import threading
from typing import Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..base import BaseLoss, check_reduction, check_same_shape_inputs, per_sample_mean, reduce_loss
from ..registry import register
from .robust import _rho_general

#: Number of interpolation nodes for :math:`\log Z(\alpha)` on :math:`[0, 2]`.
LOG_Z_GRID_SIZE = 256
#: Largest absolute error of the interpolated :math:`\log Z(\alpha)`, measured against
#: direct quadrature at the midpoints of every interval and at random alphas.
LOG_Z_MAX_ABS_ERROR = 1e-5

_TABLE_LOCK = threading.Lock()
_TABLE_NUMPY: Optional[Tuple[np.ndarray, np.ndarray]] = None
_TABLE_TORCH: Dict[Tuple[torch.dtype, torch.device], Tuple[Tensor, Tensor]] = {}


def _alpha_nodes(n: int = LOG_Z_GRID_SIZE) -> np.ndarray:
    # Chebyshev-like spacing, alpha_i = 1 - cos(pi i / (n-1)): dense near 0 and 2, where
    # log Z(alpha) bends most (|alpha - 2| makes it non-smooth at 2).
    nodes = 1.0 - np.cos(np.pi * np.arange(n) / (n - 1))
    nodes[0], nodes[-1] = 0.0, 2.0
    return nodes


def _rho_numpy(x: np.ndarray, alpha: float) -> np.ndarray:
    squared = x * x
    if alpha == 0.0:
        return np.log1p(0.5 * squared)
    if alpha == 2.0:
        return 0.5 * squared
    beta = abs(alpha - 2.0)
    return beta / alpha * np.expm1(0.5 * alpha * np.log1p(squared / beta))


def log_partition_table() -> Tuple[np.ndarray, np.ndarray]:
    """Nodes :math:`\\alpha_i \\in [0, 2]` and :math:`\\log Z(\\alpha_i)` (float64), computed once.

    :math:`Z(\\alpha) = \\int_{-\\infty}^{\\infty} \\exp(-\\rho(x, \\alpha, 1))\\, dx` by
    ``scipy.integrate.quad`` on the half line (the integrand is even), to a relative
    tolerance of 1e-12. Takes about 0.1 s the first time; cached at module level.
    """
    global _TABLE_NUMPY
    with _TABLE_LOCK:
        if _TABLE_NUMPY is None:
            from scipy import integrate  # lazy: only the adaptive loss needs scipy

            nodes = _alpha_nodes()
            values = np.empty_like(nodes)
            for i, alpha in enumerate(nodes):
                half, _ = integrate.quad(
                    lambda x, a=alpha: float(np.exp(-_rho_numpy(np.asarray(x), a))),
                    0.0,
                    np.inf,
                    epsabs=0.0,
                    epsrel=1e-12,
                    limit=200,
                )
                values[i] = math.log(2.0 * half)
            _TABLE_NUMPY = (nodes, values)
        return _TABLE_NUMPY


def _table(dtype: torch.dtype, device: torch.device) -> Tuple[Tensor, Tensor]:
    key = (dtype, device)
    if key not in _TABLE_TORCH:
        nodes, values = log_partition_table()
        _TABLE_TORCH[key] = (
            torch.as_tensor(nodes, dtype=dtype, device=device),
            torch.as_tensor(values, dtype=dtype, device=device),
        )
    return _TABLE_TORCH[key]


def _log_partition(alpha: Tensor) -> Tensor:
    nodes, values = _table(alpha.dtype, alpha.device)
    n = nodes.numel()
    with torch.no_grad():  # the interval index carries no gradient
        u = torch.acos((1.0 - alpha).clamp(-1.0, 1.0)) / math.pi
        index = torch.floor(u * (n - 1)).long().clamp(0, n - 2)
    lo, hi = nodes[index], nodes[index + 1]
    weight = (alpha - lo) / (hi - lo)
    return values[index] + weight * (values[index + 1] - values[index])


def robust_log_partition(alpha: Tensor) -> Tensor:
    r"""Differentiable :math:`\log Z(\alpha)` of Barron's distribution for :math:`\alpha \in [0, 2]`.

    .. math::

        Z(\alpha) = \int_{-\infty}^{\infty} \exp\bigl(-\rho(x, \alpha, 1)\bigr)\, dx

    Approximation: :math:`\log Z` is computed by quadrature (see
    :func:`log_partition_table`) at ``LOG_Z_GRID_SIZE`` = 256 nodes
    :math:`\alpha_i = 1 - \cos(\pi i / 255)`, dense near 0 and 2, and interpolated
    linearly in :math:`\alpha` in between. The largest absolute error is about
    ``LOG_Z_MAX_ABS_ERROR`` = 1e-5 (largest next to :math:`\alpha = 2`), i.e. a
    relative error of about 1e-5 in the density. The gradient with respect to
    :math:`\alpha` is the slope of the interval (piecewise constant). :math:`Z` is
    infinite for :math:`\alpha < 0`, so only :math:`[0, 2]` is covered.

    Args:
        alpha: shape parameters in :math:`[0, 2]`, any shape.

    Example:
        >>> robust_log_partition(torch.tensor([0.0, 2.0], dtype=torch.float64))  # log(pi sqrt 2), log sqrt(2 pi)
        tensor([1.4913, 0.9189], dtype=torch.float64)
    """
    if not torch.is_tensor(alpha) or not alpha.is_floating_point():
        raise TypeError(f"robust_log_partition: alpha must be a floating point tensor, got {type(alpha).__name__}")
    if alpha.numel() and not bool(((alpha >= 0) & (alpha <= 2)).all()):
        raise ValueError(
            "robust_log_partition: alpha must lie in [0, 2] (the partition function is infinite "
            f"for alpha < 0 and not tabulated above 2), got values in [{float(alpha.min()):g}, {float(alpha.max()):g}]"
        )
    return _log_partition(alpha)


def _adaptive_nll(residual: Tensor, alpha: Tensor, scale: Tensor) -> Tensor:
    alpha = alpha.to(residual.dtype)
    scale = scale.to(residual.dtype)
    return _rho_general((residual / scale).pow(2), alpha) + torch.log(scale) + _log_partition(alpha)


def _check_params_shape(pred: Tensor, alpha: Tensor, scale: Tensor, name: str) -> None:
    for what, value in (("alpha", alpha), ("scale", scale)):
        if not torch.is_tensor(value) or not value.is_floating_point():
            raise TypeError(f"{name}: {what} must be a floating point tensor, got {type(value).__name__}")
        if value.dim() > 1:
            raise ValueError(
                f"{name}: {what} must have shape (D,) with D = 1 or pred.shape[-1], got {tuple(value.shape)}"
            )
        size = value.numel()
        if size != 1 and (pred.dim() < 2 or pred.shape[-1] != size):
            raise ValueError(
                f"{name}: {what} has {size} entries (one per output dimension), so pred must have shape "
                f"(N, ..., {size}); got {tuple(pred.shape)}. Use num_dims=1 to share one {what} over all outputs."
            )


def _check_params(pred: Tensor, alpha: Tensor, scale: Tensor, name: str) -> None:
    """Shapes (one per output dimension or shared), alpha in [0, 2] and scale > 0."""
    _check_params_shape(pred, alpha, scale, name)
    if not bool(((alpha >= 0) & (alpha <= 2)).all()):
        raise ValueError(f"{name}: alpha must lie in [0, 2], got {alpha.tolist()}")
    if not bool((scale > 0).all()):
        raise ValueError(f"{name}: scale must be > 0, got {scale.tolist()}")


def adaptive_robust_loss(pred: Tensor, target: Tensor, alpha: Tensor, scale: Tensor, reduction: str = "mean") -> Tensor:
    r"""Negative log-likelihood of Barron's distribution for given shape(s) and scale(s).

    .. math::

        \ell(\hat y, y) = \frac{1}{D} \sum_{d=1}^{D}
            \rho\Bigl(\frac{\hat y_d - y_d}{c_d}, \alpha_d, 1\Bigr) + \log c_d + \log Z(\alpha_d)

    :math:`\exp(-\ell)` is a probability density in the residual (it integrates to 1),
    so the loss can be **negative** (for small scales). :math:`\log Z` is interpolated
    from a table, see :func:`robust_log_partition`.

    Args:
        pred: predictions.
        target: targets, same shape.
        alpha: shapes in :math:`[0, 2]`, shape :math:`(1,)` (shared) or :math:`(D,)` with
            :math:`D` = ``pred.shape[-1]``.
        scale: scales :math:`c > 0`, shape :math:`(1,)` or :math:`(D,)`.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - pred: :math:`(N)` or :math:`(N, *)`, floating point; :math:`(N, *, D)` for per-dimension parameters.
        - target: same shape as pred, floating point.
        - output: :math:`(N,)` for ``'none'``, else a scalar.

    Example:
        >>> pred, target = torch.tensor([0.0, 1.0], dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
        >>> alpha, scale = torch.tensor([2.0], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64)
        >>> adaptive_robust_loss(pred, target, alpha, scale, reduction="none")  # Gaussian NLL
        tensor([0.9189, 1.4189], dtype=torch.float64)
    """
    check_reduction(reduction)
    check_same_shape_inputs(pred, target, "adaptive_robust")
    _check_params(pred, alpha, scale, "adaptive_robust")
    return reduce_loss(per_sample_mean(_adaptive_nll(pred - target, alpha, scale)), reduction)


def _logit(p: float) -> float:
    return math.log(p) - math.log1p(-p)


def _inverse_softplus(y: float) -> float:
    return y + math.log(-math.expm1(-y))


@register("adaptive_robust", "regression")
class AdaptiveRobustLoss(BaseLoss):
    r"""Barron's adaptive robust loss: the NLL of his distribution, with learnt shape and scale.

    .. math::

        \ell(\hat y, y) = \frac{1}{D} \sum_{d=1}^{D}
            \rho\Bigl(\frac{\hat y_d - y_d}{c_d}, \alpha_d, 1\Bigr) + \log c_d + \log Z(\alpha_d),

        \alpha_d = \alpha_{lo} + (\alpha_{hi} - \alpha_{lo})\, \sigma(a_d), \qquad
        c_d = \operatorname{softplus}(s_d) + c_{lo}

    One (shape, scale) pair per output dimension (``num_dims``; 1 shares one pair
    over all outputs). The latent :math:`a_d, s_d` are ``nn.Parameter``\ s of this
    module, initialised so that :math:`\alpha = ` ``alpha_init`` and :math:`c = `
    ``scale_init``. **They must be optimised together with the model**: either make
    the loss a submodule of the model (its parameters are then in
    ``model.parameters()``) or pass both, e.g.
    ``torch.optim.Adam(list(model.parameters()) + list(loss.parameters()))``.
    Otherwise alpha and scale stay at their initial values.

    The values are a negative log-likelihood and **can be negative**; only differences
    matter. :math:`\log Z(\alpha)` comes from a quadrature table interpolated
    linearly (absolute error about 1e-5), see :func:`robust_log_partition`.

    Args:
        num_dims: number of (alpha, scale) pairs: 1, or the size of the last dimension of the input.
        alpha_lo, alpha_hi: range of alpha, ``0 <= alpha_lo < alpha_hi <= 2`` (default 0.001, 1.999).
        alpha_init: initial alpha in ``(alpha_lo, alpha_hi)``; default the midpoint.
        scale_lo: lower bound of the scale, ``>= 0`` (default 1e-5).
        scale_init: initial scale, ``> scale_lo`` (default 1.0).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - input: :math:`(N)` or :math:`(N, *)` (last dimension ``num_dims`` if ``num_dims > 1``).
        - target: same shape as input.
        - output: :math:`(N,)` for ``'none'``, else a scalar.

    Example:
        >>> loss = AdaptiveRobustLoss(num_dims=2)
        >>> pred, target = torch.zeros(4, 2, requires_grad=True), torch.ones(4, 2)
        >>> loss(pred, target).backward()
        >>> loss.alpha().shape, loss.latent_alpha.grad.shape
        (torch.Size([2]), torch.Size([2]))
        >>> [name for name, _ in loss.named_parameters()]
        ['latent_alpha', 'latent_scale']
    """

    task = "regression"
    minimum = None  # a negative log-likelihood: unbounded below

    def __init__(
        self,
        num_dims: int = 1,
        alpha_lo: float = 0.001,
        alpha_hi: float = 1.999,
        alpha_init: Optional[float] = None,
        scale_lo: float = 1e-5,
        scale_init: float = 1.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        name = self.name
        if isinstance(num_dims, bool) or not isinstance(num_dims, int) or num_dims < 1:
            raise ValueError(f"{name}: num_dims must be a positive integer, got {num_dims!r}")
        if not (0.0 <= alpha_lo < alpha_hi <= 2.0):
            raise ValueError(
                f"{name}: need 0 <= alpha_lo < alpha_hi <= 2 (log Z is tabulated on [0, 2]), "
                f"got alpha_lo={alpha_lo!r}, alpha_hi={alpha_hi!r}"
            )
        if alpha_init is None:
            alpha_init = 0.5 * (alpha_lo + alpha_hi)
        if not (alpha_lo < alpha_init < alpha_hi):
            raise ValueError(
                f"{name}: alpha_init must lie strictly inside (alpha_lo, alpha_hi) = ({alpha_lo}, {alpha_hi}), "
                f"got {alpha_init!r}"
            )
        if not (scale_lo >= 0.0 and math.isfinite(scale_lo)):
            raise ValueError(f"{name}: scale_lo must be a finite number >= 0, got {scale_lo!r}")
        if not (scale_init > scale_lo and math.isfinite(scale_init)):
            raise ValueError(f"{name}: scale_init must be finite and > scale_lo = {scale_lo}, got {scale_init!r}")
        self.num_dims = num_dims
        self.alpha_lo, self.alpha_hi = float(alpha_lo), float(alpha_hi)
        self.scale_lo = float(scale_lo)
        latent_alpha = _logit((alpha_init - alpha_lo) / (alpha_hi - alpha_lo))
        latent_scale = _inverse_softplus(scale_init - scale_lo)
        self.latent_alpha = nn.Parameter(torch.full((num_dims,), latent_alpha))
        self.latent_scale = nn.Parameter(torch.full((num_dims,), latent_scale))

    def alpha(self) -> Tensor:
        """Current shapes, ``(num_dims,)``, in ``(alpha_lo, alpha_hi)``."""
        return self.alpha_lo + (self.alpha_hi - self.alpha_lo) * torch.sigmoid(self.latent_alpha)

    def scale(self) -> Tensor:
        """Current scales, ``(num_dims,)``, all ``> scale_lo``."""
        return F.softplus(self.latent_scale) + self.scale_lo

    def validate(self, input: Tensor, target: Tensor) -> None:
        check_same_shape_inputs(input, target, self.name)
        if self.num_dims != 1 and (input.dim() < 2 or input.shape[-1] != self.num_dims):
            raise ValueError(
                f"{self.name}: built with num_dims={self.num_dims} (one alpha and scale per output "
                f"dimension), so the input must have shape (N, ..., {self.num_dims}); got {tuple(input.shape)}"
            )

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return per_sample_mean(_adaptive_nll(input - target, self.alpha(), self.scale()))

    def extra_repr(self) -> str:
        return (
            f"num_dims={self.num_dims}, alpha_range=({self.alpha_lo}, {self.alpha_hi}), "
            f"scale_lo={self.scale_lo}, " + super().extra_repr()
        )
