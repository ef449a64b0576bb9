"""Tests of MILS (``slf.MILS``): exact snapshot/restore, bit-identity with primary-only
training where no auxiliary step is kept, statistics, input errors and a real run."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import slf
from slf import MILS, losses
from slf.data import load_dataset
from slf.models import build_model


class Net(nn.Module):
    """Tiny model with dropout and batch norm (buffers), ``features`` and ``classifier``."""

    def __init__(self, d_in: int = 8, hidden: int = 16, classes: int = 3, batch_norm: bool = True) -> None:
        super().__init__()
        norm = nn.BatchNorm1d(hidden) if batch_norm else nn.Identity()
        self.body = nn.Sequential(nn.Linear(d_in, hidden), norm, nn.ReLU(), nn.Dropout(0.3))
        self.feature_dim = hidden
        self.classifier = nn.Linear(hidden, classes)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


class NoGradLoss(nn.Module):
    """An auxiliary whose update changes nothing: its value does not depend on the model."""

    input_kind = "logits"

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return torch.zeros((), requires_grad=True) * 1.0


def data(n: int = 64, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    return x, y


def make(opt: str = "adam", seed: int = 0, batch_norm: bool = True):
    torch.manual_seed(seed)
    model = Net(batch_norm=batch_norm)
    if opt == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    return model, optimizer


def primary_step(model, optimizer, x, y):
    optimizer.zero_grad()
    F.cross_entropy(model(x), y).backward()
    optimizer.step()


def assert_same(a, b, path="state"):
    """Recursive bit-exact equality of (nested) state dicts."""
    if torch.is_tensor(a):
        assert torch.is_tensor(b) and a.dtype == b.dtype and torch.equal(a, b), path
    elif isinstance(a, dict):
        assert set(a) == set(b), (path, set(a) ^ set(b))
        for key in a:
            assert_same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (u, v) in enumerate(zip(a, b)):
            assert_same(u, v, f"{path}[{i}]")
    else:
        assert a == b, (path, a, b)


def batches(steps: int, seed: int = 1):
    return [data(32, seed=seed + i) for i in range(steps)]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(1234)


# --------------------------------------------------------------------------- exact restore


@pytest.mark.parametrize("opt", ["adam", "sgd"])
def test_rejected_step_equals_primary_step_from_the_snapshot(opt):
    model, optimizer = make(opt)
    x_obs, y_obs = data(32, seed=99)
    mils = MILS(
        model,
        optimizer,
        "ce",
        ["center", "multi_margin"],
        rate=1.0,
        observation=(x_obs, y_obs),
        rule=lambda before, after: False,
        seed=0,
    )
    for x, y in batches(3):  # optimizer state exists, the center loss has been updated
        mils.rate, mils.rule = 1.0, "always"
        mils.step(x, y)
    mils.rule = lambda before, after: False
    x, y = data(32, seed=50)
    reference = copy.deepcopy((model, optimizer, mils.auxiliaries["center"], mils.loss_optimizer))
    rng = torch.get_rng_state()
    info = mils.step(x, y)
    assert info["kind"] == "rejected" and info["auxiliary"] in ("center", "multi_margin")
    rng_after = torch.get_rng_state()
    torch.set_rng_state(rng)
    ref_model, ref_opt, ref_center, ref_loss_opt = reference
    primary_step(ref_model, ref_opt, x, y)
    assert torch.equal(torch.get_rng_state(), rng_after)
    assert_same(model.state_dict(), ref_model.state_dict(), "model")
    assert_same(optimizer.state_dict(), ref_opt.state_dict(), "optimizer")
    assert_same(mils.auxiliaries["center"].state_dict(), ref_center.state_dict(), "center")
    assert_same(mils.loss_optimizer.state_dict(), ref_loss_opt.state_dict(), "loss optimizer")


def test_rejected_first_step_removes_the_optimizer_state_it_created():
    model, optimizer = make("adam")
    mils = MILS(model, optimizer, "ce", ["center"], rate=1.0, observation=data(16, 9), rule=lambda before, after: False)
    reference = copy.deepcopy((model, optimizer))
    x, y = data(32, 3)
    rng = torch.get_rng_state()
    assert mils.step(x, y)["kind"] == "rejected"
    torch.set_rng_state(rng)
    primary_step(reference[0], reference[1], x, y)
    assert_same(model.state_dict(), reference[0].state_dict())
    assert_same(optimizer.state_dict(), reference[1].state_dict())
    assert mils.loss_optimizer.state_dict()["state"] == {}  # the centers' Adam state is gone again


@pytest.mark.parametrize("aux", ["center", "multi_margin"])
def test_accepted_step_equals_a_plain_auxiliary_step(aux):
    model, optimizer = make("adam")
    mils = MILS(model, optimizer, "ce", [aux], rate=1.0, observation=data(16, 9), rule=lambda before, after: True)
    for x, y in batches(2):
        mils.step(x, y)
    reference = copy.deepcopy((model, optimizer, mils.auxiliaries[aux], mils.loss_optimizer))
    ref_model, ref_opt, ref_loss, ref_loss_opt = reference
    x, y = data(32, 7)
    rng = torch.get_rng_state()
    info = mils.step(x, y)
    assert info == {"loss": info["loss"], "kind": "accepted", "auxiliary": aux}
    torch.set_rng_state(rng)
    ref_opt.zero_grad()
    if ref_loss_opt is not None:
        ref_loss_opt.zero_grad()
    inputs = ref_model.features(x) if aux == "center" else ref_model(x)
    value = ref_loss(inputs, y)
    value.backward()
    ref_opt.step()
    if ref_loss_opt is not None:
        ref_loss_opt.step()
    assert info["loss"] == float(value.detach())
    assert_same(model.state_dict(), ref_model.state_dict())
    assert_same(optimizer.state_dict(), ref_opt.state_dict())
    assert_same(mils.auxiliaries[aux].state_dict(), ref_loss.state_dict())


# --------------------------------------------------------------------------- bit-identity


def run_primary_only(opt, steps, scheduler=False, batch_norm=True):
    model, optimizer = make(opt, batch_norm=batch_norm)
    sched = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5) if scheduler else None
    torch.manual_seed(7)
    for x, y in batches(steps):
        primary_step(model, optimizer, x, y)
        if sched is not None:
            sched.step()
    return model, optimizer, torch.get_rng_state()


def run_mils(opt, steps, scheduler=False, batch_norm=True, **kwargs):
    model, optimizer = make(opt, batch_norm=batch_norm)
    sched = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5) if scheduler else None
    mils = MILS(model, optimizer, observation=data(16, 9), seed=3, **kwargs)
    torch.manual_seed(7)
    kinds = []
    for x, y in batches(steps):
        kinds.append(mils.step(x, y)["kind"])
        if sched is not None:
            sched.step()
    return model, optimizer, torch.get_rng_state(), mils, kinds


@pytest.mark.parametrize("opt", ["adam", "sgd"])
def test_rate_zero_is_primary_only_training_bit_for_bit(opt):
    ref_model, ref_opt, ref_rng = run_primary_only(opt, 6)
    model, optimizer, rng, mils, kinds = run_mils(opt, 6, auxiliaries=["multi_margin", "center"], rate=0.0)
    assert kinds == ["primary"] * 6
    assert torch.equal(rng, ref_rng)  # dropout drew the same random numbers
    assert_same(model.state_dict(), ref_model.state_dict())
    assert_same(optimizer.state_dict(), ref_opt.state_dict())
    assert mils.stats()["attempted_total"] == 0


@pytest.mark.parametrize("opt,scheduler", [("adam", False), ("sgd", False), ("adam", True), ("sgd", True)])
def test_always_failing_auxiliaries_never_change_primary_training(opt, scheduler):
    ref_model, ref_opt, ref_rng = run_primary_only(opt, 6, scheduler)
    # every attempt is rejected: a real update by a real loss, refused by the rule
    model, optimizer, rng, mils, kinds = run_mils(
        opt, 6, scheduler, auxiliaries=["center", "multi_margin", "focal"], rate=1.0, rule=lambda b, a: False
    )
    assert kinds == ["rejected"] * 6
    assert torch.equal(rng, ref_rng)
    assert_same(model.state_dict(), ref_model.state_dict())
    assert_same(optimizer.state_dict(), ref_opt.state_dict())
    # an update that changes nothing cannot be strictly better: rule='better' rejects it
    # (no batch norm here: a training-mode forward alone moves its running statistics)
    ref_model, ref_opt, ref_rng = run_primary_only(opt, 6, scheduler, batch_norm=False)
    model, optimizer, rng, mils, kinds = run_mils(
        opt, 6, scheduler, batch_norm=False, auxiliaries=[NoGradLoss()], rate=1.0, rule="better"
    )
    assert kinds == ["rejected"] * 6 and mils.stats()["attempted"] == {"NoGradLoss": 6}
    assert torch.equal(rng, ref_rng)
    assert_same(model.state_dict(), ref_model.state_dict())
    assert_same(optimizer.state_dict(), ref_opt.state_dict())


def test_snapshot_buffers_are_allocated_once():
    model, optimizer, rng, mils, kinds = run_mils("adam", 8, auxiliaries=["center"], rate=1.0, rule="not_worse")
    # the first attempt allocates; the second reallocates once if the first created the optimizer state
    assert mils.stats()["snapshot_allocations"] <= 3
    before = mils.stats()["snapshot_allocations"]
    for x, y in batches(5, seed=40):
        mils.step(x, y)
    assert mils.stats()["snapshot_allocations"] == before


# --------------------------------------------------------------------------- stats, state, errors


def test_stats_count_attempts_and_accepts_and_state_round_trips():
    model, optimizer, rng, mils, kinds = run_mils(
        "adam", 20, auxiliaries=["multi_margin", "center"], rate=0.5, aux_weights=[3.0, 1.0], rule="not_worse"
    )
    stats = mils.stats()
    assert stats["steps"] == 20
    assert stats["attempted_total"] == sum(k != "primary" for k in kinds) > 0
    assert stats["accepted_total"] == kinds.count("accepted")
    for name in ("multi_margin", "center"):
        n = stats["attempted"][name]
        assert stats["success_rate"][name] == (stats["accepted"][name] / n if n else None)
    assert stats["seconds"] > 0
    state = mils.state_dict()
    other = MILS(model, optimizer, auxiliaries=["multi_margin", "center"], rate=0.5, observation=data(16, 9), seed=99)
    other.load_state_dict(state)
    assert other.stats()["attempted"] == stats["attempted"]
    assert torch.equal(other.generator.get_state(), mils.generator.get_state())
    assert torch.equal(other.auxiliaries["center"].centers, mils.auxiliaries["center"].centers)


def test_bad_arguments_raise_clear_errors():
    model, optimizer = make()
    obs = data(8)
    with pytest.raises(ValueError, match=r"rate must be a number in \[0, 1\], got 1.5"):
        MILS(model, optimizer, rate=1.5, observation=obs)
    with pytest.raises(ValueError, match=r"rate must be a number in \[0, 1\]"):
        MILS(model, optimizer, rate=-0.1, observation=obs)
    with pytest.raises(ValueError, match="unknown loss 'nope'; valid names: .*'multi_margin'"):
        MILS(model, optimizer, auxiliaries=["nope"], observation=obs)
    with pytest.raises(ValueError, match="unknown loss 'nope'; valid names"):
        MILS(model, optimizer, primary="nope", observation=obs)
    with pytest.raises(ValueError, match="observation set must be non-empty"):
        MILS(model, optimizer, observation=(obs[0][:0], obs[1][:0]))
    with pytest.raises(ValueError, match="observation must be a pair"):
        MILS(model, optimizer)
    with pytest.raises(ValueError, match=r"unknown rule 'worse'; valid rules: \['not_worse', 'better', 'always'\]"):
        MILS(model, optimizer, rule="worse", observation=obs)
    with pytest.raises(ValueError, match="aux_weights must hold 2 finite weights"):
        MILS(model, optimizer, auxiliaries=["multi_margin", "focal"], aux_weights=[1.0], observation=obs)
    with pytest.raises(ValueError, match="at least one loss"):
        MILS(model, optimizer, auxiliaries=[], observation=obs)
    with pytest.raises(ValueError, match="primary loss must read logits"):
        MILS(model, optimizer, primary="lgm", observation=obs)


def test_exported_from_the_package():
    assert slf.MILS is MILS and "MILS" in slf.__all__
    assert {"multi_margin", "focal", "center", "lgm"} <= set(losses.available("classification"))


# --------------------------------------------------------------------------- real data


def test_mils_trains_on_real_digits():
    threads = torch.get_num_threads()
    torch.set_num_threads(min(threads, 4))
    try:
        splits = load_dataset("mnist5k", 0)
        x_train, y_train = splits.train.tensors
        x_test, y_test = splits.test.tensors
        torch.manual_seed(0)
        model = build_model("mlp", splits.input_shape, splits.num_classes)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        mils = MILS(
            model, optimizer, "ce", ["multi_margin"], rate=0.3, observation=(x_train[:256], y_train[:256]), seed=0
        )
        g = torch.Generator().manual_seed(0)
        for _ in range(2):
            order = torch.randperm(len(y_train), generator=g)
            for start in range(0, len(order), 128):
                index = order[start : start + 128]
                mils.step(x_train[index], y_train[index])
        model.eval()
        with torch.no_grad():
            accuracy = float((model(x_test).argmax(dim=1) == y_test).float().mean())
        stats = mils.stats()
        assert accuracy > 0.8, accuracy
        assert stats["accepted"]["multi_margin"] >= 1, stats
    finally:
        torch.set_num_threads(threads)


def test_every_paper_auxiliary_runs_and_its_parameters_are_learned():
    model, optimizer = make("sgd")
    mils = MILS(
        model,
        optimizer,
        "ce",
        ["multi_margin", "focal", "center", "lgm"],
        rate=1.0,
        observation=data(16, 9),
        rule="always",
        seed=0,
    )
    owned = {id(p) for group in mils.loss_optimizer.param_groups for p in group["params"]}
    assert owned == {id(mils.auxiliaries["center"].centers), id(mils.auxiliaries["lgm"].means)}
    assert mils.loss_optimizer.param_groups[0]["momentum"] == 0.9  # the main optimizer's settings
    centers = mils.auxiliaries["center"].centers.detach().clone()
    kinds = [mils.step(x, y)["kind"] for x, y in batches(24)]
    stats = mils.stats()
    assert kinds == ["accepted"] * 24 and stats["accepted"] == stats["attempted"]
    assert all(n > 0 for n in stats["attempted"].values()), stats
    assert not torch.equal(centers, mils.auxiliaries["center"].centers)
