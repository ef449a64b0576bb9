"""Tests of the losses for noisy labels: generalized cross-entropy ``gce`` and symmetric cross-entropy ``sce``.

Their limits (cross-entropy as q -> 0, MAE at q = 1, alpha * CE at beta = 0), known values,
exact gradient identities, gradcheck, extreme logits, argument checks, and the property they
exist for: on the real MNIST digits with 40% of the training labels flipped, an MLP trained
with them reaches a clearly higher clean test accuracy than with cross-entropy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd import gradcheck

import slf.losses as L
from slf.data import load_dataset

C = 5

pytestmark = pytest.mark.usefixtures("single_thread")


def _logits(n=64, scale=2.0, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(n, C, generator=g, dtype=dtype), torch.randint(0, C, (n,), generator=g)


def _p_target(logits, target):
    return torch.softmax(logits, dim=1).gather(1, target[:, None])[:, 0]


def _grad(loss_fn, logits, target):
    x = logits.detach().clone().requires_grad_(True)
    loss_fn(x, target).sum().backward()
    return x.grad


# --------------------------------------------------------------------------- registry


def test_registered_for_classification_with_minimum_zero():
    for name, cls in (("gce", L.GeneralizedCrossEntropyLoss), ("sce", L.SymmetricCrossEntropyLoss)):
        assert name in L.available("classification") and L.tasks_of(name) == ["classification"]
        assert L.resolve(name, "classification") is cls and cls.minimum == 0.0
    gce, sce = L.build("gce"), L.build("sce")
    assert (gce.q, gce.k) == (0.7, 0.0)  # the paper's q; no truncation
    assert (sce.alpha, sce.beta, sce.A) == (0.1, 1.0, -4.0)  # the paper's A and its CIFAR-10 weights
    assert "q=0.7, k=0.0" in repr(gce) and "alpha=0.1, beta=1.0, A=-4.0" in repr(sce)


# --------------------------------------------------------------------------- generalized cross-entropy


def test_gce_hand_values():
    # p = (1, 1, 2, 4) / 8: p_y = 1/2 for class 3, 1/8 for class 0
    logits = torch.log(torch.tensor([[1.0, 1.0, 2.0, 4.0]] * 2, dtype=torch.float64))
    target = torch.tensor([3, 0])
    got = L.generalized_cross_entropy_loss(logits, target, q=0.5, reduction="none")
    expected = torch.tensor([2.0 - math.sqrt(2.0), 2.0 - 1.0 / math.sqrt(2.0)], dtype=torch.float64)
    torch.testing.assert_close(got, expected)  # (1 - p_y^(1/2)) / (1/2)
    got = L.generalized_cross_entropy_loss(logits, target, q=1.0, reduction="none")
    torch.testing.assert_close(got, torch.tensor([0.5, 0.875], dtype=torch.float64))
    # truncated at k = 1/4: p_y = 1/8 <= k gives L_q(1/4) = (1 - 1/2) / (1/2) = 1; p_y = 1/2 > k is untouched
    got = L.GeneralizedCrossEntropyLoss(q=0.5, k=0.25, reduction="none")(logits, target)
    torch.testing.assert_close(got, torch.tensor([2.0 - math.sqrt(2.0), 1.0], dtype=torch.float64))
    # the paper's (1 - p_y^q) / q evaluated directly, q = 0.7
    logits, target = _logits(seed=1)
    p = _p_target(logits, target)
    torch.testing.assert_close(L.build("gce", reduction="none")(logits, target), (1.0 - p**0.7) / 0.7)


def test_gce_tends_to_cross_entropy_as_q_goes_to_zero():
    logits, target = _logits(n=256, scale=3.0, seed=2)
    ce = F.cross_entropy(logits, target, reduction="none")
    q = 1e-4
    gce = L.generalized_cross_entropy_loss(logits, target, q=q, reduction="none")
    # (1 - exp(-q x)) / q lies in [x - q x^2 / 2, x] for x = CE >= 0
    assert (gce <= ce + 1e-12).all() and (ce - gce <= q * ce**2 / 2 + 1e-12).all()
    torch.testing.assert_close(gce, ce, rtol=1e-3, atol=0.0)
    torch.testing.assert_close(
        L.generalized_cross_entropy_loss(logits, target, q=q), F.cross_entropy(logits, target), rtol=1e-3, atol=0.0
    )
    # the gradient too: p_y^q -> 1
    torch.testing.assert_close(
        _grad(lambda x, t: L.generalized_cross_entropy_loss(x, t, q=q), logits, target),
        _grad(lambda x, t: F.cross_entropy(x, t), logits, target),
        rtol=2e-3,
        atol=1e-9,
    )


def test_gce_at_q_one_is_mae_up_to_c_over_two():
    logits, target = _logits(seed=3)
    gce = L.generalized_cross_entropy_loss(logits, target, q=1.0, reduction="none")
    torch.testing.assert_close(gce, 1.0 - _p_target(logits, target))
    # the registry's mae is (1/C) sum_c |p_c - t_c| = 2 (1 - p_y) / C, so gce(q=1) = (C / 2) * mae
    mae = L.build("mae", task="classification", reduction="none")(logits, target)
    torch.testing.assert_close(gce, (C / 2.0) * mae)
    torch.testing.assert_close(
        _grad(lambda x, t: L.generalized_cross_entropy_loss(x, t, q=1.0), logits, target),
        (C / 2.0) * _grad(L.build("mae"), logits, target),
    )


def test_gce_gradient_is_cross_entropys_weighted_by_p_y_to_the_q():
    # The robustness mechanism: d L_q / dz = p_y^q dCE / dz, so unlikely (often mislabelled) samples count less.
    logits, target = _logits(n=32, scale=4.0, seed=4)
    p = _p_target(logits, target)
    ce_grad = _grad(lambda x, t: F.cross_entropy(x, t, reduction="sum"), logits, target)
    for q in (0.3, 0.7, 1.0):
        got = _grad(lambda x, t: L.generalized_cross_entropy_loss(x, t, q=q, reduction="sum"), logits, target)
        torch.testing.assert_close(got, p[:, None] ** q * ce_grad)
    # truncation: no gradient at all where p_y <= k, the plain L_q gradient elsewhere
    k = 0.3
    assert (p <= k).any() and (p > k).any()
    got = _grad(lambda x, t: L.generalized_cross_entropy_loss(x, t, k=k, reduction="sum"), logits, target)
    plain = _grad(lambda x, t: L.generalized_cross_entropy_loss(x, t, reduction="sum"), logits, target)
    assert torch.equal(got[p <= k], torch.zeros_like(got[p <= k]))
    torch.testing.assert_close(got[p > k], plain[p > k])


@pytest.mark.parametrize("q,k", [(0.05, 0.0), (0.7, 0.0), (1.0, 0.0), (0.7, 0.1)])
def test_gce_gradcheck(q, k):
    logits, target = _logits(n=6, seed=5)
    if k:  # keep p_y away from the truncation's kink at p_y = k
        p = _p_target(logits, target)
        assert ((p - k).abs() > 1e-3).all() and (p < k).any() and (p > k).any()
    x = logits.requires_grad_(True)
    assert gradcheck(lambda z: L.generalized_cross_entropy_loss(z, target, q=q, k=k, reduction="none"), (x,))


# --------------------------------------------------------------------------- symmetric cross-entropy


def test_sce_hand_values():
    logits = torch.log(torch.tensor([[1.0, 1.0, 2.0, 4.0]] * 2, dtype=torch.float64))
    target = torch.tensor([3, 0])  # p_y = 1/2, 1/8
    expected = torch.tensor([0.1 * math.log(2.0) + 4.0 * 0.5, 0.1 * math.log(8.0) + 4.0 * 0.875], dtype=torch.float64)
    torch.testing.assert_close(L.symmetric_cross_entropy_loss(logits, target, reduction="none"), expected)
    got = L.SymmetricCrossEntropyLoss(alpha=2.0, beta=0.5, A=-6.0, reduction="none")(logits, target)
    expected = torch.tensor([2.0 * math.log(2.0) + 3.0 * 0.5, 2.0 * math.log(8.0) + 3.0 * 0.875], dtype=torch.float64)
    torch.testing.assert_close(got, expected)


def test_sce_parts_are_alpha_ce_and_rce():
    logits, target = _logits(seed=6)
    ce = F.cross_entropy(logits, target, reduction="none")
    for alpha in (0.1, 1.0, 6.0):
        got = L.symmetric_cross_entropy_loss(logits, target, alpha=alpha, beta=0.0, reduction="none")
        torch.testing.assert_close(got, alpha * ce)
    # RCE from its definition: -sum_k p_k log t_k with the one-hot t and log 0 := A
    p = torch.softmax(logits, dim=1)
    one_hot = F.one_hot(target, C).to(torch.float64)
    for A in (-4.0, -2.0, math.log(1e-4)):
        log_t = torch.where(one_hot > 0, torch.zeros_like(p), torch.full_like(p, A))
        rce = -(p * log_t).sum(dim=1)
        torch.testing.assert_close(rce, -A * (1.0 - _p_target(logits, target)))
        got = L.symmetric_cross_entropy_loss(logits, target, alpha=0.0, beta=1.0, A=A, reduction="none")
        torch.testing.assert_close(got, rce)
        torch.testing.assert_close(
            L.symmetric_cross_entropy_loss(logits, target, alpha=0.3, beta=2.0, A=A), (0.3 * ce + 2.0 * rce).mean()
        )
    # the RCE part with A = -4 is 2 * C times the registry's mae (2 (1 - p_y) / C)
    mae = L.build("mae", reduction="none")(logits, target)
    torch.testing.assert_close(L.symmetric_cross_entropy_loss(logits, target, alpha=0.0, reduction="none"), 2 * C * mae)


def test_sce_gradient_weights_cross_entropys():
    # d/dz [alpha CE - beta A (1 - p_y)] = (alpha - beta A p_y) dCE/dz: the RCE part adds most where p_y is large
    logits, target = _logits(n=32, scale=4.0, seed=7)
    p = _p_target(logits, target)
    ce_grad = _grad(lambda x, t: F.cross_entropy(x, t, reduction="sum"), logits, target)
    for alpha, beta, A in ((0.1, 1.0, -4.0), (1.0, 0.5, -2.0)):
        got = _grad(lambda x, t: L.symmetric_cross_entropy_loss(x, t, alpha, beta, A, reduction="sum"), logits, target)
        torch.testing.assert_close(got, (alpha - beta * A * p)[:, None] * ce_grad)


@pytest.mark.parametrize("alpha,beta,A", [(0.1, 1.0, -4.0), (1.0, 0.5, -2.0), (0.0, 1.0, -9.21), (6.0, 0.0, -4.0)])
def test_sce_gradcheck(alpha, beta, A):
    logits, target = _logits(n=6, seed=8)
    x = logits.requires_grad_(True)
    assert gradcheck(lambda z: L.symmetric_cross_entropy_loss(z, target, alpha, beta, A, reduction="none"), (x,))


# --------------------------------------------------------------------------- both


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_extreme_logits_finite_values_and_gradients(dtype):
    scale = 1e4
    target = torch.arange(8) % C
    one_hot = F.one_hot(target, C).to(dtype)
    right = (2.0 * one_hot - 1.0)[:4] * scale  # the target at +1e4, the rest at -1e4
    wrong = (1.0 - 2.0 * one_hot)[4:] * scale
    x = torch.cat([right, wrong])
    losses = [
        (L.GeneralizedCrossEntropyLoss(q=q, k=k, reduction="none"), q) for q in (1e-4, 0.7, 1.0) for k in (0.0, 0.5)
    ]
    losses += [
        (L.SymmetricCrossEntropyLoss(alpha=a, beta=b, A=A, reduction="none"), None)
        for a, b, A in ((0.1, 1.0, -4.0), (1.0, 0.5, -9.21))
    ]
    for loss, q in losses:
        z = x.clone().requires_grad_(True)
        values = loss(z, target)
        values.sum().backward()
        assert values.dtype == dtype and torch.isfinite(values).all() and torch.isfinite(z.grad).all(), loss
        assert (values[:4] == 0).all()  # confidently right: p_y = 1
        if q is not None:  # confidently wrong: log p_y = -2e4 - log(C - 1), or log k where truncated
            log_p = max(-2 * scale - math.log(C - 1), math.log(loss.k) if loss.k else -math.inf)
            expected = -math.expm1(q * log_p) / q  # 1 / q but for tiny q
            torch.testing.assert_close(values[4:], torch.full((4,), expected, dtype=dtype))
        else:  # -alpha log p_y = alpha (2e4 + log(C - 1)), and -beta A (1 - 0)
            expected = loss.alpha * (2 * scale + math.log(C - 1)) - loss.beta * loss.A
            torch.testing.assert_close(values[4:], torch.full((4,), expected, dtype=dtype))


def test_bad_arguments_are_refused_with_the_valid_range():
    logits, target = _logits(n=4)
    for q in (0.0, -0.5, 1.5, float("nan"), True, "0.7"):
        with pytest.raises(ValueError, match=r"gce: q must be a number in \(0, 1\]"):
            L.GeneralizedCrossEntropyLoss(q=q)
        with pytest.raises(ValueError, match=r"gce: q must be a number in \(0, 1\]"):
            L.generalized_cross_entropy_loss(logits, target, q=q)
    for k in (1.0, -0.1, float("inf")):
        with pytest.raises(ValueError, match=r"gce: the truncation threshold k must be a number in \[0, 1\)"):
            L.build("gce", k=k)
        with pytest.raises(ValueError, match=r"truncation threshold k must be a number in \[0, 1\)"):
            L.generalized_cross_entropy_loss(logits, target, k=k)
    for A in (0.0, 4.0, float("nan"), -math.inf):
        with pytest.raises(ValueError, match=r"sce: A \(the value given to log 0\) must be a finite number < 0"):
            L.SymmetricCrossEntropyLoss(A=A)
        with pytest.raises(ValueError, match=r"A \(the value given to log 0\) must be a finite number < 0"):
            L.symmetric_cross_entropy_loss(logits, target, A=A)
    for kwargs, what in (({"alpha": -0.1}, "alpha"), ({"beta": -1.0}, "beta"), ({"alpha": math.inf}, "alpha")):
        with pytest.raises(ValueError, match=rf"sce: {what} must be a finite number >= 0"):
            L.build("sce", **kwargs)
        with pytest.raises(ValueError, match=rf"sce: {what} must be a finite number >= 0"):
            L.symmetric_cross_entropy_loss(logits, target, **kwargs)
    with pytest.raises(ValueError, match="alpha and beta are both 0"):
        L.SymmetricCrossEntropyLoss(alpha=0.0, beta=0.0)


# --------------------------------------------------------------------------- robustness on real digits

NOISE_RATE = 0.4
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def mnist():
    splits = load_dataset("mnist5k", 0)
    (x_train, y_train), (x_test, y_test) = splits.train.tensors, splits.test.tensors
    return x_train.flatten(1), y_train, x_test.flatten(1), y_test


def _flip_labels(labels, rate, seed, num_classes=10):
    """Exactly ``rate`` of the labels moved to a uniformly drawn *other* class (symmetric noise)."""
    rng = np.random.default_rng(seed)
    noisy = labels.numpy().copy()
    flipped = rng.choice(len(noisy), size=int(round(rate * len(noisy))), replace=False)
    noisy[flipped] = (noisy[flipped] + rng.integers(1, num_classes, size=len(flipped))) % num_classes
    return torch.from_numpy(noisy)


def _train_mlp(loss, x, y, seed, epochs=15, batch_size=256):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(x.shape[1], 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    order = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=order)
        for start in range(0, len(y), batch_size):
            batch = perm[start : start + batch_size]
            optimizer.zero_grad()
            loss(model(x[batch]), y[batch]).backward()
            optimizer.step()
    return model


def test_robust_losses_beat_cross_entropy_under_40_percent_label_noise(mnist):
    # Measured over seeds 0-9 (about 0.5 s a run): clean test accuracy CE 0.748-0.790, GCE 0.871-0.893,
    # SCE 0.863-0.896; the smallest gap over CE was 0.092 for GCE and 0.087 for SCE.
    x_train, y_train, x_test, y_test = mnist
    gaps = {"gce": [], "sce": []}
    for seed in SEEDS:
        noisy = _flip_labels(y_train, NOISE_RATE, seed)
        flipped = noisy != y_train
        assert abs(float(flipped.double().mean()) - NOISE_RATE) < 1e-3
        accuracy, memorised = {}, {}
        for name in ("ce", "gce", "sce"):
            model = _train_mlp(L.build(name), x_train, noisy, seed)
            with torch.no_grad():
                accuracy[name] = float((model(x_test).argmax(1) == y_test).double().mean())
                memorised[name] = float((model(x_train[flipped]).argmax(1) == noisy[flipped]).double().mean())
        for name in gaps:
            gaps[name].append(accuracy[name] - accuracy["ce"])
            # the mechanism: CE fits the wrong labels, the robust losses much less
            assert memorised[name] < memorised["ce"] - 0.1, (seed, memorised)
        assert accuracy["ce"] > 0.6, accuracy  # CE still learns: the comparison is not with a broken baseline
    for name, gap in gaps.items():
        assert min(gap) > 0.05 and np.mean(gap) > 0.07, (name, gaps)
