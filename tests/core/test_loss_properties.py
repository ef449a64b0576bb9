"""Property tests over every registered loss of every task, with hypothesis.

For random batch sizes (empty batches included), class counts, spatial sizes, value
scales from 1e-3 to 1e3, both float dtypes and random seeds, each loss must give finite
per-sample values of shape ``(N,)`` with ``reduction='none'``, never fall below its
declared ``minimum``, and reduce to their mean and sum. A loss registered without an
input maker here fails :func:`test_every_registered_loss_has_a_property_case`, so a new
loss cannot skip these checks.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

import slf.losses as L

Draw = Dict[str, Any]
D = 6  # feature size of the feature losses

pytestmark = pytest.mark.usefixtures("single_thread")


def _randn(draw: Draw, *shape: int) -> Tensor:
    return draw["scale"] * torch.randn(*shape, generator=draw["gen"], dtype=draw["dtype"])


def _boxes(draw: Draw, n: int) -> Tensor:
    corner = 50.0 * torch.rand(n, 2, generator=draw["gen"], dtype=draw["dtype"])
    size = 1.0 + 30.0 * torch.rand(n, 2, generator=draw["gen"], dtype=draw["dtype"])
    return torch.cat([corner, corner + size], dim=1)


def _classification(draw: Draw) -> Tuple[Tensor, Tensor]:
    n, c = draw["n"], draw["c"]
    return _randn(draw, n, c), torch.randint(0, c, (n,), generator=draw["gen"])


def _features(draw: Draw) -> Tuple[Tensor, Tensor]:
    n, c = draw["n"], draw["c"]
    return _randn(draw, n, D), torch.randint(0, c, (n,), generator=draw["gen"])


def _binary(from_logits: bool) -> Callable[[Draw], Tuple[Tensor, Tensor]]:
    def make(draw: Draw) -> Tuple[Tensor, Tensor]:
        n = draw["n"]
        target = torch.randint(0, 2, (n, 3), generator=draw["gen"]).to(draw["dtype"])
        if from_logits:
            return _randn(draw, n, 3), target
        return torch.rand(n, 3, generator=draw["gen"], dtype=draw["dtype"]), target

    return make


def _regression(draw: Draw) -> Tuple[Tensor, Tensor]:
    return _randn(draw, draw["n"], 3), _randn(draw, draw["n"], 3)


def _segmentation(draw: Draw) -> Tuple[Tensor, Tensor]:
    n, c, side = draw["n"], draw["c"], draw["side"]
    return _randn(draw, n, c, side, side), torch.randint(0, c, (n, side, side), generator=draw["gen"])


def _iou_cls(draw: Draw) -> Tuple[Tensor, Tuple[Tensor, Tensor]]:
    n, c = draw["n"], draw["c"]
    labels = torch.randint(0, c + 1, (n,), generator=draw["gen"])  # c: background (sigmoid form)
    return _randn(draw, n, c), (labels, torch.rand(n, generator=draw["gen"], dtype=draw["dtype"]))


def _iou_loc(draw: Draw) -> Tuple[Tensor, Tensor]:
    target = _boxes(draw, draw["n"])
    return target + _randn(draw, draw["n"], 4).clamp(-10, 10), target


def _images(draw: Draw) -> Tuple[Tensor, Tensor]:
    n, side = draw["n"], draw["side"]
    return _randn(draw, n, 3, side, side), _randn(draw, n, 3, side, side)


def _scores(role: str) -> Callable[[Draw], Tuple[Tensor, Optional[Tensor]]]:
    """(fake scores, real scores) for the discriminator; the generator reads the fake scores only."""

    def make(draw: Draw) -> Tuple[Tensor, Optional[Tensor]]:
        return _randn(draw, draw["n"]), _randn(draw, draw["n"]) if role == "discriminator" else None

    return make


def _tiny_network() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU())


# (task, name, constructor keywords) -> input maker. Keywords may depend on the draw (class counts).
Builder = Callable[[Draw], Dict[str, Any]]
NO_KWARGS: Builder = lambda draw: {}  # noqa: E731
FEATURE_KWARGS: Builder = lambda draw: {"in_features": D, "num_classes": draw["c"]}  # noqa: E731
CASES: Dict[Tuple[str, str], Tuple[Builder, Callable[[Draw], Tuple[Any, Any]]]] = {}
CLASS_KWARGS: Builder = lambda draw: {"num_classes": draw["c"], "pretrain_steps": 0}  # noqa: E731
for _name in L.available("classification"):
    _cls = L.resolve(_name, "classification")
    CASES[("classification", _name)] = (
        (FEATURE_KWARGS, _features)
        if _cls.input_kind == "features"
        else (CLASS_KWARGS if getattr(_cls, "sized_by_classes", False) else NO_KWARGS, _classification)
    )
TEACHING_KWARGS: Builder = lambda draw: {"pretrain_steps": 0}  # noqa: E731  (L2T-DLF's teacher's loss at once)
for _name in L.available("regression"):
    _cls = L.resolve(_name, "regression")
    CASES[("regression", _name)] = (
        TEACHING_KWARGS if getattr(_cls, "needs_held_out", False) else NO_KWARGS,
        _regression,
    )
CASES.update(
    {
        ("segmentation", "boundary"): (NO_KWARGS, _segmentation),
        ("segmentation", "ce"): (NO_KWARGS, _segmentation),
        ("segmentation", "dice"): (NO_KWARGS, _segmentation),
        ("segmentation", "regional_boundary"): (NO_KWARGS, _segmentation),
        ("detection", "iou_balanced_cls"): (NO_KWARGS, _iou_cls),
        ("detection", "iou_balanced_loc"): (NO_KWARGS, _iou_loc),
        ("image", "perceptual"): (
            lambda draw: {"network": _tiny_network(), "layers": ["1", "3"], "style_layers": ["3"], "pixel_weight": 0.5},
            _images,
        ),
    }
)
GAN_SCORE_LOSSES = ("gan_minimax", "gan_non_saturating", "gan_least_squares", "gan_wasserstein")


def _params():
    params = []
    for (task, name), (kwargs, make) in CASES.items():
        params.append(pytest.param(task, name, kwargs, make, id=f"{task}-{name}"))
    for name in L.available("binary"):
        for from_logits in (True, False):
            tag = "logits" if from_logits else "probs"
            params.append(
                pytest.param(
                    "binary",
                    name,
                    lambda draw, f=from_logits: {"from_logits": f},
                    _binary(from_logits),
                    id=f"binary-{name}-{tag}",
                )
            )
    for name in GAN_SCORE_LOSSES:
        for role in ("discriminator", "generator"):
            params.append(
                pytest.param("gan", name, lambda draw, r=role: {"role": r}, _scores(role), id=f"gan-{name}-{role}")
            )
    return params


def test_every_registered_loss_has_a_property_case():
    covered = set(CASES) | {("binary", name) for name in L.available("binary")}
    covered |= {("gan", name) for name in (*GAN_SCORE_LOSSES, "gradient_penalty")}
    registered = {(task, name) for task in L.TASKS for name in L.available(task)}
    assert registered <= covered, f"losses without property tests: {sorted(registered - covered)}"


draws = st.fixed_dictionaries(
    {
        "n": st.integers(0, 5),
        "c": st.integers(2, 5),
        "side": st.integers(3, 7),
        "scale": st.sampled_from([1e-3, 0.3, 1.0, 10.0, 1e3]),
        "dtype": st.sampled_from([torch.float32, torch.float64]),
        "seed": st.integers(0, 2**31 - 1),
    }
)
PROPERTY_SETTINGS = settings(
    max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.parametrize("task,name,kwargs,make", _params())
@PROPERTY_SETTINGS
@given(draw=draws)
def test_finite_per_sample_values_above_the_minimum(task, name, kwargs, make, draw):
    draw = dict(draw, gen=torch.Generator().manual_seed(draw["seed"]))
    # eval mode: a loss with a training schedule (large_margin_softmax's lambda) gives the same value twice
    loss = L.build(name, task=task, reduction="none", **kwargs(draw)).to(draw["dtype"]).eval()
    input, target = make(draw)
    input = input.requires_grad_(True)
    values = loss(input, target)
    n = draw["n"]
    assert values.shape == (n,), (values.shape, n)
    assert values.dtype == draw["dtype"]
    assert bool(torch.isfinite(values).all()), values
    minimum = type(loss).minimum
    if minimum is not None:
        slack = 1e-4 * (1.0 + values.detach().abs())  # rounding of values near the minimum
        assert bool((values >= minimum - slack).all()), (minimum, values)
    for reduction, reduce in (("mean", lambda v: v.sum() / max(n, 1)), ("sum", torch.sum)):
        reduced = loss(input, target, reduction=reduction)
        assert reduced.shape == () and bool(torch.isfinite(reduced))
        torch.testing.assert_close(reduced, reduce(values), rtol=1e-5, atol=1e-6 * draw["scale"] ** 2 + 1e-6)
    if n:
        values.sum().backward()
        assert input.grad is not None and bool(torch.isfinite(input.grad).all())


@PROPERTY_SETTINGS
@given(draw=draws)
def test_gradient_penalty_is_finite_and_non_negative(draw):
    gen = torch.Generator().manual_seed(draw["seed"])
    critic = nn.Sequential(nn.Linear(D, 5), nn.Tanh(), nn.Linear(5, 1)).to(draw["dtype"])
    real = draw["scale"] * torch.randn(draw["n"], D, generator=gen, dtype=draw["dtype"])
    fake = draw["scale"] * torch.randn(draw["n"], D, generator=gen, dtype=draw["dtype"])
    penalty = L.build("gradient_penalty", task="gan", reduction="none")
    values = penalty(critic, real, fake, generator=gen)
    assert values.shape == (draw["n"],) and bool(torch.isfinite(values).all()) and bool((values >= 0).all())
