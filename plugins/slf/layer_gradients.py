"""The gradients that gradient alignment compares, taken with respect to a model's last layer: finding that layer
from the output's autograd graph, one loss's flat gradient, and every candidate's gradient in one vectorised
backward."""

from __future__ import annotations

from typing import List, Sequence, Tuple

import torch
from torch import Tensor, nn


def last_layer_parameters(
    outputs: Sequence[Tensor], exclude: Sequence[Tensor] = (), max_depth: int = 64
) -> List[nn.Parameter]:
    """The trainable tensors closest to ``outputs`` in their autograd graph: the last layer.

    A breadth-first walk from the outputs' ``grad_fn`` collects the leaves that require grad
    (parameters) level by level, and stops after the level that holds the first weight
    matrix or kernel (a parameter of two or more dimensions): a linear layer's bias and
    weight, a convolution's, or a normalisation's scale and shift together with the linear
    layer before it.

    Args:
        outputs: tensors with a graph (the model output, or several loss terms).
        exclude: parameters to pass over (a weight shared with the input embedding, whose
            gradient would run through the whole network).
        max_depth: give up beyond this depth.

    Returns:
        the parameters, in the order found; empty when the outputs have no graph.

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        >>> found = last_layer_parameters([net(torch.randn(2, 4))])
        >>> sorted(tuple(p.shape) for p in found)
        [(3,), (3, 8)]
    """
    frontier = [t.grad_fn for t in outputs if t is not None and t.grad_fn is not None]
    seen = set()
    found: List[nn.Parameter] = []
    found_ids = {id(p) for p in exclude}
    for _ in range(max_depth):
        following = []
        for node in frontier:
            for child, _ in node.next_functions:
                if child is None or child in seen:
                    continue
                seen.add(child)
                variable = getattr(child, "variable", None)
                if variable is None:
                    following.append(child)
                elif variable.requires_grad and id(variable) not in found_ids:
                    found.append(variable)
                    found_ids.add(id(variable))
        if any(p.dim() >= 2 for p in found) or not following:
            break
        frontier = following
    return found


def flat_gradient(loss: Tensor, parameters: Sequence[Tensor], retain_graph: bool = True) -> Tensor:
    """:math:`\\nabla_\\theta` ``loss`` as one flat vector (zeros where a parameter is unused).

    Example:
        >>> w = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> flat_gradient((w ** 2).sum(), [w])
        tensor([2., 4.])
    """
    grads = torch.autograd.grad(loss, list(parameters), retain_graph=retain_graph, allow_unused=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1).float() for p, g in zip(parameters, grads)])


def candidate_gradients(columns: Sequence[Tensor], parameters: Sequence[Tensor], batched: bool = True) -> Tensor:
    """Each column's gradient with respect to ``parameters``, one flat row per column ``(n, P)``.

    With ``batched`` the rows come from one backward pass vectorised over the columns
    (``torch.autograd.grad(..., is_grads_batched=True)``: the rows of the identity as the
    columns' output gradients), else from one backward per column; the two agree (a test holds
    them equal), the first costs about one backward instead of n. A graph with an operation
    that has no batching rule raises a ``RuntimeError`` in the batched form: call again with
    ``batched=False``. A column without a graph (a candidate that does not depend on the
    parameters) gives a zero row. The graph is kept for the caller's backward.

    Example:
        >>> w = torch.tensor([1.0, -1.0], requires_grad=True)
        >>> candidate_gradients([(w ** 2).sum(), w.sum()], [w])
        tensor([[ 2., -2.],
                [ 1.,  1.]])
        >>> candidate_gradients([(w ** 2).sum(), w.sum()], [w], batched=False)
        tensor([[ 2., -2.],
                [ 1.,  1.]])
    """
    size = sum(p.numel() for p in parameters)
    device = parameters[0].device if parameters else None
    rows = torch.zeros(len(columns), size, device=device)
    live = [i for i, column in enumerate(columns) if column.requires_grad]
    if not live:
        return rows
    if not batched:
        for i in live:
            rows[i] = flat_gradient(columns[i], parameters)
        return rows
    stacked = torch.stack([columns[i] for i in live])
    identity = torch.eye(len(live), dtype=stacked.dtype, device=stacked.device)
    grads = torch.autograd.grad(
        stacked, list(parameters), grad_outputs=identity, retain_graph=True, allow_unused=True, is_grads_batched=True
    )
    rows[live] = torch.cat(
        [
            (torch.zeros(len(live), p.numel(), device=p.device) if g is None else g.reshape(len(live), -1)).float()
            for p, g in zip(parameters, grads)
        ],
        dim=1,
    )
    return rows


LayerKey = Tuple[int, ...]


def layer_key(parameters: Sequence[Tensor]) -> LayerKey:
    """An in-process key for a set of parameters (their identities), to pair gradients with references."""
    return tuple(id(p) for p in parameters)
