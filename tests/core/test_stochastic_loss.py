"""StochasticLoss: shapes, gradients, sampling, modes, checkpoints, robustness."""

from __future__ import annotations

import collections
import copy
import io
import math
import warnings

import pytest
import torch
from torch import nn

from slf import StochasticLoss, losses
from slf.decision import loss_value_features
from slf.gumbel import multiple_gumbel_softmax, sample_gumbel
from slf.lookahead import decision_hypergradient

PAPER = ["ce", "mse", "mae", "hinge", "cosine", "bce"]


def batch(n: int = 16, classes: int = 10, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, classes, generator=g), torch.randint(0, classes, (n,), generator=g)


def small_model(inputs: int = 20, classes: int = 10) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(inputs, 32), nn.ReLU(), nn.Linear(32, classes))


@pytest.mark.parametrize("mode", ["joint", "softmax"])
@pytest.mark.parametrize("selection", ["batch", "sample"])
def test_scalar_loss_and_gradients_reach_decision_network(mode, selection):
    crit = StochasticLoss(PAPER, num_samples=3, mode=mode, selection=selection, seed=0)
    logits, target = batch()
    logits.requires_grad_(True)
    loss = crit(logits, target)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    grads = [p.grad for p in crit.decision.parameters()]
    assert all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    assert crit.weights.shape == (6,)
    assert math.isclose(float(crit.weights.sum()), 1.0, rel_tol=1e-5)


def test_reduction_none_gives_per_sample_values():
    crit = StochasticLoss(["ce", "mae"], mode="joint", selection="sample", reduction="none", seed=0)
    logits, target = batch(n=7)
    assert crit(logits, target).shape == (7,)


def test_weighted_sum_matches_the_candidates():
    """H = sum_i p_hat_i * l_i with the candidates' own per-sample values."""
    crit = StochasticLoss(["ce", "mse"], mode="softmax", decision="global", prior=[3.0, 1.0], seed=0)
    logits, target = batch()
    expected = 0.75 * losses.build("ce")(logits, target) + 0.25 * losses.build("mse")(logits, target)
    assert torch.allclose(crit(logits, target), expected, atol=1e-6)


def test_k1_hard_samples_are_exactly_one_hot():
    crit = StochasticLoss(PAPER, mode="joint", num_samples=1, hard=True, selection="sample", seed=0)
    logits, target = batch(n=32)
    features = torch.rand(32, 11)
    weights = crit.selection_weights(crit.decision_logits(features), crit._draw_noise(32))
    assert set(weights.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(weights.sum(dim=1), torch.ones(32))
    crit(logits, target)
    assert torch.equal(crit.record.selection_counts.sum(), torch.tensor(32))


def test_multiple_samples_average_and_concentrate_with_k():
    log_probs = torch.log(torch.tensor([[0.6, 0.3, 0.1]]))
    gen = torch.Generator().manual_seed(0)
    spread = {}
    for k in (1, 64):
        draws = torch.stack(
            [multiple_gumbel_softmax(log_probs, sample_gumbel((k, 1, 3), gen), tau=0.1) for _ in range(200)]
        )
        assert torch.allclose(draws.sum(-1), torch.ones(200, 1))
        spread[k] = draws.std(dim=0).mean().item()
        if k == 64:  # low temperature, many samples: p_hat ~ p
            assert torch.allclose(draws.mean(dim=0), torch.tensor([[0.6, 0.3, 0.1]]), atol=0.03)
    assert spread[64] < spread[1] / 4


def test_seeded_determinism():
    logits, target = batch()
    a = StochasticLoss(PAPER, seed=123)
    b = StochasticLoss(PAPER, seed=123)
    b.load_state_dict(a.state_dict())
    for _ in range(3):
        assert torch.equal(a(logits, target), b(logits, target))
    torch.manual_seed(5)
    c = StochasticLoss(PAPER)
    torch.manual_seed(5)
    d = StochasticLoss(PAPER)
    assert torch.equal(c(logits, target), d(logits, target))


def test_tau_schedule_follows_the_step():
    crit = StochasticLoss(["ce", "mse"], tau=2.0, tau_schedule="exponential", tau_decay=0.5, tau_min=0.3, seed=0)
    logits, target = batch()
    taus = []
    for _ in range(4):
        taus.append(crit.tau)
        crit(logits, target)
    assert taus == [2.0, 1.0, 0.5, 0.3]
    crit.eval()
    crit(logits, target)
    assert crit.step == 4  # evaluation does not advance the schedule


def _train(crit: StochasticLoss, model: nn.Module, opt, steps: int, data, val=None):
    out = []
    for step in range(steps):
        x, y = data[step % len(data)]
        loss = crit(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if crit.mode == "validation":
            crit.validation_step(model, x, y, *val)
        out.append(loss.detach())
    return out


@pytest.mark.parametrize("mode", ["joint", "validation"])
def test_checkpoint_round_trip_resumes_bit_identically(mode):
    gen = torch.Generator().manual_seed(1)
    data = [(torch.randn(16, 20, generator=gen), torch.randint(0, 10, (16,), generator=gen)) for _ in range(4)]
    val = (torch.randn(16, 20, generator=gen), torch.randint(0, 10, (16,), generator=gen))

    def fresh():
        model = small_model()
        crit = StochasticLoss(PAPER, mode=mode, normalize="mean", tau_schedule="exponential", seed=7)
        params = list(model.parameters()) + list(crit.parameters_for_model_optimizer())
        return model, crit, torch.optim.Adam(params, lr=1e-2)

    model, crit, opt = fresh()
    _train(crit, model, opt, 5, data, val)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "crit": crit.state_dict(), "opt": opt.state_dict()}, buffer)
    expected = _train(crit, model, opt, 3, data, val)

    model2, crit2, opt2 = fresh()
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    model2.load_state_dict(state["model"])
    crit2.load_state_dict(state["crit"])
    opt2.load_state_dict(state["opt"])
    assert crit2.step == 5 and crit2.tau == crit.sampler.schedule(5)
    resumed = _train(crit2, model2, opt2, 3, data, val)
    assert all(torch.equal(a, b) for a, b in zip(expected, resumed))
    for p, q in zip(
        list(model.parameters()) + list(crit.parameters()), list(model2.parameters()) + list(crit2.parameters())
    ):
        assert torch.equal(p, q)
    assert crit.history == crit2.history


def test_a_checkpoint_written_before_the_parts_loads_and_resumes_bit_identically():
    # Version 1 (0.2.0) kept the normalisation, statistics and NaN-count buffers on the loss itself.
    gen = torch.Generator().manual_seed(2)
    data = [(torch.randn(16, 20, generator=gen), torch.randint(0, 10, (16,), generator=gen)) for _ in range(4)]
    model = small_model()
    crit = StochasticLoss(PAPER, mode="joint", normalize="mean", seed=3)
    opt = torch.optim.Adam(list(model.parameters()) + list(crit.parameters_for_model_optimizer()), lr=1e-2)
    _train(crit, model, opt, 5, data, None)
    written = crit.state_dict()

    def version_1_key(key: str) -> str:
        moved = key.split(".")[0] in ("normalization", "record") or key == "candidates.nonfinite_counts"
        return key.split(".", 1)[1] if moved else key

    before_parts = collections.OrderedDict((version_1_key(key), value.clone()) for key, value in written.items())
    before_parts._metadata = copy.deepcopy(written._metadata)
    before_parts._metadata[""]["version"] = 1
    assert "loss_scale" in before_parts and "record.weight_sum" not in before_parts

    fresh = StochasticLoss(PAPER, mode="joint", normalize="mean", seed=99)
    fresh.load_state_dict(before_parts)
    assert fresh.step == 5 and torch.equal(fresh.loss_scale, crit.loss_scale)
    assert torch.equal(fresh.record.selection_counts, crit.record.selection_counts)
    x, y = data[0]
    output = model(x)
    assert torch.equal(fresh(output, y), crit(output, y))  # the same Gumbel draw: the generator resumed too


class NaNOnDemand(nn.Module):
    task = "classification"
    reduction = "none"

    def __init__(self):
        super().__init__()
        self.broken = True

    def forward(self, logits, target):
        values = torch.nn.functional.cross_entropy(logits, target, reduction="none")
        return values * float("nan") if self.broken else values


def test_nonfinite_candidate_is_masked_not_propagated():
    bad = NaNOnDemand()
    crit = StochasticLoss(["ce", bad, "mse"], seed=0)
    logits, target = batch()
    logits.requires_grad_(True)
    with pytest.warns(RuntimeWarning, match="NaNOnDemand"):
        loss = crit(logits, target)
    assert torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in crit.decision.parameters() if p.grad is not None)
    assert crit.weights[1] == 0 and math.isclose(float(crit.weights.sum()), 1.0, rel_tol=1e-5)
    assert crit.candidates.nonfinite_counts.tolist() == [0, 1, 0]
    bad.broken = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        crit(logits, target)
    assert crit.stats()["nonfinite/NaNOnDemand"] == 1.0


def test_all_candidates_nonfinite_is_an_error():
    crit = StochasticLoss([NaNOnDemand()], seed=0)
    with pytest.raises(FloatingPointError, match="every candidate"):
        crit(*batch())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_samples=0), "num_samples"),
        (dict(tau=0.0), "tau must be > 0"),
        (dict(tau=1.0, tau_schedule="cosine"), "tau schedule"),
        (dict(mode="literal"), "mode must be one of"),
        (dict(selection="token"), "selection must be one of"),
        (dict(candidates=["ce", "huber"]), "valid names"),
        (dict(candidates=["ce", "ce"]), "appears twice"),
        (dict(candidates=[]), "at least one"),
        (dict(normalize="std"), "normalize"),
        (dict(decision="transformer", mode="joint"), "decision must be"),
        (dict(decision="mlp"), "mode='align' weighs the candidates by gradient alignment"),
        (dict(selection="sample"), "mode='align' weighs each batch with one vector"),
        (dict(held_out="val"), "held_out must be a slf.HeldOut"),
        (dict(mode="joint", held_out="previous_batch"), "belong to mode='align'"),
        (dict(alignment={"temperature": 0}), "temperature must be a number > 0"),
        (dict(alignment={"momentum": 1.0}), "momentum must be a number in"),
        (dict(alignment={"interval": 0}), "interval must be an integer"),
    ],
)
def test_bad_configuration_fails_at_construction(kwargs, message):
    kwargs = {"candidates": ["ce", "mse"], **kwargs}
    with pytest.raises(ValueError, match=message):
        StochasticLoss(**kwargs)


def test_candidates_that_do_not_fit_are_refused():
    with pytest.raises(ValueError, match="regression"):
        StochasticLoss(["ce", losses.build("huber", task="regression", reduction="none")])
    with pytest.raises(ValueError, match="reduction='none'"):
        StochasticLoss(["ce", losses.build("mse")])
    with pytest.raises(ValueError, match="penultimate features"):
        StochasticLoss(["ce", losses.build("large_margin_softmax", in_features=8, num_classes=10, reduction="none")])


def test_bad_targets_fail_at_first_call():
    crit = StochasticLoss(["ce", "mse"], seed=0)
    logits, target = batch()
    with pytest.raises(TypeError, match="integer"):
        crit(logits, target.float())
    with pytest.raises(ValueError, match="shape"):
        crit(logits, target[:3])
    with pytest.raises(ValueError, match="outside"):
        crit(logits, target + 10)


def test_regression_and_binary_tasks():
    reg = StochasticLoss(["mse", "mae", "huber", "log_cosh"], task="regression", seed=0)
    pred = torch.randn(12, 3, requires_grad=True)
    reg(pred, torch.randn(12, 3)).backward()
    assert pred.grad is not None
    binary = StochasticLoss(["bce", "mse", "mae", "hinge", "cosine"], task="binary", from_logits=False, seed=0)
    probs = torch.rand(12, requires_grad=True)
    binary(probs, torch.randint(0, 2, (12,)).float()).backward()
    assert torch.isfinite(probs.grad).all()


def test_validation_mode_trains_v_only_through_validation_step():
    model = small_model()
    crit = StochasticLoss(PAPER, mode="validation", seed=0)
    assert not any(True for _ in crit.parameters_for_model_optimizer())
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, 20, generator=gen), torch.randint(0, 10, (32,), generator=gen)
    xv, yv = torch.randn(32, 20, generator=gen), torch.randint(0, 10, (32,), generator=gen)
    crit(model(x), y).backward()
    assert all(p.grad is None for p in crit.decision.parameters())
    before = [p.detach().clone() for p in crit.decision.parameters()]
    model_before = [p.detach().clone() for p in model.parameters()]
    info = crit.validation_step(model, x, y, xv, yv)
    assert info["hypergradient_norm"] > 0 and math.isfinite(info["validation_loss"])
    assert any(not torch.equal(a, b) for a, b in zip(before, crit.decision.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(model_before, model.parameters()))
    with pytest.raises(RuntimeError, match="must follow"):
        crit.validation_step(model, x, y, xv, yv)


@pytest.mark.parametrize("selection", ["batch", "sample"])
def test_first_order_hypergradient_matches_exact_lookahead(selection):
    """For a small look-ahead step the JVP form equals differentiating through the step."""
    model = small_model()
    for p in model.parameters():
        p.data = p.data.double()
    gen = torch.Generator().manual_seed(3)
    x, y = torch.randn(24, 20, generator=gen).double(), torch.randint(0, 10, (24,), generator=gen)
    xv, yv = torch.randn(24, 20, generator=gen).double(), torch.randint(0, 10, (24,), generator=gen)
    coefficients = {}
    for lookahead in ("first_order", "exact"):
        crit = StochasticLoss(
            PAPER, mode="validation", selection=selection, lookahead=lookahead, lookahead_lr=1e-4, seed=0
        )
        crit(model(x), y)
        coefficients[lookahead], _ = decision_hypergradient(crit, model, x, y, xv, yv, crit.learner.saved)
    first, exact = coefficients["first_order"].double(), coefficients["exact"].double()
    assert first.shape == exact.shape == ((1, 6) if selection == "batch" else (24, 6))
    assert torch.allclose(first, exact, rtol=1e-3, atol=1e-12 + 1e-3 * float(exact.abs().max()))
    assert exact.abs().max() > 0


@pytest.mark.parametrize("selection,normalize", [("batch", None), ("sample", None), ("batch", "mean")])
def test_cosine_hypergradient_is_the_cosine_of_held_out_and_candidate_gradients(selection, normalize):
    """-eta cos(grad L_val, grad l_i), from autograd through the whole model; no loss scale enters it."""
    model = small_model().double()
    gen = torch.Generator().manual_seed(5)
    x, y = torch.randn(24, 20, generator=gen).double(), torch.randint(0, 10, (24,), generator=gen)
    xv, yv = torch.randn(24, 20, generator=gen).double(), torch.randint(0, 10, (24,), generator=gen)
    crit = StochasticLoss(
        PAPER,
        mode="validation",
        selection=selection,
        hypergradient="cosine",
        normalize=normalize,
        lookahead_lr=0.5,
        seed=0,
    )
    crit(model(x), y)
    coefficients, _ = decision_hypergradient(crit, model, x, y, xv, yv, crit.learner.saved)
    params = list(model.parameters())
    flat = lambda grads: torch.cat([g.reshape(-1) for g in grads])  # noqa: E731
    held_out = flat(torch.autograd.grad(crit.validation_loss(model(xv), yv).mean(), params))
    columns = crit.candidates.columns(model(x), y)
    expected = torch.stack(
        [
            -0.5
            * torch.nn.functional.cosine_similarity(
                held_out, flat(torch.autograd.grad(column.mean(), params, retain_graph=True)), dim=0
            )
            for column in columns
        ]
    )
    assert coefficients.shape == ((1, 6) if selection == "batch" else (24, 6))
    torch.testing.assert_close(coefficients.double().sum(dim=0), expected, rtol=1e-4, atol=1e-6)
    assert float(coefficients.abs().max()) <= 0.5 + 1e-6 or selection == "sample"


def test_cosine_hypergradient_falls_back_to_one_backward_per_candidate(monkeypatch):
    model = small_model()
    gen = torch.Generator().manual_seed(6)
    x, y = torch.randn(16, 20, generator=gen), torch.randint(0, 10, (16,), generator=gen)
    crit = StochasticLoss(PAPER, mode="validation", hypergradient="cosine", seed=0)
    crit(model(x), y)
    batched, _ = decision_hypergradient(crit, model, x, y, x, y, crit.learner.saved)
    grad = torch.autograd.grad

    def no_vmap(*args, **kwargs):
        if kwargs.get("is_grads_batched"):
            raise RuntimeError("vmap: this op has no batching rule")
        return grad(*args, **kwargs)

    monkeypatch.setattr(torch.autograd, "grad", no_vmap)
    looped, _ = decision_hypergradient(crit, model, x, y, x, y, crit.learner.saved)
    assert batched.abs().max() > 0
    torch.testing.assert_close(batched, looped, rtol=1e-4, atol=1e-6)


def test_cosine_hypergradient_rejects_what_it_cannot_do():
    with pytest.raises(ValueError, match="hypergradient must be one of \\['inner', 'cosine'\\]"):
        StochasticLoss(PAPER, mode="validation", hypergradient="angle")
    with pytest.raises(ValueError, match="first_order"):
        StochasticLoss(PAPER, mode="validation", hypergradient="cosine", lookahead="exact")
    crit = StochasticLoss(PAPER, mode="validation", hypergradient="cosine", decision="global", seed=0)
    crit.combine([torch.ones(4) for _ in PAPER])
    with pytest.raises(ValueError, match="validation_step"):
        crit.validation_update(torch.ones(4, 6))


def test_stats_and_history_for_plots():
    crit = StochasticLoss(["ce", "mse"], history_interval=2, seed=0)
    logits, target = batch()
    for _ in range(5):
        crit(logits, target)
    assert [row["step"] for row in crit.history] == [0, 2, 4]
    stats = crit.stats()
    assert set(stats) >= {"tau", "weight/ce", "mean_weight/mse", "selected/ce", "nonfinite/mse"}
    assert math.isclose(stats["selected/ce"] + stats["selected/mse"], 1.0, rel_tol=1e-6)


@pytest.mark.parametrize("task", ["classification", "binary", "regression"])
def test_declared_minimum_is_a_lower_bound(task):
    gen = torch.Generator().manual_seed(0)
    for name in losses.available(task):
        cls = losses.resolve(name, task)
        if getattr(cls, "input_kind", "logits") != "logits" or cls.minimum is None:
            continue
        loss = losses.build(name, task=task, reduction="none")
        if task == "classification":
            values = loss(torch.randn(256, 5, generator=gen) * 5, torch.randint(0, 5, (256,), generator=gen))
        elif task == "binary":
            values = loss(torch.randn(256, generator=gen) * 5, torch.randint(0, 2, (256,), generator=gen).float())
        else:
            values = loss(torch.randn(256, generator=gen) * 5, torch.randn(256, generator=gen))
        assert float(values.min()) >= cls.minimum - 1e-6, name


def test_normalized_candidates_start_level_whatever_their_offset():
    """Measured from its floor (-1 for cosine) each candidate averages 1 on the first batch."""
    crit = StochasticLoss(PAPER, normalize="mean", mode="softmax", decision="global", seed=0)
    logits, target = batch(n=64)
    assert crit.candidate_losses(logits, target)[:, PAPER.index("cosine")].max() < 0
    crit(logits, target)
    values = crit.scale_values(crit.candidate_losses(logits, target))
    assert torch.allclose(values.mean(dim=0), torch.ones(6), atol=1e-5)
    assert (values >= -1e-6).all()


def test_double_backward_fallback_equals_forward_mode_jvp(monkeypatch):
    """Where an op lacks forward-mode AD the look-ahead falls back to double backward."""
    import slf.lookahead as lookahead

    model = small_model()
    gen = torch.Generator().manual_seed(4)
    x, y = torch.randn(16, 20, generator=gen), torch.randint(0, 10, (16,), generator=gen)
    xv, yv = torch.randn(16, 20, generator=gen), torch.randint(0, 10, (16,), generator=gen)
    crit = StochasticLoss(PAPER, mode="validation", selection="sample", seed=0)
    crit(model(x), y)
    forward_mode, _ = decision_hypergradient(crit, model, x, y, xv, yv, crit.learner.saved)

    def no_forward_ad(*args, **kwargs):
        raise NotImplementedError("no forward AD for this op")

    monkeypatch.setattr(lookahead, "_output_jvp_forward_mode", no_forward_ad)
    fallback, _ = decision_hypergradient(crit, model, x, y, xv, yv, crit.learner.saved)
    assert forward_mode.abs().max() > 0
    assert torch.allclose(forward_mode, fallback, atol=1e-6, rtol=1e-4)


def test_history_rows_average_the_weights_since_the_previous_row():
    crit = StochasticLoss(["ce", "mse"], history_interval=3, seed=0)
    logits, target = batch()
    seen = []
    for _ in range(7):
        crit(logits, target)
        seen.append(crit.weights.clone())
    rows = {row["step"]: row["weights"] for row in crit.history}
    assert sorted(rows) == [0, 3, 6]
    assert torch.allclose(torch.tensor(rows[0]), seen[0])
    assert torch.allclose(torch.tensor(rows[3]), torch.stack(seen[1:4]).mean(dim=0))
    assert torch.allclose(torch.tensor(rows[6]), torch.stack(seen[4:7]).mean(dim=0))


def test_validation_interval_updates_v_on_every_kth_step_only():
    model = small_model()
    crit = StochasticLoss(PAPER, mode="validation", validation_interval=3, seed=0)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 20, generator=gen), torch.randint(0, 10, (16,), generator=gen)
    updated = []
    for _ in range(7):
        before = [p.detach().clone() for p in crit.decision.parameters()]
        crit(model(x), y)
        info = crit.validation_step(model, x, y, x, y)
        changed = any(not torch.equal(a, b) for a, b in zip(before, crit.decision.parameters()))
        assert changed == bool(info)
        updated.append(changed)
    assert updated == [True, False, False, True, False, False, True]
    with pytest.raises(ValueError, match="validation_interval"):
        StochasticLoss(PAPER, mode="validation", validation_interval=0)


def test_decision_that_reads_losses_tells_apart_samples_with_the_same_output():
    """Same logits, different labels: only the candidates' values can separate the two rows."""
    logits = torch.tensor([[3.0, 0.0, -1.0]]).repeat(2, 1)
    target = torch.tensor([0, 2])
    for reads in (False, True):
        crit = StochasticLoss(PAPER, mode="validation", selection="sample", decision_reads_losses=reads, seed=0)
        crit(logits, target)
        features = crit.learner.saved["features"]
        assert features.shape == (2, 11 + (6 if reads else 0))
        torch.manual_seed(0)
        for p in crit.decision.parameters():  # the last layer starts at zero (uniform weights)
            nn.init.normal_(p)
        rows = crit.decision_logits(features)
        assert torch.allclose(rows[0], rows[1]) is not reads
    expected = loss_value_features(crit.candidate_losses(logits, target), crit.loss_floor)
    torch.testing.assert_close(features[:, 11:], expected)
    assert float(expected[1, PAPER.index("ce")]) > float(expected[0, PAPER.index("ce")]) > 0


def test_decision_that_reads_losses_through_combine_and_its_errors():
    crit = StochasticLoss(
        ["mse", "mae"], task="regression", mode="joint", selection="sample", decision_reads_losses=True, seed=0
    )
    output = torch.randn(5, 1)
    rows, weights = crit.combine([torch.rand(5), torch.rand(5)], output=output)
    assert rows.shape == (5,) and weights.shape == (5, 2)
    with pytest.raises(ValueError, match="one output row per loss row"):
        crit.combine([torch.rand(4), torch.rand(4)], output=torch.randn(2, 1))
    with pytest.raises(ValueError, match="decision='global' reads none"):
        StochasticLoss(PAPER, mode="joint", decision="global", decision_reads_losses=True)
