"""One differentiable SGD step of a model, for learning what shaped the step (a learned loss).

With a model :math:`f_w`, a loss :math:`M_\\phi` whose parameters :math:`\\phi` are to be learned,
and a batch :math:`(x, y)`,

.. math::

    w'(\\phi) = w - \\alpha \\nabla_w M_\\phi(f_w(x), y),
    \\qquad
    \\nabla_\\phi L(f_{w'(\\phi)}(x_o), y_o)

is the gradient of an outer loss L after the step (reverse-mode differentiation through one
update, as online loss-function learning uses it). The step keeps the graph of
:math:`\\nabla_w M_\\phi` (``create_graph``), so the outer gradient reaches :math:`\\phi` through
the second derivative :math:`\\partial^2 M / \\partial w \\partial \\phi`. The model's own
parameters and buffers are not changed: the step runs through :func:`torch.func.functional_call`
on copies of the buffers (a batch-norm layer's running statistics stay as they were).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional

import torch
from torch import Tensor, nn
from torch.func import functional_call


def unrolled_sgd_step(
    model: nn.Module, inner_loss: Callable[[Tensor], Tensor], inputs: Any, lr: float
) -> Dict[str, Tensor]:
    """The model's trainable parameters after one SGD step on ``inner_loss(model(inputs))``, differentiable.

    Args:
        model: the network; its parameters that require a gradient take the step.
        inner_loss: the model's output -> a scalar loss (the learned loss, with its targets bound).
        inputs: what ``model`` takes.
        lr: the step size :math:`\\alpha > 0`.

    Returns:
        ``{name: w - lr * grad}`` for every trainable parameter, each still attached to the graph
        of ``inner_loss``'s parameters; pass it to :func:`call_with_parameters`.

    Example:
        >>> model = nn.Linear(2, 1)
        >>> scale = torch.tensor(2.0, requires_grad=True)
        >>> stepped = unrolled_sgd_step(model, lambda out: scale * out.pow(2).mean(), torch.ones(4, 2), lr=0.1)
        >>> sorted(stepped), stepped["weight"].requires_grad
        (['bias', 'weight'], True)
    """
    if not lr > 0:
        raise ValueError(f"unrolled_sgd_step: lr must be > 0, got {lr}")
    parameters = {name: p for name, p in model.named_parameters() if p.requires_grad}
    if not parameters:
        raise ValueError(f"unrolled_sgd_step: {type(model).__name__} has no parameter that requires a gradient")
    loss = inner_loss(call_with_parameters(model, parameters, inputs))
    gradients = torch.autograd.grad(loss, list(parameters.values()), create_graph=True, allow_unused=True)
    return {
        name: p if gradient is None else p - lr * gradient for (name, p), gradient in zip(parameters.items(), gradients)
    }


def call_with_parameters(model: nn.Module, parameters: Dict[str, Tensor], inputs: Any) -> Tensor:
    """``model(inputs)`` with ``parameters`` in place of its own (the rest, and copies of its buffers, as they are).

    Example:
        >>> model = nn.Linear(1, 1, bias=False)
        >>> call_with_parameters(model, {"weight": torch.tensor([[3.0]])}, torch.ones(1, 1))
        tensor([[3.]])
    """
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    return functional_call(model, (parameters, buffers), (inputs,), strict=False)


def lookahead_update(
    optimizer: torch.optim.Optimizer,
    model: nn.Module,
    inner_loss: Callable[[Tensor], Tensor],
    inputs: Any,
    lr: float,
    outer_loss: Callable[[Tensor], Tensor],
    outer_inputs: Any = None,
) -> float:
    """One step of ``optimizer`` on :math:`\\nabla_\\phi L(f_{w'(\\phi)}(x_o))`, the outer loss after the look-ahead.

    Args:
        optimizer: the optimiser of the learned loss's parameters :math:`\\phi` (its param groups name them).
        model, inner_loss, inputs, lr: the look-ahead step, as :func:`unrolled_sgd_step` takes them.
        outer_loss: the stepped model's output -> a scalar, the objective of :math:`\\phi`.
        outer_inputs: what the stepped model reads for ``outer_loss`` (``None``: ``inputs`` again).

    Returns:
        the outer loss's value before the update.

    Example:
        >>> model, scale = nn.Linear(2, 1), torch.tensor(1.0, requires_grad=True)
        >>> x, y = torch.ones(4, 2), torch.zeros(4, 1)
        >>> optimizer = torch.optim.SGD([scale], lr=0.1)
        >>> value = lookahead_update(optimizer, model, lambda out: scale * (out - y).pow(2).mean(), x, 0.1,
        ...                          lambda out: (out - y).pow(2).mean())
        >>> bool(scale > 1.0)  # a larger step on the squared error lowers it after the step
        True
    """
    stepped = unrolled_sgd_step(model, inner_loss, inputs, lr)
    value = outer_loss(call_with_parameters(model, stepped, inputs if outer_inputs is None else outer_inputs))
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    for parameter, gradient in zip(parameters, torch.autograd.grad(value, parameters, allow_unused=True)):
        parameter.grad = torch.zeros_like(parameter) if gradient is None else gradient
    optimizer.step()
    return float(value.detach())


class OnlineLookahead:
    """A learned loss's online learning: Adam on its parameters, one :func:`lookahead_update` per call.

    The optimiser is made at the first call, after the loss has moved to its device and dtype;
    ``losses`` keeps the outer loss of every update.

    Args:
        lr: Adam's learning rate, > 0.

    Example:
        >>> model, scale = nn.Linear(2, 1), nn.Parameter(torch.tensor(1.0))
        >>> x, y = torch.ones(4, 2), torch.zeros(4, 1)
        >>> online = OnlineLookahead(lr=0.01)
        >>> value = online.step(lambda: [scale], model, lambda out: scale * (out - y).pow(2).mean(), x, 0.1,
        ...                     lambda out: (out - y).pow(2).mean())
        >>> len(online.losses), bool(scale > 1.0)
        (1, True)
    """

    def __init__(self, lr: float) -> None:
        self.lr = lr
        self.optimizer: Optional[torch.optim.Optimizer] = None
        self.losses: List[float] = []

    @property
    def steps(self) -> int:
        """Updates so far."""
        return len(self.losses)

    def step(
        self,
        parameters: Callable[[], Iterable[Tensor]],
        model: nn.Module,
        inner_loss: Callable[[Tensor], Tensor],
        inputs: Any,
        lr: float,
        outer_loss: Callable[[Tensor], Tensor],
        outer_inputs: Any = None,
    ) -> float:
        """:func:`lookahead_update` with this object's Adam over ``parameters()``; returns the outer loss."""
        if self.optimizer is None:
            self.optimizer = torch.optim.Adam(list(parameters()), lr=self.lr)
        value = lookahead_update(self.optimizer, model, inner_loss, inputs, lr, outer_loss, outer_inputs)
        self.losses.append(value)
        return value
