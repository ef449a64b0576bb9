"""Binary cross-entropy per class on softmax probabilities (``bce``, classification)."""

from __future__ import annotations

import torch  # noqa: F401  (the shared docstring examples use it)
import torch.nn.functional as F
from torch import Tensor

from .._utils import _LOG_CLAMP, log1mexp, one_hot_like
from ..base import BaseLoss
from ..registry import register
from ..shared_docs import shared_sections


def _bce_classification(logits: Tensor, target: Tensor) -> Tensor:
    log_p = F.log_softmax(logits, dim=1)
    log_1mp = log1mexp(log_p)  # log(1 - p_c), stable, clamped at -100
    t = one_hot_like(target, logits)
    return -(t * log_p.clamp(min=_LOG_CLAMP) + (1.0 - t) * log_1mp).mean(dim=1)


@shared_sections
def bce_classification_loss(logits: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    r"""Binary cross-entropy of each softmax probability against the one-hot target, averaged over classes.

    .. math::

        \ell(z, y) = -\frac{1}{C} \sum_{c=1}^{C}
            \bigl[ t_c \log p_c + (1 - t_c) \log(1 - p_c) \bigr], \qquad
        p = \operatorname{softmax}(z),\ t = \operatorname{onehot}(y)

    Equal to ``F.binary_cross_entropy(softmax(z), onehot(y))`` averaged over classes,
    but computed from ``log_softmax``: :math:`\log p_c` directly and
    :math:`\log(1 - p_c) = \operatorname{log1mexp}(\log p_c)` stably
    (:math:`\log(-\operatorname{expm1}(x))` for :math:`x > -\ln 2`,
    :math:`\operatorname{log1p}(-e^x)` otherwise). Both logs are clamped at
    :math:`-100` like torch's BCE, so values and gradients stay finite for any
    finite logits (e.g. :math:`\pm 10^4` or :math:`10^{30}`).

    {CLASSIFICATION_FUNCTION}

    Example:
        >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
        >>> bce_classification_loss(logits, torch.tensor([0, 2]), reduction="none")
        tensor([0.1580, 0.0721])
    """
    return BCEClassificationLoss(reduction=reduction)(logits, target)


@shared_sections
@register("bce", "classification")
class BCEClassificationLoss(BaseLoss):
    r"""Per-class binary cross-entropy on softmax probabilities; see :func:`bce_classification_loss`.

    {CLASSIFICATION_MODULE}

    Example:
        >>> loss = BCEClassificationLoss()
        >>> logits = torch.tensor([[1e4, -1e4, 0.0]], requires_grad=True)
        >>> value = loss(logits, torch.tensor([1]))
        >>> value
        tensor(66.6667, grad_fn=<DivBackward0>)
        >>> value.backward(); bool(torch.isfinite(logits.grad).all())
        True
    """

    task = "classification"

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _bce_classification(input, target)
