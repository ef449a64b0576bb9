"""The fused candidate block and the compiled path give the same numbers as the plain losses."""

from __future__ import annotations

import pytest
import torch

from slf import StochasticLoss, losses
from slf.fused import FUSABLE, fused_classification_losses


@pytest.mark.parametrize("scale", [0.5, 3.0, 10.0])
def test_fused_values_and_gradients_equal_the_registry_losses(scale):
    gen = torch.Generator().manual_seed(int(scale * 10))
    logits = (torch.randn(64, 10, generator=gen, dtype=torch.float64) * scale).requires_grad_(True)
    target = torch.randint(0, 10, (64,), generator=gen)
    upstream = torch.rand(64, len(FUSABLE), generator=gen, dtype=torch.float64)
    reference = torch.stack([losses.build(n, reduction="none")(logits, target) for n in FUSABLE], dim=1)
    (expected,) = torch.autograd.grad((reference * upstream).sum(), logits)
    fused = fused_classification_losses(logits, target, FUSABLE)
    (got,) = torch.autograd.grad((fused * upstream).sum(), logits)
    assert torch.allclose(fused, reference, atol=1e-12)
    assert torch.allclose(got, expected, atol=1e-9, rtol=1e-7)


def test_fused_block_is_finite_on_extreme_logits():
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e30, 1e30, 5.0]], requires_grad=True)
    target = torch.tensor([1, 0])
    values = fused_classification_losses(logits, target, FUSABLE)
    values.sum().backward()
    assert torch.isfinite(values).all() and torch.isfinite(logits.grad).all()


def test_fused_block_refuses_other_losses():
    with pytest.raises(ValueError, match="fusable"):
        fused_classification_losses(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), ["ce", "focal"])


def _steps(crit: StochasticLoss, steps: int = 4):
    gen = torch.Generator().manual_seed(0)
    out = []
    for _ in range(steps):
        logits = torch.randn(32, 10, generator=gen, requires_grad=True)
        target = torch.randint(0, 10, (32,), generator=gen)
        loss = crit(logits, target)
        loss.backward()
        out.append((loss.detach(), logits.grad, [p.grad.clone() for p in crit.decision.parameters()]))
        crit.decision.zero_grad()
    return out


@pytest.mark.parametrize("normalize", [None, "mean"])
def test_stochastic_loss_fused_equals_unfused(normalize):
    fused = StochasticLoss(seed=3, normalize=normalize, fused=True)
    plain = StochasticLoss(seed=3, normalize=normalize, fused=False)
    plain.load_state_dict(fused.state_dict())
    assert fused.fused and not plain.fused
    for (la, ga, da), (lb, gb, db) in zip(_steps(fused), _steps(plain)):
        assert torch.allclose(la, lb, atol=1e-6)
        assert torch.allclose(ga, gb, atol=1e-6)
        assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(da, db))


@pytest.mark.slow
def test_compiled_loss_equals_eager_and_does_not_recompile_as_tau_decays():
    import torch._dynamo

    torch._dynamo.reset()
    options = dict(mode="joint", seed=3, normalize="mean", tau_schedule="exponential", tau_decay=0.5, tau_min=0.01)
    eager = StochasticLoss(**options, fused=False)
    compiled = StochasticLoss(**options, compile=True)
    compiled.load_state_dict(eager.state_dict())
    for (la, ga, da), (lb, gb, db) in zip(_steps(eager), _steps(compiled)):
        assert torch.allclose(la, lb, atol=1e-5)
        assert torch.allclose(ga, gb, atol=1e-5)
        assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(da, db))
    assert torch.allclose(eager.loss_scale, compiled.loss_scale)
    assert compiled.tau == eager.tau == 1.0 * 0.5**4
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] <= 2
