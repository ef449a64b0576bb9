"""SLF's peers for a multi-part loss (uncertainty weighting, GradNorm, DWA) against LibMTL's own code.

LibMTL 1.1.5 is installed without its dependencies (its package imports torchvision, which has no
CPU build here), so its weighting modules are imported under a bare ``LibMTL`` package: the very
classes LibMTL's trainer uses, fed the same losses and parameters as ours.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

import numpy as np
import pytest
import torch
from torch import nn

from slf.part_weightings import (
    PART_WEIGHTINGS,
    DynamicWeightAverage,
    GradNormWeighting,
    UncertaintyWeighting,
    build_part_weighting,
)


@pytest.fixture
def libmtl_weighting(monkeypatch):
    """LibMTL's ``weighting`` package, imported without LibMTL's ``__init__`` (which needs torchvision)."""
    spec = importlib.util.find_spec("LibMTL")
    assert spec is not None, "LibMTL is a test dependency (make test installs it with --no-deps)"
    package = types.ModuleType("LibMTL")
    package.__path__ = list(spec.submodule_search_locations)
    monkeypatch.setitem(sys.modules, "LibMTL", package)
    for name in [m for m in sys.modules if m.startswith("LibMTL.")]:
        monkeypatch.delitem(sys.modules, name)
    return importlib.import_module("LibMTL.weighting")


def two_task_network(seed: int = 0):
    """A shared trunk and two heads on real digits (scikit-learn's 8x8 images)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.data[:64] / 16.0, dtype=torch.float32)
    labels = torch.tensor(digits.target[:64])
    torch.manual_seed(seed)
    trunk = nn.Sequential(nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh())
    heads = nn.ModuleList([nn.Linear(16, 10), nn.Linear(16, 1)])

    def losses():
        features = trunk(x)
        return [
            nn.functional.cross_entropy(heads[0](features), labels),
            nn.functional.mse_loss(heads[1](features)[:, 0], labels.float() / 9),
        ]

    return trunk, heads, losses


def test_uncertainty_weighting_matches_libmtl_uw(libmtl_weighting) -> None:
    _, _, losses = two_task_network()
    theirs = libmtl_weighting.UW()
    theirs.task_num, theirs.device = 2, "cpu"
    theirs.init_param()
    with torch.no_grad():
        theirs.loss_scale.copy_(torch.tensor([-0.5, 0.3]))
    their_losses = torch.stack(losses())
    their_weights = theirs.backward(their_losses)

    ours = UncertaintyWeighting(["cls", "reg"], [1.0, 1.0], init_log_variance=-0.5)
    with torch.no_grad():
        ours.log_variances.copy_(torch.tensor([-0.5, 0.3]))
    cls, reg = losses()
    total = sum(ours({"cls": cls, "reg": reg}).values())
    total.backward()
    expected = (their_losses.detach() / (2 * theirs.loss_scale.detach().exp()) + theirs.loss_scale.detach() / 2).sum()
    assert torch.allclose(total.detach(), expected, rtol=1e-6)
    assert np.allclose(ours.lambdas.numpy(), their_weights, rtol=1e-6)
    assert torch.allclose(ours.log_variances.grad, theirs.loss_scale.grad, rtol=1e-5)
    assert ours.step == 1


def test_uncertainty_weighting_learns_a_large_part_down() -> None:
    """Trained by its own gradient, s_i tends to log P_i: the part that stays large loses weight."""
    weighting = UncertaintyWeighting(["small", "large"], [1.0, 1.0])
    optimizer = torch.optim.SGD(weighting.parameters(), lr=0.1)
    for _ in range(300):
        optimizer.zero_grad()
        parts = {"small": torch.tensor(0.5, requires_grad=True), "large": torch.tensor(8.0, requires_grad=True)}
        sum(weighting(parts).values()).backward()
        optimizer.step()
    assert torch.allclose(weighting.log_variances.detach(), torch.log(torch.tensor([0.5, 8.0])), atol=0.05)
    assert weighting.lambdas[0] > 10 * weighting.lambdas[1]


def test_dwa_matches_libmtl_dwa_epoch_by_epoch(libmtl_weighting) -> None:
    """Three epochs of losses: LibMTL reads its epoch means from its trainer's buffer, ours counts them."""
    generator = torch.Generator().manual_seed(0)
    epochs = [torch.rand(4, 3, generator=generator) * scale for scale in (torch.tensor([3.0, 2.0, 1.0]),) * 4]
    epochs[2] = epochs[2] * torch.tensor([0.5, 1.0, 1.2])  # the parts fall at different rates
    epochs[3] = epochs[3] * torch.tensor([0.2, 1.1, 1.0])
    theirs = libmtl_weighting.DWA()
    theirs.task_num, theirs.device = 3, "cpu"
    theirs.train_loss_buffer = np.stack([e.mean(0).numpy() for e in epochs], axis=1)
    ours = DynamicWeightAverage(["a", "b", "c"], [1.0, 1.0, 1.0], temperature=2.0)
    for epoch, steps in enumerate(epochs):
        theirs.epoch = epoch
        for losses in steps:
            parts = {name: losses[i].clone().requires_grad_() for i, name in enumerate("abc")}
            ours(parts, epoch=epoch)
            their_weights = theirs.backward(losses.clone().requires_grad_(), T=2.0)
            assert np.allclose(ours.lambdas.numpy(), their_weights, rtol=1e-5), epoch
    assert not np.allclose(their_weights, 1.0)


def test_dwa_tilts_the_configured_weights_keeps_their_total_and_survives_a_checkpoint() -> None:
    dwa = DynamicWeightAverage(["a", "b"], [1.0, 3.0], period=2)
    for value_a, value_b in [(4.0, 4.0)] * 2 + [(1.0, 4.0)] * 2 + [(1.0, 4.0)]:
        dwa({"a": torch.tensor(value_a, requires_grad=True), "b": torch.tensor(value_b, requires_grad=True)})
    rates = torch.tensor([0.25, 1.0])
    expected = 4.0 * torch.softmax(torch.log(torch.tensor([0.25, 0.75])) + rates / 2.0, dim=0)
    assert torch.allclose(dwa.lambdas, expected, rtol=1e-5)
    assert abs(float(dwa.lambdas.sum()) - 4.0) < 1e-5
    restored = DynamicWeightAverage(["a", "b"], [1.0, 3.0], period=2)
    restored.load_state_dict(dwa.state_dict())
    assert restored.step == dwa.step and restored.history == dwa.history
    assert restored.finished_means == dwa.finished_means
    assert torch.allclose(restored.current_lambdas(), dwa.current_lambdas())


def test_gradnorm_matches_libmtl_gradnorm_on_a_shared_trunk(libmtl_weighting) -> None:
    """The same network twice: LibMTL's GradNorm sets the trunk's gradient and its loss_scale's; so does ours."""
    trunk, heads, losses = two_task_network()
    theirs = libmtl_weighting.GradNorm()
    theirs.task_num, theirs.device, theirs.rep_grad, theirs.epoch = 2, "cpu", False, 1
    theirs.get_share_params = lambda: trunk.parameters()
    theirs.zero_grad_share_params = lambda: trunk.zero_grad(set_to_none=False)
    theirs.init_param()
    with torch.no_grad():
        theirs.loss_scale.copy_(torch.tensor([0.7, 1.3]))  # LibMTL starts at equal logits; any start will do
    initial = [float(loss.detach()) for loss in losses()]
    theirs.train_loss_buffer = np.array([[initial[0]], [initial[1]]])
    with torch.no_grad():  # one SGD step apart from where u0 was taken, so the rates r_i differ from 1
        for p in trunk.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    trunk.zero_grad(set_to_none=False)
    their_weights = theirs.backward(torch.stack(losses()), alpha=1.5)
    their_trunk = [p.grad.clone() for p in trunk.parameters()]

    ours = GradNormWeighting(["cls", "reg"], [1.0, 1.0], alpha=1.5, shared_parameters=list(trunk.parameters()))
    with torch.no_grad():
        ours.logits.copy_(torch.tensor([0.7, 1.3]))
    ours.initial_losses.copy_(torch.tensor(initial, dtype=torch.float64))
    ours.record.step = 1  # past the one warm-up step, whose mean losses are u0
    trunk.zero_grad(set_to_none=True)
    for head in heads:
        head.zero_grad(set_to_none=True)
    cls, reg = losses()
    sum(ours({"cls": cls, "reg": reg}).values()).backward()
    assert np.allclose(ours.lambdas.numpy(), their_weights, rtol=1e-5)
    assert torch.allclose(ours.logits.grad, theirs.loss_scale.grad, rtol=1e-4, atol=1e-7)
    for mine, theirs_grad in zip(trunk.parameters(), their_trunk):
        assert torch.allclose(mine.grad, theirs_grad, rtol=1e-4, atol=1e-7)


def test_gradnorm_outer_gradient_matches_finite_differences() -> None:
    trunk, _, losses = two_task_network(seed=3)
    weighting = GradNormWeighting(["cls", "reg"], [2.0, 1.0], shared_parameters=list(trunk.parameters()))
    weighting.initial_losses.copy_(torch.tensor([3.0, 0.2], dtype=torch.float64))
    weighting.record.step = 1
    cls, reg = losses()
    unweighted = weighting.unweighted({"cls": cls, "reg": reg}, scalars=True)
    norms = weighting.gradient_norms(unweighted).double()
    sum(weighting({"cls": cls, "reg": reg}).values()).backward()
    analytic = weighting.logits.grad.clone()
    # L_grad with its targets held where the step took them, as GradNorm differentiates it.
    values = torch.stack([u.detach() for u in unweighted]).reshape(-1).double()
    relative = values / weighting.initial_losses
    rates = relative / relative.mean()
    sizes = weighting.total * torch.softmax(weighting.logits.detach().double(), 0) * norms
    targets = sizes.mean() * rates**1.5

    def grad_loss(logits):
        return (weighting.total * torch.softmax(logits, 0) * norms - targets).abs().sum()

    eps = 1e-6
    logits = weighting.logits.detach().double()
    numeric = torch.stack(
        [(grad_loss(logits + eps * e) - grad_loss(logits - eps * e)) / (2 * eps) for e in torch.eye(2).double()]
    )
    assert torch.allclose(analytic.double(), numeric, rtol=1e-4, atol=1e-8)
    assert analytic.abs().sum() > 0


def test_gradnorm_evens_the_parts_gradient_sizes_and_keeps_the_total() -> None:
    """Two parts of one layer, one with ten times the other's gradient: GradNorm moves weight to the small one."""
    torch.manual_seed(0)
    layer = nn.Linear(4, 2)
    weighting = GradNormWeighting(["a", "b"], [1.0, 1.0], alpha=0.0)
    optimizer = torch.optim.SGD(weighting.parameters(), lr=2e-3)
    x = torch.ones(8, 4)
    for _ in range(400):
        optimizer.zero_grad()
        out = layer(x)
        parts = {"a": out[:, 0].pow(2).mean(), "b": 100 * out[:, 1].pow(2).mean()}
        sum(weighting(parts).values()).backward()
        optimizer.step()
    norm_a = torch.autograd.functional.jacobian(lambda w: (x @ w.T + layer.bias)[:, 0].pow(2).mean(), layer.weight)
    norm_b = torch.autograd.functional.jacobian(
        lambda w: 100 * (x @ w.T + layer.bias)[:, 1].pow(2).mean(), layer.weight
    )
    sizes = weighting.lambdas * torch.stack([norm_a.norm(), norm_b.norm()])
    assert weighting.lambdas[0] > 5 * weighting.lambdas[1]
    assert float(sizes.max() / sizes.min()) < 1.5
    assert abs(float(weighting.lambdas.sum()) - 2.0) < 1e-5


def test_every_peer_leaves_the_model_loss_value_and_gradient_at_its_weights() -> None:
    """The returned parts sum to sum_i lambda_i u_i (plus UW's s/2); the model's gradient is that sum's."""
    for kind in ("uncertainty", "gradnorm", "dwa"):
        layer = nn.Linear(3, 2)
        options = {"period": 1} if kind == "dwa" else {}
        weighting = build_part_weighting(["a", "b"], [1.0, 2.0], type=kind, **options)
        x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
        for _ in range(3):
            layer.zero_grad()
            out = layer(x)
            parts = {"a": out[:, 0].pow(2).mean(), "b": 2.0 * out[:, 1].abs().mean()}
            weighted = weighting(parts)
            sum(weighted.values()).backward()
        lambdas = weighting.lambdas
        expected_grad = torch.autograd.grad(
            lambdas[0] * layer(x)[:, 0].pow(2).mean() + lambdas[1] * layer(x)[:, 1].abs().mean(), layer.weight
        )[0]
        assert torch.allclose(layer.weight.grad, expected_grad, rtol=1e-5, atol=1e-7), kind
        assert len(weighting.history) == 1 and weighting.step == 3


def test_bad_input_is_refused_with_the_valid_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown part weighting type 'mgda'; valid: \['dwa', 'gradnorm', 'slf'"):
        build_part_weighting(["a"], [1.0], type="mgda")
    with pytest.raises(TypeError, match=r"'gradnorm' got unexpected option\(s\) \['temperature'\]; valid: \["):
        build_part_weighting(["a", "b"], [1.0, 1.0], type="gradnorm", temperature=2.0)
    with pytest.raises(ValueError, match="each must be one number"):
        UncertaintyWeighting(["a"], [1.0])({"a": torch.ones(3, requires_grad=True)})
    with pytest.raises(ValueError, match="pass epoch= to each training forward, or build it with period="):
        DynamicWeightAverage(["a"], [1.0])({"a": torch.tensor(1.0, requires_grad=True)})
    with pytest.raises(ValueError, match=r"expects parts \['a', 'b'\]; missing \['b'\], unexpected \['c'\]"):
        GradNormWeighting(["a", "b"], [1.0, 1.0])({"a": torch.tensor(1.0), "c": torch.tensor(1.0)})
    with pytest.raises(ValueError, match="alpha must be a finite number >= 0"):
        GradNormWeighting(["a"], [1.0], alpha=-1.0)
    with pytest.raises(ValueError, match="every prior weight must be > 0"):
        DynamicWeightAverage(["a"], [0.0], period=1)
    assert set(PART_WEIGHTINGS) == {"slf", "uncertainty", "gradnorm", "dwa"}
