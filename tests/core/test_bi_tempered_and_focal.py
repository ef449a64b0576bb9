"""Bi-tempered logistic loss (softmax and binary forms) and the sigmoid focal loss.

Known values come from the reference implementation's own tests (google/bi-tempered-loss,
``tensorflow/loss_test.py`` and ``jax/loss_test.py``); limits are checked against torch's
cross-entropy, logistic loss and BCE; the normalisation against an independent root finder.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from scipy.optimize import brentq
from torch import nn
from torch.autograd import gradcheck

import slf.losses as L
from slf import StochasticLoss

F64 = torch.float64
# The reference tests' activations and soft labels (3 samples, 3 classes).
REF_ACTIVATIONS = [[-0.5, 0.1, 2.0], [0.1, 1.5, -5.0], [4.0, -3.0, -6.0]]
REF_LABELS = [[0.2, 0.3, 0.5], [0.6, 0.3, 0.1], [0.2, 0.8, 0.0]]

pytestmark = pytest.mark.usefixtures("single_thread")


def _data(n=16, c=5, scale=2.0, seed=0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(n, c, generator=g, dtype=dtype), torch.randint(0, c, (n,), generator=g)


def _exact_normalization(row, t):
    """lambda with sum exp_t(row - lambda) = 1 by Brent's method, independent of the library's solver."""

    def exp_t(x):  # for x <= 0
        base = max(1.0 + (1.0 - t) * x, 0.0)
        return math.exp(x) if t == 1.0 else base ** (1.0 / (1.0 - t))

    top = max(row)  # lambda lies in [top, top + 1e4]: the sum is >= 1 at the left end, < 1 at the right
    return brentq(lambda lam: sum(exp_t(a - lam) for a in row) - 1.0, top, top + 1e4, xtol=1e-14, rtol=1e-15)


# --------------------------------------------------------------------------- tempered log / exp and normalisation


def test_log_t_and_exp_t_are_inverse_and_reduce_to_log_and_exp():
    x = torch.linspace(0.05, 3.0, 30, dtype=F64)
    for t in (0.2, 0.5, 1.0, 1.5, 3.0):
        torch.testing.assert_close(L.exp_t(L.log_t(x, t), t), x)
        torch.testing.assert_close(L.log_t(x, t), (x ** (1 - t) - 1) / (1 - t) if t != 1 else torch.log(x))
    torch.testing.assert_close(L.exp_t(x, 1.0), torch.exp(x))
    assert L.log_t(torch.tensor([0.0]), 0.5).item() == -2.0  # bounded below by -1/(1-t) for t < 1
    assert L.exp_t(torch.tensor([-2.0, -5.0]), 0.5).tolist() == [0.0, 0.0]  # finite support: x <= -1/(1-t)
    torch.testing.assert_close(L.exp_t(torch.tensor([-3.0], dtype=F64), 2.0), torch.tensor([0.25], dtype=F64))


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("t", [0.1, 0.5, 0.99, 1.0, 1.01, 1.5, 2.0, 4.0])
def test_normalization_makes_the_tempered_softmax_sum_to_one(t, dtype):
    activations, _ = _data(n=6, c=2000, scale=1.0, seed=1, dtype=dtype)
    lam = L.tempered_normalization(activations, t)
    assert lam.shape == (6, 1)
    sums = L.exp_t(activations - lam, t).sum(dim=1)
    torch.testing.assert_close(sums, torch.ones_like(sums), atol=2e-6 if dtype == torch.float32 else 1e-12, rtol=0)
    probabilities = L.tempered_softmax(activations, t)
    torch.testing.assert_close(
        probabilities.sum(dim=1), torch.ones_like(sums), atol=2e-6 if dtype == torch.float32 else 1e-12, rtol=0
    )
    if t < 1.0:  # finite support: classes more than 1/(1-t) below the top get exactly 0
        far = activations < activations.amax(dim=1, keepdim=True) - 1.0 / (1.0 - t)
        assert (probabilities[far] == 0).all() and (far.any() or t > 0.9)  # at 0.99 the support is 100 wide
    else:
        assert (probabilities > 0).all()


@pytest.mark.parametrize("t", [0.3, 0.8, 1.5, 4.0])
def test_normalization_matches_an_independent_root_finder_for_any_num_iters(t):
    activations, _ = _data(n=4, c=6, scale=3.0, seed=2)
    expected = torch.tensor([[_exact_normalization(row, t)] for row in activations.tolist()], dtype=F64)
    for num_iters in (1, 5, 20):
        torch.testing.assert_close(
            L.tempered_normalization(activations, t, num_iters=num_iters), expected, rtol=1e-12, atol=1e-12
        )
    shift = torch.randn(4, 1, dtype=F64)
    torch.testing.assert_close(L.tempered_normalization(activations + shift, t), expected + shift)


def test_tempered_softmax_reference_values():
    a = torch.tensor(REF_ACTIVATIONS, dtype=F64)
    torch.testing.assert_close(L.tempered_softmax(a, 1.0), torch.softmax(a, dim=1))
    # the reference's expected output at t = 4 (tests: test_tempered_softmax) comes from 5
    # unconverged fixed-point iterations: its rows sum to 1.0000, 1.0001 and 1.0020
    reference = torch.tensor(
        [[0.3205458, 0.32714278, 0.3523402], [0.3430056, 0.36491093, 0.29220778], [0.41369352, 0.30534995, 0.28299212]],
        dtype=F64,
    )
    assert abs(float(reference[2].sum()) - 1.002) < 1e-4
    got = L.tempered_softmax(a, 4.0)
    torch.testing.assert_close(got, reference, atol=1.5e-3, rtol=0)
    exact = torch.stack([L.exp_t(row - _exact_normalization(row.tolist(), 4.0), 4.0) for row in a])
    torch.testing.assert_close(got, exact, atol=1e-12, rtol=0)
    torch.testing.assert_close(got.sum(dim=1), torch.ones(3, dtype=F64))


def test_tempered_sigmoid_reference_values():
    x = torch.tensor([0.0, 3.0, 6.0], dtype=F64)
    torch.testing.assert_close(L.tempered_sigmoid(x, 1.0), torch.sigmoid(x))
    # reference (test_tempered_sigmoid, t = 4): [0.5, 0.58516014, 0.6421035], again from 5 unconverged
    # iterations; the exact two-class normalisation gives 0.58502951 and 0.64192236
    got = L.tempered_sigmoid(x, 4.0)
    torch.testing.assert_close(got, torch.tensor([0.5, 0.58516014, 0.6421035], dtype=F64), atol=3e-4, rtol=0)
    exact = [L.exp_t(torch.tensor(v - _exact_normalization([v, 0.0], 4.0), dtype=F64), 4.0).item() for v in x.tolist()]
    torch.testing.assert_close(got, torch.tensor(exact, dtype=F64), atol=1e-12, rtol=0)


@pytest.mark.parametrize("t", [0.5, 1.0, 1.5, 3.0])
def test_normalization_gradcheck(t):
    activations, _ = _data(n=4, c=5, scale=0.5, seed=3)
    activations.requires_grad_(True)
    assert gradcheck(lambda a: L.tempered_normalization(a, t), (activations,))
    assert gradcheck(lambda a: L.tempered_softmax(a, t), (activations,))


# --------------------------------------------------------------------------- the loss: limits and reference values


def test_t1_t2_one_is_cross_entropy():
    logits, target = _data(scale=3.0)
    logits.requires_grad_(True)
    got = L.bi_tempered_logistic_loss(logits, target, 1.0, 1.0, reduction="none")
    expected = F.cross_entropy(logits, target, reduction="none")
    torch.testing.assert_close(got, expected)
    (grad,) = torch.autograd.grad(got.sum(), logits)
    torch.testing.assert_close(grad, torch.autograd.grad(expected.sum(), logits)[0])
    soft = torch.softmax(torch.randn(16, 5, dtype=F64), dim=1)  # soft labels: the KL divergence
    kl = (soft * (soft.log() - F.log_softmax(logits, dim=1))).sum(dim=1)
    torch.testing.assert_close(L.bi_tempered_logistic_loss(logits, soft, 1.0, 1.0, reduction="none"), kl)


@pytest.mark.parametrize("epsilon", [0.1, 0.3])
def test_label_smoothing_at_t1_t2_one_is_smoothed_cross_entropy(epsilon):
    logits, target = _data(scale=3.0, seed=4)
    logits.requires_grad_(True)
    got = L.BiTemperedLoss(t1=1.0, t2=1.0, label_smoothing=epsilon, reduction="none")(logits, target)
    expected = F.cross_entropy(logits, target, label_smoothing=epsilon, reduction="none")
    # the Bregman form is 0 at the smoothed label: torch's value minus the smoothed label's entropy
    smoothed = (1 - epsilon) * F.one_hot(target, 5).double() + epsilon / 5
    entropy = -(smoothed * smoothed.log()).sum(dim=1)
    torch.testing.assert_close(got, expected - entropy)
    torch.testing.assert_close(
        torch.autograd.grad(got.sum(), logits)[0], torch.autograd.grad(expected.sum(), logits)[0]
    )


def test_binary_t1_t2_one_is_the_logistic_loss():
    g = torch.Generator().manual_seed(5)
    x = 4.0 * torch.randn(8, 3, generator=g, dtype=F64)
    y = torch.randint(0, 2, (8, 3), generator=g).to(F64)
    got = L.bi_tempered_binary_loss(x, y, 1.0, 1.0, reduction="none")
    torch.testing.assert_close(got, F.binary_cross_entropy_with_logits(x, y, reduction="none").mean(dim=1))
    # reference test_binary_logistic_loss: activations 0, labels (1, 0) -> log 2 each
    got = L.BiTemperedBinaryLoss(t1=1.0, t2=1.0, reduction="none")(torch.zeros(2), torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(got, torch.tensor([0.69314718, 0.69314718]))


def test_reference_loss_values():
    a, labels = torch.tensor(REF_ACTIVATIONS, dtype=F64), torch.tensor(REF_LABELS, dtype=F64)
    got = L.bi_tempered_logistic_loss(a, labels, 0.5, 1.5, reduction="none")  # test_loss_value
    torch.testing.assert_close(got, torch.tensor([0.02301914, 0.18972909, 0.93874922], dtype=F64), atol=1e-7, rtol=0)
    got = L.bi_tempered_logistic_loss(a, labels, 0.5, 0.8, num_iters=20, reduction="none")
    torch.testing.assert_close(got, torch.tensor([0.21646356, 0.41836615, 1.33997854], dtype=F64), atol=1e-6, rtol=0)
    # test_label_smoothing: the reference's 0.1 over C = 3 classes is epsilon = 0.1 * 3 / 2 here
    got = L.bi_tempered_logistic_loss(a, torch.arange(3), 0.5, 1.5, label_smoothing=0.15, reduction="none")
    torch.testing.assert_close(got, torch.tensor([0.76652711, 0.08627685, 1.35443510], dtype=F64), atol=1e-7, rtol=0)
    # test_dynamic_temperatures (the JAX values: the Bregman form also at t1 = t2 = 1)
    a, labels = torch.tensor([[-0.5, 0.1, 2.0]], dtype=F64), torch.tensor([[0.2, 0.5, 0.3]], dtype=F64)
    for t1, t2, value in [(1.0, 1.0, 0.628705), (0.9, 1.1, 0.45677936), (0.8, 1.2, 0.34298314), (0.7, 1.3, 0.26295574)]:
        got = L.bi_tempered_logistic_loss(a, labels, t1, t2, num_iters=5, reduction="none")
        torch.testing.assert_close(got, torch.tensor([value], dtype=F64), atol=1e-6, rtol=0)


def test_integer_targets_equal_one_hot_labels_and_a_constant_shift_is_vacuous():
    a = torch.tensor(REF_ACTIVATIONS + [[-1.5, 0.7, 5.2]], dtype=F64)
    target = torch.tensor([0, 2, 1, 0])  # test_sparse_loss
    one_hot = F.one_hot(target, 3).to(F64)
    for t1, t2 in [(0.5, 1.5), (0.5, 0.8), (1.0, 2.0)]:
        sparse = L.bi_tempered_logistic_loss(a, target, t1, t2, reduction="none")
        torch.testing.assert_close(sparse, L.bi_tempered_logistic_loss(a, one_hot, t1, t2, reduction="none"))
        shifted = L.bi_tempered_logistic_loss(a + torch.randn(4, 1, dtype=F64), target, t1, t2, reduction="none")
        torch.testing.assert_close(shifted, sparse)


@pytest.mark.parametrize("t1", [0.5, 1.0])
@pytest.mark.parametrize("t2", [0.5, 1.0, 1.5])
def test_loss_is_zero_where_the_tempered_softmax_equals_the_label(t1, t2):
    labels = torch.softmax(torch.randn(6, 4, dtype=F64, generator=torch.Generator().manual_seed(6)), dim=1)
    logits = L.log_t(labels, t2)  # exp_t(log_t y) = y sums to 1, so lambda = 0
    torch.testing.assert_close(L.tempered_softmax(logits, t2), labels)
    values = L.bi_tempered_logistic_loss(logits, labels, t1, t2, reduction="none")
    torch.testing.assert_close(values, torch.zeros(6, dtype=F64), atol=1e-12, rtol=0)
    other = L.bi_tempered_logistic_loss(logits + 0.3 * torch.randn(6, 4, dtype=F64), labels, t1, t2, reduction="none")
    assert (other > 0).all()


def test_t1_below_one_bounds_the_loss():
    # one-hot label, all the predicted mass on another class: the supremum 1/(1 - t1) (log_t1 is bounded)
    logits = torch.tensor([[-1e12, 0.0, -1e12]], dtype=F64)
    random_logits, target = _data(n=64, c=3, scale=10.0, seed=16)
    for t1, t2 in [(0.8, 1.2), (0.5, 2.0), (0.5, 0.7)]:
        got = L.bi_tempered_logistic_loss(logits, torch.tensor([0]), t1, t2).item()
        assert 1.0 / (1.0 - t1) - 1e-3 < got <= 1.0 / (1.0 - t1) + 1e-12
        values = L.bi_tempered_logistic_loss(random_logits, target, t1, t2, reduction="none")
        assert (values <= 1.0 / (1.0 - t1) + 1e-12).all()  # reached at t2 < 1: finite support
    assert L.bi_tempered_logistic_loss(logits, torch.tensor([0]), 1.0, 1.0).item() > 1e5  # cross-entropy is not


def test_gradients_match_the_closed_form():
    # dL/da = (p - y) p^(t2 - t1) - e sum_j (p_j - y_j) p_j^(t2 - t1), e = p^t2 / sum p^t2 (the paper's gradient)
    logits, target = _data(n=8, c=4, scale=1.5, seed=7)
    labels = 0.9 * F.one_hot(target, 4).to(F64) + 0.1 / 4
    for t1, t2 in [(0.5, 1.5), (0.8, 1.2), (1.0, 2.0), (0.5, 1.0), (0.7, 0.8)]:
        x = logits.clone().requires_grad_(True)
        L.bi_tempered_logistic_loss(x, target, t1, t2, label_smoothing=0.1, reduction="sum").backward()
        p = L.tempered_softmax(logits, t2)
        weighted = (p - labels) * p ** (t2 - t1)
        escort = p**t2 / (p**t2).sum(dim=1, keepdim=True)
        torch.testing.assert_close(x.grad, weighted - escort * weighted.sum(dim=1, keepdim=True))


@pytest.mark.parametrize("t1", [0.5, 1.0])
@pytest.mark.parametrize("t2", [0.7, 1.0, 1.5, 3.0])
def test_gradcheck(t1, t2):
    logits, target = _data(n=5, c=4, scale=0.6, seed=8)  # t2 = 0.7: every class inside the support
    logits.requires_grad_(True)
    assert gradcheck(
        lambda x: L.bi_tempered_logistic_loss(x, target, t1, t2, label_smoothing=0.1, reduction="none"), (logits,)
    )
    g = torch.Generator().manual_seed(9)
    x = torch.randn(5, 3, generator=g, dtype=F64, requires_grad=True)
    y = torch.randint(0, 2, (5, 3), generator=g).to(F64)
    assert gradcheck(lambda v: L.bi_tempered_binary_loss(v, y, t1, t2, reduction="none"), (x,))


# --------------------------------------------------------------------------- binary form


def test_binary_is_the_two_class_softmax_form():
    g = torch.Generator().manual_seed(10)
    x = 3.0 * torch.randn(6, 2, generator=g, dtype=F64)
    y = torch.rand(6, 2, generator=g, dtype=F64)  # soft labels
    for t1, t2 in [(0.8, 1.2), (0.5, 0.8), (1.0, 2.0)]:
        got = L.bi_tempered_binary_loss(x, y, t1, t2, label_smoothing=0.2, reduction="none")
        two_class = L.bi_tempered_logistic_loss(
            torch.stack([x, torch.zeros_like(x)], -1).reshape(-1, 2),
            torch.stack([y, 1 - y], -1).reshape(-1, 2),
            t1,
            t2,
            label_smoothing=0.2,
            reduction="none",
        )
        torch.testing.assert_close(got, two_class.reshape(6, 2).mean(dim=1))
        two_class_softmax = L.tempered_softmax(torch.stack([x, torch.zeros_like(x)], -1), t2)
        torch.testing.assert_close(L.tempered_sigmoid(x, t2), two_class_softmax[..., 0])


def test_binary_probabilities_are_the_inverse_tempered_sigmoid_of_logits():
    g = torch.Generator().manual_seed(11)
    q = 0.02 + 0.96 * torch.rand(7, 3, generator=g, dtype=F64)
    y = torch.randint(0, 2, (7, 3), generator=g).to(F64)
    for t1, t2 in [(0.8, 1.2), (0.5, 2.0), (1.0, 0.7)]:
        logits = L.log_t(q, t2) - L.log_t(1 - q, t2)
        torch.testing.assert_close(L.tempered_sigmoid(logits, t2), q)
        from_probs = L.bi_tempered_binary_loss(q, y, t1, t2, from_logits=False, reduction="none")
        torch.testing.assert_close(from_probs, L.bi_tempered_binary_loss(logits, y, t1, t2, reduction="none"))
    # clamped at the dtype's epsilon: exact 0/1 probabilities give finite values and gradients
    edge = torch.tensor([[0.0, 1.0, 0.0, 1.0]], requires_grad=True)
    values = L.bi_tempered_binary_loss(edge, torch.tensor([[0.0, 1.0, 1.0, 0.0]]), 1.0, 1.0, from_logits=False)
    values.backward()
    assert torch.isfinite(values) and torch.isfinite(edge.grad).all()
    assert abs(values.item() - 0.5 * -math.log(torch.finfo(torch.float32).eps)) < 1e-3


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_binary_t1_08_t2_2_is_finite_for_extreme_logits(dtype):
    # the setting of a NaN report against the reference's binary form (google/bi-tempered-loss issue 13)
    for scale in (1e4, 1e8, 1e30):
        x = torch.tensor([[1.0, -1.0, 0.0, 1.0], [-1.0, 1.0, -1.0, 0.0]], dtype=dtype) * scale
        y = torch.tensor([[1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 1.0, 1.0]], dtype=dtype)
        x.requires_grad_(True)
        values = L.bi_tempered_binary_loss(x, y, 0.8, 2.0, label_smoothing=0.1, reduction="none")
        values.sum().backward()
        assert torch.isfinite(values).all() and torch.isfinite(x.grad).all(), (scale, values, x.grad)
        element = L.BiTemperedBinaryLoss(t1=0.8, t2=2.0, reduction="none")(x.detach().reshape(-1, 1), y.reshape(-1, 1))
        right, wrong = element[[0, 4]], element[[1, 3, 5, 6]]  # confidently right / confidently wrong
        assert (right < 2.0 / scale).all()
        # the bound 1/(1 - t1) = 5, approached as 5 - 5 p^0.2 with p ~ 1/scale the wrong prediction's probability
        assert (wrong <= 5.0).all() and (wrong > 5.0 - 6.0 * scale**-0.2).all()


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_softmax_form_is_finite_for_extreme_logits_over_temperatures(dtype):
    logits, target = _data(n=6, c=4, seed=12, dtype=dtype)
    logits[0] = 1.0
    logits[1, target[1]] = -1.0
    for scale in (1e4, 1e30):
        for t1, t2 in [(0.0, 0.3), (0.5, 0.8), (1.0, 0.5), (0.8, 1.0), (1.0, 1.5), (0.2, 4.0)]:
            x = (scale * logits).requires_grad_(True)
            values = L.bi_tempered_logistic_loss(x, target, t1, t2, label_smoothing=0.05, reduction="none")
            values.sum().backward()
            assert torch.isfinite(values).all() and torch.isfinite(x.grad).all(), (scale, t1, t2, values)
            assert (values >= 0).all()


# --------------------------------------------------------------------------- sigmoid focal loss


def _binary_data(seed=13, shape=(12, 4)):
    g = torch.Generator().manual_seed(seed)
    return 3.0 * torch.randn(*shape, generator=g, dtype=F64), torch.randint(0, 2, shape, generator=g).to(F64)


def test_sigmoid_focal_gamma_zero_without_alpha_is_bce():
    x, y = _binary_data()
    got = L.sigmoid_focal_loss(x, y, gamma=0.0, alpha=None, reduction="none")
    torch.testing.assert_close(got, F.binary_cross_entropy_with_logits(x, y, reduction="none").mean(dim=1))
    q = torch.sigmoid(x)
    got = L.SigmoidFocalLoss(gamma=0.0, alpha=None, from_logits=False, reduction="none")(q, y)
    torch.testing.assert_close(got, F.binary_cross_entropy(q, y, reduction="none").mean(dim=1))


@pytest.mark.parametrize("from_logits", [True, False])
def test_sigmoid_focal_matches_the_formula(from_logits):
    x, y = _binary_data(seed=14)
    y[0] = 0.3  # soft labels interpolate p_t and alpha_t
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy(p, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    for gamma, alpha in [(2.0, 0.25), (0.5, 0.9), (1.0, None)]:
        alpha_t = 1.0 if alpha is None else alpha * y + (1 - alpha) * (1 - y)
        expected = (alpha_t * (1 - p_t) ** gamma * ce).mean(dim=1)
        got = L.sigmoid_focal_loss(
            x if from_logits else p, y, gamma=gamma, alpha=alpha, from_logits=from_logits, reduction="none"
        )
        torch.testing.assert_close(got, expected)


def test_sigmoid_focal_down_weights_easy_samples():
    # one element per sample, all positives: from hard (x = -3) to easy (x = 4)
    x = torch.linspace(-3.0, 4.0, 15, dtype=F64).unsqueeze(1)
    y = torch.ones_like(x)
    bce = L.bce_binary_loss(x, y, reduction="none")
    focal = L.sigmoid_focal_loss(x, y, gamma=2.0, alpha=None, reduction="none")
    ratio = focal / bce
    torch.testing.assert_close(ratio, torch.sigmoid(-x[:, 0]) ** 2)  # (1 - p_t)^2
    assert (ratio[1:] < ratio[:-1]).all() and ratio[-1] < 1e-3 and ratio[0] > 0.9
    # the easy elements' share of the total loss shrinks
    assert focal[-5:].sum() / focal.sum() < 0.05 * bce[-5:].sum() / bce.sum()


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_sigmoid_focal_is_finite_at_extremes_and_gradcheck(gamma):
    for dtype in (torch.float32, F64):
        x = torch.tensor([[1e30, -1e30, 1e4, -1e4, 0.0]], dtype=dtype, requires_grad=True)
        y = torch.tensor([[1.0, 0.0, 0.0, 1.0, 1.0]], dtype=dtype)
        values = L.sigmoid_focal_loss(x, y, gamma=gamma, reduction="none")
        values.backward()
        assert torch.isfinite(values).all() and torch.isfinite(x.grad).all()
        q = torch.tensor([[1.0, 0.0, 0.3]], dtype=dtype, requires_grad=True)  # perfect probabilities, gamma < 1
        values = L.sigmoid_focal_loss(q, torch.tensor([[1.0, 0.0, 1.0]], dtype=dtype), gamma=gamma, from_logits=False)
        values.backward()
        assert torch.isfinite(values) and torch.isfinite(q.grad).all()
    x, y = _binary_data(seed=15, shape=(4, 3))
    x.requires_grad_(True)
    assert gradcheck(lambda v: L.sigmoid_focal_loss(v, y, gamma=gamma, alpha=0.25, reduction="none"), (x,))


def test_softmax_focal_is_unchanged():
    assert L.resolve("focal", "classification") is L.FocalLoss
    assert L.resolve("focal", "binary") is L.SigmoidFocalLoss
    assert L.build("focal").task == "classification"  # the default task order still finds the softmax form


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"t1": 1.5}, r"t1 must lie in \[0, 1\]"),
        ({"t1": -0.1}, r"t1 must lie in \[0, 1\]"),
        ({"t1": float("nan")}, "t1 must be a finite number"),
        ({"t1": True}, "t1 must be a finite number"),
        ({"t2": 0.0}, "t2 must be > 0"),
        ({"t2": -1.0}, "t2 must be > 0"),
        ({"t2": math.inf}, "t2 must be a finite number"),
        ({"num_iters": 0}, "num_iters must be an integer >= 1"),
        ({"num_iters": 2.5}, "num_iters must be an integer >= 1"),
        ({"label_smoothing": 1.0}, r"label_smoothing must lie in \[0, 1\)"),
        ({"label_smoothing": -0.1}, r"label_smoothing must lie in \[0, 1\)"),
    ],
)
def test_bi_tempered_bad_arguments(kwargs, match):
    for task in ("classification", "binary"):
        with pytest.raises(ValueError, match=match):
            L.build("bi_tempered", task=task, **kwargs)
    args = {"t1": 0.8, "t2": 1.2, **kwargs}
    with pytest.raises(ValueError, match=match):
        L.bi_tempered_logistic_loss(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), **args)
    with pytest.raises(ValueError, match=match):
        L.bi_tempered_binary_loss(torch.zeros(2), torch.zeros(2), **args)


def test_bi_tempered_bad_inputs():
    with pytest.raises(ValueError, match=r"must hold class probabilities .* rows summing to 1"):
        L.bi_tempered_logistic_loss(torch.zeros(2, 3), torch.full((2, 3), 0.5), 0.8, 1.2)
    with pytest.raises(ValueError, match=r"must hold class probabilities \(values in \[0, 1\]"):
        L.bi_tempered_logistic_loss(torch.zeros(1, 2), torch.tensor([[1.5, -0.5]]), 0.8, 1.2)
    with pytest.raises(TypeError, match="target must be an integer tensor of class indices"):
        L.bi_tempered_logistic_loss(torch.zeros(2, 3), torch.zeros(2), 0.8, 1.2)
    with pytest.raises(TypeError, match="logits must be a floating point tensor"):
        L.bi_tempered_logistic_loss(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, dtype=torch.long), 0.8, 1.2)
    with pytest.raises(ValueError, match=r"shape \(\.\.\., C\) with C >= 1"):
        L.tempered_softmax(torch.zeros(2, 0), 1.5)
    with pytest.raises(TypeError, match="activations must be a floating point tensor"):
        L.tempered_normalization(torch.zeros(2, 3, dtype=torch.long), 1.5)
    with pytest.raises(ValueError, match="t must be > 0"):
        L.tempered_sigmoid(torch.zeros(3), 0.0)
    with pytest.raises(ValueError, match="binary targets must lie in"):
        L.bi_tempered_binary_loss(torch.zeros(3), torch.full((3,), 2.0), 0.8, 1.2)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"gamma": -1.0}, "gamma must be a finite number >= 0"),
        ({"gamma": math.nan}, "gamma must be a finite number >= 0"),
        ({"alpha": 1.5}, r"alpha must be None or a number in \[0, 1\]"),
        ({"alpha": -0.1}, r"alpha must be None or a number in \[0, 1\]"),
        ({"alpha": "x"}, r"alpha must be None or a number in \[0, 1\]"),
    ],
)
def test_sigmoid_focal_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        L.build("focal", task="binary", **kwargs)
    with pytest.raises(ValueError, match=match):
        L.sigmoid_focal_loss(torch.zeros(2), torch.zeros(2), **kwargs)


# --------------------------------------------------------------------------- as SLF candidates


def test_stochastic_loss_with_bi_tempered_trains_a_step():
    torch.manual_seed(0)
    model = nn.Linear(8, 4)
    crit = StochasticLoss(["ce", "bi_tempered"], task="classification", mode="joint", num_samples=2, seed=0)
    features, target = torch.randn(32, 8), torch.randint(0, 4, (32,))
    columns = crit.candidate_losses(model(features), target)
    torch.testing.assert_close(
        columns[:, 1], L.bi_tempered_logistic_loss(model(features), target, 0.8, 1.2, reduction="none")
    )
    optimizer = torch.optim.SGD(list(model.parameters()) + list(crit.parameters_for_model_optimizer()), lr=0.5)
    before = model.weight.detach().clone()
    loss = crit(model(features), target)
    loss.backward()
    assert torch.isfinite(loss) and model.weight.grad.abs().sum() > 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in crit.decision.parameters())
    optimizer.step()
    assert not torch.equal(model.weight, before)
    assert crit.weights.shape == (2,) and abs(float(crit.weights.sum()) - 1.0) < 1e-5
    with torch.no_grad():  # the step lowered both candidates on this batch
        assert (crit.candidate_losses(model(features), target).mean(0) < columns.mean(0)).all()


def test_stochastic_loss_binary_with_bi_tempered_and_focal():
    torch.manual_seed(1)
    model = nn.Linear(6, 3)
    crit = StochasticLoss(["bce", "bi_tempered", "focal"], task="binary", num_samples=2, seed=1)
    features, target = torch.randn(16, 6), torch.randint(0, 2, (16, 3)).float()
    loss = crit(model(features), target)
    loss.backward()
    assert torch.isfinite(loss) and model.weight.grad.abs().sum() > 0
    assert crit.weights.shape == (3,)
