"""LossPartWeighting: learned, scale-keeping weights for the parts of a multi-part loss."""

from __future__ import annotations

import math

import pytest
import torch

from slf import LossPartWeighting


def parts(cls: float = 3.0, xy: float = 5.0, wh: float = 1.0):
    return {
        "cls": torch.tensor(cls, requires_grad=True),
        "xy": torch.tensor(xy, requires_grad=True),
        "wh": torch.tensor(wh, requires_grad=True),
    }


def test_softmax_mode_starts_at_the_host_loss_and_keeps_the_total() -> None:
    weighting = LossPartWeighting(["cls", "xy", "wh"], [1.0, 2.0, 2.0], mode="softmax")
    values = parts()
    out = weighting(values)
    assert math.isclose(float(sum(out.values())), 3.0 + 5.0 + 1.0, rel_tol=1e-6)
    assert torch.allclose(weighting.lambdas, torch.tensor([1.0, 2.0, 2.0]), atol=1e-6)
    sum(out.values()).backward()
    # The model's gradient through each part is its configured weight's share: lambda_i / w_i = 1.
    assert all(math.isclose(float(values[name].grad), 1.0, rel_tol=1e-6) for name in values)


def test_joint_training_moves_the_weights_and_keeps_their_sum() -> None:
    torch.manual_seed(0)
    weighting = LossPartWeighting(["cls", "xy", "wh"], [1.0, 2.0, 2.0], mode="joint", num_samples=3, seed=0)
    optimizer = torch.optim.SGD(weighting.parameters(), lr=0.05)
    start = weighting.lambdas.clone()
    for _ in range(50):
        optimizer.zero_grad()
        sum(weighting(parts()).values()).backward()
        optimizer.step()
    assert math.isclose(float(weighting.lambdas.sum()), 5.0, rel_tol=1e-5)
    # The literal joint update favours the part with the smallest unweighted value (wh: 1 / 2).
    assert weighting.lambdas[2] > start[2] + 0.5
    assert len(weighting.history) == 5 and weighting.selection.step == 50
    names = (f"{kind}/{part}" for kind in ("lambda", "mean_lambda") for part in ("cls", "xy", "wh"))
    assert set(weighting.stats()) == {"tau", *names}


def test_a_nonfinite_part_is_dropped_for_that_step() -> None:
    weighting = LossPartWeighting(["cls", "xy"], [1.0, 1.0], mode="softmax")
    values = {"cls": torch.tensor(2.0, requires_grad=True), "xy": torch.tensor(float("nan"), requires_grad=True)}
    with pytest.warns(RuntimeWarning, match="masked"):
        out = weighting(values)
    total = sum(out.values())
    assert torch.isfinite(total) and math.isclose(float(total), 2.0 * 2.0, rel_tol=1e-6)
    total.backward()
    assert torch.isfinite(values["cls"].grad)


def test_bad_arguments_name_the_problem() -> None:
    with pytest.raises(ValueError, match="one weight per part"):
        LossPartWeighting(["a", "b"], [1.0])
    with pytest.raises(ValueError, match="must be > 0"):
        LossPartWeighting(["a", "b"], [1.0, 0.0])
    with pytest.raises(ValueError, match="distinct"):
        LossPartWeighting(["a", "a"], [1.0, 1.0])
    with pytest.raises(ValueError, match=r"mode must be one of \['align', 'joint', 'softmax'\]"):
        LossPartWeighting(["a"], [1.0], mode="validation")
    with pytest.raises(ValueError, match="belong to mode='align'"):
        LossPartWeighting(["a"], [1.0], mode="joint", alignment={"temperature": 1.0})
    with pytest.raises(ValueError, match="missing \\['b'\\]"):
        LossPartWeighting(["a", "b"], [1.0, 1.0])({"a": torch.tensor(1.0)})


def test_state_survives_a_state_dict_round_trip() -> None:
    weighting = LossPartWeighting(["cls", "xy", "wh"], [1.0, 2.0, 2.0], mode="joint", seed=0)
    optimizer = torch.optim.SGD(weighting.parameters(), lr=0.05)
    for _ in range(12):
        optimizer.zero_grad()
        sum(weighting(parts()).values()).backward()
        optimizer.step()
    restored = LossPartWeighting(["cls", "xy", "wh"], [1.0, 2.0, 2.0], mode="joint", seed=99)
    restored.load_state_dict(weighting.state_dict())
    assert restored.selection.step == 12 and restored.history == weighting.history
    assert torch.equal(restored.lambdas, weighting.lambdas)
    next_a, next_b = weighting(parts()), restored(parts())
    assert all(torch.equal(next_a[k], next_b[k]) for k in next_a)


def test_normalized_weights_read_parts_relative_to_their_running_means() -> None:
    """Steady parts of very different sizes: the literal update collapses, the normalised one stays put."""
    runs = {}
    for normalize in (None, "mean"):
        weighting = LossPartWeighting(["cls", "xy", "wh"], [1.0, 2.0, 2.0], mode="softmax", normalize=normalize)
        optimizer = torch.optim.SGD(weighting.parameters(), lr=0.05)
        for _ in range(60):
            values = parts()
            optimizer.zero_grad()
            out = weighting(values)
            total = sum(out.values())
            # The model's loss and gradients are the same either way: lambda_i * P_i / w_i.
            lambdas = weighting.lambdas
            assert math.isclose(
                float(total), float(3.0 * lambdas[0] + 2.5 * lambdas[1] + 0.5 * lambdas[2]), rel_tol=1e-5
            )
            total.backward()
            assert math.isclose(float(values["wh"].grad), float(lambdas[2] / 2.0), rel_tol=1e-5)
            optimizer.step()
        runs[normalize] = weighting.lambdas
    assert runs[None][2] > 3.0  # onto wh, the smallest unweighted part
    assert torch.allclose(runs["mean"], torch.tensor([1.0, 2.0, 2.0]), atol=0.15)
