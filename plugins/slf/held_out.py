"""Held-out batches for the default recipe: ``StochasticLoss(candidates, held_out=HeldOut(model, batches))``.

The default recipe (:mod:`slf.alignment`) compares each candidate's gradient with the
gradient of a reference loss on data the model does not train on. :class:`HeldOut`
holds what that needs in plain PyTorch: the model and an endless supply of held-out
``(inputs, targets)`` batches. The loss draws one whenever its reference is due, so
there is no step to call by hand and none to forget.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterable, Iterator, Optional, Tuple

import torch
from torch import Tensor, nn


class HeldOut:
    """A model and the held-out batches its loss compares against.

    Args:
        model: the network being trained, unwrapped (a ``DistributedDataParallel``
            wrapper is unwrapped here: the held-out pass takes no part in its reduction).
        batches: an iterable of held-out batches, e.g. a ``DataLoader`` over the validation
            split; it is iterated again from the start whenever it runs out (a ``DataLoader``
            with ``shuffle=True`` reshuffles each time).
        forward: ``forward(model, batch) -> (output, target)`` for batches that are not
            ``(inputs, targets)`` pairs (a graph batch, a dict); the default moves a pair to
            the model's device and returns ``(model(inputs), targets)``.

    The held-out forward runs in the model's own mode (training mode during training, so a
    batch-norm layer normalises the held-out batch by its own statistics, as it does the
    training batch whose gradients it is compared with) with gradients enabled; the
    running statistics are left as they were (:func:`frozen_batch_norm`).

    Example:
        >>> model = nn.Linear(4, 3)
        >>> data = [(torch.randn(8, 4), torch.randint(0, 3, (8,)))]
        >>> held_out = HeldOut(model, data)
        >>> output, target = held_out.next_batch()
        >>> output.shape, output.requires_grad
        (torch.Size([8, 3]), True)
    """

    def __init__(
        self,
        model: nn.Module,
        batches: Iterable[Any],
        forward: Optional[Callable[[nn.Module, Any], Tuple[Tensor, Tensor]]] = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"HeldOut needs the model (an nn.Module), got {type(model).__name__}")
        if isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        self.model = model
        self.batches = Cycle(batches, "HeldOut")
        self.forward = forward or _pair_forward

    def next_batch(self, graph_from: Optional[nn.Module] = None) -> Tuple[Tensor, Tensor]:
        """The model's output on the next held-out batch (with its graph) and that batch's targets
        (:meth:`forward_batch`)."""
        return self.forward_batch(next(self.batches), graph_from)

    def forward_batch(self, batch: Any, graph_from: Optional[nn.Module] = None) -> Tuple[Tensor, Tensor]:
        """The model's output on ``batch`` with its graph, and the batch's targets.

        With ``graph_from`` (a module of the model, e.g. its output layer) the graph begins
        where that module is called (:func:`graph_from_module`): the layers before it run without
        gradients, which is all a gradient with respect to its parameters needs.
        """
        with frozen_batch_norm(self.model), graph_from_module(graph_from):
            return self.forward(self.model, batch)


@contextlib.contextmanager
def graph_from_module(module: Optional[nn.Module]) -> Iterator[None]:
    """Within the block, no graph is recorded until ``module`` is called; from its call to the
    block's end, one is (all through the block when ``module`` is None).

    For a gradient with respect to ``module``'s parameters alone, the layers before it need no
    graph: skipping it saves their saved tensors and bookkeeping (max pooling's indices, say),
    and the gradient is the same, as long as its parameters act only through its calls.

    Example:
        >>> net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        >>> with graph_from_module(net[2]):
        ...     out = net(torch.randn(5, 3))
        >>> out.requires_grad, torch.autograd.grad(out.sum(), [net[0].weight], allow_unused=True)[0] is None
        (True, True)
    """
    if module is None:
        with torch.enable_grad():
            yield
        return

    def record_from_here(_module: nn.Module, _inputs: Any) -> None:
        torch.set_grad_enabled(True)  # until no_grad's exit restores the mode the block began with

    handle = module.register_forward_pre_hook(record_from_here)
    try:
        with torch.no_grad():
            yield
    finally:
        handle.remove()


@contextlib.contextmanager
def frozen_batch_norm(model: nn.Module) -> Iterator[None]:
    """Within the block, the batch-norm layers of ``model`` keep their running statistics: a
    held-out pass in training mode leaves no trace in them.

    Example:
        >>> net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
        >>> before = net[1].running_mean.clone()
        >>> with frozen_batch_norm(net):
        ...     _ = net(torch.randn(8, 3))
        >>> torch.equal(net[1].running_mean, before)
        True
    """
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._NormBase)]
    saved = [{name: b.detach().clone() for name, b in m.named_buffers(recurse=False)} for m in layers]
    try:
        yield
    finally:
        # The copies take the buffers' places: the pass's graph still holds the updated tensors
        # (batch norm saves them for its backward), which an in-place restore would invalidate.
        for layer, buffers in zip(layers, saved):
            for name, value in buffers.items():
                layer._buffers[name] = value


class Cycle:
    """Endless iteration over an iterable that starts over whenever it runs out (a ``DataLoader``
    with ``shuffle=True`` reshuffles each time).

    Args:
        iterable: the batches.
        owner: who draws them, for the error an empty iterable raises.

    Example:
        >>> batches = Cycle([1, 2])
        >>> [next(batches) for _ in range(5)]
        [1, 2, 1, 2, 1]
    """

    def __init__(self, iterable: Iterable[Any], owner: str = "Cycle") -> None:
        self.iterable = iterable
        self.owner = owner
        self._iterator: Optional[Iterator[Any]] = None

    def __iter__(self) -> "Cycle":
        return self

    def __next__(self) -> Any:
        for _ in range(2):
            if self._iterator is None:
                self._iterator = iter(self.iterable)
            try:
                return next(self._iterator)
            except StopIteration:
                self._iterator = None
        raise ValueError(f"{self.owner} got an empty iterable of batches: give it at least one held-out batch")


def _pair_forward(model: nn.Module, batch: Any) -> Tuple[Tensor, Tensor]:
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise ValueError(
            f"HeldOut batches must be (inputs, targets) pairs, got {type(batch).__name__}; "
            "pass forward=... for other batches"
        )
    inputs, targets = batch
    parameter = next(model.parameters(), None)
    if parameter is not None:
        inputs, targets = inputs.to(parameter.device), targets.to(parameter.device)
    return model(inputs), targets
