"""Barron's adaptive robust loss on a probability's error against a 0/1 target (``adaptive_robust``, task
``binary``): DAC + ARLF of the SLF paper's Table 2.

J. T. Barron, "A General and Adaptive Robust Loss Function", CVPR 2019, on the residual :math:`q - t`, as the
binary ``mse`` candidate's, so that with :math:`\\alpha = 2` and a fixed scale the loss is that MSE up to a factor
and a constant. The SLF paper does not say how it applied ARLF to DAC's pairs; this is our choice.
"""

from __future__ import annotations

import torch  # noqa: F401  (the docstring example uses it)
from torch import Tensor

from .._utils import check_binary_inputs, to_probability
from ..base import check_reduction, per_sample_mean, reduce_loss
from ..registry import register
from ..regression.adaptive_robust import AdaptiveRobustLoss, _adaptive_nll, _check_params


def _residual_nll(input: Tensor, target: Tensor, from_logits: bool, alpha: Tensor, scale: Tensor) -> Tensor:
    q = to_probability(input, from_logits)
    return per_sample_mean(_adaptive_nll(q - target.to(q.dtype), alpha, scale))


def adaptive_robust_binary_loss(
    input: Tensor, target: Tensor, alpha: Tensor, scale: Tensor, from_logits: bool = True, reduction: str = "mean"
) -> Tensor:
    r"""Barron's negative log-likelihood of a probability's residual for a given shape and scale (with
    :math:`\alpha = 2`, :math:`s = 1`: the Gaussian NLL, :math:`\log\sqrt{2\pi}` plus half the squared residual).

    .. math::

        \ell(x, t) = \rho\Bigl(\frac{q - t}{s}, \alpha, 1\Bigr) + \log s + \log Z(\alpha)

    Args:
        input: logits or probabilities :math:`(N)` or :math:`(N, *)`.
        target: labels in ``[0, 1]``, same shape.
        alpha: the shape in :math:`[0, 2]`, shape :math:`(1,)`.
        scale: the scale :math:`s > 0`, shape :math:`(1,)`.
        from_logits: whether ``input`` holds logits (apply a sigmoid) or probabilities.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Example:
        >>> alpha, scale = torch.tensor([2.0], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64)
        >>> q = torch.tensor([0.9, 0.5], dtype=torch.float64)
        >>> adaptive_robust_binary_loss(q, torch.tensor([1.0, 1.0], dtype=torch.float64), alpha, scale,
        ...                             from_logits=False, reduction="none")
        tensor([0.9239, 1.0439], dtype=torch.float64)
    """
    check_reduction(reduction)
    check_binary_inputs(input, target, from_logits, "adaptive_robust")
    _check_params(input, alpha, scale, "adaptive_robust")
    return reduce_loss(_residual_nll(input, target, from_logits, alpha, scale), reduction)


@register("adaptive_robust", "binary")
class AdaptiveRobustBinaryLoss(AdaptiveRobustLoss):
    r"""Barron's adaptive robust loss on the residual of a probability, shape and scale learnt
    (:func:`adaptive_robust_binary_loss` with this module's parameters).

    .. math::

        \ell(x, t) = \rho\Bigl(\frac{q - t}{s}, \alpha, 1\Bigr) + \log s + \log Z(\alpha), \qquad
        q = \begin{cases} \sigma(x) & \text{from\_logits} \\ x & \text{otherwise} \end{cases}

    with Barron's :math:`\rho` and partition function :math:`Z` (see
    :class:`slf.losses.regression.adaptive_robust.AdaptiveRobustLoss`, whose parametrisation of the shape
    :math:`\alpha \in (\alpha_{lo}, \alpha_{hi})` and scale :math:`s` this shares, one pair for all inputs). The
    shape and scale are parameters of the loss: **optimise them with the model** (``slf cluster`` does). The
    values are a negative log-likelihood and can be negative.

    Args:
        from_logits: ``True`` (default): the input holds logits; ``False``: probabilities in ``[0, 1]``.
        alpha_lo, alpha_hi, alpha_init, scale_lo, scale_init: as for the regression loss.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - input: :math:`(N)` or :math:`(N, *)`; target: same shape, values in ``[0, 1]``.
        - output: :math:`(N,)` for ``'none'``, else a scalar.

    Example:
        >>> loss = AdaptiveRobustBinaryLoss(from_logits=False)
        >>> q = torch.tensor([0.9, 0.2], requires_grad=True)
        >>> loss(q, torch.tensor([1.0, 1.0])).backward()
        >>> bool(loss.latent_alpha.grad.abs() > 0), bool(q.grad[1] < 0)  # pulls the far pair up
        (True, True)
    """

    task = "binary"

    def __init__(
        self,
        from_logits: bool = True,
        alpha_lo: float = 0.001,
        alpha_hi: float = 1.999,
        alpha_init: float = None,
        scale_lo: float = 1e-5,
        scale_init: float = 1.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__(1, alpha_lo, alpha_hi, alpha_init, scale_lo, scale_init, reduction)
        if not isinstance(from_logits, bool):
            raise TypeError(f"{self.name}: from_logits must be True or False, got {from_logits!r}")
        self.from_logits = from_logits

    def validate(self, input: Tensor, target: Tensor) -> None:
        check_binary_inputs(input, target, self.from_logits, self.name)

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _residual_nll(input, target, self.from_logits, self.alpha(), self.scale())

    def extra_repr(self) -> str:
        return f"from_logits={self.from_logits}, " + super().extra_repr()
