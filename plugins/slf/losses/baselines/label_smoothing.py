"""Cross-entropy against label-smoothed targets (``label_smoothing``, classification)."""

from __future__ import annotations

import torch  # noqa: F401  (the shared docstring examples use it)
import torch.nn.functional as F
from torch import Tensor

from .._utils import gather_target
from ..base import BaseLoss
from ..registry import register
from ..shared_docs import shared_sections


def _check_epsilon(epsilon: float, name: str) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not (0.0 <= epsilon <= 1.0):
        raise ValueError(f"{name}: epsilon must be a number in [0, 1], got {epsilon!r}")
    return float(epsilon)


def _label_smoothing(logits: Tensor, target: Tensor, epsilon: float) -> Tensor:
    log_p = F.log_softmax(logits, dim=1)
    return -(1.0 - epsilon) * gather_target(log_p, target) - epsilon * log_p.mean(dim=1)


@shared_sections
def label_smoothing_loss(logits: Tensor, target: Tensor, epsilon: float = 0.1, reduction: str = "mean") -> Tensor:
    r"""Cross-entropy against the smoothed target :math:`(1 - \epsilon)\, \operatorname{onehot}(y) + \epsilon / C`.

    .. math::

        \ell(z, y) = -(1 - \epsilon) \log p_y - \frac{\epsilon}{C} \sum_{c=1}^{C} \log p_c,
        \qquad p = \operatorname{softmax}(z)

    Szegedy et al., "Rethinking the Inception Architecture", CVPR 2016. Same values as
    ``F.cross_entropy(logits, target, label_smoothing=epsilon)``. The minimum is not 0
    but the entropy of the smoothed target, reached at
    :math:`\log p = \log((1 - \epsilon)\, \operatorname{onehot}(y) + \epsilon / C)`.

    Args:
        logits: unnormalised class scores.
        target: class indices in ``[0, C)``.
        epsilon: smoothing mass in ``[0, 1]`` (default 0.1).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {CLASSIFICATION_SHAPE}

    Example:
        >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
        >>> label_smoothing_loss(logits, torch.tensor([0, 2]), reduction="none")
        tensor([0.3913, 0.2996])
    """
    return LabelSmoothingLoss(epsilon, reduction)(logits, target)


@shared_sections
@register("label_smoothing", "classification")
class LabelSmoothingLoss(BaseLoss):
    r"""Label-smoothed cross-entropy; see :func:`label_smoothing_loss`.

    Args:
        epsilon: smoothing mass in ``[0, 1]`` (default 0.1).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {CLASSIFICATION_MODULE_SHAPE}

    Example:
        >>> LabelSmoothingLoss(epsilon=0.0)(torch.tensor([[0.0, 0.0]]), torch.tensor([1]))
        tensor(0.6931)
    """

    task = "classification"

    def __init__(self, epsilon: float = 0.1, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.epsilon = _check_epsilon(epsilon, self.name)

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _label_smoothing(input, target, self.epsilon)

    def extra_repr(self) -> str:
        return f"epsilon={self.epsilon}, " + super().extra_repr()
