"""Tests of the segmentation losses (task ``segmentation``): distance maps, boundary, Dice, CE, schedules.

Distance maps are checked against a brute-force minimum over the contour pixels and against the
reference ``one_hot2dist`` of LIVIAETS/boundary-loss (scipy's ``distance_transform_edt`` outside the
region); the boundary loss against the paper's ``mean(phi_G * s)`` form; the generalized Dice against
the reference's ``GeneralizedDice`` formula; the schedules against the reference ``StealWeight`` and
``AddWeightLoss`` schedulers.
"""

from __future__ import annotations

import io
import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch.autograd import gradcheck

import slf.losses as L
from slf.losses.segmentation import (
    BoundaryLoss,
    DiceLoss,
    RegionalBoundaryLoss,
    SegmentationCrossEntropyLoss,
    boundary_loss,
    dice_loss,
    schedule_weights,
    segmentation_cross_entropy_loss,
    signed_distance_maps,
)

NAMES = ("boundary", "dice", "ce", "regional_boundary")

pytestmark = pytest.mark.usefixtures("single_thread")


def make_loss(name: str, **kwargs):
    loss = L.build(name, task="segmentation", **kwargs)
    if name == "regional_boundary":
        for _ in range(30):
            loss.step()  # weights (0.7, 0.3)
    return loss


def one_hot(labels: torch.Tensor, num_classes: int, dtype=torch.float64) -> torch.Tensor:
    return F.one_hot(labels, num_classes).movedim(-1, 1).to(dtype)


def square_labels(size: int, top: int, left: int, side: int, n: int = 1) -> torch.Tensor:
    labels = torch.zeros(n, size, size, dtype=torch.long)
    labels[:, top : top + side, left : left + side] = 1
    return labels


def random_labels(shape, num_classes: int, seed: int) -> torch.Tensor:
    """Blobby label maps: smoothed noise, thresholded into classes (so regions have interiors)."""
    g = np.random.default_rng(seed)
    noise = ndimage.uniform_filter(g.random(shape), size=3)
    edges = np.quantile(noise, np.linspace(0, 1, num_classes + 1)[1:-1])
    return torch.from_numpy(np.digitize(noise, edges)).long()


# --------------------------------------------------------------------------- distance maps


def brute_force_distance_maps(labels: np.ndarray, num_classes: int, spacing) -> np.ndarray:
    """Signed distance to the contour by direct minimisation over the contour pixels."""
    spatial = labels.shape[1:]
    spacing = np.ones(len(spatial)) if spacing is None else np.asarray(spacing, dtype=np.float64)
    coords = np.stack(np.meshgrid(*[np.arange(s) for s in spatial], indexing="ij"), axis=-1).reshape(-1, len(spatial))
    out = np.zeros((labels.shape[0], num_classes) + spatial)
    for n, c in itertools.product(range(labels.shape[0]), range(num_classes)):
        region = labels[n] == c
        contour = []
        for point in coords:
            if not region[tuple(point)]:
                continue
            for axis, delta in itertools.product(range(len(spatial)), (-1, 1)):
                neighbour = point.copy()
                neighbour[axis] += delta
                if 0 <= neighbour[axis] < spatial[axis] and not region[tuple(neighbour)]:
                    contour.append(point)
                    break
        if not contour:
            continue  # absent class, or a class filling the image: no boundary, zero map
        contour = np.asarray(contour)
        distance = np.sqrt((((coords[:, None, :] - contour[None]) * spacing) ** 2).sum(-1)).min(axis=1)
        out[n, c] = np.where(region.reshape(-1), -distance, distance).reshape(spatial)
    return out


@pytest.mark.parametrize(
    "shape,spacing",
    [
        ((2, 7, 6), None),
        ((2, 7, 6), (1.5, 0.5)),
        ((1, 4, 5, 4), None),
        ((1, 4, 5, 4), (2.0, 1.0, 0.5)),
    ],
    ids=["2d", "2d-spacing", "3d", "3d-spacing"],
)
def test_distance_maps_equal_brute_force(shape, spacing):
    labels = random_labels(shape, 3, seed=len(shape))
    maps = signed_distance_maps(labels, num_classes=4, spacing=spacing, dtype=torch.float64)  # class 3 absent
    assert maps.shape == (shape[0], 4) + shape[1:] and maps.dtype == torch.float64
    expected = brute_force_distance_maps(labels.numpy(), 4, spacing)
    np.testing.assert_allclose(maps.numpy(), expected, atol=1e-12)
    assert (maps[:, 3] == 0).all()
    assert (maps[one_hot(labels, 4).bool()] <= 0).all() and (maps[~one_hot(labels, 4).bool()] >= 0).all()


def test_distance_maps_match_the_reference_one_hot2dist():
    """LIVIAETS/boundary-loss: edt(outside) outside; -(edt(region) - 1) inside (a unit-pixel approximation)."""
    yy, xx = np.mgrid[:31, :31]
    for region in ((yy - 15) ** 2 + (xx - 14) ** 2 <= 81, (yy >= 5) & (yy < 20) & (xx >= 8) & (xx < 27)):
        labels = torch.from_numpy(region.astype(np.int64))[None]
        phi = signed_distance_maps(labels, 2, dtype=torch.float64)[0, 1].numpy()
        outside = ndimage.distance_transform_edt(~region)
        inside = ndimage.distance_transform_edt(region) - 1
        np.testing.assert_allclose(phi[~region], outside[~region], atol=1e-12)
        assert np.abs(phi[region] + inside[region]).max() <= 2 - math.sqrt(2) + 1e-12
    # On a rectangle the nearest background lies along an axis: the two agree exactly.
    np.testing.assert_allclose(phi[region], -inside[region], atol=1e-12)
    assert phi[5, 8] == 0 and phi[4, 8] == 1 and phi[6, 9] == -1  # contour, one pixel out, one pixel in


def test_distance_maps_spacing_scales_and_edge_cases():
    labels = random_labels((1, 9, 8), 2, seed=3)
    unit = signed_distance_maps(labels, 2)
    assert torch.allclose(signed_distance_maps(labels, 2, spacing=2.5), 2.5 * unit)
    full = torch.ones(1, 4, 4, dtype=torch.long)
    assert (signed_distance_maps(full, 2) == 0).all()  # class 1 fills the image, class 0 is absent
    assert signed_distance_maps(torch.zeros(0, 4, 4, dtype=torch.long), 2).shape == (0, 2, 4, 4)
    line = torch.tensor([[0, 0, 1, 1, 1, 0]])  # 1-D works too
    assert signed_distance_maps(line, 2)[0, 1].tolist() == [2.0, 1.0, 0.0, -1.0, 0.0, 1.0]


# --------------------------------------------------------------------------- boundary loss


def test_boundary_loss_is_zero_at_the_ground_truth():
    labels = random_labels((3, 10, 9), 3, seed=0)
    exact = one_hot(labels, 3)
    for classes in (None, (0, 1, 2), (2,)):
        assert float(boundary_loss(exact, labels, classes=classes, from_logits=False)) == 0.0
        saturated = boundary_loss(60 * exact, labels, classes=classes, reduction="none")  # logits
        assert saturated.shape == (3,) and float(saturated.abs().max()) < 1e-20


def test_boundary_loss_grows_with_the_shift_of_the_predicted_square():
    target = square_labels(24, 4, 4, 6)
    for direction in ((0, 1), (1, 1)):
        values = []
        for k in range(12):
            predicted = square_labels(24, 4 + k * direction[0], 4 + k * direction[1], 6)
            values.append(float(boundary_loss(one_hot(predicted, 2), target, from_logits=False)))
        assert values[0] == 0.0
        assert all(b > a for a, b in zip(values, values[1:])), values


def test_boundary_loss_gradient_equals_the_papers_form():
    labels = random_labels((3, 9, 10), 3, seed=1)
    phi = signed_distance_maps(labels, 3, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    for classes in ((1, 2), (0, 1, 2)):
        logits = torch.randn(3, 3, 9, 10, dtype=torch.float64, generator=g, requires_grad=True)
        ours = boundary_loss(logits, labels, classes=classes)
        (grad_ours,) = torch.autograd.grad(ours, logits)
        paper = (phi[:, list(classes)] * logits.softmax(dim=1)[:, list(classes)]).mean()  # the reference SurfaceLoss
        (grad_paper,) = torch.autograd.grad(paper, logits)
        torch.testing.assert_close(grad_ours, grad_paper, rtol=1e-12, atol=1e-15)
        # They differ by the constant mean(phi * g), which does not depend on the prediction.
        offset = (phi[:, list(classes)] * one_hot(labels, 3)[:, list(classes)]).mean()
        torch.testing.assert_close(ours.detach(), paper.detach() - offset)


def test_boundary_loss_precomputed_maps_spacing_and_3d():
    labels = random_labels((2, 5, 6, 5), 3, seed=2)
    logits = torch.randn(2, 3, 5, 6, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    loss = BoundaryLoss(spacing=(2.0, 1.0, 1.0), reduction="none")
    maps = signed_distance_maps(labels, 3, spacing=(2.0, 1.0, 1.0), dtype=torch.float64)
    torch.testing.assert_close(loss(logits, labels), loss(logits, labels, distance_maps=maps))
    torch.testing.assert_close(
        loss(logits, labels), boundary_loss(logits, labels, spacing=(2.0, 1.0, 1.0), reduction="none")
    )
    # Per image: the mean over the selected classes and pixels.
    probs, g = logits.softmax(dim=1), one_hot(labels, 3)
    expected = (maps[:, 1:] * (probs[:, 1:] - g[:, 1:])).flatten(1).mean(dim=1)
    torch.testing.assert_close(loss(logits, labels), expected)
    assert (loss(logits, labels) >= 0).all()


def test_boundary_gradient_reaches_a_tiny_foreground():
    """1 in 1024 pixels is foreground: the boundary term still moves the prediction onto it."""
    target = square_labels(32, 14, 17, 3)
    logits = torch.zeros(1, 2, 32, 32, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(boundary_loss(logits, target), logits)
    assert grad[0, 1, 15, 18] < 0  # the centre (phi = -1) pulls the foreground logit up
    assert (grad[0, 1][target[0] == 0] >= 0).all()  # the background pushes it down, nowhere up
    # Gradient descent on free logits with the boundary term over both classes finds the object.
    maps = signed_distance_maps(target, 2, dtype=torch.float64)
    logits = torch.zeros(1, 2, 32, 32, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([logits], lr=2000.0)
    for _ in range(40):
        optimizer.zero_grad()
        boundary_loss(logits, target, distance_maps=maps, classes=(0, 1)).backward()
        optimizer.step()
    assert torch.equal(logits.argmax(dim=1), target)


# --------------------------------------------------------------------------- Dice and CE


def reference_generalized_dice(probs, labels, num_classes):
    """LIVIAETS/boundary-loss GeneralizedDice per image: w = 1 / (n + 1e-10)^2 (every class present)."""
    t = one_hot(labels, num_classes, probs.dtype).flatten(2)
    p = probs.flatten(2)
    w = 1 / (t.sum(-1) + 1e-10) ** 2
    return 1 - 2 * ((w * (p * t).sum(-1)).sum(-1) + 1e-10) / ((w * (p.sum(-1) + t.sum(-1))).sum(-1) + 1e-10)


def test_dice_known_values():
    probs = torch.tensor([[[0.4, 0.8, 0.9, 0.9], [0.6, 0.2, 0.1, 0.1]]], dtype=torch.float64)
    target = torch.tensor([[1, 0, 0, 0]])
    # weights (1/3)^2 and 1: 1 - 2 (2.6/9 + 0.6) / (6/9 + 2) = 1/3; soft: 1 - (2.6/3 + 0.6) / 2 = 2/15 + 2/15.
    assert float(dice_loss(probs, target, from_logits=False)) == pytest.approx(1 / 3, abs=1e-6)
    assert float(dice_loss(probs, target, variant="soft", from_logits=False)) == pytest.approx(4 / 15, abs=1e-6)
    assert float(dice_loss(probs, target, classes=(1,), from_logits=False)) == pytest.approx(0.4, abs=1e-6)
    labels = random_labels((3, 8, 7), 3, seed=4)
    logits = torch.randn(3, 3, 8, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(
        dice_loss(logits, labels, reduction="none"),
        reference_generalized_dice(logits.softmax(1), labels, 3),
        atol=1e-6,
        rtol=0,
    )


@pytest.mark.parametrize("variant", ["generalized", "soft"])
def test_dice_is_zero_at_a_perfect_prediction_and_bounded(variant):
    labels = random_labels((3, 8, 8), 3, seed=5)
    labels[2] = labels[2].clamp(max=1)  # class 2 absent from the last image
    exact = one_hot(labels, 3)
    assert float(dice_loss(exact, labels, variant=variant, from_logits=False, reduction="sum")) < 1e-12
    assert float(dice_loss(80 * exact, labels, variant=variant, reduction="sum")) < 1e-12
    logits = 3 * torch.randn(3, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    values = dice_loss(logits, labels, variant=variant, reduction="none")
    assert ((values > 0) & (values <= 1)).all()
    # An absent class the prediction fills is penalised, not ignored.
    wrong = exact.clone()
    wrong[2] = one_hot(torch.full_like(labels[2:], 2), 3)[0]
    assert float(dice_loss(wrong, labels, variant=variant, from_logits=False, reduction="none")[2]) > 0.5


def test_cross_entropy_matches_torch_and_probabilities():
    labels = random_labels((2, 6, 5), 3, seed=6)
    logits = torch.randn(2, 3, 6, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    expected = F.cross_entropy(logits, labels, reduction="none").flatten(1).mean(1)
    torch.testing.assert_close(segmentation_cross_entropy_loss(logits, labels, reduction="none"), expected)
    torch.testing.assert_close(
        SegmentationCrossEntropyLoss(from_logits=False, reduction="none")(logits.softmax(1), labels), expected
    )
    probs = one_hot(labels, 3).requires_grad_()  # p = 0 on the wrong classes, 1 on the right one
    value = segmentation_cross_entropy_loss(probs, labels, from_logits=False)
    value.backward()
    assert float(value.detach()) == 0 and torch.isfinite(probs.grad).all()
    wrong = one_hot(torch.ones_like(labels), 3)  # all the mass on class 1, the truth is class 0
    assert float(segmentation_cross_entropy_loss(wrong, torch.zeros_like(labels), from_logits=False)) == 100.0


# --------------------------------------------------------------------------- generic properties


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck(name):
    loss = make_loss(name, reduction="none")
    labels = random_labels((2, 5, 4), 3, seed=7)
    logits = torch.randn(
        2, 3, 5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(5), requires_grad=True
    )
    assert gradcheck(lambda x: loss(x, labels), (logits,), eps=1e-6, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale", [1e4, 1e30])
def test_extreme_logits_give_finite_values_and_gradients(name, dtype, scale):
    labels = random_labels((2, 6, 6), 3, seed=8)
    logits = (scale * torch.randn(2, 3, 6, 6, generator=torch.Generator().manual_seed(6))).to(dtype)
    logits.requires_grad_()
    value = make_loss(name)(logits, labels)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("name", NAMES)
def test_reductions_empty_batch_and_module_agreement(name):
    loss = make_loss(name, reduction="none")
    labels = random_labels((3, 6, 5), 3, seed=9)
    logits = torch.randn(3, 3, 6, 5, generator=torch.Generator().manual_seed(7))
    values = loss(logits, labels)
    assert values.shape == (3,) and (values >= 0).all() and values.dtype == torch.float32
    torch.testing.assert_close(loss(logits, labels, reduction="mean"), values.mean())
    torch.testing.assert_close(loss(logits, labels, reduction="sum"), values.sum())
    assert loss(logits.double(), labels).dtype == torch.float64
    empty = logits[:0].requires_grad_()
    assert loss(empty, labels[:0]).shape == (0,)
    zero = loss(empty, labels[:0], reduction="mean")
    zero.backward()
    assert float(zero.detach()) == 0.0
    functional = {"boundary": boundary_loss, "dice": dice_loss, "ce": segmentation_cross_entropy_loss}
    if name in functional:
        torch.testing.assert_close(functional[name](logits, labels, reduction="none"), values)


def test_registry():
    assert {"boundary", "dice", "ce", "regional_boundary"} <= set(L.available("segmentation"))
    assert isinstance(L.build("ce", task="segmentation"), SegmentationCrossEntropyLoss)
    assert isinstance(L.build("ce"), L.CrossEntropyLoss)  # the classification ce is unchanged
    assert {"classification", "segmentation"} <= set(L.tasks_of("ce"))
    for name in NAMES:
        cls = L.resolve(name, task="segmentation")
        assert cls.task == "segmentation" and cls.registry_name == name and cls.minimum == 0.0


# --------------------------------------------------------------------------- schedules


def reference_steal_weight(epochs: int):
    """LIVIAETS/boundary-loss scheduler.StealWeight(to_steal=0.01) from the make files' weights [1, 0.01]."""
    weights = [1.0, 0.01]
    out = [tuple(weights)]
    for _ in range(epochs):
        weights = [max(0.1, weights[0] - 0.01), weights[1] + 0.01]
        out.append(tuple(weights))
    return out


def test_schedule_values_over_epochs():
    assert [schedule_weights(e) for e in (0, 1, 10, 50, 89, 90, 91, 300)] == [
        (1.0, 0.0),
        (0.99, 0.01),
        (0.9, 0.1),
        (0.5, 0.5),
        (0.11, 0.89),
        (0.1, 0.9),
        (0.1, 0.9),
        (0.1, 0.9),
    ]
    for epoch, (regional, boundary) in enumerate(reference_steal_weight(200)):
        ours = schedule_weights(epoch)
        assert ours[0] == pytest.approx(regional, abs=1e-9)
        if epoch <= 90:  # until the floor: the reference's boundary weight, 0.01 ahead
            assert ours[1] == pytest.approx(boundary - 0.01, abs=1e-9)
    assert [schedule_weights(e, "increase") for e in (0, 1, 99)] == [(1.0, 0.01), (1.0, 0.02), (1.0, 1.0)]
    assert schedule_weights(500, "increase", alpha_limit=1.0) == (1.0, 1.0)
    assert schedule_weights(7, "constant") == (1.0, 0.1) == schedule_weights(0, "constant")
    assert schedule_weights(3, "rebalance", alpha=0.5, alpha_step=0.1, alpha_limit=0.3) == (0.3, 0.7)


def test_regional_boundary_loss_follows_the_schedule_and_survives_checkpoints():
    labels = random_labels((2, 8, 8), 3, seed=10)
    logits = torch.randn(2, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    loss = RegionalBoundaryLoss("ce", reduction="none")
    ce = segmentation_cross_entropy_loss(logits, labels, reduction="none")
    boundary = boundary_loss(logits, labels, reduction="none")
    torch.testing.assert_close(loss(logits, labels), ce)  # epoch 0: alpha = 1
    for _ in range(25):
        loss.step()
    assert int(loss.epoch) == 25 and loss.weights == (0.75, 0.25)
    torch.testing.assert_close(loss(logits, labels), 0.75 * ce + 0.25 * boundary)
    maps = signed_distance_maps(labels, 3, dtype=torch.float64)
    torch.testing.assert_close(loss(logits, labels, distance_maps=maps), 0.75 * ce + 0.25 * boundary)

    state = loss.state_dict()
    assert "epoch" in state
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    restored = RegionalBoundaryLoss("ce", reduction="none")
    restored.load_state_dict(torch.load(buffer))
    assert int(restored.epoch) == 25 and restored.weights == (0.75, 0.25)
    restored.step()
    assert restored.weights == schedule_weights(26)

    increase = RegionalBoundaryLoss("dice", schedule="increase", regional_kwargs={"variant": "soft"})
    for _ in range(4):
        increase.step()
    assert increase.weights == (1.0, 0.05)
    expected = dice_loss(logits, labels, variant="soft") + 0.05 * boundary.mean()
    torch.testing.assert_close(increase(logits, labels), expected)


# --------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("name", NAMES)
def test_bad_inputs_give_clear_errors(name):
    loss = make_loss(name)
    labels = random_labels((2, 5, 4), 3, seed=11)
    logits = torch.randn(2, 3, 5, 4)
    cases = [
        (logits.flatten(1), labels, ValueError, r"\(N, C, \*spatial\)"),
        (logits[:, :1], labels.clamp(max=0), ValueError, "C >= 2"),
        (logits, labels[:, :4], ValueError, r"label map of shape \(2, 5, 4\)"),
        (logits, labels.float(), TypeError, "integer tensor of class indices"),
        (logits.long(), labels, TypeError, "floating point"),
        (logits, labels.clone().fill_(3), ValueError, r"outside \[0, 3\)"),
        (logits, labels.clone().fill_(-1), ValueError, r"outside \[0, 3\)"),
    ]
    for input, target, error, message in cases:
        with pytest.raises(error, match=message):
            loss(input, target)
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\]"):
        make_loss(name, from_logits=False)(logits, labels)
    with pytest.raises(ValueError, match="sum to 1"):
        make_loss(name, from_logits=False)(logits.sigmoid(), labels)
    with pytest.raises(ValueError, match="reduction"):
        make_loss(name, reduction="avg")


def test_bad_arguments_give_clear_errors():
    labels = random_labels((1, 5, 4), 3, seed=12)
    logits = torch.randn(1, 3, 5, 4)
    for classes, error, message in [
        ((), ValueError, "non-empty"),
        ((1, 1), ValueError, "repeat"),
        ((-1,), ValueError, ">= 0"),
        ("1", TypeError, "sequence"),
        ((1.5,), ValueError, "class indices"),
    ]:
        with pytest.raises(error, match=message):
            BoundaryLoss(classes=classes)
    with pytest.raises(ValueError, match=r"classes \[1, 3\] name a class >= C = 3"):
        boundary_loss(logits, labels, classes=(1, 3))
    with pytest.raises(ValueError, match=r"classes \[5\]"):
        DiceLoss(classes=[5])(logits, labels)
    with pytest.raises(ValueError, match=r"distance_maps must have the input's shape"):
        boundary_loss(logits, labels, distance_maps=torch.zeros(1, 2, 5, 4))
    with pytest.raises(ValueError, match="2 finite pixel sizes"):
        boundary_loss(logits, labels, spacing=(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="pixel sizes > 0"):
        BoundaryLoss(spacing=(1.0, 0.0))
    with pytest.raises(ValueError, match="num_classes must be an integer >= 1"):
        signed_distance_maps(labels, 0)
    with pytest.raises(ValueError, match=r"outside \[0, 2\)"):
        signed_distance_maps(labels, 2)
    with pytest.raises(ValueError, match="variant must be one of"):
        DiceLoss(variant="tversky")
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        dice_loss(logits, labels, eps=0.0)
    with pytest.raises(TypeError, match="from_logits must be True or False"):
        BoundaryLoss(from_logits=1)
    with pytest.raises(ValueError, match=r"regional must be one of \['dice', 'ce'\]"):
        RegionalBoundaryLoss("focal")
    with pytest.raises(ValueError, match="schedule must be one of"):
        RegionalBoundaryLoss(schedule="cosine")
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        RegionalBoundaryLoss(alpha=1.5)
    with pytest.raises(ValueError, match="floor alpha decreases to"):
        RegionalBoundaryLoss(alpha=0.5, alpha_limit=0.6)
    with pytest.raises(ValueError, match="'constant' keeps alpha fixed"):
        RegionalBoundaryLoss(schedule="constant", alpha_step=0.01)
    with pytest.raises(ValueError, match="must not set 'from_logits'"):
        RegionalBoundaryLoss(regional_kwargs={"from_logits": False})
    with pytest.raises(ValueError, match="epoch must be an integer >= 0"):
        schedule_weights(-1)
