"""GAN losses over discriminator scores (task ``gan``), the WGAN-GP gradient penalty, and the MNIST GAN example.

Known identities: the minimax discriminator loss is the binary cross-entropy with real = 1 /
fake = 0 (checked against torch), 2 log 2 per sample at D = 1/2; the saturating and
non-saturating generator losses share their gradient at D = 1/2 but only the saturating one
vanishes as D(G(z)) -> 0; LSGAN and WGAN values by hand; the gradient penalty of a linear
critic w.x is weight * (||w|| - 1)^2, and a linear critic trained with it reaches the closed-form
optimum ||w|| = 1 + ||d|| / (2 weight) along the mean difference d.
"""

from __future__ import annotations

import math
import runpy
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd import gradcheck

import slf.losses as L

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gan_mnist5k.py"
NAMES = ("gan_minimax", "gan_non_saturating", "gan_least_squares", "gan_wasserstein")
ROLES = ("discriminator", "generator")
FUNCTIONAL = {
    "gan_minimax": L.gan_minimax_loss,
    "gan_non_saturating": L.gan_non_saturating_loss,
    "gan_least_squares": L.gan_least_squares_loss,
    "gan_wasserstein": L.gan_wasserstein_loss,
}
SCORE_CASES = [pytest.param(name, role, id=f"{name}-{role}") for name in NAMES for role in ROLES]
LOG2 = math.log(2.0)

pytestmark = pytest.mark.usefixtures("single_thread")


def scores(n=6, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return 2.0 * torch.randn(n, generator=g, dtype=dtype), 2.0 * torch.randn(n, generator=g, dtype=dtype)


def call(loss, fake, real):
    return loss(fake, real if loss.role == "discriminator" else None)


# --------------------------------------------------------------------------- registry and interface


def test_registered_names_tasks_and_exports():
    assert L.available("gan") == sorted(NAMES + ("gradient_penalty",))
    for name in L.available("gan"):
        cls = L.resolve(name, task="gan")
        assert issubclass(cls, L.BaseLoss) and cls.task == "gan" and cls.registry_name == name
        assert L.tasks_of(name) == ["gan"]
    assert isinstance(L.build("gradient_penalty", task="gan", weight=5.0), L.GradientPenalty)
    assert L.GAN_ROLES == ROLES
    for exported in L.gan.__all__:
        assert getattr(L, exported) is getattr(L.gan, exported)


@pytest.mark.parametrize("name,role", SCORE_CASES)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_module_matches_functional_and_shapes(name, role, reduction):
    fake, real = scores()
    loss = L.build(name, task="gan", role=role, reduction=reduction)
    value = call(loss, fake, real)
    expected = FUNCTIONAL[name](fake, real if role == "discriminator" else None, role=role, reduction=reduction)
    torch.testing.assert_close(value, expected, rtol=0, atol=0)
    torch.testing.assert_close(call(loss, fake[:, None], real[:, None]), expected, rtol=0, atol=0)  # (N, 1) scores
    per_sample = call(L.build(name, task="gan", role=role, reduction="none"), fake, real)
    assert per_sample.shape == (6,) and per_sample.dtype == torch.float64
    reduced = {"none": per_sample, "mean": per_sample.mean(), "sum": per_sample.sum()}[reduction]
    torch.testing.assert_close(value, reduced)
    # reduction override at call time
    torch.testing.assert_close(loss(fake, real if role == "discriminator" else None, reduction="none"), per_sample)


@pytest.mark.parametrize("name,role", SCORE_CASES)
def test_empty_batch(name, role):
    loss = L.build(name, task="gan", role=role, reduction="none")
    empty = torch.empty(0)
    assert call(loss, empty, empty).shape == (0,)
    assert float(loss(empty, empty if role == "discriminator" else None, reduction="mean")) == 0.0


# lower bound of each role's values (discriminator, generator); None: unbounded below
BOUNDS = {
    "gan_minimax": (0.0, None),  # log(1 - D(G(z))) -> -inf as D(G(z)) -> 1
    "gan_non_saturating": (0.0, 0.0),
    "gan_least_squares": (0.0, 0.0),
    "gan_wasserstein": (None, None),
}


@pytest.mark.parametrize("name,role", SCORE_CASES)
def test_values_respect_the_declared_minimum(name, role):
    bound = BOUNDS[name][ROLES.index(role)]
    fake, real = scores(n=200, seed=3)
    values = call(L.build(name, task="gan", role=role, reduction="none"), 10.0 * fake, 10.0 * real)
    if bound is None:
        assert values.min() < -10
    else:
        assert (values >= bound).all()
    # the class's minimum is the bound over both roles
    assert L.resolve(name, task="gan").minimum == (None if None in BOUNDS[name] else min(BOUNDS[name]))


# --------------------------------------------------------------------------- minimax / non-saturating


@pytest.mark.parametrize("name", ["gan_minimax", "gan_non_saturating"])
def test_discriminator_loss_is_bce_with_real_one_fake_zero(name):
    fake, real = scores(n=32, seed=1)
    values = FUNCTIONAL[name](fake, real, reduction="none")
    bce_real = F.binary_cross_entropy_with_logits(real, torch.ones_like(real), reduction="none")
    bce_fake = F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake), reduction="none")
    torch.testing.assert_close(values, bce_real + bce_fake)
    torch.testing.assert_close(FUNCTIONAL[name](fake, real), bce_real.mean() + bce_fake.mean())


@pytest.mark.parametrize("name", ["gan_minimax", "gan_non_saturating"])
def test_discriminator_loss_is_2_log_2_at_one_half(name):
    half = torch.zeros(5, dtype=torch.float64)  # logit 0: D = 1/2 on every sample
    torch.testing.assert_close(
        FUNCTIONAL[name](half, half, reduction="none"), torch.full((5,), 2 * LOG2, dtype=torch.float64)
    )
    # the minimum over D of -log D - log(1 - D) at equal densities: 2 log 2 at D = 1/2
    grid = torch.linspace(-3, 3, 61, dtype=torch.float64)
    values = FUNCTIONAL[name](grid, grid, reduction="none")
    assert values.argmin() == 30 and torch.isclose(values.min(), torch.tensor(2 * LOG2, dtype=torch.float64))


def _generator_gradient(function, logits):
    logits = logits.clone().requires_grad_(True)
    function(logits, role="generator", reduction="sum").backward()
    return logits.grad


def test_generator_losses_share_the_fixed_point_but_not_the_saturation():
    at_half = torch.zeros(3, dtype=torch.float64)
    saturating = _generator_gradient(L.gan_minimax_loss, at_half)
    non_saturating = _generator_gradient(L.gan_non_saturating_loss, at_half)
    torch.testing.assert_close(saturating, torch.full((3,), -0.5, dtype=torch.float64))
    torch.testing.assert_close(non_saturating, saturating)
    # both push D(G(z)) up everywhere
    grid = torch.linspace(-8, 8, 33, dtype=torch.float64)
    assert (_generator_gradient(L.gan_minimax_loss, grid) < 0).all()
    assert (_generator_gradient(L.gan_non_saturating_loss, grid) < 0).all()
    # D(G(z)) -> 0: the saturating gradient -sigmoid(l) vanishes, the non-saturating one -> -1
    rejected = torch.tensor([-10.0, -20.0, -40.0], dtype=torch.float64)
    saturating = _generator_gradient(L.gan_minimax_loss, rejected)
    non_saturating = _generator_gradient(L.gan_non_saturating_loss, rejected)
    torch.testing.assert_close(saturating, -torch.sigmoid(rejected))
    assert saturating.abs().max() < 1e-4 and (saturating.abs().diff() < 0).all()
    torch.testing.assert_close(non_saturating, torch.full((3,), -1.0, dtype=torch.float64), atol=1e-4, rtol=0)


def test_generator_values_by_hand():
    logits = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64)
    d = torch.sigmoid(logits)
    torch.testing.assert_close(L.gan_minimax_loss(logits, role="generator", reduction="none"), torch.log1p(-d))
    torch.testing.assert_close(L.gan_non_saturating_loss(logits, role="generator", reduction="none"), -torch.log(d))


# --------------------------------------------------------------------------- least squares and Wasserstein


def test_least_squares_values_by_hand():
    fake, real = torch.tensor([-1.0, 0.0, 2.0]), torch.tensor([1.5, 0.0, -0.5])
    d = L.gan_least_squares_loss(fake, real, reduction="none")
    torch.testing.assert_close(d, torch.tensor([0.5 * 0.25 + 0.5, 0.5 + 0.0, 0.5 * 2.25 + 2.0]))
    g = L.gan_least_squares_loss(fake, role="generator", reduction="none")
    torch.testing.assert_close(g, torch.tensor([2.0, 0.5, 0.5]))
    # the Pearson chi^2 coding a = -1, b = 1, c = 0 of Mao et al.
    loss_d = L.LeastSquaresGANLoss("discriminator", a=-1.0, b=1.0, c=0.0, reduction="none")
    loss_g = L.LeastSquaresGANLoss("generator", a=-1.0, b=1.0, c=0.0, reduction="none")
    torch.testing.assert_close(loss_d(fake, real), torch.tensor([0.0 + 0.125, 0.5 + 0.5, 4.5 + 1.125]))
    torch.testing.assert_close(loss_g(fake), torch.tensor([0.5, 0.0, 2.0]))
    # zero exactly at the targets
    assert float(loss_d(torch.full((4,), -1.0), torch.ones(4)).abs().max()) == 0.0
    assert float(loss_g(torch.zeros(4)).abs().max()) == 0.0


def test_wasserstein_values_by_hand():
    fake, real = torch.tensor([-1.0, 0.0, 2.0]), torch.tensor([1.5, 0.0, -0.5])
    torch.testing.assert_close(L.gan_wasserstein_loss(fake, real, reduction="none"), torch.tensor([-2.5, 0.0, 2.5]))
    torch.testing.assert_close(L.gan_wasserstein_loss(fake, real), fake.mean() - real.mean())
    torch.testing.assert_close(L.gan_wasserstein_loss(fake, role="generator", reduction="none"), -fake)
    torch.testing.assert_close(L.gan_wasserstein_loss(fake, real, reduction="sum"), torch.tensor(0.0))


# --------------------------------------------------------------------------- numerics


@pytest.mark.parametrize("name,role", SCORE_CASES)
def test_gradcheck(name, role):
    loss = L.build(name, task="gan", role=role, reduction="none")
    fake, real = (t.requires_grad_(True) for t in scores(n=4))
    if role == "discriminator":
        assert gradcheck(lambda f, r: loss(f, r), (fake, real), eps=1e-6, atol=1e-6, rtol=1e-4)
    else:
        assert gradcheck(lambda f: loss(f), (fake,), eps=1e-6, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("name,role", SCORE_CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_extreme_scores_give_finite_values_and_gradients(name, role, dtype):
    loss = L.build(name, task="gan", role=role, reduction="none")
    big = 1e4
    fake = torch.tensor([big, -big, big, -big, 0.0], dtype=dtype, requires_grad=True)
    real = torch.tensor([big, -big, -big, big, 0.0], dtype=dtype, requires_grad=True)
    values = call(loss, fake, real)
    assert values.dtype == dtype and torch.isfinite(values).all(), values
    values.sum().backward()
    assert torch.isfinite(fake.grad).all()
    if role == "discriminator":
        assert torch.isfinite(real.grad).all()


def test_extreme_logits_take_their_limits():
    big = torch.tensor([1e4, -1e4])
    # confident and right: 0; confident and wrong: |logit|
    torch.testing.assert_close(L.gan_minimax_loss(-big, big, reduction="none"), torch.tensor([0.0, 2e4]))
    torch.testing.assert_close(L.gan_minimax_loss(big, role="generator", reduction="none"), torch.tensor([-1e4, 0.0]))
    torch.testing.assert_close(
        L.gan_non_saturating_loss(big, role="generator", reduction="none"), torch.tensor([0.0, 1e4])
    )


# --------------------------------------------------------------------------- gradient penalty


def _linear_critic(w):
    return lambda x: x.flatten(1) @ w


def test_gradient_penalty_of_a_linear_critic():
    g = torch.Generator().manual_seed(0)
    real, fake = (
        torch.randn(8, 2, 3, generator=g, dtype=torch.float64),
        torch.randn(8, 2, 3, generator=g, dtype=torch.float64),
    )
    unit = torch.randn(6, generator=g, dtype=torch.float64)
    unit = unit / unit.norm()
    zero = L.gradient_penalty(_linear_critic(unit), real, fake, reduction="none")
    torch.testing.assert_close(zero, torch.zeros(8, dtype=torch.float64), atol=1e-12, rtol=0)
    for norm, weight in ((3.0, 10.0), (0.25, 2.0), (0.0, 1.0)):
        values = L.gradient_penalty(_linear_critic(norm * unit), real, fake, weight=weight, reduction="none")
        torch.testing.assert_close(values, torch.full((8,), weight * (norm - 1.0) ** 2, dtype=torch.float64))
    module = L.GradientPenalty(weight=10.0, reduction="sum")
    torch.testing.assert_close(
        module(_linear_critic(3.0 * unit), real, fake), torch.tensor(8 * 40.0, dtype=torch.float64)
    )


def _mlp_critic(seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).to(dtype)


def _manual_penalty(critic, real, fake, eps, weight):
    x_hat = (eps[:, None] * real + (1 - eps[:, None]) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat)
    return weight * (grad.norm(dim=1) - 1) ** 2


def test_gradient_penalty_interpolates_with_the_given_generator():
    critic = _mlp_critic()
    g = torch.Generator().manual_seed(1)
    real, fake = (
        torch.randn(16, 3, generator=g, dtype=torch.float64),
        torch.randn(16, 3, generator=g, dtype=torch.float64),
    )
    values = L.gradient_penalty(
        critic, real, fake, weight=7.0, generator=torch.Generator().manual_seed(5), reduction="none"
    )
    eps = torch.rand(16, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    torch.testing.assert_close(values, _manual_penalty(critic, real, fake, eps, 7.0))
    again = L.gradient_penalty(
        critic, real, fake, weight=7.0, generator=torch.Generator().manual_seed(5), reduction="none"
    )
    other = L.gradient_penalty(
        critic, real, fake, weight=7.0, generator=torch.Generator().manual_seed(6), reduction="none"
    )
    assert torch.equal(values, again) and not torch.allclose(values, other)
    # eps in [0, 1] per sample: at real == fake the interpolate is that sample whatever eps is
    same = L.gradient_penalty(critic, real, real, reduction="none")
    torch.testing.assert_close(same, _manual_penalty(critic, real, real, torch.zeros(16, dtype=torch.float64), 10.0))


def test_gradient_penalty_trains_the_critic_not_the_generator():
    critic = nn.Linear(3, 1, bias=True).double()
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[1.0, 2.0, 2.0]]))  # ||w|| = 3
    generator_weight = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    real = torch.randn(10, 3, dtype=torch.float64)
    fake = torch.randn(10, 3, dtype=torch.float64) @ generator_weight
    L.GradientPenalty(weight=10.0)(critic, real, fake).backward()
    # d/dw 10 (||w|| - 1)^2 = 20 (||w|| - 1) w / ||w||
    expected = 20.0 * 2.0 * critic.weight.detach() / 3.0
    torch.testing.assert_close(critic.weight.grad, expected)
    assert generator_weight.grad is None  # the samples are detached


def test_gradient_penalty_gradients_reach_every_critic_parameter():
    critic = _mlp_critic(dtype=torch.float32)
    real, fake = torch.randn(32, 3), torch.randn(32, 3)
    L.gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(0)).backward()
    for parameter in critic.parameters():
        if parameter.dim() == 1 and parameter.shape[0] == 1:
            continue  # the output bias does not change the input gradient
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all()
        assert parameter.grad.abs().sum() > 0


def test_gradient_penalty_gradcheck_through_the_double_backward():
    g = torch.Generator().manual_seed(2)
    real, fake = (
        torch.randn(4, 3, generator=g, dtype=torch.float64),
        torch.randn(4, 3, generator=g, dtype=torch.float64),
    )
    w1 = torch.randn(3, 5, generator=g, dtype=torch.float64, requires_grad=True)
    w2 = torch.randn(5, generator=g, dtype=torch.float64, requires_grad=True)

    def penalty(w1, w2):
        critic = lambda x: torch.tanh(x @ w1) @ w2  # noqa: E731
        return L.gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(0), reduction="none")

    assert gradcheck(penalty, (w1, w2), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_wgan_gp_linear_critic_reaches_the_closed_form_optimum():
    # max_w w.(mean_real - mean_fake) - weight (||w|| - 1)^2: w = (1 + ||d|| / (2 weight)) d / ||d||
    g = torch.Generator().manual_seed(0)
    real = torch.randn(256, 2, generator=g, dtype=torch.float64) + torch.tensor([2.0, 0.0], dtype=torch.float64)
    fake = torch.randn(256, 2, generator=g, dtype=torch.float64)
    d = real.mean(0) - fake.mean(0)
    torch.manual_seed(0)
    critic = nn.Linear(2, 1).double()
    opt = torch.optim.Adam(critic.parameters(), lr=0.1)
    critic_loss, penalty = L.WassersteinGANLoss("discriminator"), L.GradientPenalty(weight=10.0)
    for _ in range(150):
        loss = critic_loss(critic(fake), critic(real)) + penalty(critic, real, fake)
        opt.zero_grad()
        loss.backward()
        opt.step()
    w = critic.weight.detach().squeeze(0)
    torch.testing.assert_close(w, (1 + d.norm() / 20.0) * d / d.norm(), atol=2e-3, rtol=0)  # ||w|| - 1 = 0.1


def test_gradient_penalty_under_no_grad_and_on_empty_batches():
    critic = _mlp_critic()
    real, fake = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    with torch.no_grad():
        value = L.gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(0))
    assert value.grad_fn is None and value > 0
    torch.testing.assert_close(
        value, L.gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(0)).detach()
    )
    empty = torch.empty(0, 3, dtype=torch.float64)
    assert L.gradient_penalty(critic, empty, empty, reduction="none").shape == (0,)
    assert L.gradient_penalty(critic, empty, empty).detach().item() == 0.0


# --------------------------------------------------------------------------- input errors


@pytest.mark.parametrize("name", NAMES)
def test_score_loss_input_errors(name):
    fake, real = scores()
    with pytest.raises(ValueError, match="role must be one of.*'discriminator', 'generator'"):
        L.build(name, task="gan", role="critic")
    with pytest.raises(ValueError, match="role must be one of"):
        FUNCTIONAL[name](fake, real, role="gen")
    with pytest.raises(ValueError, match="reduction must be one of"):
        L.build(name, task="gan", reduction="avg")
    d_loss, g_loss = L.build(name, task="gan", role="discriminator"), L.build(name, task="gan", role="generator")
    with pytest.raises(ValueError, match="needs real_scores"):
        d_loss(fake)
    with pytest.raises(ValueError, match="reads only fake_scores"):
        g_loss(fake, real)
    with pytest.raises(ValueError, match="same number of samples.*6 and 5"):
        d_loss(fake[:5], real)
    with pytest.raises(ValueError, match=r"one score per sample, shape \(N,\) or \(N, 1\), got \(3, 2\)"):
        d_loss(fake.view(3, 2), real.view(3, 2))
    with pytest.raises(ValueError, match="one score per sample"):
        g_loss(fake.view(1, 2, 3))
    with pytest.raises(TypeError, match="fake_scores must be a floating point tensor"):
        g_loss(torch.ones(3, dtype=torch.long))
    with pytest.raises(TypeError, match="real_scores must be a floating point tensor"):
        d_loss(fake, [1.0] * 6)
    with pytest.raises(ValueError, match="reduction must be one of"):
        g_loss(fake, reduction="avg")


def test_least_squares_target_errors():
    for bad in (float("nan"), float("inf"), True, "1"):
        with pytest.raises(ValueError, match="a must be a finite number"):
            L.LeastSquaresGANLoss(a=bad)
        with pytest.raises(ValueError, match="c must be a finite number"):
            L.gan_least_squares_loss(torch.zeros(2), role="generator", c=bad)


def test_gradient_penalty_input_errors():
    critic, real, fake = _mlp_critic(), torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    with pytest.raises(TypeError, match="critic must be callable"):
        L.gradient_penalty("critic", real, fake)
    with pytest.raises(ValueError, match="same shape.*\\(4, 3\\) and \\(4, 2\\)"):
        L.gradient_penalty(critic, real, fake[:, :2])
    with pytest.raises(TypeError, match="fake must be a floating point tensor"):
        L.gradient_penalty(critic, real, fake.long())
    with pytest.raises(ValueError, match="weight must be a finite number > 0"):
        L.GradientPenalty(weight=0.0)
    with pytest.raises(ValueError, match="weight must be a finite number > 0"):
        L.gradient_penalty(critic, real, fake, weight=float("nan"))
    with pytest.raises(TypeError, match="generator must be None or a torch.Generator"):
        L.gradient_penalty(critic, real, fake, generator=0)
    with pytest.raises(ValueError, match=r"critic\(x_hat\) must hold one score per sample"):
        L.gradient_penalty(lambda x: x, real, fake)
    with pytest.raises(ValueError, match="returned 1 scores for 4 samples"):
        L.gradient_penalty(lambda x: x.sum().view(1), real, fake)
    with pytest.raises(ValueError, match="do not depend on its input"):
        L.gradient_penalty(lambda x: torch.zeros(len(x), dtype=x.dtype), real, fake)
    with pytest.raises(ValueError, match="do not depend on its input"):
        L.gradient_penalty(lambda x: critic(torch.ones_like(x)), real, fake)
    with pytest.raises(ValueError, match="reduction must be one of"):
        L.gradient_penalty(critic, real, fake, reduction="avg")


# --------------------------------------------------------------------------- the MNIST GAN example


EXAMPLE_LOSSES = ("minimax", "non_saturating", "least_squares", "wasserstein_gp")


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    """100 generator steps of a small GAN per loss on the 5,000 real digits (about 2 s per loss)."""
    out = tmp_path_factory.mktemp("gan_mnist5k")
    main = runpy.run_path(str(EXAMPLE))["main"]
    argv = [
        "--steps",
        "100",
        "--hidden",
        "64",
        "--batch-size",
        "32",
        "--num-samples",
        "200",
        "--classifier-epochs",
        "2",
        "--threads",
        "1",
        "--seed",
        "0",
        "--out",
        str(out),
    ]
    return main(argv), out


@pytest.mark.parametrize("loss", EXAMPLE_LOSSES)
def test_example_moves_samples_toward_the_real_digits(example_run, loss):
    import matplotlib.pyplot as plt

    scores, out = example_run
    real, untrained, trained = scores["real"]["mean"], scores["untrained"]["mean"], scores[loss]["mean"]
    assert 0.10 < real < 0.16 and 0.45 < untrained < 0.55  # dark digits; tanh(~0) is grey
    # Seeds 0, 1, 2 give a gap of 0.22-0.26 after 100 steps, from 0.37 untrained.
    assert abs(trained - real) < 0.85 * abs(untrained - real), (loss, trained, untrained, real)
    grid = plt.imread(out / f"samples_{loss}.png")
    assert grid.shape[:2] == (8 * 28, 8 * 28) and grid[..., :3].std() > 0.05
    for key in ("conf", "H(y)", "IS"):
        assert math.isfinite(scores[loss][key])
    assert 1.0 <= scores[loss]["IS"] <= 10.0 and 0.0 <= scores[loss]["H(y)"] <= math.log(10) + 1e-6


def test_example_side_by_side_png_and_real_reference(example_run):
    import matplotlib.pyplot as plt

    scores, out = example_run
    panel = plt.imread(out / "samples_all.png")
    assert panel.shape[1] > 3 * panel.shape[0] and panel[..., :3].std() > 0.05  # four grids in a row
    # the classifier behind the figures recognises real digits: every class, confidently
    assert scores["real"]["IS"] > 4.0 and scores["real"]["H(y)"] > 2.25 and scores["real"]["conf"] > 0.7
    assert scores["untrained"]["IS"] < 1.1


def test_example_rejects_bad_arguments():
    main = runpy.run_path(str(EXAMPLE))["main"]
    with pytest.raises(SystemExit):
        main(["--loss", "hinge"])
    with pytest.raises(SystemExit):
        main(["--steps", "0"])
