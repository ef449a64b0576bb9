"""The default recipe: selection by gradient alignment with a held-out reference (slf.alignment)."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from slf import GradientAlignment, HeldOut, StochasticLoss, losses
from slf.data import load_dataset
from slf.layer_gradients import candidate_gradients, last_layer_parameters, layer_key
from slf.train import ClassifyConfig, train_classifier

CANDIDATES = ["ce", "mse", "mae", "hinge", "cosine", "bce"]


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 5))


def _batch(n: int = 32, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, 12, generator=generator), torch.randint(0, 5, (n,), generator=generator)


def test_the_default_mode_is_the_recipe():
    crit = StochasticLoss(CANDIDATES)
    assert crit.mode == "align" and isinstance(crit.decision, GradientAlignment)
    assert not list(crit.parameters()), "the recipe learns nothing by gradient: no parameter to optimise or decay"
    assert torch.allclose(crit.weights, torch.full((6,), 1 / 6))


@pytest.mark.parametrize(
    "build, expected",
    [
        (lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)), ["2.weight", "2.bias"]),
        (lambda: nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 1)), ["2.weight", "2.bias"]),
        # DAC's ending: linear, batch norm, ReLU, softmax; the scale and shift come with the layer before them.
        (
            lambda: nn.Sequential(
                nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Softmax(dim=1)
            ),
            ["2.weight", "2.bias", "3.weight", "3.bias"],
        ),
    ],
)
def test_last_layer_is_read_from_the_autograd_graph(build, expected):
    net = build()
    inputs = torch.randn(4, 1, 6, 6) if isinstance(net[0], nn.Conv2d) else torch.randn(4, 4)
    names = {id(p): name for name, p in net.named_parameters()}
    found = [names[id(p)] for p in last_layer_parameters([net(inputs)])]
    assert sorted(found) == sorted(expected)


def test_a_shared_output_matrix_is_passed_over():
    embedding = nn.Embedding(7, 4)
    hidden = nn.Linear(4, 4)
    tokens = torch.tensor([[1, 2, 3]])
    logits = F.linear(hidden(embedding(tokens)), embedding.weight)  # tied input and output embeddings
    assert {id(p) for p in last_layer_parameters([logits])} >= {id(embedding.weight)}
    found = last_layer_parameters([logits], exclude=[embedding.weight])
    assert {id(p) for p in found} == {id(hidden.weight), id(hidden.bias)}


def test_cosines_are_those_of_the_candidates_gradients_with_the_held_out_gradient():
    model = _mlp()
    held_x, held_y = _batch(16, seed=1)
    # gap=None: the scores alone decide (the gap's own test is below).
    crit = StochasticLoss(CANDIDATES, held_out=HeldOut(model, [(held_x, held_y)]), alignment=dict(gap=None))
    x, y = _batch()
    crit(model(x), y)
    head = list(model[2].parameters())

    def flat(loss):
        return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, head)])

    reference = flat(F.cross_entropy(model(held_x), held_y))
    expected = []
    for name in CANDIDATES:
        gradient = flat(losses.build(name, reduction="mean")(model(x), y))
        expected.append(float(F.cosine_similarity(gradient, reference, dim=0)))
    assert crit.decision.last_cosines.tolist() == pytest.approx(expected, abs=1e-5)
    assert crit.decision.scores.tolist() == pytest.approx(expected, abs=1e-5)  # the first step is taken as it is
    assert crit.reference_source == "held_out" and crit.step == 1
    head_start = torch.zeros(len(CANDIDATES))
    head_start[CANDIDATES.index("ce")] = crit.decision.margin  # ce is the reference: the stock loss
    weights = torch.softmax((torch.tensor(expected) + head_start) / crit.decision.temperature, dim=0)
    assert crit.decision.margin > 0 and torch.allclose(crit.weights, weights, atol=1e-5)


@pytest.mark.parametrize("task", ["classification", "regression", "binary"])
def test_one_vectorised_backward_gives_each_candidates_gradient(task):
    """On real digits: every registered candidate of the task, its last-layer gradient from the one
    batched backward equal to its own backward's."""
    images, labels = load_dataset("digits", seed=0).train.tensors
    x, labels = images[:64].flatten(1), labels[:64]
    target = {
        "classification": labels,
        "regression": labels.float().unsqueeze(1) / 9,
        "binary": (labels >= 5).float().unsqueeze(1),
    }[task]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(x.shape[1], 16), nn.Tanh(), nn.Linear(16, 10 if task == "classification" else 1))
    names = losses.candidate_names(task)
    crit = StochasticLoss(names, task)
    output = model(x)
    columns = list(crit.candidates.values(output, target).mean(dim=0).unbind())
    layer = last_layer_parameters([output])
    batched = candidate_gradients(columns, layer)
    assert len(names) >= 5 and batched.shape == (len(names), 16 * model[2].out_features + model[2].out_features)
    assert torch.allclose(batched, candidate_gradients(columns, layer, batched=False), rtol=1e-5, atol=1e-7)
    assert batched.abs().sum(dim=1).min() > 0


class _InPlaceSquare(torch.autograd.Function):
    """x ** 2 whose backward writes in place into a fresh tensor: vmap has no rule for that."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**2

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        result = torch.zeros_like(x)
        result += 2 * x * grad
        return result


def test_a_graph_without_batching_rules_falls_back_to_one_backward_per_candidate():
    model = _mlp()
    crit = StochasticLoss(["ce", "mse"], held_out=HeldOut(model, [_batch(16, seed=1)]))
    x, y = _batch()
    output = model(x)
    columns = [F.cross_entropy(output, y, reduction="none"), _InPlaceSquare.apply(output).mean(dim=1)]
    layer = last_layer_parameters([output])
    with pytest.raises(RuntimeError):
        candidate_gradients([c.mean() for c in columns], layer)
    expected = candidate_gradients([c.sum() for c in columns], layer, batched=False)
    crit.combine(columns, output=output)
    assert not crit.learner.batched_gradients and crit.step == 1
    reference = crit.decision.references[layer_key(layer)]
    cosines = F.cosine_similarity(expected, reference.unsqueeze(0), dim=1)
    assert crit.decision.last_cosines.tolist() == pytest.approx(cosines.tolist(), abs=1e-5)


def test_the_weights_follow_the_alignment_and_come_back():
    """Nothing saturates: after 50 steps on one candidate, the weight moves to another when it aligns better."""
    alignment = GradientAlignment(2, momentum=0.9, reference_momentum=0.0)
    key = (0,)
    alignment.set_reference(key, torch.tensor([1.0, 0.0]))
    for _ in range(50):
        alignment.observe({key: torch.tensor([[1.0, 0.2], [0.2, 1.0]])})
    assert alignment.probabilities()[0] > 0.999
    alignment.set_reference(key, torch.tensor([0.0, 1.0]))
    steps = 0
    while alignment.probabilities()[1] < 0.999:
        alignment.observe({key: torch.tensor([[1.0, 0.2], [0.2, 1.0]])})
        steps += 1
    assert steps <= 10


def test_the_stock_loss_keeps_the_weight_until_another_is_clearly_better_aligned():
    alignment = GradientAlignment(2, margin=0.03, preferred=0, momentum=0.0, reference_momentum=0.0)
    key = (0,)
    alignment.set_reference(key, torch.tensor([1.0, 0.0]))

    def at(cosine_first: float, cosine_second: float) -> torch.Tensor:
        first = torch.tensor([cosine_first, (1 - cosine_first**2) ** 0.5])
        second = torch.tensor([cosine_second, -((1 - cosine_second**2) ** 0.5)])
        alignment.observe({key: torch.stack([first, second])})
        return alignment.probabilities()

    assert at(0.50, 0.52)[0] > 0.99  # 0.02 better: not enough
    assert at(0.50, 0.56)[1] > 0.99  # 0.06 better: it moves
    assert at(0.50, 0.40)[0] > 0.99  # and it moves back


def test_the_weights_stay_on_the_stock_loss_while_training_labels_fit_no_worse_than_held_out_ones():
    # gap_z=0: the comparison of the two averages alone (the noise allowance is tested below).
    alignment = GradientAlignment(2, preferred=0, momentum=0.0, reference_momentum=0.5, gap_z=0)
    key = (0,)
    alignment.set_reference(key, torch.tensor([1.0, 0.0]))
    alignment.track(key, torch.tensor([[0.6, 0.8], [1.0, 0.0]]))
    alignment.finish_step()
    assert alignment.probabilities()[1] > 0.99  # no losses yet: the scores decide (the second aligns better)
    alignment.track_losses(train=torch.tensor(0.9), held_out=torch.tensor(1.0))
    alignment.finish_step()
    assert alignment.keeps_preferred and alignment.probabilities().tolist() == [1.0, 0.0]
    # The training loss rises above the held-out one (averaged: 0.5 * 0.9 + 0.5 * 1.3 = 1.1 > 1.0).
    alignment.track_losses(train=torch.tensor(1.3), held_out=torch.tensor(1.0))
    alignment.finish_step()
    assert alignment.train_loss.item() == pytest.approx(1.1) and alignment.held_out_loss.item() == pytest.approx(1.0)
    assert not alignment.keeps_preferred and alignment.probabilities()[1] > 0.99
    assert not GradientAlignment(2, preferred=None).keeps_preferred
    with pytest.raises(ValueError, match="gap must be a number > 0"):
        GradientAlignment(2, gap=0)
    with pytest.raises(ValueError, match="gap_patience must be an integer >= 1"):
        GradientAlignment(2, gap_patience=0)


def test_label_noise_once_seen_for_long_keeps_the_gate_open():
    """Memorising wrong labels late brings the training loss down to the held-out one: after
    ``gap_patience`` steps above it, the weights do not return to the stock loss (and a checkpoint
    keeps that)."""
    crit = StochasticLoss(["ce", "mae"], alignment=dict(gap_patience=3, reference_momentum=0.0, gap_z=0))
    alignment = crit.decision

    def step(train: float) -> None:
        alignment.track_losses(train=torch.tensor(train), held_out=torch.tensor(1.0))
        alignment.finish_step()

    for train in (1.5, 1.5, 0.5):  # two steps above: not yet
        step(train)
    assert alignment.keeps_preferred and not alignment.noise_seen
    for train in (1.5, 1.5, 1.5, 0.5):
        step(train)
    assert alignment.noise_seen and not alignment.keeps_preferred
    restored = StochasticLoss(["ce", "mae"])
    restored.load_state_dict(crit.state_dict())
    assert restored.decision.noise_seen


@pytest.mark.parametrize("excess, z, latched", [(0.01, 0.0, True), (0.01, 2.0, False), (0.5, 2.0, True)])
def test_gap_z_asks_the_training_loss_to_lie_above_by_more_than_its_noise(excess, z, latched):
    """A training loss above the held-out one by less than the noise of the two averages is a tie
    (an untrained model's two losses are equal), not label noise; a clear excess still is."""
    alignment = GradientAlignment(2, preferred=0, gap_z=z)
    for step in range(80):
        noise = -0.2 if step % 2 else 0.2  # alternating: the averages' wobble stays below the excess
        alignment.track_losses(train=torch.tensor(1.0 + excess + noise), held_out=torch.tensor(1.0))
        alignment.finish_step()
    assert alignment.noise_seen is latched
    if z:  # (z = 0 tracks no deviation: the recipe as the report ran it)
        # The squared deviations of each step's difference average to about 0.2^2; the weights of
        # the averages square-sum to (1 - rho) / (1 + rho) once the first step's weight has decayed.
        assert alignment.gap_deviation_square == pytest.approx(0.04, rel=0.1)
        assert alignment.gap_weight_square == pytest.approx(0.05 / 1.95, rel=0.05)
        assert f"gap_z={z:g}" in repr(alignment)
    with pytest.raises(ValueError, match="gap_z must be a number >= 0"):
        GradientAlignment(2, gap_z=-1)


def test_the_gap_compares_the_stock_loss_on_training_and_held_out_batches():
    model = _mlp()
    held_x, held_y = _batch(16, seed=1)
    crit = StochasticLoss(CANDIDATES, held_out=HeldOut(model, [(held_x, held_y)]))
    x, y = _batch()
    crit(model(x), y)
    with torch.no_grad():
        train, held = F.cross_entropy(model(x), y), F.cross_entropy(model(held_x), held_y)
    assert crit.decision.train_loss.item() == pytest.approx(train.item(), rel=1e-5)
    assert crit.decision.held_out_loss.item() == pytest.approx(held.item(), rel=1e-5)
    assert crit.decision.keeps_preferred == bool(train <= held)
    # A host's columns: the gap reads the reference it passes, or the stock candidate's column.
    crit = StochasticLoss(["mse", "mae"], task="regression")
    target = torch.linspace(-1, 1, 32)
    with crit.reference_pass():
        output = model(x)[:, 0]
        crit.combine([(output - target).pow(2), (output - target).abs()], output)
    assert crit.decision.held_out_loss is None  # adopted with the step
    output = model(x)[:, 0]
    crit.combine([(output - target).pow(2) * 2, (output - target).abs()], output)
    assert crit.decision.held_out_loss.item() == pytest.approx((output - target).pow(2).mean().item(), rel=1e-5)
    assert crit.decision.train_loss.item() == pytest.approx(2 * (output - target).pow(2).mean().item(), rel=1e-5)
    assert not crit.decision.keeps_preferred


class _Counted(list):
    """Held-out batches that count each one drawn into ``drawn``."""

    def __init__(self, batches: list, drawn: list) -> None:
        super().__init__(batches)
        self.drawn = drawn

    def __iter__(self):
        for batch in super().__iter__():
            self.drawn.append(1)
            yield batch


def test_a_step_held_on_the_stock_loss_is_a_cross_entropy_step(monkeypatch):
    """Once the gap has held cross-entropy for ``gap_patience`` steps, a step computes it alone: the
    same loss and gradients, no other candidate evaluated and no scores taken; held-out batches
    for the gap every ``held_interval`` steps."""
    model = _mlp()
    drawn: list = []

    held_out = HeldOut(model, _Counted([_batch(16, seed=1)], drawn))
    crit = StochasticLoss(CANDIDATES, held_out=held_out, alignment={"gap": 1e9, "gap_patience": 2, "held_interval": 3})
    x, y = _batch()
    crit(model(x), y)  # the first step weighs: nothing is averaged yet
    assert crit.decision.keeps_preferred and not crit.holds_stock  # held for 1 step: the scores go on
    crit(model(x), y)
    assert crit.holds_stock and int(crit.decision.observations) == 2 and len(drawn) == 2
    monkeypatch.setattr(crit.candidates, "values", lambda *args: pytest.fail("a held step evaluated every candidate"))
    for _ in range(6):
        model.zero_grad()
        loss = crit(model(x), y)
        loss.backward()
    held = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    expected = F.cross_entropy(model(x), y)
    expected.backward()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert all(torch.allclose(a, p.grad, atol=1e-7) for a, p in zip(held, model.parameters()))
    assert int(crit.decision.observations) == 2 and crit.weights.tolist() == [1.0, 0, 0, 0, 0, 0]
    assert len(drawn) == 4 and crit.step == 8  # steps 3 and 6 drew a held-out batch
    crit.eval()
    assert not crit.holds_stock  # evaluation: the weights as they stand, nothing held


def _train_weighing(model: nn.Module, whole_graph: bool, steps: int = 4):
    crit = StochasticLoss(
        CANDIDATES,
        held_out=HeldOut(model, [_batch(16, seed=1), _batch(16, seed=2)]),
        alignment={"gap": 1e-9, "gap_patience": 1},
    )
    crit.learner._graph_from_checked = whole_graph  # True: never checked, the whole graph throughout
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = _batch()
    for _ in range(steps):
        optimizer.zero_grad()
        crit(model(x), y).backward()
        optimizer.step()
    return crit


def test_the_held_out_graph_begins_at_the_compared_layer_with_the_same_reference():
    """After one check, the held-out pass records no graph before the output layer: the same
    reference gradients, scores, weights and random draws (dropout) as with the whole graph."""
    runs = []
    for whole_graph in (False, True):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 5))
        crit = _train_weighing(model, whole_graph)
        runs.append((crit, [p.detach().clone() for p in model.parameters()], torch.rand(3)))
    (short, params, draws), (whole, whole_params, whole_draws) = runs
    assert short.learner._graph_from is not None and whole.learner._graph_from is None
    assert torch.equal(short.decision.scores, whole.decision.scores) and torch.count_nonzero(short.decision.scores)
    assert all(torch.equal(a, b) for a, b in zip(params, whole_params)) and torch.equal(draws, whole_draws)
    (reference,), (whole_reference,) = short.decision.references.values(), whole.decision.references.values()
    assert torch.equal(reference, whole_reference)  # keyed by the parameters' ids: one layer in each


def test_a_layer_tied_to_an_earlier_one_keeps_the_whole_held_out_graph():
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body, self.head = nn.Linear(12, 5), nn.Linear(5, 5)

        def forward(self, x):
            return self.head(F.linear(torch.relu(self.body(x)), self.head.weight))

    torch.manual_seed(0)
    crit = _train_weighing(Tied(), whole_graph=False, steps=2)
    assert crit.learner._graph_from_checked and crit.learner._graph_from is None


def test_a_host_leaves_out_the_other_columns_only_while_the_stock_loss_is_held():
    model = _mlp()
    x, _ = _batch()
    target = torch.linspace(-1, 1, 32)
    crit = StochasticLoss(["mse", "mae"], task="regression", alignment={"gap": 1e9, "gap_patience": 1})

    def columns(output):
        return [(output - target).pow(2), (output - target).abs()]

    output = model(x)[:, 0]
    with pytest.raises(ValueError, match=r"None for the columns of \['mae'\]: only while holds_stock"):
        crit.combine([columns(output)[0], None], output)
    with crit.reference_pass():
        crit.combine(columns(model(x)[:, 0]), output)
    crit.combine(columns(output), output)  # weighs, and finishes the gap's first averages
    assert crit.holds_stock
    rows, weights = crit.combine([columns(output)[0], None], output)
    assert torch.equal(rows, columns(output)[0]) and weights.tolist() == [[1.0, 0.0]]
    with pytest.raises(ValueError, match="only while holds_stock"):
        StochasticLoss(["ce", "mae"], mode="joint").combine([torch.ones(3), None])


def test_the_stock_loss_is_the_reference_loss_among_the_candidates():
    assert StochasticLoss(["mse", "ce", "mae"]).decision.preferred == 1
    assert StochasticLoss(["huber", "mse"], task="regression").decision.preferred == 1
    assert StochasticLoss(["mae", "hinge"]).decision.preferred is None
    assert StochasticLoss(["ce", "mae"], alignment={"preferred": "mae"}).decision.preferred == 1
    assert StochasticLoss(["ce", "mae"], alignment={"preferred": None}).decision.preferred is None
    with pytest.raises(ValueError, match=r"must name a candidate \['ce', 'mae'\]"):
        StochasticLoss(["ce", "mae"], alignment={"preferred": "hinge"})
    with pytest.raises(ValueError, match="margin must be a number"):
        GradientAlignment(2, margin=-0.1)


def test_layers_scored_together_give_the_cosine_of_the_whole():
    alignment = GradientAlignment(2, reference_momentum=0.0)
    first, second = torch.randn(2, 5), torch.randn(2, 3)
    u, v = torch.randn(5), torch.randn(3)
    alignment.set_reference((1,), u)
    alignment.set_reference((2,), v)
    cosines = alignment.observe({(1,): first, (2,): second})
    whole = torch.cat([first, second], dim=1)
    assert torch.allclose(cosines, F.cosine_similarity(whole, torch.cat([u, v]).unsqueeze(0), dim=1), atol=1e-6)


def test_the_reference_is_averaged_over_held_out_batches():
    alignment = GradientAlignment(1, reference_momentum=0.75)
    alignment.set_reference((0,), torch.tensor([4.0]))
    alignment.set_reference((0,), torch.tensor([0.0]))
    assert alignment.references[(0,)].item() == pytest.approx(3.0)


def test_an_interval_scores_and_draws_on_every_kth_step_each_standing_for_k_steps(monkeypatch):
    """``interval`` k (the weighing step's cost lever, not the default): a held-out batch and the
    candidates' gradients on every k-th step only, the weights standing between; each draw and each
    score weighs as k steps did (rho^k, beta^k)."""
    alignment = GradientAlignment(1, reference_momentum=0.75, interval=2)
    alignment.set_reference((0,), torch.tensor([4.0]))
    alignment.set_reference((0,), torch.tensor([0.0]))
    assert alignment.references[(0,)].item() == pytest.approx(4.0 * 0.75**2)
    assert [alignment.scores_due(step) for step in range(4)] == [True, False, True, False]

    model = _mlp()
    drawn: list = []

    crit = StochasticLoss(
        CANDIDATES,
        held_out=HeldOut(model, _Counted([_batch(16, seed=1), _batch(16, seed=2)], drawn)),
        alignment={"gap": 1e-9, "gap_patience": 1, "interval": 3, "momentum": 0.5},
    )
    scored, gradients = [], crit.learner._candidate_gradients
    monkeypatch.setattr(crit.learner, "_candidate_gradients", lambda *a: scored.append(crit.step) or gradients(*a))
    x, y = _batch()
    standing = []
    for _ in range(7):
        crit(model(x), y).backward()
        standing.append(crit.decision.scores.clone())
    assert scored == [0, 3, 6] and len(drawn) == 3 and int(crit.decision.observations) == 3
    assert torch.equal(standing[3], standing[5]) and not torch.equal(standing[5], standing[6])
    # The last score blended in with beta^3 = 1/8, as three steps at beta = 1/2 would have.
    expected = 0.125 * standing[5] + (1 - 0.125) * crit.decision.last_cosines
    assert torch.allclose(standing[6], expected, atol=1e-6)


def test_an_interval_pair_draws_every_jth_score_and_scores_against_the_reference_as_it_stands(monkeypatch):
    """``interval=(1, j)`` (the held-out forward's cost lever, not the default): the candidates'
    gradients on every step, a held-out batch on every j-th only; the steps between score against the
    reference as the last draw left it, and a draw weighs as j steps did (rho^j)."""
    alignment = GradientAlignment(1, reference_momentum=0.75, interval=(1, 2))
    alignment.set_reference((0,), torch.tensor([4.0]))
    alignment.set_reference((0,), torch.tensor([0.0]))
    assert alignment.references[(0,)].item() == pytest.approx(4.0 * 0.75**2)
    assert [alignment.scores_due(step) for step in range(4)] == [True] * 4
    assert [alignment.reference_due(step) for step in range(4)] == [True, False, True, False]
    assert GradientAlignment(1, interval=[2, 3]).draw_interval == 6
    assert GradientAlignment(1, interval=2).draw_interval == 2
    for wrong in (0, (1, 0), (1, 2, 3), (1.5, 2)):
        with pytest.raises(ValueError, match=r"interval must be an integer k >= 1 .* or a pair \(k, j\)"):
            GradientAlignment(2, interval=wrong)

    model = _mlp()
    drawn: list = []
    crit = StochasticLoss(
        CANDIDATES,
        held_out=HeldOut(model, _Counted([_batch(16, seed=1), _batch(16, seed=2)], drawn)),
        alignment={"gap": 1e-9, "gap_patience": 1, "interval": (1, 3)},
    )
    scored, gradients = [], crit.learner._candidate_gradients
    monkeypatch.setattr(crit.learner, "_candidate_gradients", lambda *a: scored.append(crit.step) or gradients(*a))
    references = []
    for seed in range(7):
        x, y = _batch(seed=seed)
        crit(model(x), y).backward()
        references.append(crit.decision.references[layer_key(last_layer_parameters([model(x)]))].clone())
    assert scored == list(range(7)) and len(drawn) == 3 and int(crit.decision.observations) == 7
    assert torch.equal(references[3], references[5]) and not torch.equal(references[5], references[6])
    # Without held-out data the reference comes from the previous training batch, on the draw steps alone.
    fallback = StochasticLoss(CANDIDATES, held_out="previous_batch", alignment={"interval": (1, 2)})
    taken, adopt = [], fallback.decision.set_reference
    monkeypatch.setattr(fallback.decision, "set_reference", lambda *args: taken.append(fallback.step) or adopt(*args))
    for seed in range(5):
        x, y = _batch(seed=seed)
        fallback(model(x), y).backward()
    assert taken == [0, 2, 4]


def test_calls_that_share_a_step_key_make_one_step():
    """A head that calls the loss once per feature level: one step, gradients summed, weights fixed within it."""
    model = nn.Linear(12, 5)
    crit = StochasticLoss(["ce", "mae"], held_out="previous_batch")
    iteration = {"value": 0}
    crit.step_key = lambda: iteration["value"]
    for value in range(3):
        iteration["value"] = value
        x, y = _batch(seed=value)
        first = crit(model(x[:16]), y[:16])
        weights = crit.weights.clone()
        second = crit(model(x[16:]), y[16:])
        assert torch.equal(crit.weights, weights)
        (first + second).backward()
    assert crit.step == 3 and len(crit.history) == 1
    assert int(crit.decision.observations) == 1  # iteration 1 scored against iteration 0's batch


def test_a_forgotten_held_out_step_is_never_silent():
    model = _mlp()
    crit = StochasticLoss(CANDIDATES)
    with pytest.warns(UserWarning, match="no held-out data"):
        crit(model(_batch()[0]), _batch()[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for seed in range(1, 4):  # once, not every step
            x, y = _batch(seed=seed)
            crit(model(x), y)
    assert crit.reference_source == "previous_batch" and int(crit.decision.observations) == 3
    assert crit.stats()["held_out_reference"] == 0.0
    quiet = StochasticLoss(CANDIDATES, held_out="previous_batch")  # clustering: no held-out data by design
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet(model(_batch()[0]), _batch()[1])


def test_a_host_reference_pass_sets_the_reference_and_trains_nothing():
    model = _mlp()
    crit = StochasticLoss(CANDIDATES)
    held_x, held_y = _batch(16, seed=5)
    with crit.reference_pass():
        value = crit(model(held_x), held_y)
    assert value.item() == pytest.approx(F.cross_entropy(model(held_x), held_y).item(), rel=1e-5)
    assert crit.step == 0 and crit.reference_source == "host"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a host reference: no fallback warning
        crit(model(_batch()[0]), _batch()[1])
    assert int(crit.decision.observations) == 1


def test_held_out_forward_normalises_like_training_leaves_the_statistics_and_cycles():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 8), nn.BatchNorm1d(8), nn.Linear(8, 5))
    running, tracked = model[1].running_mean.clone(), model[1].num_batches_tracked.clone()
    batches = [_batch(8, seed=1), _batch(8, seed=2)]
    held_out = HeldOut(model, batches)
    model.train()
    output, target = held_out.next_batch()
    # Batch statistics of the held-out batch, as the training batch gets them, not the running ones.
    model.eval()
    assert not torch.allclose(output, model(batches[0][0]))
    model.train()
    assert torch.allclose(output, model(batches[0][0])) and torch.equal(target, batches[0][1])
    model[1].running_mean.copy_(running)
    model[1].num_batches_tracked.copy_(tracked)
    outputs = [held_out.next_batch()[1] for _ in range(2)]
    assert torch.equal(outputs[1], batches[0][1]), "it starts over when the batches run out"
    assert model.training and torch.equal(model[1].running_mean, running)
    assert torch.equal(model[1].num_batches_tracked, tracked)
    with pytest.raises(ValueError, match="empty iterable"):
        HeldOut(model, []).next_batch()
    with pytest.raises(ValueError, match="pairs"):
        HeldOut(model, [torch.randn(2, 12)]).next_batch()
    with pytest.raises(TypeError, match="nn.Module"):
        HeldOut("model", batches)


def test_a_non_finite_candidate_is_masked_in_the_recipe():
    class Broken(nn.Module):
        reduction = "none"
        registry_name = "broken"

        def forward(self, output, target):
            return output[:, 0] * float("nan")

    model = _mlp()
    crit = StochasticLoss(["ce", Broken()], held_out="previous_batch")
    for seed in range(3):
        x, y = _batch(seed=seed)
        with pytest.warns(RuntimeWarning, match="broken"):
            loss = crit(model(x), y)
        loss.backward()
        assert torch.isfinite(loss)
    assert crit.weights.tolist() == [1.0, 0.0] and int(crit.candidates.nonfinite_counts[1]) == 3


def test_checkpoints_keep_the_scores_and_refuse_the_other_kind_with_advice():
    model = _mlp()
    crit = StochasticLoss(CANDIDATES, held_out=HeldOut(model, [_batch(16, seed=1)]))
    for seed in range(3):
        crit(model(_batch(seed=seed)[0]), _batch(seed=seed)[1])
    restored = StochasticLoss(CANDIDATES)
    restored.load_state_dict(crit.state_dict())
    assert torch.equal(restored.decision.scores, crit.decision.scores) and restored.step == 3
    assert torch.allclose(restored.weights, crit.weights)
    literal = StochasticLoss(CANDIDATES, mode="joint", seed=0)
    with pytest.raises(RuntimeError, match=r"mode='joint'.*to load it"):
        StochasticLoss(CANDIDATES).load_state_dict(literal.state_dict())
    with pytest.raises(RuntimeError, match=r"Build StochasticLoss\(\.\.\., mode='align'\)"):
        literal.load_state_dict(crit.state_dict())


def test_combine_weighs_host_columns_and_takes_their_reference():
    model = nn.Linear(12, 3)
    crit = StochasticLoss(["mse", "mae"], task="regression")
    x, y = _batch()
    target = torch.randn(32, 3)
    output = model(x)
    columns = [((output - target) ** 2).mean(dim=1), (output - target).abs().mean(dim=1)]
    with pytest.warns(UserWarning, match="no held-out data"):
        rows, weights = crit.combine(columns, output, reference=columns[0])
    assert rows.shape == (32,) and weights.shape == (1, 2)
    assert crit.reference_source == "previous_batch" and crit.decision.references
    with crit.reference_pass():
        value, _ = crit.combine(columns, output, reference=columns[1])
    assert torch.equal(value, columns[1]) and crit.reference_source == "host"


@pytest.mark.slow
def test_the_default_recipe_leaves_cross_entropy_under_label_noise_on_real_digits():
    """MNIST-5k, 40% of the training labels flipped: the recipe moves to a bounded loss and beats CE."""
    base = ClassifyConfig(data="mnist5k", model="mlp", label_noise=0.4, epochs=15, seed=0, num_threads=2)
    ce = train_classifier(ClassifyConfig(**{**base.__dict__, "loss": "ce"}), progress=False)
    default = train_classifier(ClassifyConfig(**{**base.__dict__, "loss": "slf"}), progress=False)
    assert default["method"] == "slf-align" and default["slf_stats"]["held_out_reference"] == 1.0
    weights = dict(zip(default["candidates"], default["mean_weights"]))
    assert max(weights, key=weights.get) in ("mae", "cosine", "mse"), weights  # bounded losses resist the noise
    assert weights["ce"] < 0.2
    assert default["final_test_acc"] > ce["final_test_acc"] + 0.08


@pytest.mark.slow
def test_the_default_recipe_keeps_cross_entropy_on_clean_real_digits():
    """Clean MNIST-5k: the training loss stays at or below the held-out one, so the recipe trains
    with cross-entropy (leaving it for a bounded loss on clean data slows learning)."""
    config = ClassifyConfig(data="mnist5k", model="mlp", loss="slf", epochs=3, seed=0, num_threads=2)
    default = train_classifier(config, progress=False)
    weights = dict(zip(default["candidates"], default["mean_weights"]))
    assert weights["ce"] > 0.9, weights
    assert default["final_test_acc"] > 0.85
