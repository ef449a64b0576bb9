"""Bi-tempered logistic loss for 0/1 targets (``bi_tempered``, task ``binary``).

The two-class form of :mod:`slf.losses.classification.bi_tempered` with activations
``[x, 0]``, as the reference implementation's binary variant (Amid et al., NeurIPS 2019).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..base import per_sample_mean
from ..classification.bi_tempered import _bi_tempered, _bregman_divergence, _check_tempered, _smooth, _tempered_repr
from ..classification.tempered import _check_num_iters, _check_t2, _tempered_log_softmax
from ..registry import register
from ..shared_docs import shared_sections
from ._base import BinaryLoss


def _two_class(values: Tensor) -> Tensor:
    """``x -> [x, 0]`` along a new last dimension: ``(N, *) -> (N, *, 2)``."""
    return torch.stack([values, torch.zeros_like(values)], dim=-1)


def tempered_sigmoid(input: Tensor, t: float, num_iters: int = 5) -> Tensor:
    r"""Tempered sigmoid: the first entry of the tempered softmax of ``[x, 0]``.

    The sigmoid at ``t = 1``; the probabilities a model trained with
    :class:`BiTemperedBinaryLoss` predicts, with ``t = t2``.

    Args:
        input: logits, any shape.
        t: temperature ``> 0``.
        num_iters: iterations of the paper's scheme before Newton's refinement (>= 1).

    Example:
        >>> tempered_sigmoid(torch.tensor([-3.0, 0.0, 3.0]), t=1.0)
        tensor([0.0474, 0.5000, 0.9526])
        >>> tempered_sigmoid(torch.tensor([-3.0, 0.0, 3.0]), t=2.0)
        tensor([0.2324, 0.5000, 0.7676])
    """
    if not torch.is_tensor(input) or not input.is_floating_point():
        raise TypeError(f"tempered_sigmoid: input must be a floating point tensor, got {type(input).__name__}")
    t = _check_t2(t, "tempered_sigmoid", "t")
    num_iters = _check_num_iters(num_iters, "tempered_sigmoid")
    return torch.exp(_tempered_log_softmax(_two_class(input), t, num_iters)[..., 0])


def _bi_tempered_binary(
    input: Tensor, target: Tensor, t1: float, t2: float, label_smoothing: float, num_iters: int, from_logits: bool
) -> Tensor:
    target = target.to(input.dtype)
    labels = torch.stack([target, 1.0 - target], dim=-1)
    if from_logits:
        values = _bi_tempered(_two_class(input), labels, t1, t2, label_smoothing, num_iters)
    else:
        # The probability is what the tempered sigmoid would give: the logit
        # log_t2(q) - log_t2(1 - q) maps back to q itself, so the divergence is taken at q.
        eps = torch.finfo(input.dtype).eps
        q = input.clamp(eps, 1.0 - eps)
        log_p = torch.stack([torch.log(q), torch.log1p(-q)], dim=-1)
        values = _bregman_divergence(_smooth(labels, label_smoothing), log_p, t1)
    return per_sample_mean(values)


@shared_sections
def bi_tempered_binary_loss(
    input: Tensor,
    target: Tensor,
    t1: float,
    t2: float,
    label_smoothing: float = 0.0,
    num_iters: int = 5,
    from_logits: bool = True,
    reduction: str = "mean",
) -> Tensor:
    r"""Bi-tempered logistic loss of each element against a 0/1 target.

    .. math::

        \ell(x, y) = \sum_{c \in \{1, 0\}} \Bigl[ y_c (\log_{t_1} y_c - \log_{t_1} \hat y_c)
            - \frac{y_c^{2-t_1} - \hat y_c^{2-t_1}}{2 - t_1} \Bigr],
        \qquad (y_1, y_0) = (y, 1 - y), \quad
        (\hat y_1, \hat y_0) = \text{tempered\_softmax}_{t_2}([x, 0])

    the two-class bi-tempered loss (see
    :func:`~slf.losses.classification.bi_tempered.bi_tempered_logistic_loss`); at
    :math:`t_1 = t_2 = 1` it is the logistic loss (binary cross-entropy with logits).
    With ``from_logits=False`` the input is the predicted probability :math:`\hat y_1`
    itself: it is clamped to :math:`[\varepsilon, 1 - \varepsilon]` (:math:`\varepsilon`
    the dtype's machine epsilon) and converted to the logit
    :math:`\log_{t_2} \hat y_1 - \log_{t_2}(1 - \hat y_1)`, the inverse of the tempered
    sigmoid, so the divergence is taken at the clamped probability (and ``t2`` has no
    effect). ``label_smoothing`` :math:`\epsilon` uses :math:`(1 - \epsilon) y + \epsilon / 2`.
    Per-sample values average the non-batch dimensions.

    Computed from ``[x, 0] - max(x, 0)``, so values and gradients stay finite for extreme
    logits, also at :math:`t_1 = 0.8, t_2 = 2` (the setting of a NaN report against the
    reference, google/bi-tempered-loss issue 13).

    Args:
        input: logits (``from_logits=True``) or probabilities in ``[0, 1]``.
        target: labels in ``[0, 1]`` (0/1; soft labels are accepted), same shape.
        t1: temperature of the logarithm, in ``[0, 1]``.
        t2: temperature of the tempered sigmoid, ``> 0``.
        label_smoothing: smoothing mass in ``[0, 1)``.
        num_iters: iterations of the paper's scheme for the normalisation (>= 1).
        from_logits: whether ``input`` holds logits or probabilities.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {BINARY_SHAPE}

    Example:
        >>> x, y = torch.tensor([2.0, -1.0, 0.0]), torch.tensor([1.0, 0.0, 1.0])
        >>> bi_tempered_binary_loss(x, y, t1=1.0, t2=1.0, reduction="none")  # logistic loss
        tensor([0.1269, 0.3133, 0.6931])
        >>> bi_tempered_binary_loss(x, y, t1=0.8, t2=2.0, reduction="none")
        tensor([0.2422, 0.3558, 0.5394])
    """
    return BiTemperedBinaryLoss(t1, t2, label_smoothing, num_iters, from_logits, reduction)(input, target)


@shared_sections
@register("bi_tempered", "binary")
class BiTemperedBinaryLoss(BinaryLoss):
    r"""Two-class bi-tempered logistic loss for 0/1 targets; see :func:`bi_tempered_binary_loss`.

    Args:
        t1: temperature of the logarithm, in ``[0, 1]`` (default 0.8).
        t2: temperature of the tempered sigmoid, ``> 0`` (default 1.2).
        label_smoothing: smoothing mass in ``[0, 1)`` (default 0).
        num_iters: iterations of the paper's scheme for the normalisation (default 5).
        from_logits: ``True`` (default): the input holds logits; ``False``: probabilities in ``[0, 1]``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {BINARY_MODULE_SHAPE}

    Example:
        >>> loss = BiTemperedBinaryLoss(reduction="none")
        >>> loss(torch.tensor([[2.0, -1.0], [0.0, 0.0]]), torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
        tensor([0.1792, 0.5394])
    """

    def __init__(
        self,
        t1: float = 0.8,
        t2: float = 1.2,
        label_smoothing: float = 0.0,
        num_iters: int = 5,
        from_logits: bool = True,
        reduction: str = "mean",
    ) -> None:
        super().__init__(from_logits, reduction)
        self.t1, self.t2, self.label_smoothing, self.num_iters = _check_tempered(
            t1, t2, label_smoothing, num_iters, self.name
        )

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return _bi_tempered_binary(
            input, target, self.t1, self.t2, self.label_smoothing, self.num_iters, self.from_logits
        )

    def extra_repr(self) -> str:
        return _tempered_repr(self) + super().extra_repr()
