"""The ``slf`` criterion on fairseq's API, with a real (tiny) transformer on real German-English pairs."""

from __future__ import annotations

import math

import pytest
import torch

pytestmark = pytest.mark.fairseq

from fairseq.criterions import CRITERION_REGISTRY  # noqa: E402
from fairseq.criterions.label_smoothed_cross_entropy import LabelSmoothedCrossEntropyCriterion  # noqa: E402
from fairseq.logging import metrics  # noqa: E402

import slf_fairseq  # noqa: E402
from slf.alignment import DEFAULT_GAP_Z  # noqa: E402
from slf_fairseq.criterion import SLFCriterion  # noqa: E402


def gradients(model):
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def test_one_candidate_equals_label_smoothed_cross_entropy(tiny_translation) -> None:
    task, build_model, batch = tiny_translation
    results = []
    for criterion in (
        LabelSmoothedCrossEntropyCriterion(task, False, 0.1),
        SLFCriterion(task, False, 0.1, slf_candidates="label_smoothed_nll"),
    ):
        model = build_model(seed=0)
        loss, sample_size, log = criterion(model, batch)
        loss.backward()
        results.append((loss.detach(), sample_size, log, gradients(model)))
    (ref_loss, ref_size, ref_log, ref_grads), (loss, size, log, grads) = results
    torch.testing.assert_close(loss, ref_loss, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(log["nll_loss"], ref_log["nll_loss"], rtol=1e-5, atol=1e-5)
    assert size == ref_size and log["ntokens"] == ref_log["ntokens"]
    assert grads.keys() == ref_grads.keys() and len(grads) > 10
    for name in grads:
        torch.testing.assert_close(grads[name], ref_grads[name], rtol=1e-4, atol=1e-6)
    assert log["slf_weight_label_smoothed_nll"] == log["ntokens"]  # weight 1 on every token


def test_several_candidates_train_the_decision_network(tiny_translation) -> None:
    task, build_model, batch = tiny_translation
    criterion = SLFCriterion(
        task, False, 0.1, slf_candidates="label_smoothed_nll,focal,poly1,mse,mae", slf_mode="joint"
    )
    model = build_model()
    loss, sample_size, log = criterion(model, batch)
    assert torch.isfinite(loss) and sample_size == batch["ntokens"]
    loss.backward()
    decision = list(criterion.slf.decision.parameters())
    assert decision and any(p.grad is not None and p.grad.abs().sum() > 0 for p in decision)
    # fairseq's trainer optimises criterion.parameters(): the decision network is among them.
    assert {id(p) for p in decision} <= {id(p) for p in criterion.parameters()}
    weights = [log[f"slf_weight_{name}"] for name in ("label_smoothed_nll", "focal", "poly1", "mse", "mae")]
    assert math.isclose(sum(weights), log["ntokens"], rel_tol=1e-5)
    with metrics.aggregate() as aggregated:
        SLFCriterion.reduce_metrics([log, log])
    values = aggregated.get_smoothed_values()
    assert {"loss", "nll_loss", "ppl", "w_focal", "w_mse"} <= set(values)
    assert math.isclose(
        sum(values[f"w_{n}"] for n in ("label_smoothed_nll", "focal", "poly1", "mse", "mae")), 1.0, abs_tol=5e-3
    )
    assert SLFCriterion.logging_outputs_can_be_summed()


def test_padding_is_ignored(tiny_translation) -> None:
    task, build_model, batch = tiny_translation
    criterion = SLFCriterion(task, False, 0.0, slf_candidates="nll", slf_mode="softmax")
    model = build_model()
    model.eval()
    loss, _, log = criterion(model, batch)
    net_output = model(**batch["net_input"])
    lprobs = model.get_normalized_probs(net_output, log_probs=True)
    target = batch["target"]
    tokens = target.ne(task.target_dictionary.pad())
    expected = -lprobs.gather(2, target.unsqueeze(2)).squeeze(2)[tokens].sum()
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-4)
    assert int(tokens.sum()) == log["ntokens"] < target.numel()


def test_the_default_recipe_takes_its_reference_from_the_valid_split(tiny_translation, held_out_pairs) -> None:
    import warnings

    from slf.layer_gradients import flat_gradient

    task, build_model, batch = tiny_translation
    task.datasets["valid"] = held_out_pairs  # the batch holds pairs 0..15
    criterion = SLFCriterion(task, False, 0.1).train()  # --criterion slf, nothing else
    assert criterion.slf.mode == "align" and not list(criterion.parameters())
    assert criterion.slf.decision.gap_z == DEFAULT_GAP_Z > 0  # the gate's noise allowance
    assert SLFCriterion(task, False, 0.1, slf_gap_z=0.5).slf.decision.gap_z == 0.5
    model = build_model().train()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loss, _, log = criterion(model, batch)
    assert not [w for w in caught if "no held-out data" in str(w.message)]  # a held-out reference, no fallback
    assert criterion.slf.reference_source == "host" and model.training
    assert criterion.slf.learner.batched_gradients  # the candidates' gradients in one vectorised backward
    # The shared input/output embedding is passed over: the compared layer sits before the projection.
    compared = {id(p) for p in criterion.slf.last_layer}
    assert compared and id(model.decoder.embed_tokens.weight) not in compared
    # The cosines are those of each candidate's summed loss with the held-out NLL, at that layer.
    model.eval()
    held_out = criterion._held_out_sample(model)
    reference = flat_gradient(criterion._mean_nll(model, held_out), criterion.slf.last_layer)
    lprobs, target, _ = criterion._lprobs_and_target(model, batch)
    columns, _ = criterion._candidate_columns(lprobs, target, target.ne(criterion.padding_idx))
    expected = [
        float(torch.nn.functional.cosine_similarity(flat_gradient(c.sum(), criterion.slf.last_layer), reference, dim=0))
        for c in columns
    ]
    assert criterion.slf.decision.last_cosines.tolist() == pytest.approx(expected, abs=1e-4)
    loss.backward()  # the training graph survived the held-out pass
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    weights = [log[f"slf_weight_{name}"] / log["ntokens"] for name in criterion.slf.candidate_names]
    assert sum(weights) == pytest.approx(1.0, abs=1e-5) and max(weights) > 0.9


def test_a_settled_hold_is_a_label_smoothing_step_with_its_column_alone(tiny_translation, held_out_pairs) -> None:
    """Once the gap has held the stock loss, a step is label_smoothed_cross_entropy's, and the
    other candidates are not computed; the held-out pass runs without dropout and leaves the
    model in training mode."""
    task, build_model, batch = tiny_translation
    task.datasets["valid"] = held_out_pairs
    criterion = SLFCriterion(task, False, 0.1).train()
    criterion.slf.decision.gap = 1e9  # a training NLL never above the held-out one
    criterion.slf.decision.gap_patience = 1  # and the hold settles after one step
    model = build_model().train()
    modes = []
    model.register_forward_pre_hook(lambda module, args: modes.append(module.training))
    criterion(model, batch)  # the first step weighs every candidate (nothing averaged yet)
    assert modes == [True, False] and model.training  # the training forward, then the held-out one
    assert criterion.slf.holds_stock and criterion.slf.candidate_names[criterion.slf.decision.preferred] == (
        "label_smoothed_nll"
    )
    computed = []
    columns = criterion._candidate_columns
    criterion._candidate_columns = lambda *args: computed.append(columns(*args)[0]) or columns(*args)
    loss, _, log = criterion(model, batch)
    assert [sum(column is not None for column in c) for c in computed] == [1]
    reference = LabelSmoothedCrossEntropyCriterion(task, False, 0.1)
    expected, _, _ = reference(model.eval(), batch)  # dropout is 0 in this model: eval gives the same values
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert log["slf_weight_label_smoothed_nll"] == log["ntokens"]


def test_validation_mode_steps_the_decision_network_on_held_out_batches(tiny_translation, held_out_pairs) -> None:
    from slf.lookahead import directional_derivative

    task, build_model, batch = tiny_translation
    task.datasets["heldout"] = held_out_pairs  # the batch holds pairs 0..15
    criterion = SLFCriterion(
        task, False, 0.1, slf_mode="validation", slf_validation_subset="heldout", slf_validation_max_tokens=256
    ).train()
    model = build_model().train()
    model_before = {name: p.detach().clone() for name, p in model.state_dict().items()}
    decision_before = [p.detach().clone() for p in criterion.slf.decision.parameters()]
    loss, _, log = criterion(model, batch)
    assert all(torch.equal(model_before[name], p) for name, p in model.state_dict().items())
    assert any(not torch.equal(a, b) for a, b in zip(decision_before, criterion.slf.decision.parameters()))
    # fairseq's optimizer also holds v: no gradient may be left for it to apply again.
    assert all(p.grad is None for p in criterion.slf.decision.parameters())
    assert model.training and 0 < log["slf_val_nll"] < 20 and log["slf_val_updates"] == 1
    loss.backward()  # the training graph survived the look-ahead passes
    assert all(p.grad is None for p in criterion.slf.decision.parameters())
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    with metrics.aggregate() as aggregated:
        SLFCriterion.reduce_metrics([log, {**log, "slf_val_nll": 2 * log["slf_val_nll"]}])
    assert aggregated.get_smoothed_values()["slf_val_nll"] == pytest.approx(1.5 * log["slf_val_nll"], abs=1e-3)

    # The central difference against autograd: <grad NLL_val, grad sum_t loss_i> per candidate.
    model.eval()
    held_out = criterion._held_out_sample(model)
    params = dict(model.named_parameters())
    direction = dict(zip(params, torch.autograd.grad(criterion._mean_nll(model, held_out), list(params.values()))))

    def columns():
        lprobs, target, _ = criterion._lprobs_and_target(model, batch)
        return criterion._candidate_columns(lprobs, target, target.ne(criterion.padding_idx))[0]

    estimate = directional_derivative(model, direction, lambda: torch.stack(columns(), dim=1)).sum(dim=0)
    for i, name in enumerate(criterion.slf.candidate_names):
        grads = torch.autograd.grad(columns()[i].sum(), list(params.values()))
        exact = sum((g * direction[n]).sum() for g, n in zip(grads, params))
        assert float(estimate[i]) == pytest.approx(float(exact), rel=5e-3, abs=1e-5), name


def test_validation_mode_names_a_missing_split(tiny_translation) -> None:
    task, build_model, batch = tiny_translation
    criterion = SLFCriterion(task, False, 0.1, slf_mode="validation", slf_validation_subset="nope").train()
    with pytest.raises(ValueError, match="--slf-validation-subset 'nope': no such split"):
        criterion(build_model().train(), batch)


def test_fp16_cast_keeps_the_decision_network_float32(tiny_translation) -> None:
    task, _, _ = tiny_translation
    criterion = SLFCriterion(task, False, 0.1).half()
    assert all(p.dtype == torch.float32 for p in criterion.parameters())


def test_registered_once_and_bad_options_name_the_choices(tiny_translation) -> None:
    task, _, _ = tiny_translation
    assert CRITERION_REGISTRY["slf"] is SLFCriterion
    assert slf_fairseq.SLFCriterion is SLFCriterion
    with pytest.raises(ValueError, match="valid names: .*label_smoothed_nll.*poly1"):
        SLFCriterion(task, False, 0.1, slf_candidates="nll,no_such_loss")
    with pytest.raises(ValueError, match=r"--slf-mode must be one of \['align', 'joint', 'softmax', 'validation'\]"):
        SLFCriterion(task, False, 0.1, slf_mode="lookahead")
    with pytest.raises(ValueError, match=r"--slf-gap-z must be a number >= 0 \(standard errors\), got -1.0"):
        SLFCriterion(task, False, 0.1, slf_gap_z=-1.0)
    # Losses that read penultimate features (center, lgm) cannot weigh a model's output.
    with pytest.raises(ValueError, match=r"unknown \['center'\]"):
        SLFCriterion(task, False, 0.1, slf_candidates="nll,center")
    with pytest.raises(ValueError, match="reduce=False"):
        SLFCriterion(task, False, 0.1)(None, {}, reduce=False)


def test_user_dir_and_import_register_once() -> None:
    from argparse import Namespace

    from fairseq.utils import import_user_module

    from slf.cli import main
    from slf.fairseq_files import fairseq_user_dir

    folder = fairseq_user_dir()
    assert folder.name == "slf_fairseq" and (folder / "criterion.py").is_file()
    import_user_module(Namespace(user_dir=str(folder)))  # already imported as slf_fairseq: not registered again
    import_user_module(Namespace(user_dir=str(folder)))
    assert CRITERION_REGISTRY["slf"] is SLFCriterion
    assert main(["fairseq-user-dir"]) == 0


@pytest.mark.parametrize(
    "name,core,kwargs",
    [
        ("nll", "ce", {}),
        ("focal", "focal", {"gamma": 2.0}),
        ("poly1", "poly1", {"epsilon": 1.0}),
        ("mse", "mse", {}),
        ("mae", "mae", {}),
    ],
)
def test_token_losses_equal_the_core_losses_on_log_probabilities(name, core, kwargs) -> None:
    """Each token loss, from the shared per-token statistics, against the core loss on log-probabilities."""
    from slf import losses
    from slf_fairseq.token_losses import TokenLoss, token_statistics

    logits = torch.randn(40, 500, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    target = torch.randint(0, 500, (40,), generator=torch.Generator().manual_seed(1))
    results = []
    token = TokenLoss(name, epsilon=kwargs.get("epsilon", 0.0), gamma=kwargs.get("gamma", 2.0))
    reference = losses.build(core, task="classification", reduction="none", **kwargs)
    for loss in (lambda lp: token(token_statistics(lp, target, token.needs)), lambda lp: reference(lp, target)):
        z = logits.clone().requires_grad_()
        value = loss(torch.log_softmax(z, dim=1))
        (value * torch.linspace(0.5, 1.5, 40, dtype=torch.float64)).sum().backward()
        results.append((value.detach(), z.grad))
    torch.testing.assert_close(results[0][0], results[1][0])
    torch.testing.assert_close(results[0][1], results[1][1])
