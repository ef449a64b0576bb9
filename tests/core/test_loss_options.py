"""A StochasticLoss takes its parts as objects or dicts, and each part option by its flat name too."""

from __future__ import annotations

import pytest
import torch

from slf import StochasticLoss
from slf.loss_options import FLAT_OPTIONS, PART_OPTIONS, part_option_names, route_options
from slf.sampler import GumbelSampler
from slf.schedules import TauSchedule

NAMES = ["ce", "mse", "mae", "hinge"]


def _train(crit: StochasticLoss, steps: int = 5) -> torch.Tensor:
    torch.manual_seed(0)
    model = torch.nn.Linear(12, 5)
    optimizer = torch.optim.SGD([*model.parameters(), *crit.parameters_for_model_optimizer()], lr=0.1)
    inputs, targets = torch.randn(64, 12), torch.randint(0, 5, (64,))
    for step in range(steps):
        batch = slice(16 * (step % 4), 16 * (step % 4 + 1))
        optimizer.zero_grad()
        crit(model(inputs[batch]), targets[batch]).backward()
        optimizer.step()
    return crit.mean_weights


def test_flat_options_and_part_dicts_build_the_same_loss_and_train_alike():
    torch.manual_seed(1)
    flat = StochasticLoss(
        NAMES,
        mode="joint",
        num_samples=5,
        tau=0.5,
        tau_schedule="exponential",
        seed=3,
        normalize="mean",
        normalize_momentum=0.9,
        decision_hidden=8,
        history_interval=2,
    )
    torch.manual_seed(1)
    parts = StochasticLoss(
        NAMES,
        mode="joint",
        sampler=dict(num_samples=5, tau=0.5, tau_schedule="exponential", seed=3),
        normalization=dict(kind="mean", momentum=0.9),
        decision=dict(type="mlp", hidden=8),
        history_interval=2,
    )
    assert repr(flat) == repr(parts)
    assert parts.decision.hidden.out_features == 8 and parts.normalization.momentum == 0.9
    for (name, a), (_, b) in zip(flat.state_dict().items(), parts.state_dict().items()):
        assert torch.equal(a, b), name
    torch.testing.assert_close(_train(flat), _train(parts))
    assert len(flat.history) == len(parts.history) == 3


def test_a_sampler_object_is_used_as_given():
    sampler = GumbelSampler(7, TauSchedule(0.3), hard=True, seed=0)
    crit = StochasticLoss(NAMES, mode="joint", sampler=sampler)
    assert crit.sampler is sampler and crit.num_samples == 7 and crit.tau == pytest.approx(0.3)
    with pytest.raises(TypeError, match=r"\['tau'\] were given beside a GumbelSampler"):
        StochasticLoss(NAMES, mode="joint", sampler=sampler, tau=2.0)
    with pytest.raises(ValueError, match="needs a GumbelSampler with noise=False"):
        StochasticLoss(NAMES, mode="softmax", sampler=sampler)
    with pytest.raises(TypeError, match="sampler must be a GumbelSampler or a dict"):
        StochasticLoss(NAMES, mode="joint", sampler=3)


def test_bad_options_name_the_valid_choices():
    with pytest.raises(TypeError, match="unexpected option 'num_sample'.*num_samples"):
        StochasticLoss(NAMES, num_sample=3)
    with pytest.raises(TypeError, match=r"sampler options \['K'\].*num_samples, tau"):
        StochasticLoss(NAMES, mode="joint", sampler=dict(K=3))
    with pytest.raises(TypeError, match="'normalize' was given twice"):
        StochasticLoss(NAMES, normalization="mean", normalize="mean")
    with pytest.raises(TypeError, match="learner must be a dict"):
        StochasticLoss(NAMES, learner="align")
    with pytest.raises(ValueError, match="normalize must be one of"):
        StochasticLoss(NAMES, normalization="median")
    with pytest.raises(TypeError, match="positional"):
        StochasticLoss(NAMES, "classification", 3)


def test_align_mode_reads_its_learner_dict_like_its_flat_options():
    model = torch.nn.Linear(12, 5)
    crit = StochasticLoss(
        NAMES, learner=dict(alignment=dict(temperature=0.5, margin=0.0), last_layer=list(model.parameters()))
    )
    assert crit.decision.temperature == 0.5 and crit.last_layer == list(model.parameters())
    with pytest.raises(ValueError, match="belong to mode='align'"):
        StochasticLoss(NAMES, mode="joint", learner=dict(alignment=dict(margin=0.0)))


def test_every_flat_option_has_one_owner():
    owners = [flat for owned in PART_OPTIONS.values() for flat in owned]
    assert len(owners) == len(set(owners)) and len(FLAT_OPTIONS) == len(set(FLAT_OPTIONS))
    assert part_option_names("normalization") == ("kind", "momentum")
    routed, own = route_options({"held_out": "previous_batch", "compile": False}, {})
    assert routed["learner"] == {"held_out": "previous_batch"} and own == {"compile": False}
