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

Per-sample selection has one weight per (sample, candidate); the same formula holds
with :math:`\\ell_{bi}` and the reduction's 1/N factor. Candidates with non-finite
values get zero coefficients.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Tuple

import torch
from torch import Tensor, nn
from torch.autograd import forward_ad
from torch.func import functional_call

if TYPE_CHECKING:  # pragma: no cover
    from .stochastic_loss import StochasticLoss


def _state(model: nn.Module) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
    params = {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}
    # Copies, so BatchNorm's running statistics are not updated by the look-ahead passes.
    buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    return params, buffers


def _reduction_factor(crit: "StochasticLoss", batch_size: int) -> float:
    return 1.0 / max(batch_size, 1) if crit.reduction == "mean" else 1.0


def _validation_gradient(crit: "StochasticLoss", model: nn.Module, params: Dict[str, Tensor],
                         buffers: Dict[str, Tensor], val_inputs: Tensor, val_targets: Tensor
                         ) -> Tuple[Dict[str, Tensor], Tensor]:
    leaves = {name: p.clone().requires_grad_(True) for name, p in params.items()}
    val_output = functional_call(model, {**leaves, **{k: b.clone() for k, b in buffers.items()}}, (val_inputs,))
    val_loss = crit.validation_loss(val_output, val_targets).mean()
    grads = torch.autograd.grad(val_loss, list(leaves.values()), allow_unused=True)
    return ({name: torch.zeros_like(p) if g is None else g for (name, p), g in zip(leaves.items(), grads)},
            val_loss.detach())


def _output_jvp_forward_mode(model: nn.Module, params: Dict[str, Tensor], buffers: Dict[str, Tensor],
                             inputs: Tensor, direction: Dict[str, Tensor]) -> Tuple[Tensor, Tensor]:
    with forward_ad.dual_level():
        duals = {name: forward_ad.make_dual(p, direction[name]) for name, p in params.items()}
        output = functional_call(model, {**duals, **{k: b.clone() for k, b in buffers.items()}}, (inputs,))
        primal, tangent = forward_ad.unpack_dual(output)
        tangent = torch.zeros_like(primal) if tangent is None else tangent
        return primal.detach(), tangent.detach()


def _output_jvp_double_backward(model: nn.Module, params: Dict[str, Tensor], buffers: Dict[str, Tensor],
                                inputs: Tensor, direction: Dict[str, Tensor]) -> Tuple[Tensor, Tensor]:
    # J u = d/d(probe) <J^T probe, u>, for models with ops that lack forward-mode AD.
    leaves = {name: p.clone().requires_grad_(True) for name, p in params.items()}
    output = functional_call(model, {**leaves, **{k: b.clone() for k, b in buffers.items()}}, (inputs,))
    probe = torch.zeros_like(output, requires_grad=True)
    vjp = torch.autograd.grad(output, list(leaves.values()), probe, create_graph=True, allow_unused=True)
    inner = sum((g * direction[name]).sum() for g, name in zip(vjp, leaves) if g is not None)
    return output.detach(), torch.autograd.grad(inner, probe)[0].detach()


def _output_jvp(model: nn.Module, params: Dict[str, Tensor], buffers: Dict[str, Tensor], inputs: Tensor,
                direction: Dict[str, Tensor]) -> Tuple[Tensor, Tensor]:
    """The model's output at w and its directional derivative along ``direction``."""
    try:
        return _output_jvp_forward_mode(model, params, buffers, inputs, direction)
    except (NotImplementedError, RuntimeError):
        return _output_jvp_double_backward(model, params, buffers, inputs, direction)


def _first_order(crit: "StochasticLoss", model: nn.Module, inputs: Tensor, targets: Tensor,
                 val_inputs: Tensor, val_targets: Tensor) -> Tuple[Tensor, Tensor]:
    params, buffers = _state(model)
    direction, val_loss = _validation_gradient(crit, model, params, buffers, val_inputs, val_targets)
    output, output_tangent = _output_jvp(model, params, buffers, inputs, direction)
    # Each sample's loss depends on its own output row only, so
    # <u, grad_w l_bi> = <d l_bi / d z_b, (J u)_b>: one small backward per candidate.
    output.requires_grad_(True)
    columns = crit._candidate_columns(output, targets)
    rows = []
    for i, column in enumerate(columns):
        grad = None
        if column.requires_grad:
            (grad,) = torch.autograd.grad(column.sum(), output, retain_graph=i < len(columns) - 1, allow_unused=True)
        rows.append(torch.zeros(len(output), dtype=output.dtype, device=output.device) if grad is None
                    else (grad * output_tangent).reshape(len(output), -1).sum(dim=1))
    derivative = torch.stack(rows, dim=1)
    if crit.normalize is not None:
        derivative = derivative / crit.loss_scale.to(derivative.dtype)
    coefficients = -crit.lookahead_lr * _reduction_factor(crit, inputs.shape[0]) * derivative
    if crit.selection == "batch":
        coefficients = coefficients.sum(dim=0, keepdim=True)
    return coefficients, val_loss


def _exact(crit: "StochasticLoss", model: nn.Module, inputs: Tensor, targets: Tensor, val_inputs: Tensor,
           val_targets: Tensor, saved: Dict[str, Tensor]) -> Tuple[Tensor, Tensor]:
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
    stepped = {name: p if g is None else p - crit.lookahead_lr * g
               for (name, p), g in zip(leaves.items(), grads)}
    val_output = functional_call(model, {**stepped, **{k: b.clone() for k, b in buffers.items()}}, (val_inputs,))
    val_loss = crit.validation_loss(val_output, val_targets).mean()
    (coefficients,) = torch.autograd.grad(val_loss, weights)
    return coefficients.detach(), val_loss.detach()


def decision_hypergradient(crit: "StochasticLoss", model: nn.Module, inputs: Tensor, targets: Tensor,
                           val_inputs: Tensor, val_targets: Tensor, saved: Dict[str, Tensor]
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
