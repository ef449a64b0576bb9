"""Barron's adaptive robust loss on class probabilities (``adaptive_robust``, task ``classification``): the ARLF
column of the SLF paper's Table 1.

J. T. Barron, "A General and Adaptive Robust Loss Function", CVPR 2019. Barron defines the loss on real-valued
residuals; the SLF paper applies it to classification without saying how. Here the residual of a class is its
softmax probability less its one-hot target, the same residual as the classification ``mse`` candidate, so that
with :math:`\\alpha = 2` and a fixed scale the loss is that MSE up to a factor and a constant.
"""

from __future__ import annotations

import torch  # noqa: F401  (the docstring example uses it)
import torch.nn.functional as F
from torch import Tensor

from .._utils import one_hot_like
from ..base import check_classification_inputs, check_reduction, per_sample_mean, reduce_loss
from ..registry import register
from ..regression.adaptive_robust import AdaptiveRobustLoss, _adaptive_nll, _check_params


def _probability_residual_nll(logits: Tensor, target: Tensor, alpha: Tensor, scale: Tensor) -> Tensor:
    residual = F.softmax(logits, dim=1) - one_hot_like(target, logits)
    return per_sample_mean(_adaptive_nll(residual, alpha, scale))


def adaptive_robust_classification_loss(
    logits: Tensor, target: Tensor, alpha: Tensor, scale: Tensor, reduction: str = "mean"
) -> Tensor:
    r"""Barron's negative log-likelihood of the probability residuals for given shape(s) and scale(s)
    (with :math:`\alpha = 2`, :math:`s = 1`: the Gaussian NLL, :math:`\log\sqrt{2\pi}` plus half the squared
    residual).

    .. math::

        \ell(z, y) = \frac{1}{C} \sum_{c=1}^{C}
            \rho\Bigl(\frac{p_c - t_c}{s_c}, \alpha_c, 1\Bigr) + \log s_c + \log Z(\alpha_c),
        \qquad p = \operatorname{softmax}(z),\ t = \operatorname{onehot}(y)

    Args:
        logits: unnormalised class scores :math:`(N, C)`.
        target: class indices :math:`(N,)` in ``[0, C)``.
        alpha: shapes in :math:`[0, 2]`, shape :math:`(1,)` (shared) or :math:`(C,)`.
        scale: scales :math:`s > 0`, shape :math:`(1,)` or :math:`(C,)`.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Example:
        >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]], dtype=torch.float64)
        >>> alpha, scale = torch.tensor([2.0], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64)
        >>> adaptive_robust_classification_loss(logits, torch.tensor([0, 2]), alpha, scale, reduction="none")
        tensor([0.9320, 0.9216], dtype=torch.float64)
    """
    check_reduction(reduction)
    check_classification_inputs(logits, target, "adaptive_robust")
    _check_params(logits, alpha, scale, "adaptive_robust")
    return reduce_loss(_probability_residual_nll(logits, target, alpha, scale), reduction)


@register("adaptive_robust", "classification")
class AdaptiveRobustClassificationLoss(AdaptiveRobustLoss):
    r"""Barron's adaptive robust loss on the residuals of the softmax probabilities, shape and scale learnt
    (:func:`adaptive_robust_classification_loss` with this module's parameters).

    .. math::

        \ell(z, y) = \frac{1}{C} \sum_{c=1}^{C}
            \rho\Bigl(\frac{p_c - t_c}{s_c}, \alpha_c, 1\Bigr) + \log s_c + \log Z(\alpha_c),
        \qquad p = \operatorname{softmax}(z),\ t = \operatorname{onehot}(y)

    with Barron's :math:`\rho` and partition function :math:`Z` (see
    :class:`slf.losses.regression.adaptive_robust.AdaptiveRobustLoss`, whose parametrisation of the shapes
    :math:`\alpha_c \in (\alpha_{lo}, \alpha_{hi})` and scales :math:`s_c` this shares). ``num_dims=1`` (the
    default) shares one shape and scale over the classes; ``num_dims=C`` learns one pair per class. The shape
    and scale are parameters of the loss: **optimise them with the model** (``slf classify`` does; in Python add
    ``loss.parameters()`` to the optimizer). The values are a negative log-likelihood and can be negative.

    Args:
        num_dims: 1, or the number of classes C.
        alpha_lo, alpha_hi, alpha_init, scale_lo, scale_init: as for the regression loss.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - input: logits :math:`(N, C)`.
        - target: class indices :math:`(N,)`.
        - output: :math:`(N,)` for ``'none'``, else a scalar.

    Example:
        >>> loss = AdaptiveRobustClassificationLoss(num_dims=3, alpha_init=1.0, scale_init=0.5)
        >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]], requires_grad=True)
        >>> value = loss(logits, torch.tensor([0, 1]))
        >>> value.backward()
        >>> loss.latent_alpha.grad.shape, bool(logits.grad.abs().sum() > 0)
        (torch.Size([3]), True)
    """

    task = "classification"

    def validate(self, input: Tensor, target: Tensor) -> None:
        check_classification_inputs(input, target, self.name)
        if self.num_dims != 1 and input.shape[1] != self.num_dims:
            raise ValueError(
                f"{self.name}: built with num_dims={self.num_dims} (one alpha and scale per class), so the logits "
                f"must have {self.num_dims} classes; got shape {tuple(input.shape)}"
            )

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _probability_residual_nll(input, target, self.alpha(), self.scale())
