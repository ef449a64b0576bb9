"""Validation-driven learning of the decision network: a one-step look-ahead hypergradient.

The SLF paper says the selection is "adjusted with the performance on the validation
set in a differentiable manner". With weights :math:`\\hat p(v)` and one SGD step of
size :math:`\\eta` on the training batch,

.. math::

    w'(v) = w - \\eta \\nabla_w H(w, v) = w - \\eta \\sum_i \\hat p_i(v) \\nabla_w \\ell_i(w),

the decision network descends the held-out loss after that step,
:math:`\\nabla_v L_{val}(w'(v)) = \\sum_i \\frac{\\partial L_{val}}{\\partial \\hat p_i}
\\frac{\\partial \\hat p_i}{\\partial v}`, with

.. math::

    \\frac{\\partial L_{val}(w')}{\\partial \\hat p_i} = -\\eta\\,
        \\langle \\nabla_w L_{val}(w'), \\nabla_w \\ell_i(w) \\rangle .

- ``exact``: differentiate through the step (``create_graph``): one forward and a
  double backward on the training batch, one forward and backward on the held-out one.
- ``first_order`` (default): evaluate :math:`\\nabla_w L_{val}` at w instead of w' (an
  :math:`O(\\eta)` change). With :math:`u = \\nabla_w L_{val}(w)` and the model output
  :math:`z = f(x; w)`, :math:`\\langle u, \\nabla_w \\ell_{bi} \\rangle =
  \\langle \\partial \\ell_{bi} / \\partial z_b, (J u)_b \\rangle`: one forward-mode JVP of
  the model along u, one small backward per candidate on the output, plus one forward
  and backward on the held-out batch. With Adam on v the factor eta cancels.

``hypergradient='cosine'`` replaces the inner product by the cosine
:math:`\\langle u, g_i \\rangle / (\\lVert u \\rVert \\lVert g_i \\rVert)`, with
:math:`g_i = \\nabla_w \\ell_i` the candidate's batch gradient (per-sample rows are divided
by the same batch norms, so they still sum to the cosine): one more forward and one
batched backward give every :math:`\\lVert g_i \\rVert`.

Per-sample selection has one weight per (sample, candidate); the same formula holds
with :math:`\\ell_{bi}` and the reduction's 1/N factor. Candidates with non-finite
values get zero coefficients.

Hosts whose models are not ``model(inputs)`` (fairseq's encoder-decoders, which take a
dict of tensors) compute :math:`\\langle u, \\nabla_w \\ell_{bi} \\rangle` with
:func:`directional_derivative`, central differences of the candidate losses along u
(two forward passes, no backward), and hand them to
:meth:`slf.StochasticLoss.validation_update`.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Protocol, Tuple, Union

import torch
from torch import Tensor, nn
from torch.autograd import forward_ad
from torch.func import functional_call


class LookaheadCriterion(Protocol):
    """What the look-ahead reads of the loss it trains (a :class:`slf.StochasticLoss` in
    validation mode), so that this module needs no import of it."""

    candidates: Any  # a slf.candidate_set.CandidateSet
    validation_loss: nn.Module
    reduction: str
    selection: str
    normalize: Optional[str]
    loss_scale: Tensor
    lookahead: str
    lookahead_lr: float
    hypergradient: str

    def candidate_losses(self, output: Tensor, target: Tensor) -> Tensor: ...

    def scale_values(self, values: Tensor, keep: Optional[List[int]] = None) -> Tensor: ...

    def decision_logits(self, features: Tensor) -> Tensor: ...

    def selection_weights(
        self, log_probs: Tensor, noise: Optional[Tensor], tau: Optional[Union[float, Tensor]] = None
    ) -> Tensor: ...


def _state(model: nn.Module) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
    params = {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}
    # Copies, so BatchNorm's running statistics are not updated by the look-ahead passes.
    buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    return params, buffers


def _reduction_factor(crit: LookaheadCriterion, batch_size: int) -> float:
    return 1.0 / max(batch_size, 1) if crit.reduction == "mean" else 1.0


def _validation_gradient(
    crit: LookaheadCriterion,
    model: nn.Module,
    params: Dict[str, Tensor],
    buffers: Dict[str, Tensor],
    val_inputs: Tensor,
    val_targets: Tensor,
) -> Tuple[Dict[str, Tensor], Tensor]:
    leaves = {name: p.clone().requires_grad_(True) for name, p in params.items()}
    val_output = functional_call(model, {**leaves, **{k: b.clone() for k, b in buffers.items()}}, (val_inputs,))
    val_loss = crit.validation_loss(val_output, val_targets).mean()
    grads = torch.autograd.grad(val_loss, list(leaves.values()), allow_unused=True)
    return (
        {name: torch.zeros_like(p) if g is None else g for (name, p), g in zip(leaves.items(), grads)},
        val_loss.detach(),
    )


def _output_jvp_forward_mode(
    model: nn.Module,
    params: Dict[str, Tensor],
    buffers: Dict[str, Tensor],
    inputs: Tensor,
    direction: Dict[str, Tensor],
) -> Tuple[Tensor, Tensor]:
    with forward_ad.dual_level():
        duals = {name: forward_ad.make_dual(p, direction[name]) for name, p in params.items()}
        output = functional_call(model, {**duals, **{k: b.clone() for k, b in buffers.items()}}, (inputs,))
        primal, tangent = forward_ad.unpack_dual(output)
        tangent = torch.zeros_like(primal) if tangent is None else tangent
        return primal.detach(), tangent.detach()


def _output_jvp_double_backward(
    model: nn.Module,
    params: Dict[str, Tensor],
    buffers: Dict[str, Tensor],
    inputs: Tensor,
    direction: Dict[str, Tensor],
) -> Tuple[Tensor, Tensor]:
    # J u = d/d(probe) <J^T probe, u>, for models with ops that lack forward-mode AD.
    leaves = {name: p.clone().requires_grad_(True) for name, p in params.items()}
    output = functional_call(model, {**leaves, **{k: b.clone() for k, b in buffers.items()}}, (inputs,))
    probe = torch.zeros_like(output, requires_grad=True)
    vjp = torch.autograd.grad(output, list(leaves.values()), probe, create_graph=True, allow_unused=True)
    inner = sum((g * direction[name]).sum() for g, name in zip(vjp, leaves) if g is not None)
    return output.detach(), torch.autograd.grad(inner, probe)[0].detach()


def _output_jvp(
    model: nn.Module,
    params: Dict[str, Tensor],
    buffers: Dict[str, Tensor],
    inputs: Tensor,
    direction: Dict[str, Tensor],
) -> Tuple[Tensor, Tensor]:
    """The model's output at w and its directional derivative along ``direction``."""
    try:
        return _output_jvp_forward_mode(model, params, buffers, inputs, direction)
    except (NotImplementedError, RuntimeError):
        return _output_jvp_double_backward(model, params, buffers, inputs, direction)


def _first_order(
    crit: LookaheadCriterion, model: nn.Module, inputs: Tensor, targets: Tensor, val_inputs: Tensor, val_targets: Tensor
) -> Tuple[Tensor, Tensor]:
    params, buffers = _state(model)
    direction, val_loss = _validation_gradient(crit, model, params, buffers, val_inputs, val_targets)
    output, output_tangent = _output_jvp(model, params, buffers, inputs, direction)
    # Each sample's loss depends on its own output row only, so
    # <u, grad_w l_bi> = <d l_bi / d z_b, (J u)_b>: one small backward per candidate.
    output.requires_grad_(True)
    columns = crit.candidates.columns(output, targets)
    output_grads = []
    for i, column in enumerate(columns):
        grad = None
        if column.requires_grad:
            (grad,) = torch.autograd.grad(column.sum(), output, retain_graph=i < len(columns) - 1, allow_unused=True)
        output_grads.append(torch.zeros_like(output) if grad is None else grad)
    rows = [(grad * output_tangent).reshape(len(output), -1).sum(dim=1) for grad in output_grads]
    derivative = torch.stack(rows, dim=1) * _reduction_factor(crit, len(targets))
    if crit.hypergradient == "cosine":
        norms = _candidate_gradient_norms(model, params, buffers, inputs, torch.nan_to_num(torch.stack(output_grads)))
        norms = norms * _reduction_factor(crit, len(targets))
        direction_norm = torch.sqrt(sum((u.double() ** 2).sum() for u in direction.values())).to(derivative.dtype)
        derivative = derivative / (norms.clamp_min(1e-12) * direction_norm.clamp_min(1e-12))
    return coefficients_from_derivatives(crit, derivative), val_loss


def _candidate_gradient_norms(
    model: nn.Module, params: Dict[str, Tensor], buffers: Dict[str, Tensor], inputs: Tensor, output_grads: Tensor
) -> Tensor:
    """:math:`\\lVert \\nabla_w \\sum_b \\ell_{bi} \\rVert` for every candidate i, from the
    candidates' output gradients ``(n, N, ...)``: one forward and one batched backward
    (``is_grads_batched``), or one backward per candidate where vmap does not apply."""
    leaves = {name: p.clone().requires_grad_(True) for name, p in params.items()}
    output = functional_call(model, {**leaves, **{k: b.clone() for k, b in buffers.items()}}, (inputs,))
    try:
        grads = torch.autograd.grad(
            output, list(leaves.values()), output_grads, is_grads_batched=True, retain_graph=True, allow_unused=True
        )
    except (NotImplementedError, RuntimeError):
        per_candidate = [
            torch.autograd.grad(output, list(leaves.values()), g, retain_graph=True, allow_unused=True)
            for g in output_grads
        ]
        grads = tuple(None if gs[0] is None else torch.stack(gs) for gs in zip(*per_candidate))
    squares = [(g.double() ** 2).reshape(len(output_grads), -1).sum(dim=1) for g in grads if g is not None]
    if not squares:
        return torch.zeros(len(output_grads), dtype=output_grads.dtype, device=output_grads.device)
    return torch.sqrt(torch.stack(squares).sum(dim=0)).to(output_grads.dtype)


def coefficients_from_derivatives(crit: LookaheadCriterion, derivative: Tensor) -> Tensor:
    """First-order :math:`\\partial L_{val}(w') / \\partial \\hat p` from
    :math:`d_{bi} = \\langle \\nabla_w L_{val}, \\nabla_w \\ell_{bi} \\rangle`.

    ``derivative`` is ``(N, n)``, of the rows' losses as the optimizer sees them (with the
    reduction's factor). Divided by the running scale when ``normalize`` is set (the
    weights multiply the scaled losses), times :math:`-\\eta`, summed over the rows for
    batch selection.
    """
    if crit.normalize is not None and crit.hypergradient == "inner":  # a cosine has no scale
        derivative = derivative / crit.loss_scale.to(derivative.dtype)
    coefficients = -crit.lookahead_lr * derivative
    if crit.selection == "batch":
        coefficients = coefficients.sum(dim=0, keepdim=True)
    return torch.nan_to_num(coefficients, nan=0.0, posinf=0.0, neginf=0.0)


@torch.no_grad()
def directional_derivative(
    model: nn.Module, direction: Dict[str, Tensor], evaluate: Callable[[], Tensor], radius: float = 1e-3
) -> Tensor:
    """Central difference of ``evaluate()`` along a direction in the model's parameters.

    .. math::

        D \\approx \\frac{E(w + h u) - E(w - h u)}{2 h},\\qquad h = \\frac{r}{\\lVert u \\rVert}

    so that the parameters move by ``radius`` r (Euclidean) each way; the error is
    :math:`O(h^2)`. The parameters are changed in place through ``.data`` (so the graph of
    a forward pass taken before stays valid for its backward) and restored bit for bit
    from a copy. ``evaluate`` must be deterministic (put the model in eval mode, or fix the
    dropout RNG) and may return any tensor, e.g. per-row candidate losses ``(N, n)``.

    Args:
        model: the network whose named parameters ``direction`` indexes.
        direction: u, by parameter name (missing names do not move).
        evaluate: reads the model, returns the quantity E to differentiate.
        radius: the parameter-space step r.

    Returns:
        D, shaped like ``evaluate()``'s result; zeros when u is zero.

    Example:
        >>> net = nn.Linear(2, 1, bias=False)
        >>> _ = net.weight.data.copy_(torch.tensor([[1.0, 2.0]]))
        >>> x = torch.tensor([[3.0, 4.0]])
        >>> d = directional_derivative(net, {"weight": torch.tensor([[1.0, 0.0]])}, lambda: net(x) ** 2)
        >>> round(float(d), 1)  # d/dt (3 (1 + t) + 8)^2 at t = 0 = 2 * 11 * 3
        66.0
    """
    params = {name: p.data for name, p in model.named_parameters() if name in direction}
    norm = torch.sqrt(sum((direction[name].double() ** 2).sum() for name in params)) if params else 0.0
    if not params or float(norm) == 0.0:
        return torch.zeros_like(evaluate())
    step = radius / float(norm)
    saved = {name: p.detach().clone() for name, p in params.items()}
    try:
        for name, p in params.items():
            p.add_(direction[name].to(p.dtype), alpha=step)
        plus = evaluate().double()
        for name, p in params.items():
            p.copy_(saved[name]).add_(direction[name].to(p.dtype), alpha=-step)
        minus = evaluate().double()
    finally:
        for name, p in params.items():
            p.copy_(saved[name])
    return ((plus - minus) / (2 * step)).float()


def _exact(
    crit: LookaheadCriterion,
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    val_inputs: Tensor,
    val_targets: Tensor,
    saved: Dict[str, Tensor],
) -> Tuple[Tensor, Tensor]:
    params, buffers = _state(model)
    leaves = {name: p.clone().requires_grad_(True) for name, p in params.items()}
    output = functional_call(model, {**leaves, **{k: b.clone() for k, b in buffers.items()}}, (inputs,))
    values = crit.scale_values(crit.candidate_losses(output, targets))
    weights = crit.selection_weights(crit.decision_logits(saved["features"]), saved["noise"], saved["tau"]).detach()
    weights.requires_grad_(True)
    finite = torch.isfinite(values.detach().sum(dim=0))
    values = torch.where(finite, values, torch.zeros_like(values))
    objective = (values * weights).sum(dim=1)
    objective = objective.mean() if crit.reduction == "mean" else objective.sum()
    grads = torch.autograd.grad(objective, list(leaves.values()), create_graph=True, allow_unused=True)
    stepped = {name: p if g is None else p - crit.lookahead_lr * g for (name, p), g in zip(leaves.items(), grads)}
    val_output = functional_call(model, {**stepped, **{k: b.clone() for k, b in buffers.items()}}, (val_inputs,))
    val_loss = crit.validation_loss(val_output, val_targets).mean()
    (coefficients,) = torch.autograd.grad(val_loss, weights)
    return coefficients.detach(), val_loss.detach()


def decision_hypergradient(
    crit: LookaheadCriterion,
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    val_inputs: Tensor,
    val_targets: Tensor,
    saved: Dict[str, Tensor],
) -> Tuple[Tensor, Tensor]:
    """Coefficients :math:`\\partial L_{val}(w') / \\partial \\hat p`, shaped like the weights.

    Returns:
        ``(coefficients, validation_loss)``; coefficients are ``(1, n)`` for batch
        selection and ``(N, n)`` for per-sample selection.
    """
    if crit.lookahead == "exact":
        coefficients, val_loss = _exact(crit, model, inputs, targets, val_inputs, val_targets, saved)
    else:
        coefficients, val_loss = _first_order(crit, model, inputs, targets, val_inputs, val_targets)
    return torch.nan_to_num(coefficients, nan=0.0, posinf=0.0, neginf=0.0), val_loss
