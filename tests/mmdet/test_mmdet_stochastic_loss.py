"""mmdet's loss contract over ``type='StochasticLoss'`` with several candidate sets.

As mmdet's own ``test_loss.py``: every form is built from the registry and checked for
empty inputs, ``reduction_override``, ``avg_factor``, ``loss_weight`` and element-wise
weights; and with all the weight on one candidate it must return exactly what that
candidate returns in mmdet.
"""

from __future__ import annotations

import pytest
import torch

pytestmark = [pytest.mark.mmdet, pytest.mark.usefixtures("mmdet_scope")]

from mmdet.registry import MODELS  # noqa: E402

import slf_mmdet  # noqa: E402,F401  (registers StochasticLoss)
from slf_mmdet.stochastic_loss import SLF_OPTIONS  # noqa: E402

NUM_CLASSES = 4

# (config, kind): sigmoid and softmax classification over core and mmdet candidates, box regression.
FORMS = {
    "sigmoid-core": (dict(use_sigmoid=True, candidates=["bce", "mse", "mae"]), "sigmoid"),
    "sigmoid-mmdet": (
        dict(
            use_sigmoid=True,
            candidates=[
                "bce",
                dict(type="FocalLoss", use_sigmoid=True),
                dict(type="CrossEntropyLoss", use_sigmoid=True),
            ],
        ),
        "sigmoid",
    ),
    "softmax": (
        dict(use_sigmoid=False, candidates=["ce", "categorical_hinge", dict(type="CrossEntropyLoss")]),
        "softmax",
    ),
    "boxes": (
        dict(task="regression", candidates=[dict(type="GIoULoss"), dict(type="L1Loss"), "mae", "huber"]),
        "boxes",
    ),
}
# Core candidates and the mmdet loss each must equal when it holds all the weight.
MMDET_EQUIVALENT = {
    ("sigmoid", "bce"): dict(type="CrossEntropyLoss", use_sigmoid=True),
    ("softmax", "ce"): dict(type="CrossEntropyLoss"),
    ("boxes", "mae"): dict(type="L1Loss"),
}


def make_inputs(kind: str, n: int = 12, seed: int = 0):
    """Predictions, targets and per-row weights as an mmdet head passes them."""
    g = torch.Generator().manual_seed(seed)
    if kind == "boxes":
        xy = torch.rand(n, 2, generator=g) * 50
        target = torch.cat([xy, xy + 5 + torch.rand(n, 2, generator=g) * 40], dim=1)
        pred = (target + torch.randn(n, 4, generator=g) * 4).requires_grad_()
        # Box heads pass (N, 4) weights (bbox_weights), which mmdet's L1Loss needs.
        return pred, target, (torch.rand(n, 1, generator=g) > 0.3).float().expand(n, 4)
    channels = NUM_CLASSES if kind == "sigmoid" else NUM_CLASSES + 1
    pred = torch.randn(n, channels, generator=g).requires_grad_()
    # Class indices with background = num_classes, as mmdet's dense heads label anchors.
    target = torch.randint(0, NUM_CLASSES + 1, (n,), generator=g)
    return pred, target, (torch.rand(n, generator=g) > 0.2).float()


def build(form: str, **overrides):
    cfg, kind = FORMS[form]
    return MODELS.build(dict(type="StochasticLoss", **{"seed": 0, **cfg, **overrides})), kind


@pytest.mark.parametrize("form", sorted(FORMS))
def test_the_default_recipe_reaches_pred_and_moves_its_weights(form: str, recwarn) -> None:
    loss, kind = build(form)
    assert loss.slf.mode == "align" and not list(loss.parameters())  # nothing for mmdet's weight decay
    layer = None
    for step in range(3):
        start, target, weight = make_inputs(kind, seed=step)
        if layer is None:  # the head's output layer, whose gradients the recipe compares
            torch.manual_seed(0)
            layer = torch.nn.Linear(8, start.shape[1])
        pred = start.detach() + layer(torch.randn(len(start), 8))
        value = loss(pred, target, weight=weight, avg_factor=float(weight.sum()))
        assert value.dim() == 0 and torch.isfinite(value)
        value.backward()
        assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
    # No runner, no SLFHeldOutHook: the previous batch is the reference, and the user is told once.
    assert loss.slf.reference_source == "previous_batch"
    assert len([w for w in recwarn if "no held-out data" in str(w.message)]) == 1
    # Each call is its own step outside mmengine's training loop; a step is scored when the next begins.
    assert int(loss.slf.decision.observations) == 1 and loss.slf.step == 3
    assert abs(float(loss.weights.sum()) - 1) < 1e-5 and not torch.allclose(loss.weights, loss.weights.mean())


@pytest.mark.parametrize("form", sorted(FORMS))
def test_scalar_loss_reaches_pred_and_decision(form: str) -> None:
    loss, kind = build(form, mode="joint")
    pred, target, weight = make_inputs(kind)
    value = loss(pred, target, weight=weight, avg_factor=float(weight.sum()))
    assert value.dim() == 0 and torch.isfinite(value)
    value.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    decision_grads = [p.grad for p in loss.slf.decision.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in decision_grads)
    assert loss.weights.shape == (len(FORMS[form][0]["candidates"]),)
    assert abs(float(loss.weights.sum()) - 1) < 1e-5


@pytest.mark.parametrize("form", sorted(FORMS))
def test_empty_input_gives_zero_with_graph(form: str) -> None:
    loss, kind = build(form)
    pred, target, weight = make_inputs(kind)
    pred, target, weight = pred[:0].detach().requires_grad_(), target[:0], weight[:0]
    for reduction in (None, "sum", "mean"):
        value = loss(pred, target, weight=weight, reduction_override=reduction)
        assert value.dim() == 0 and float(value) == 0.0
    value.backward()
    assert loss(pred, target, reduction_override="none").numel() == 0


@pytest.mark.parametrize("form", sorted(FORMS))
def test_reductions_avg_factor_and_loss_weight(form: str) -> None:
    # Softmax mode has no noise, so the same loss can be called several times and compared.
    loss, kind = build(form, mode="softmax")
    pred, target, weight = make_inputs(kind)
    total = loss(pred, target, weight=weight, reduction_override="sum")
    per_element = loss(pred, target, weight=weight, reduction_override="none")
    assert torch.allclose(per_element.sum(), total, rtol=1e-5)
    assert torch.allclose(loss(pred, target, weight=weight, avg_factor=7.0), total / 7.0, rtol=1e-5)
    with pytest.raises(ValueError, match="avg_factor can not be used"):
        loss(pred, target, weight=weight, avg_factor=7.0, reduction_override="sum")
    with pytest.raises(ValueError, match="reduction_override must be"):
        loss(pred, target, reduction_override="max")
    doubled, _ = build(form, mode="softmax", loss_weight=2.0)
    assert torch.allclose(doubled(pred, target, weight=weight), 2 * loss(pred, target, weight=weight), rtol=1e-5)
    # A zero weight removes a row: same loss as leaving the row out.
    kept = weight.reshape(len(weight), -1)[:, 0] > 0
    summed = loss(pred, target, weight=weight, reduction_override="sum")
    assert torch.allclose(summed, loss(pred[kept], target[kept], reduction_override="sum"), rtol=1e-5)


@pytest.mark.parametrize("form", sorted(FORMS))
def test_all_weight_on_one_candidate_is_that_mmdet_loss(form: str) -> None:
    cfg, kind = FORMS[form]
    pred, target, weight = make_inputs(kind)
    for i, spec in enumerate(cfg["candidates"]):
        reference_cfg = spec if isinstance(spec, dict) else MMDET_EQUIVALENT.get((kind, spec))
        if reference_cfg is None:
            continue
        prior = [1e-9] * len(cfg["candidates"])
        prior[i] = 1.0
        loss, _ = build(form, mode="softmax", decision="global", prior=prior)
        reference = MODELS.build(reference_cfg)
        for avg_factor in (None, 5.0):
            got = loss(pred, target, weight=weight, avg_factor=avg_factor)
            expected = reference(pred, target, weight=weight, avg_factor=avg_factor)
            assert torch.allclose(got, expected, rtol=1e-4, atol=1e-6), (spec, avg_factor, got, expected)


def test_sigmoid_one_hot_maps_inside_a_yolo_head_shape() -> None:
    """YOLOv3 passes (B, anchors, C) maps with one-hot targets and (B, anchors, 1) weights."""
    loss = MODELS.build(
        dict(
            type="StochasticLoss",
            use_sigmoid=True,
            candidates=["bce", "mse"],
            reduction="sum",
            mode="softmax",
            decision="global",
            prior=[1.0, 1e-9],
        )
    )
    reference = MODELS.build(dict(type="CrossEntropyLoss", use_sigmoid=True, reduction="sum"))
    g = torch.Generator().manual_seed(1)
    pred = torch.randn(2, 30, 3, generator=g)
    target = torch.nn.functional.one_hot(torch.randint(0, 3, (2, 30), generator=g), 3).float()
    weight = (torch.rand(2, 30, 1, generator=g) > 0.7).float()
    assert torch.allclose(loss(pred, target, weight=weight), reference(pred, target, weight=weight), rtol=1e-5)
    assert loss(pred, target, weight=weight, reduction_override="none").shape == pred.shape


def test_bad_configs_name_the_problem() -> None:
    with pytest.raises(ValueError, match="unknown option.*valid: .*num_samples"):
        MODELS.build(dict(type="StochasticLoss", candidates=["bce"], temperature=2.0))
    with pytest.raises(ValueError, match=r"mode must be one of \['align', 'joint', 'softmax'\].*SLFHeldOutHook"):
        MODELS.build(dict(type="StochasticLoss", candidates=["bce"], mode="validation"))
    with pytest.raises(ValueError, match="valid names"):
        MODELS.build(dict(type="StochasticLoss", candidates=["bce", "no_such_loss"]))
    with pytest.raises(TypeError, match="mmdet loss config"):
        MODELS.build(dict(type="StochasticLoss", candidates=[3]))
    with pytest.raises(KeyError, match="NoSuchLoss"):
        MODELS.build(dict(type="StochasticLoss", candidates=[dict(type="NoSuchLoss")]))
    loss = MODELS.build(dict(type="StochasticLoss", candidates=["bce"]))
    with pytest.raises(ValueError, match="target must have pred's shape"):
        loss(torch.randn(4, 3), torch.rand(4, 2))
    assert "num_samples" in SLF_OPTIONS and "task" not in SLF_OPTIONS


def test_a_config_gives_a_part_as_a_dict_or_by_its_flat_options() -> None:
    nested = MODELS.build(
        dict(
            type="StochasticLoss",
            candidates=["bce", "mse"],
            mode="joint",
            sampler=dict(num_samples=5, tau=0.5, seed=0),
            normalization="mean",
        )
    )
    flat = MODELS.build(
        dict(
            type="StochasticLoss",
            candidates=["bce", "mse"],
            mode="joint",
            num_samples=5,
            tau=0.5,
            seed=0,
            normalize="mean",
        )
    )
    assert nested.slf.num_samples == flat.slf.num_samples == 5 and nested.slf.normalize == flat.slf.normalize
    assert repr(nested.slf) == repr(flat.slf) and {"sampler", "normalization"} <= set(SLF_OPTIONS)
    with pytest.raises(ValueError, match="unknown option.*learner"):
        MODELS.build(dict(type="StochasticLoss", candidates=["bce"], learner=dict(held_out="previous_batch")))


def test_state_round_trips_through_state_dict() -> None:
    loss, kind = build("sigmoid-mmdet", mode="joint")
    pred, target, weight = make_inputs(kind)
    for _ in range(3):
        loss(pred, target, weight=weight).backward()
    restored, _ = build("sigmoid-mmdet", mode="joint", seed=123)
    restored.load_state_dict(loss.state_dict())
    assert restored.slf.step == loss.slf.step == 3
    # Same decision parameters and the same noise generator state: the next call is identical.
    assert torch.equal(restored(pred, target, weight=weight), loss(pred, target, weight=weight))
