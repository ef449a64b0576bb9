"""``--criterion l2t_dlf``: L2T-DLF's student loss and online teacher on fairseq's API, with a real (tiny)
transformer on real German-English pairs."""

from __future__ import annotations

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

pytestmark = pytest.mark.fairseq

from fairseq.criterions import CRITERION_REGISTRY  # noqa: E402
from fairseq.criterions.label_smoothed_cross_entropy import LabelSmoothedCrossEntropyCriterion  # noqa: E402
from fairseq.logging import metrics  # noqa: E402

import slf_fairseq  # noqa: E402,F401
from slf.unrolled_step import call_with_parameters, unrolled_sgd_step  # noqa: E402
from slf_fairseq.l2t_dlf_criterion import L2TDLFCriterion, RealTokenLogProbs  # noqa: E402


@pytest.fixture
def with_held_out(tiny_translation, held_out_pairs):
    task, build_model, batch = tiny_translation
    task.datasets["valid"] = held_out_pairs  # the batch holds pairs 0..15
    return task, build_model, batch


def test_the_criterion_is_registered_and_its_teacher_stays_out_of_fairseqs_optimiser(with_held_out) -> None:
    task, _, _ = with_held_out
    assert CRITERION_REGISTRY["l2t_dlf"] is L2TDLFCriterion
    criterion = L2TDLFCriterion(task, False, 0.1)
    assert criterion.teacher.coefficients == "diagonal"
    assert criterion.teacher.num_classes == len(task.target_dictionary)
    # fairseq's trainer optimises the criterion's parameters that require a gradient: none here.
    assert list(criterion.parameters()) and not [p for p in criterion.parameters() if p.requires_grad]


def test_while_the_student_pretrains_a_step_is_label_smoothings_and_the_teacher_waits(with_held_out) -> None:
    task, build_model, batch = with_held_out
    criterion = L2TDLFCriterion(task, False, 0.1, l2t_pretrain_steps=3).train()
    stock = LabelSmoothedCrossEntropyCriterion(task, False, 0.1)
    before = {name: p.detach().clone() for name, p in criterion.teacher.named_parameters()}
    model = build_model().train()
    for step in range(2):  # the first pretrain_steps - 1 updates
        loss, size, log = criterion(model, batch)
        expected, expected_size, expected_log = stock(model, batch)
        assert loss.item() == pytest.approx(expected.item(), rel=1e-6) and size == expected_size
        assert log["nll_loss"].item() == pytest.approx(expected_log["nll_loss"].item(), rel=1e-6)
        assert "l2t_meta_loss" not in log and criterion.teacher.steps == step + 1
    assert not criterion.teacher.teaching and int(criterion.teacher_steps) == 2
    assert all(torch.equal(before[name], p) for name, p in criterion.teacher.named_parameters())
    loss, _, log = criterion(model, batch)  # the teacher's loss, from its start: -sigmoid(log p_y) per token
    lprobs, target = criterion.real_tokens(model, model(**batch["net_input"]), batch)
    expected = -torch.sigmoid(lprobs.gather(1, target[:, None])).sum()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5) and "l2t_meta_loss" not in log
    assert criterion(model, batch)[2]["l2t_meta_updates"] == 1  # and its first update


def test_a_teaching_step_updates_the_teacher_and_leaves_the_model_as_it_was(with_held_out) -> None:
    task, build_model, batch = with_held_out
    criterion = L2TDLFCriterion(task, False, 0.1, l2t_pretrain_steps=0, l2t_validation_max_tokens=256).train()
    model = build_model().train()
    model_before = {name: p.detach().clone() for name, p in model.state_dict().items()}
    teacher_before = {name: p.detach().clone() for name, p in criterion.teacher.named_parameters()}
    loss, size, log = criterion(model, batch)
    assert all(torch.equal(model_before[name], p) for name, p in model.state_dict().items())
    moved = [name for name, p in criterion.teacher.named_parameters() if not torch.equal(teacher_before[name], p)]
    assert {"weight", "bias", "shared_weight"} <= set(moved)
    assert model.training and all(p.grad is None for p in model.parameters())
    assert not any(p.requires_grad for p in criterion.teacher.parameters())  # off again after its update
    assert 0 < log["l2t_meta_loss"] < 1 and -1 < log["l2t_h"] < 1 and log["l2t_meta_updates"] == 1
    # The student's loss is the teacher's, summed over the real tokens: -sigmoid(score) each.
    assert size == batch["ntokens"] and -batch["ntokens"] < loss.item() < 0
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    assert all(p.grad is None for p in criterion.teacher.parameters())
    with metrics.aggregate() as aggregated:
        L2TDLFCriterion.reduce_metrics([log, {**log, "l2t_meta_loss": 3 * log["l2t_meta_loss"]}])
    values = aggregated.get_smoothed_values()
    assert values["l2t_meta_loss"] == pytest.approx(2 * log["l2t_meta_loss"], abs=1e-3)
    assert values["nll_loss"] > 0 and "l2t_h" in values


def test_the_teachers_gradient_through_the_look_ahead_matches_finite_differences(with_held_out) -> None:
    """The gradient of the held-out smoothed error after one SGD step of the whole transformer on the
    teacher's loss, by reverse mode through the step, against a central difference along it (float32, as
    fairseq computes its log-probabilities; the core's tests check each parameter in float64)."""
    task, build_model, batch = with_held_out
    criterion = L2TDLFCriterion(task, False, 0.1, l2t_pretrain_steps=0)
    model = build_model().eval()
    teacher = criterion.teacher.requires_grad_(True)
    held = criterion.held_out.next(model)
    wrapped = RealTokenLogProbs(model, criterion)
    target, held_target = criterion._real_targets(batch), criterion._real_targets(held)
    lr = 2.0  # a visible step, so that the coefficients move the held-out error measurably

    def objective() -> torch.Tensor:
        with sdpa_kernel(SDPBackend.MATH):  # the criterion's own choice: fused attention has no second derivative
            stepped = unrolled_sgd_step(wrapped, lambda out: teacher(out, target, reduction="mean"), batch, lr)
            return teacher.held_out_objective(call_with_parameters(wrapped, stepped, held), held_target)

    parameters = list(teacher.parameters())
    gradients = torch.autograd.grad(objective(), parameters)
    norm = torch.sqrt(sum(g.pow(2).sum() for g in gradients))
    named = dict(zip((name for name, _ in teacher.named_parameters()), gradients))
    assert norm > 1e-3 and all(named[name].abs().max() > 1e-5 for name in ("weight", "bias", "shared_weight"))

    def moved(scale: float) -> float:
        with torch.no_grad():
            for parameter, gradient in zip(parameters, gradients):
                parameter.add_(scale * gradient / norm)
        value = objective().item()
        with torch.no_grad():
            for parameter, gradient in zip(parameters, gradients):
                parameter.sub_(scale * gradient / norm)
        return value

    eps = 3e-2
    assert (moved(eps) - moved(-eps)) / (2 * eps) == pytest.approx(norm.item(), rel=1e-2)


def test_a_missing_held_out_split_is_named(tiny_translation) -> None:
    task, build_model, batch = tiny_translation
    criterion = L2TDLFCriterion(task, False, 0.1, l2t_pretrain_steps=0, l2t_validation_subset="nope").train()
    with pytest.raises(ValueError, match="--l2t-validation-subset 'nope': no such split"):
        criterion(build_model().train(), batch)
