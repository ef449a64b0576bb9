"""IoU-balanced classification and localisation losses (Wu et al., arXiv:1908.05641) and the aligned IoU.

Checked: exponent 0 gives the plain BCE / CE / smooth L1; the normalisation keeps the
positives' total loss (classification) or weight sum (localisation); better-localised
positives weigh more; no gradient flows through the IoU or the weights; float64
gradients; aligned IoU against hand values; the authors' formula on the one-vs-all map;
input errors.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck

import slf.losses as L
from slf.losses.detection import (
    IoUBalancedClsLoss,
    IoUBalancedLocLoss,
    aligned_box_iou,
    iou_balanced_cls_loss,
    iou_balanced_loc_loss,
    iou_balanced_weights,
)

C = 3  # foreground classes

pytestmark = pytest.mark.usefixtures("single_thread")


def cls_inputs(n: int = 10, use_sigmoid: bool = True, seed: int = 0, dtype=torch.float64):
    """Logits, labels (background = C sigmoid, last column softmax) and IoUs (0 for negatives)."""
    g = torch.Generator().manual_seed(seed)
    columns = C if use_sigmoid else C + 1
    logits = (torch.randn(n, columns, generator=g) * 2).to(dtype).requires_grad_()
    labels = torch.randint(0, C + 1, (n,), generator=g)
    labels[:3] = torch.tensor([0, 1, C])  # at least two positives and one negative
    ious = torch.where(labels < C, 0.05 + 0.9 * torch.rand(n, generator=g), torch.zeros(n)).to(dtype)
    return logits, labels, ious


def plain_cls(logits, labels, use_sigmoid):
    if use_sigmoid:
        onehot = F.one_hot(labels, C + 1)[:, :C].to(logits.dtype)
        return F.binary_cross_entropy_with_logits(logits, onehot, reduction="none").sum(dim=1)
    return F.cross_entropy(logits, labels, reduction="none")


def loc_inputs(n: int = 8, seed: int = 0, dtype=torch.float64):
    """Ground-truth boxes, predicted boxes around them, and (N, 4) regression deltas with IoUs."""
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 50
    gt = torch.cat([xy, xy + 10 + torch.rand(n, 2, generator=g) * 30], dim=1).to(dtype)
    pred = (gt + torch.randn(n, 4, generator=g).to(dtype) * 4).requires_grad_()
    return pred, gt


# ----------------------------------------------------------------------------- aligned IoU


def test_aligned_iou_hand_values() -> None:
    a = torch.tensor(
        [
            [0.0, 0.0, 2.0, 2.0],
            [0.0, 0.0, 4.0, 4.0],
            [0.0, 0.0, 1.0, 1.0],
            [0.0, 0.0, 2.0, 1.0],
            [0.0, 0.0, 3.0, 3.0],
            [2.0, 2.0, 0.0, 0.0],
            [1.0, 1.0, 1.0, 1.0],
            [0.0, 0.0, 0.0, 5.0],
        ]
    )
    b = torch.tensor(
        [
            [1.0, 1.0, 3.0, 3.0],
            [1.0, 1.0, 3.0, 3.0],
            [2.0, 2.0, 3.0, 3.0],
            [1.0, 0.0, 3.0, 1.0],
            [0.0, 0.0, 3.0, 3.0],
            [0.0, 0.0, 2.0, 2.0],
            [1.0, 1.0, 1.0, 1.0],
            [0.0, 0.0, 0.0, 5.0],
        ]
    )
    # 1/7; contained 4/16; disjoint; half-overlapping strips 1/3; identical; inverted box has no area;
    # two points; two zero-width boxes: 0, never NaN
    expected = torch.tensor([1 / 7, 0.25, 0.0, 1 / 3, 1.0, 0.0, 0.0, 0.0])
    torch.testing.assert_close(aligned_box_iou(a, b), expected)
    torch.testing.assert_close(aligned_box_iou(b, a), expected)  # symmetric


def test_aligned_iou_keeps_leading_dims_and_degenerate_gradients_are_finite() -> None:
    pred, gt = loc_inputs(6)
    iou = aligned_box_iou(pred.reshape(2, 3, 4), gt.reshape(2, 3, 4))
    assert iou.shape == (2, 3)
    torch.testing.assert_close(iou.reshape(-1), aligned_box_iou(pred, gt))
    points = torch.zeros(3, 4, requires_grad=True)
    value = aligned_box_iou(points, torch.zeros(3, 4))
    value.sum().backward()
    assert torch.equal(value.detach(), torch.zeros(3)) and torch.isfinite(points.grad).all()


def test_aligned_iou_gradcheck_float64() -> None:
    pred, gt = loc_inputs(5)
    pred = (gt + 1.5).detach().requires_grad_()  # overlapping, away from the clamp kinks
    assert gradcheck(lambda p: aligned_box_iou(p, gt), (pred,))


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda: aligned_box_iou(torch.zeros(3, 4), torch.zeros(2, 4)), "same shape"),
        (lambda: aligned_box_iou(torch.zeros(3, 5), torch.zeros(3, 5)), r"\(\*, 4\)"),
        (lambda: aligned_box_iou(torch.zeros(3, 4, dtype=torch.long), torch.zeros(3, 4)), "floating point"),
        (lambda: aligned_box_iou(torch.zeros(3, 4), torch.zeros(3, 4), eps=0.0), "eps"),
    ],
)
def test_aligned_iou_errors(bad, match) -> None:
    with pytest.raises(ValueError, match=match):
        bad()


# ----------------------------------------------------------------------------- weights


def test_weights_keep_the_weighted_total_and_order_by_iou() -> None:
    ious = torch.tensor([0.95, 0.7, 0.5, 0.2], dtype=torch.float64)
    losses = torch.tensor([0.3, 1.2, 0.8, 2.0], dtype=torch.float64)
    weight = torch.tensor([1.0, 0.5, 1.0, 2.0], dtype=torch.float64)
    w = iou_balanced_weights(ious, 1.5, losses=losses, weight=weight)
    torch.testing.assert_close((weight * w * losses).sum(), (weight * losses).sum())
    assert (w.diff() < 0).all()  # higher IoU, larger weight
    torch.testing.assert_close(w[0] / w[1], (ious[0] / ious[1]) ** 1.5)  # weights stay proportional to IoU^eta
    w_sum = iou_balanced_weights(ious, 1.5)
    torch.testing.assert_close(w_sum.sum(), torch.tensor(4.0, dtype=torch.float64))


def test_weights_at_exponent_zero_and_without_overlap_are_one() -> None:
    ious = torch.tensor([0.9, 0.0, 0.3])
    assert torch.equal(iou_balanced_weights(ious, 0.0, losses=torch.tensor([0.1, 2.0, 0.7])), torch.ones(3))
    assert torch.equal(iou_balanced_weights(torch.zeros(3), 1.5, losses=torch.ones(3)), torch.ones(3))
    assert torch.equal(iou_balanced_weights(ious, 1.5, losses=torch.zeros(3)), torch.ones(3))
    assert iou_balanced_weights(torch.zeros(0), 1.5).shape == (0,)


def test_weights_carry_no_gradient() -> None:
    ious = torch.tensor([0.9, 0.4], requires_grad=True)
    losses = torch.tensor([0.5, 1.0], requires_grad=True)
    w = iou_balanced_weights(ious, 1.5, losses=losses)
    assert not w.requires_grad


# ----------------------------------------------------------------------------- classification


@pytest.mark.parametrize("use_sigmoid", [True, False])
def test_cls_exponent_zero_is_the_plain_cross_entropy(use_sigmoid: bool) -> None:
    logits, labels, ious = cls_inputs(use_sigmoid=use_sigmoid)
    got = iou_balanced_cls_loss(logits, labels, ious, eta=0.0, use_sigmoid=use_sigmoid, reduction="none")
    torch.testing.assert_close(got, plain_cls(logits, labels, use_sigmoid), rtol=0, atol=1e-12)
    module = L.build("iou_balanced_cls", task="detection", eta=0.0, use_sigmoid=use_sigmoid, reduction="sum")
    torch.testing.assert_close(module(logits, (labels, ious)), plain_cls(logits, labels, use_sigmoid).sum())


def test_cls_exponent_zero_with_focal_terms_is_the_sigmoid_focal_loss() -> None:
    logits, labels, ious = cls_inputs()
    onehot = F.one_hot(labels, C + 1)[:, :C].to(logits.dtype)
    p = torch.sigmoid(logits)
    p_t = p * onehot + (1 - p) * (1 - onehot)
    alpha_t = 0.25 * onehot + 0.75 * (1 - onehot)
    focal = -alpha_t * (1 - p_t) ** 2 * torch.log(p_t)  # Lin et al.'s FL, written out
    got = iou_balanced_cls_loss(logits, labels, ious, eta=0.0, gamma=2.0, alpha=0.25, reduction="none")
    torch.testing.assert_close(got, focal.sum(dim=1))


@pytest.mark.parametrize("use_sigmoid", [True, False])
@pytest.mark.parametrize("gamma", [0.0, 2.0])
def test_cls_normalisation_keeps_the_positive_and_total_loss(use_sigmoid: bool, gamma: float) -> None:
    alpha = 0.25 if use_sigmoid else None
    for seed in range(5):
        logits, labels, ious = cls_inputs(n=16, use_sigmoid=use_sigmoid, seed=seed)
        weight = torch.rand(16, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        kw = dict(use_sigmoid=use_sigmoid, gamma=gamma, alpha=alpha, weight=weight, reduction="none")
        plain = iou_balanced_cls_loss(logits, labels, ious, eta=0.0, **kw)
        balanced = iou_balanced_cls_loss(logits, labels, ious, eta=1.5, **kw)
        positive = labels < C
        torch.testing.assert_close(balanced[positive].sum(), plain[positive].sum())
        torch.testing.assert_close(balanced[~positive], plain[~positive])  # negatives keep weight 1
        assert not torch.allclose(balanced[positive], plain[positive])


@pytest.mark.parametrize("use_sigmoid", [True, False])
def test_cls_high_iou_positives_weigh_more(use_sigmoid: bool) -> None:
    # two positives with the same logits and label, IoUs 0.9 and 0.3, and a negative
    row = [1.0, -0.5, 0.2] + ([0.0] if not use_sigmoid else [])
    logits = torch.tensor([row, row, [0.0] * len(row)], dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 0, C])
    ious = torch.tensor([0.9, 0.3, 0.0], dtype=torch.float64)
    plain = iou_balanced_cls_loss(logits, labels, ious, eta=0.0, use_sigmoid=use_sigmoid, reduction="none")
    values = iou_balanced_cls_loss(logits, labels, ious, eta=1.5, use_sigmoid=use_sigmoid, reduction="none")
    assert values[0] > plain[0] > values[1]
    values.sum().backward()
    # their gradients are the plain ones scaled by w_0 = 2 * 0.9^1.5 / (0.9^1.5 + 0.3^1.5) and w_1 = 2 - w_0:
    # the whole softmax row, the own-class column in the one-vs-all form (the others are negatives, weight 1)
    w0 = 2 * 0.9**1.5 / (0.9**1.5 + 0.3**1.5)
    scaled = slice(0, 1) if use_sigmoid else slice(None)
    assert logits.grad[0, scaled].norm() > logits.grad[1, scaled].norm()
    torch.testing.assert_close(logits.grad[0, scaled] / w0, logits.grad[1, scaled] / (2 - w0))
    if use_sigmoid:
        torch.testing.assert_close(logits.grad[0, 1:], logits.grad[1, 1:])


def test_cls_gradient_treats_the_weights_as_constants() -> None:
    logits, labels, ious = cls_inputs(n=6)
    ious = ious.clone().requires_grad_()
    loss = iou_balanced_cls_loss(logits, labels, ious, eta=1.5, gamma=2.0, alpha=0.25, reduction="sum")
    loss.backward()
    assert ious.grad is None  # nothing flows into the IoUs
    # Central differences of sum_i w_i FL_i(z) with the weights frozen at z: the gradient the loss defines.
    positive = labels < C
    frozen = torch.ones(6, dtype=torch.float64)

    def plain(z: torch.Tensor) -> torch.Tensor:
        return iou_balanced_cls_loss(z, labels, ious.detach(), eta=0.0, gamma=2.0, alpha=0.25, reduction="none")

    with torch.no_grad():
        fl = F.one_hot(labels, C + 1)[:, :C].bool()
        onehot = fl.to(torch.float64)

        def own_entry(z):
            p = torch.sigmoid(z)
            p_t = p * onehot + (1 - p) * (1 - onehot)
            return (-0.25 * (1 - p_t) ** 2 * torch.log(p_t) * onehot).sum(dim=1)

        frozen[positive] = iou_balanced_weights(ious.detach()[positive], 1.5, losses=own_entry(logits)[positive])

        def fixed(z):
            return (plain(z) + (frozen - 1) * own_entry(z)).sum()

        numeric = torch.zeros_like(logits)
        step = 1e-6
        for index in range(logits.numel()):
            delta = torch.zeros(logits.numel(), dtype=torch.float64)
            delta[index] = step
            delta = delta.reshape(logits.shape)
            numeric.view(-1)[index] = (fixed(logits + delta) - fixed(logits - delta)) / (2 * step)
    torch.testing.assert_close(logits.grad, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("use_sigmoid", [True, False])
def test_cls_gradcheck_float64(use_sigmoid: bool) -> None:
    # at eta = 0 the weights are exactly 1, so the analytic gradient is the true one (focal terms included)
    logits, labels, ious = cls_inputs(n=5, use_sigmoid=use_sigmoid)
    alpha = 0.25 if use_sigmoid else None
    assert gradcheck(
        lambda z: iou_balanced_cls_loss(
            z, labels, ious, eta=0.0, use_sigmoid=use_sigmoid, gamma=2.0, alpha=alpha, reduction="none"
        ),
        (logits,),
    )


def test_cls_matches_the_authors_formula_on_the_one_vs_all_map() -> None:
    # The authors' mmdet code: element-wise focal map E, t the one-hot targets,
    # k = sum(E t) / (sum(E t IoU^eta) + 1e-6), loss = E ((1 - t) + t IoU^eta k).
    logits, labels, ious = cls_inputs(n=12)
    with torch.no_grad():
        t = F.one_hot(labels, C + 1)[:, :C].to(torch.float64)
        p = torch.sigmoid(logits)
        p_t = p * t + (1 - p) * (1 - t)
        e = -(0.25 * t + 0.75 * (1 - t)) * (1 - p_t) ** 2 * torch.log(p_t)
        scaled = ious.unsqueeze(1) ** 1.5
        k = (e * t).sum() / ((e * t * scaled).sum() + 1e-6)
        reference = (e * ((1 - t) + t * scaled * k)).sum(dim=1)
    got = iou_balanced_cls_loss(logits, labels, ious, eta=1.5, gamma=2.0, alpha=0.25, reduction="none")
    torch.testing.assert_close(got.detach(), reference, rtol=1e-5, atol=1e-7)


def test_cls_reductions_empty_batch_and_module() -> None:
    logits, labels, ious = cls_inputs()
    values = iou_balanced_cls_loss(logits, labels, ious, reduction="none")
    assert values.shape == (10,) and (values >= 0).all()
    torch.testing.assert_close(iou_balanced_cls_loss(logits, labels, ious), values.mean())
    torch.testing.assert_close(iou_balanced_cls_loss(logits, labels, ious, reduction="sum"), values.sum())
    module = IoUBalancedClsLoss(reduction="none")
    assert module.task == "detection" and module.registry_name == "iou_balanced_cls" and module.minimum == 0.0
    torch.testing.assert_close(module(logits, (labels, ious)), values)
    torch.testing.assert_close(module(logits, [labels, ious], reduction="mean"), values.mean())
    assert "iou_balanced_cls" in L.available("detection")
    empty = logits[:0].detach().requires_grad_()
    value = IoUBalancedClsLoss()(empty, (labels[:0], ious[:0]))
    value.backward()
    assert value.item() == 0.0 and empty.grad.shape == (0, C)


def test_cls_extreme_logits_stay_finite() -> None:
    logits, labels, ious = cls_inputs(dtype=torch.float32)
    big = (logits.detach() * 50).requires_grad_()
    value = iou_balanced_cls_loss(big, labels, ious, gamma=2.0, alpha=0.25)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(big.grad).all()


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda z, y, u: IoUBalancedClsLoss()(z, y), TypeError, r"pair \(labels, ious\)"),
        (lambda z, y, u: iou_balanced_cls_loss(z, y.float(), u), ValueError, "integer tensor"),
        (lambda z, y, u: iou_balanced_cls_loss(z, y + 1, u), ValueError, r"\[0, 3\].*background 3"),
        (lambda z, y, u: iou_balanced_cls_loss(z, y, u, use_sigmoid=False), ValueError, "softmax form"),
        (lambda z, y, u: iou_balanced_cls_loss(z, y, u[:-1]), ValueError, r"shape \(10,\)"),
        (lambda z, y, u: iou_balanced_cls_loss(z, y, u + 1), ValueError, r"\[0, 1\]"),
        (lambda z, y, u: iou_balanced_cls_loss(z[:, 0], y, u), ValueError, r"\(N, C\)"),
        (lambda z, y, u: iou_balanced_cls_loss(z, y, u, eta=-1.0), ValueError, "eta"),
        (lambda z, y, u: iou_balanced_cls_loss(z, y, u, gamma=float("nan")), ValueError, "gamma"),
        (lambda z, y, u: iou_balanced_cls_loss(z, y, u, alpha=1.5), ValueError, "alpha"),
        (lambda z, y, u: IoUBalancedClsLoss(use_sigmoid=False, alpha=0.25), ValueError, "sigmoid form only"),
        (lambda z, y, u: IoUBalancedClsLoss(use_sigmoid=1), TypeError, "use_sigmoid"),
        (
            lambda z, y, u: iou_balanced_cls_loss(z, y, u, weight=-torch.ones(10, dtype=torch.float64)),
            ValueError,
            "weight",
        ),
        (lambda z, y, u: iou_balanced_cls_loss(z, y, u, reduction="avg"), ValueError, "reduction"),
    ],
)
def test_cls_bad_inputs(call, error, match) -> None:
    logits, labels, ious = cls_inputs()
    with pytest.raises(error, match=match):
        call(logits, labels, ious)


def test_cls_softmax_labels_stop_at_the_background_column() -> None:
    logits, labels, ious = cls_inputs(use_sigmoid=False)  # C + 1 columns, background C (the last)
    iou_balanced_cls_loss(logits, labels, ious, use_sigmoid=False)
    with pytest.raises(ValueError, match=r"\[0, 3\].*last column"):
        iou_balanced_cls_loss(logits, torch.full_like(labels, C + 1), ious, use_sigmoid=False)


# ----------------------------------------------------------------------------- localisation


def test_loc_exponent_zero_is_the_plain_smooth_l1() -> None:
    pred, gt = loc_inputs()
    for beta in (1.0, 0.11, 0.0):
        got = iou_balanced_loc_loss(pred, gt, lam=0.0, beta=beta, reduction="none")
        torch.testing.assert_close(
            got, F.smooth_l1_loss(pred, gt, beta=beta, reduction="none").sum(dim=1), rtol=0, atol=1e-12
        )


def test_loc_normalisation_keeps_the_weight_sum_and_orders_by_iou() -> None:
    pred, gt = loc_inputs(12)
    ious = aligned_box_iou(pred.detach(), gt)
    weight = torch.rand(12, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    plain = F.smooth_l1_loss(pred, gt, reduction="none").sum(dim=1) * weight
    values = iou_balanced_loc_loss(pred, gt, lam=1.5, weight=weight, reduction="none")
    factors = (values / plain).detach()
    torch.testing.assert_close((weight * factors).sum(), weight.sum())  # the positives' weight sum is kept
    order = ious.argsort()
    assert (factors[order].diff() > 0).all()  # higher IoU, larger weight
    torch.testing.assert_close(factors, ious**1.5 * weight.sum() / (weight * ious**1.5).sum())


def test_loc_boxes_target_and_pair_target_agree() -> None:
    pred, gt = loc_inputs()
    ious = aligned_box_iou(pred.detach(), gt)
    module = L.build("iou_balanced_loc", task="detection", lam=1.5, beta=0.5, reduction="none")
    assert module.task == "detection" and module.minimum == 0.0
    torch.testing.assert_close(module(pred, gt), module(pred, (gt, ious)))
    torch.testing.assert_close(module(pred, gt), iou_balanced_loc_loss(pred, gt, lam=1.5, beta=0.5, reduction="none"))
    torch.testing.assert_close(module(pred, gt, reduction="sum"), module(pred, gt).sum())


def test_loc_constant_w_loc_is_w_loc_times_iou_power() -> None:
    pred, gt = loc_inputs()
    ious = aligned_box_iou(pred.detach(), gt)
    got = iou_balanced_loc_loss(pred, gt, lam=1.5, w_loc=3.049, reduction="none")
    plain = F.smooth_l1_loss(pred, gt, reduction="none").sum(dim=1)
    torch.testing.assert_close(got, 3.049 * ious**1.5 * plain)


def test_loc_gradient_does_not_flow_through_the_iou() -> None:
    pred, gt = loc_inputs()
    iou_balanced_loc_loss(pred, gt, lam=1.5, reduction="sum").backward()
    # the IoU is measured on the same boxes, but only the smooth L1 is differentiated
    with torch.no_grad():
        ious = aligned_box_iou(pred, gt)
        w = iou_balanced_weights(ious, 1.5)
    frozen = pred.detach().clone().requires_grad_()
    (F.smooth_l1_loss(frozen, gt, reduction="none").sum(dim=1) * w).sum().backward()
    torch.testing.assert_close(pred.grad, frozen.grad)
    ious = ious.clone().requires_grad_()
    deltas = torch.randn(8, 4, dtype=torch.float64, requires_grad=True)
    iou_balanced_loc_loss(deltas, torch.zeros(8, 4, dtype=torch.float64), ious=ious).backward()
    assert ious.grad is None and deltas.grad is not None


def test_loc_gradcheck_float64() -> None:
    g = torch.Generator().manual_seed(3)
    deltas = torch.randn(6, 4, generator=g, dtype=torch.float64).requires_grad_()
    target = torch.randn(6, 4, generator=g, dtype=torch.float64)
    ious = torch.rand(6, generator=g, dtype=torch.float64)
    assert gradcheck(
        lambda d: iou_balanced_loc_loss(d, target, ious=ious, lam=1.5, beta=0.11, reduction="none"), (deltas,)
    )


def test_loc_empty_batch_and_degenerate_boxes() -> None:
    empty = torch.zeros(0, 4, requires_grad=True)
    value = IoUBalancedLocLoss()(empty, torch.zeros(0, 4))
    value.backward()
    assert value.item() == 0.0 and empty.grad.shape == (0, 4)
    # inverted and zero-area predictions: IoU 0; all-zero IoUs fall back to weight 1 (the plain loss)
    pred = torch.tensor([[5.0, 5.0, 1.0, 1.0], [2.0, 2.0, 2.0, 2.0]], requires_grad=True)
    gt = torch.tensor([[0.0, 0.0, 4.0, 4.0], [0.0, 0.0, 4.0, 4.0]])
    value = iou_balanced_loc_loss(pred, gt, reduction="none")
    value.sum().backward()
    torch.testing.assert_close(value, F.smooth_l1_loss(pred, gt, reduction="none").sum(dim=1))
    assert torch.isfinite(pred.grad).all()


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda p, t: iou_balanced_loc_loss(p, t[:-1]), ValueError, "same shape"),
        (lambda p, t: iou_balanced_loc_loss(p[:, :3], t[:, :3]), ValueError, r"\(N, 4\)"),
        (lambda p, t: iou_balanced_loc_loss(p, t, ious=torch.zeros(3, dtype=torch.float64)), ValueError, r"\(8,\)"),
        (lambda p, t: iou_balanced_loc_loss(p, t, ious=-torch.ones(8, dtype=torch.float64)), ValueError, r"\[0, 1\]"),
        (lambda p, t: iou_balanced_loc_loss(p, t, lam=-0.5), ValueError, "lam"),
        (lambda p, t: iou_balanced_loc_loss(p, t, beta=-1.0), ValueError, "beta"),
        (lambda p, t: iou_balanced_loc_loss(p, t, w_loc=0.0), ValueError, "w_loc"),
        (lambda p, t: IoUBalancedLocLoss()(p, (t,)), TypeError, "pair"),
        (lambda p, t: IoUBalancedLocLoss()(p, t, reduction="avg"), ValueError, "reduction"),
    ],
)
def test_loc_bad_inputs(call, error, match) -> None:
    pred, gt = loc_inputs()
    with pytest.raises(error, match=match):
        call(pred, gt)
