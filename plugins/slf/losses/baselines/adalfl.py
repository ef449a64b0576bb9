"""AdaLFL, online loss-function learning (Raymond, Chen, Xue, Zhang, TMLR 2025): ``adalfl``, for
classification, regression and binary (DAC's pairwise) targets.

The loss is a small network, learned online: after every step of the model, one step of the
loss's parameters on the task loss that the model would reach by one SGD step on the learned
loss (a one-step look-ahead, :mod:`slf.unrolled_step`). Which parts follow the paper and which
are ours (its method section and code could not be read here; the form of the loss network is
that of the authors' public meta-learning code):

- **The network** (theirs): two hidden layers of 50 units, smooth leaky ReLU (beta 2, gamma 0.25),
  no biases, one network over each output's (prediction, target) pair, averaged over the outputs;
  the prediction is the softmax probability for classification (the target one-hot) and the raw
  output for regression.
- **The start** (ours): the task loss plus the network's term, whose last layer starts at zero,
  so training starts at cross-entropy (MSE). The paper starts from an offline meta-training phase
  instead; starting at the task loss spares that phase its cost and keeps a known start.
- **The online update** (the paper's): before each step of the model,
  :math:`\\phi \\leftarrow \\phi - \\eta\\, \\mathrm{Adam}(\\nabla_\\phi L_T(f_{w'}(x), y))`, with
  :math:`w' = w - \\alpha \\nabla_w M_\\phi(f_w(x), y)` on the same training batch, :math:`L_T` the
  task loss (cross-entropy, MSE), :math:`\\eta = 10^{-3}`. The paper's look-ahead is the model's
  own SGD step; where the model trains with another optimiser (Adam in ``slf classify``) the
  look-ahead is an SGD step of ``lookahead_lr`` (the trainers pass the model's learning rate).
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...unrolled_step import OnlineLookahead
from .._utils import check_binary_inputs, check_positive
from ..base import BaseLoss, per_sample_mean
from ..registry import register
from .loss_network import ElementwiseLossNetwork


def adalfl_loss(
    input: Tensor,
    target: Tensor,
    network: ElementwiseLossNetwork,
    task: str = "classification",
    reduction: str = "mean",
    from_logits: bool = True,
) -> Tensor:
    r"""The AdaLFL loss with the loss network ``network``: the task loss plus the network's term.

    .. math::

        M_\phi(z, y) = L_T(z, y) + \frac{1}{C} \sum_{c=1}^{C} g_\phi(\hat y_c, y_c)

    with :math:`L_T` cross-entropy and :math:`\hat y = \operatorname{softmax}(z)`, y one-hot
    (classification), or :math:`L_T` the squared error and :math:`\hat y = z` (regression).

    Args:
        input: logits :math:`(N, C)` (classification) or predictions of the target's shape (regression).
        target: class indices :math:`(N,)`, or targets of the input's shape.
        network: the learned term :math:`g_\phi`.
        task: ``'classification'``, ``'regression'`` or ``'binary'`` (logits and 0/1 targets: binary cross-entropy).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        from_logits: binary task only: ``True`` for logits, ``False`` for probabilities.

    Example:
        >>> network = ElementwiseLossNetwork(hidden=4)  # starts at zero: the loss is cross-entropy
        >>> adalfl_loss(torch.tensor([[2.0, 0.0]]), torch.tensor([0]), network)
        tensor(0.1269, grad_fn=<DivBackward0>)
    """
    if task not in ADALFL_TASKS:
        raise ValueError(f"adalfl: task must be one of {list(ADALFL_TASKS)}, got {task!r}")
    loss = ADALFL_TASKS[task](reduction=reduction, **({"from_logits": from_logits} if task == "binary" else {}))
    loss.network = network
    return loss(input, target)


class AdaLFLLoss(BaseLoss):
    """The AdaLFL loss (see the module and :func:`adalfl_loss`) and its online update, :meth:`meta_step`.

    The network's parameters are not the model's: they learn only in :meth:`meta_step`, which
    the trainer calls before each step of the model (``slf classify --loss adalfl`` and
    ``slf graph --loss adalfl`` do). Leave them out of the model's optimiser.

    Args:
        hidden: units per hidden layer of the loss network.
        meta_lr: Adam's learning rate for the loss network, > 0.
        lookahead_lr: the look-ahead SGD step's size, > 0.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
    """

    minimum: ClassVar[Optional[float]] = None  # the learned term may go below zero
    learns_online: ClassVar[bool] = True

    def __init__(
        self, hidden: int = 50, meta_lr: float = 1e-3, lookahead_lr: float = 1e-3, reduction: str = "mean"
    ) -> None:
        super().__init__(reduction)
        check_positive(meta_lr, "meta_lr", self.name)
        check_positive(lookahead_lr, "lookahead_lr", self.name)
        self.network = ElementwiseLossNetwork(hidden)
        self.meta_lr, self.lookahead_lr = float(meta_lr), float(lookahead_lr)
        self.online = OnlineLookahead(self.meta_lr)

    def task_loss(self, input: Tensor, target: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def network_inputs(self, input: Tensor, target: Tensor) -> Tuple[Tensor, Tensor]:  # pragma: no cover
        raise NotImplementedError

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        return self.task_loss(input, target) + self.network(*self.network_inputs(input, target))

    def meta_step(self, model: nn.Module, inputs: Any, target: Tensor) -> Dict[str, float]:
        """One online update of the loss network from a look-ahead step of ``model`` on ``(inputs, target)``.

        Returns ``{'meta_loss': L_T after the look-ahead step}``.

        Example:
            >>> _ = torch.manual_seed(0)
            >>> model, loss = nn.Linear(4, 3), AdaLFLClassificationLoss(hidden=8)
            >>> before = loss.network.layers[-1].weight.detach().clone()
            >>> info = loss.meta_step(model, torch.randn(16, 4), torch.randint(0, 3, (16,)))
            >>> bool((loss.network.layers[-1].weight != before).any()), loss.online.steps
            (True, 1)
        """
        meta_loss = self.online.step(
            self.network.parameters,
            model,
            lambda output: self(output, target, reduction="mean"),
            inputs,
            self.lookahead_lr,
            lambda output: self.task_loss(output, target).mean(),
        )
        return {"meta_loss": meta_loss}

    def extra_repr(self) -> str:
        return f"meta_lr={self.meta_lr}, lookahead_lr={self.lookahead_lr}, reduction={self.reduction!r}"


@register("adalfl", "classification")
class AdaLFLClassificationLoss(AdaLFLLoss):
    """AdaLFL for logits :math:`(N, C)` and class indices: cross-entropy plus the learned term of the
    softmax probabilities and the one-hot target; see :func:`adalfl_loss` and :class:`AdaLFLLoss`.

    Example:
        >>> AdaLFLClassificationLoss()(torch.tensor([[2.0, 0.0]]), torch.tensor([0]))  # cross-entropy at first
        tensor(0.1269, grad_fn=<DivBackward0>)
    """

    task = "classification"

    def task_loss(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(input, target, reduction="none")

    def network_inputs(self, input: Tensor, target: Tensor) -> Tuple[Tensor, Tensor]:
        return F.softmax(input, dim=1), F.one_hot(target, input.shape[1])


@register("adalfl", "regression")
class AdaLFLRegressionLoss(AdaLFLLoss):
    """AdaLFL for regression: the squared error (averaged over each sample's outputs) plus the learned
    term of each (prediction, target) pair; see :func:`adalfl_loss` and :class:`AdaLFLLoss`.

    Example:
        >>> AdaLFLRegressionLoss()(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 2.0]))  # MSE at first
        tensor(0.5000, grad_fn=<DivBackward0>)
    """

    task = "regression"

    def task_loss(self, input: Tensor, target: Tensor) -> Tensor:
        return per_sample_mean((input - target).pow(2))

    def network_inputs(self, input: Tensor, target: Tensor) -> Tuple[Tensor, Tensor]:
        if input.dim() == 1:
            return input.unsqueeze(1), target.unsqueeze(1)
        return input.flatten(1), target.flatten(1)


@register("adalfl", "binary")
class AdaLFLBinaryLoss(AdaLFLLoss):
    """AdaLFL for binary or pairwise targets (DAC's pairs, ``slf dac --loss adalfl``): binary
    cross-entropy plus the learned term of each (probability, 0/1 target) pair; see :class:`AdaLFLLoss`.

    Args:
        from_logits: ``True``: the input holds logits; ``False``: probabilities in (0, 1), as DAC's
            pair similarities.
        hidden, meta_lr, lookahead_lr, reduction: as :class:`AdaLFLLoss`.

    Example:
        >>> AdaLFLBinaryLoss(from_logits=False)(torch.tensor([0.8, 0.5]), torch.tensor([1.0, 0.0]))  # BCE at first
        tensor(0.4581, grad_fn=<DivBackward0>)
    """

    task = "binary"

    def __init__(
        self,
        from_logits: bool = True,
        hidden: int = 50,
        meta_lr: float = 1e-3,
        lookahead_lr: float = 1e-3,
        reduction: str = "mean",
    ) -> None:
        super().__init__(hidden, meta_lr, lookahead_lr, reduction)
        if not isinstance(from_logits, bool):
            raise TypeError(f"{self.name}: from_logits must be True or False, got {from_logits!r}")
        self.from_logits = from_logits

    def validate(self, input: Tensor, target: Tensor) -> None:
        check_binary_inputs(input, target, self.from_logits, self.name)

    def task_loss(self, input: Tensor, target: Tensor) -> Tensor:
        if self.from_logits:
            return per_sample_mean(F.binary_cross_entropy_with_logits(input, target, reduction="none"))
        return per_sample_mean(F.binary_cross_entropy(input, target, reduction="none"))

    def network_inputs(self, input: Tensor, target: Tensor) -> Tuple[Tensor, Tensor]:
        probability = torch.sigmoid(input) if self.from_logits else input
        if input.dim() == 1:
            return probability.unsqueeze(1), target.unsqueeze(1)
        return probability.flatten(1), target.flatten(1)

    def extra_repr(self) -> str:
        return f"from_logits={self.from_logits}, " + super().extra_repr()


ADALFL_TASKS = {
    "classification": AdaLFLClassificationLoss,
    "regression": AdaLFLRegressionLoss,
    "binary": AdaLFLBinaryLoss,
}
