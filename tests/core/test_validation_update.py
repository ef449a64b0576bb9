"""Validation mode for hosts with their own forward: ``combine`` + ``validation_update`` +
``directional_derivative``."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from slf import StochasticLoss
from slf.lookahead import directional_derivative

CANDIDATES = ["ce", "mse", "mae", "hinge"]


def setting(seed: int = 0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(20, 32), nn.Tanh(), nn.Linear(32, 10))
    gen = torch.Generator().manual_seed(seed + 1)
    x, y = torch.randn(24, 20, generator=gen), torch.randint(0, 10, (24,), generator=gen)
    xv, yv = torch.randn(32, 20, generator=gen), torch.randint(0, 10, (32,), generator=gen)
    return model, x, y, xv, yv


def held_out_gradient(crit: StochasticLoss, model: nn.Module, xv, yv):
    params = dict(model.named_parameters())
    val_loss = crit.validation_loss(model(xv), yv).mean()
    return dict(zip(params, torch.autograd.grad(val_loss, list(params.values())))), val_loss.detach()


def test_directional_derivative_matches_autograd_and_keeps_the_graph() -> None:
    model, x, y, xv, yv = setting()
    # float64: in float32 the difference's rounding error (eps / h) depends on the CPU's kernels.
    model, x, xv = model.double(), x.double(), xv.double()
    crit = StochasticLoss(CANDIDATES, mode="validation", seed=0)
    direction, _ = held_out_gradient(crit, model, xv, yv)
    training_loss = nn.functional.cross_entropy(model(x), y)  # a graph built before the perturbation
    before = {name: p.detach().clone() for name, p in model.named_parameters()}

    def candidate_columns():
        return torch.stack(crit.candidates.columns(model(x), y), dim=1)

    derivative = directional_derivative(model, direction, candidate_columns)
    assert derivative.shape == (24, len(CANDIDATES))
    assert all(torch.equal(before[name], p) for name, p in model.named_parameters())
    for i in range(len(CANDIDATES)):
        column = crit.candidates.columns(model(x), y)[i]
        grads = torch.autograd.grad(column.sum(), list(model.parameters()))
        exact = sum((g * direction[name]).sum() for g, (name, _) in zip(grads, model.named_parameters()))
        torch.testing.assert_close(derivative[:, i].sum().double(), exact, rtol=1e-5, atol=1e-7)
    training_loss.backward()  # the in-place perturbation went through .data: no version-counter error
    reference = torch.autograd.grad(nn.functional.cross_entropy(model(x), y), list(model.parameters()))
    for p, g in zip(model.parameters(), reference):
        torch.testing.assert_close(p.grad, g)
    zero = directional_derivative(
        model, {name: torch.zeros_like(d) for name, d in direction.items()}, candidate_columns
    )
    assert torch.equal(zero, torch.zeros_like(zero))


@pytest.mark.parametrize("selection", ["batch", "sample"])
@pytest.mark.parametrize("normalize", [None, "mean"])
def test_combine_and_validation_update_equal_forward_and_validation_step(selection, normalize) -> None:
    """The host path (columns + finite differences) takes the same step of v as the core's own path."""
    model, x, y, xv, yv = setting()
    own = StochasticLoss(CANDIDATES, mode="validation", selection=selection, normalize=normalize, seed=0)
    host = StochasticLoss(CANDIDATES, mode="validation", selection=selection, normalize=normalize, seed=0)
    host.load_state_dict(own.state_dict())
    output = model(x)
    loss_own = own(output, y)
    rows, weights = host.combine(own.candidates.columns(output, y), output=output)
    torch.testing.assert_close(rows.mean(), loss_own)
    assert not weights.requires_grad  # validation mode: the loss does not train v
    assert host.validation_due
    own_info = own.validation_step(model, x, y, xv, yv)

    direction, val_loss = held_out_gradient(host, model, xv, yv)
    derivatives = directional_derivative(
        model, direction, lambda: torch.stack(host.candidates.columns(model(x), y), dim=1)
    ) / len(x)
    host_info = host.validation_update(derivatives, float(val_loss))
    assert host_info["validation_loss"] == pytest.approx(own_info["validation_loss"], rel=1e-6)
    assert host_info["hypergradient_norm"] == pytest.approx(own_info["hypergradient_norm"], rel=2e-2)
    assert host_info["hypergradient_norm"] > 0
    for a, b in zip(own.decision.parameters(), host.decision.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)
    # The update leaves no gradient behind for a host optimizer that also holds v.
    assert all(p.grad is None for p in host.decision.parameters())


def test_validation_update_checks_its_input_and_the_interval() -> None:
    crit = StochasticLoss(
        ["mse", "mae"], task="regression", decision="global", mode="validation", validation_interval=2, seed=0
    )
    columns = [torch.ones(4), torch.full((4,), 3.0)]
    with pytest.raises(RuntimeError, match="must follow a training-mode forward"):
        crit.validation_update(torch.zeros(4, 2))
    crit.combine(columns)  # step 1: due
    assert crit.validation_due
    with pytest.raises(ValueError, match=r"shaped \(rows, 2\)"):
        crit.validation_update(torch.zeros(4, 3))
    assert crit.validation_update(torch.ones(4, 2))["hypergradient_norm"] >= 0
    crit.combine(columns)  # step 2: skipped
    assert not crit.validation_due and crit.validation_update(torch.ones(4, 2)) == {}
    crit.combine(columns)  # step 3: due again
    assert crit.validation_due
    joint = StochasticLoss(["mse", "mae"], task="regression", decision="global", mode="joint", seed=0)
    joint.combine(columns)
    assert not joint.validation_due
    with pytest.raises(RuntimeError, match="needs mode='validation'"):
        joint.validation_update(torch.zeros(4, 2))
