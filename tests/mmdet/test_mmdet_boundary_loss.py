"""``type='BoundaryLoss'`` in mmdet's MODELS: the core boundary loss under mmdet's mask-loss contract.

As mmdet's ``DiceLoss``: ``forward(pred, target, weight=None, reduction_override=None, avg_factor=None)``
with ``(N, H, W)`` mask logits and binary masks, one value per mask reduced by ``weight_reduce_loss``.
"""

from __future__ import annotations

import pytest
import torch

pytestmark = [pytest.mark.mmdet, pytest.mark.usefixtures("mmdet_scope")]

from mmdet.registry import MODELS  # noqa: E402

import slf_mmdet  # noqa: E402,F401  (registers BoundaryLoss)
from slf.losses.segmentation import boundary_loss  # noqa: E402
from slf_mmdet.boundary_loss import MMDetBoundaryLoss  # noqa: E402


def make_masks(n: int = 5, size: int = 12, seed: int = 0):
    """Square instance masks at random places and sizes, with noisy logits around them."""
    g = torch.Generator().manual_seed(seed)
    target = torch.zeros(n, size, size)
    for i in range(n):
        side = int(torch.randint(2, 6, (1,), generator=g))
        top, left = torch.randint(0, size - side, (2,), generator=g).tolist()
        target[i, top : top + side, left : left + side] = 1
    pred = (4 * (2 * target - 1) + 3 * torch.randn(n, size, size, generator=g)).requires_grad_()
    weight = (torch.rand(n, generator=g) > 0.3).float()
    return pred, target, weight


def test_built_from_config_equals_the_core_loss() -> None:
    loss = MODELS.build(dict(type="BoundaryLoss"))
    assert isinstance(loss, MMDetBoundaryLoss)
    pred, target, _ = make_masks()
    probability = pred.sigmoid()
    core = boundary_loss(
        torch.stack([1 - probability, probability], dim=1), target.long(), from_logits=False, reduction="none"
    )
    torch.testing.assert_close(loss(pred, target, reduction_override="none"), core)
    torch.testing.assert_close(loss(pred, target), core.mean())
    probabilities = MODELS.build(dict(type="BoundaryLoss", activate=False))
    torch.testing.assert_close(probabilities(probability, target), core.mean())


def test_reduction_override_avg_factor_weight_and_loss_weight() -> None:
    loss = MODELS.build(dict(type="BoundaryLoss", reduction="mean"))
    pred, target, weight = make_masks()
    per_mask = loss(pred, target, weight=weight, reduction_override="none")
    assert per_mask.shape == (5,) and (per_mask >= 0).all()
    total = loss(pred, target, weight=weight, reduction_override="sum")
    torch.testing.assert_close(per_mask.sum(), total)
    torch.testing.assert_close(loss(pred, target, weight=weight), total / 5)
    torch.testing.assert_close(loss(pred, target, weight=weight, avg_factor=3.0), total / 3.0)
    kept = weight > 0  # a zero weight removes a mask
    torch.testing.assert_close(total, loss(pred[kept], target[kept], reduction_override="sum"))
    doubled = MODELS.build(dict(type="BoundaryLoss", loss_weight=2.0))
    torch.testing.assert_close(doubled(pred, target, weight=weight), 2 * loss(pred, target, weight=weight))
    with pytest.raises(ValueError, match="avg_factor can not be used"):
        loss(pred, target, avg_factor=3.0, reduction_override="sum")
    with pytest.raises(ValueError, match="reduction_override must be"):
        loss(pred, target, reduction_override="max")


def test_empty_inputs_give_zero_with_graph() -> None:
    loss = MODELS.build(dict(type="BoundaryLoss"))
    pred = torch.zeros(0, 12, 12, requires_grad=True)
    target, weight = torch.zeros(0, 12, 12), torch.zeros(0)
    for reduction in (None, "sum", "mean"):
        value = loss(pred, target, weight=weight, reduction_override=reduction)
        assert value.dim() == 0 and float(value.detach()) == 0.0
    value.backward()
    assert loss(pred, target, reduction_override="none").shape == (0,)


def test_zero_at_perfect_masks_and_growing_with_the_shift() -> None:
    loss = MODELS.build(dict(type="BoundaryLoss"))
    _, target, _ = make_masks()
    assert float(loss(40 * (2 * target - 1), target)) < 1e-15
    assert float(MODELS.build(dict(type="BoundaryLoss", activate=False))(target, target)) == 0.0
    square = torch.zeros(1, 16, 16)
    square[0, 3:8, 3:8] = 1
    values = [float(loss(40 * (2 * square.roll(k, dims=2) - 1), square)) for k in range(8)]
    assert values[0] < 1e-15 and all(b > a for a, b in zip(values, values[1:]))


def test_sums_with_mmdet_dice_loss_as_a_solo_mask_head() -> None:
    """SOLO-style: sigmoid probabilities (activate=False), one value per mask, summed / num_pos."""
    dice = MODELS.build(dict(type="DiceLoss", use_sigmoid=True, activate=False, loss_weight=3.0))
    boundary = MODELS.build(dict(type="BoundaryLoss", use_sigmoid=True, activate=False, loss_weight=1.0))
    pred, target, _ = make_masks(n=6, size=16, seed=1)
    probability = pred.sigmoid()
    parts = [
        dice(probability, target, reduction_override="none"),
        boundary(probability, target, reduction_override="none"),
    ]
    assert parts[0].shape == parts[1].shape == (6,)
    total = sum(part.sum() for part in parts) / 6
    (grad_total,) = torch.autograd.grad(total, pred, retain_graph=True)
    grads = [torch.autograd.grad(part.sum() / 6, pred, retain_graph=True)[0] for part in parts]
    torch.testing.assert_close(grad_total, grads[0] + grads[1])
    assert all(g.abs().sum() > 0 for g in grads)
    # At perfect masks both parts vanish.
    assert float(dice(target, target)) < 1e-3 and float(boundary(target, target)) == 0.0


def test_three_d_masks_and_spacing() -> None:
    loss = MODELS.build(dict(type="BoundaryLoss", spacing=(2.0, 1.0, 1.0)))
    target = torch.zeros(2, 4, 6, 6)
    target[:, 1:3, 2:4, 2:4] = 1
    pred = torch.zeros(2, 4, 6, 6)
    unit = MODELS.build(dict(type="BoundaryLoss"))
    assert float(loss(pred, target)) > float(unit(pred, target)) > 0  # longer voxels, larger distances


def test_bad_inputs_name_the_problem() -> None:
    loss = MODELS.build(dict(type="BoundaryLoss"))
    pred, target, _ = make_masks()
    with pytest.raises(ValueError, match="point-sampled masks"):
        loss(pred.flatten(1), target.flatten(1))
    with pytest.raises(ValueError, match="target must be binary masks of pred's shape"):
        loss(pred, target[:, :4])
    with pytest.raises(ValueError, match=r"one weight per mask, shape \(5,\)"):
        loss(pred, target, weight=torch.ones(5, 12, 12))
    with pytest.raises(ValueError, match="only sigmoid masks"):
        MODELS.build(dict(type="BoundaryLoss", use_sigmoid=False))
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\]"):
        MODELS.build(dict(type="BoundaryLoss", activate=False))(pred, target)
