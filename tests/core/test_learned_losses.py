"""The learned losses, AdaLFL (``adalfl``) and L2T-DLF (``l2t_dlf``): each look-ahead hypergradient against
central finite differences, each online update against Adam's first step on those differences, the model
left as it was, the starts (cross-entropy, MSE, the teacher's warm-up), training through ``slf classify``
on real digits, and every refusal. (The generic loss tests of ``test_losses.py`` and
``test_loss_properties.py`` cover their values, reductions, dtypes and bad input.)"""

from __future__ import annotations

import math
from typing import Callable, Iterable, List

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from slf.losses import (
    AdaLFLBinaryLoss,
    AdaLFLClassificationLoss,
    AdaLFLRegressionLoss,
    L2TDLFLoss,
    L2TDLFRegressionLoss,
    l2t_dlf_loss,
    smoothed_error,
)
from slf.train.classify import ClassifyConfig, train_classifier
from slf.train.criteria import check_online_loss_world
from slf.unrolled_step import call_with_parameters, unrolled_sgd_step

LOOKAHEAD_LR = 0.5


def _digits(n: int):
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.data[:n] / 16.0, dtype=torch.float64)
    return x, torch.tensor(digits.target[:n], dtype=torch.long)


def _central_differences(parameters: Iterable[Tensor], value: Callable[[], Tensor], eps: float = 1e-6) -> List[Tensor]:
    """d value / d parameter, one entry at a time."""
    gradients = []
    for parameter in parameters:
        gradient = torch.zeros_like(parameter)
        flat = parameter.data.view(-1)
        for index in range(parameter.numel()):
            original = flat[index].item()
            flat[index] = original + eps
            up = value().item()
            flat[index] = original - eps
            down = value().item()
            flat[index] = original
            gradient.view(-1)[index] = (up - down) / (2 * eps)
        gradients.append(gradient)
    return gradients


def _assert_first_adam_step(before: List[Tensor], after: Iterable[Tensor], gradients: List[Tensor], lr: float) -> None:
    """Adam's first step moves each parameter by lr * g / (|g| + eps), eps = 1e-8."""
    for old, new, gradient in zip(before, after, gradients):
        clear = gradient.abs() > 1e-6
        expected = lr * gradient / (gradient.abs() + 1e-8)
        torch.testing.assert_close((old - new.detach())[clear], expected[clear], rtol=1e-3, atol=1e-8)


# --------------------------------------------------------------------------- AdaLFL


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 10)).double()


def _loss_with_random_network(**options) -> AdaLFLClassificationLoss:
    """A loss whose every layer is non-zero (the last starts at zero), so every parameter has a hypergradient."""
    torch.manual_seed(1)
    loss = AdaLFLClassificationLoss(hidden=4, lookahead_lr=LOOKAHEAD_LR, **options).double()
    with torch.no_grad():
        loss.network.layers[-1].weight.normal_(0.0, 1.0)
    return loss


def _meta_loss(model, loss, x, y):
    stepped = unrolled_sgd_step(model, lambda output: loss(output, y), x, LOOKAHEAD_LR)
    return F.cross_entropy(call_with_parameters(model, stepped, x), y)


def test_lookahead_hypergradient_matches_finite_differences():
    x, y = _digits(24)
    model, loss = _model(), _loss_with_random_network()
    analytic = torch.autograd.grad(_meta_loss(model, loss, x, y), list(loss.network.parameters()))
    numeric = _central_differences(loss.network.parameters(), lambda: _meta_loss(model, loss, x, y))
    for a, n in zip(analytic, numeric):
        assert n.abs().max() > 1e-6  # the step depends on every layer of the loss network
        torch.testing.assert_close(a, n, rtol=1e-5, atol=1e-9)


def test_meta_step_is_one_adam_step_on_the_lookahead_gradient_and_leaves_the_model_alone():
    x, y = _digits(24)
    model, loss = _model(), _loss_with_random_network(meta_lr=1e-3)
    numeric = _central_differences(loss.network.parameters(), lambda: _meta_loss(model, loss, x, y))
    before = [p.detach().clone() for p in loss.network.parameters()]
    model_before = {k: v.clone() for k, v in model.state_dict().items()}
    info = loss.meta_step(model, x, y)
    assert info["meta_loss"] == pytest.approx(_meta_loss(model, loss, x, y).item(), rel=0.05)
    _assert_first_adam_step(before, loss.network.parameters(), numeric, 1e-3)
    for key, value in model.state_dict().items():  # parameters and batch-norm statistics as they were
        torch.testing.assert_close(value, model_before[key], rtol=0, atol=0)
    assert all(p.grad is None for p in model.parameters())
    assert loss.online.steps == 1 and loss.online.losses == [info["meta_loss"]]


def test_every_layer_of_a_fresh_loss_network_learns_and_it_starts_at_cross_entropy():
    x, y = _digits(24)
    model = _model()
    loss = AdaLFLClassificationLoss(hidden=6).double()
    logits = model(x)
    torch.testing.assert_close(loss(logits, y), F.cross_entropy(logits, y))
    before = [p.detach().clone() for p in loss.network.parameters()]
    for _ in range(3):
        loss.meta_step(model, x, y)
    assert all(not torch.equal(b, p) for b, p in zip(before, loss.network.parameters()))
    assert not torch.allclose(loss(logits, y), F.cross_entropy(logits, y))


def test_regression_form_starts_at_the_squared_error_and_learns():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    x = torch.randn(32, 3, dtype=torch.float64)
    y = x.sum(dim=1, keepdim=True).sin()
    loss = AdaLFLRegressionLoss(hidden=6, lookahead_lr=0.1).double()
    torch.testing.assert_close(loss(model(x), y), F.mse_loss(model(x), y))
    first = loss.meta_step(model, x, y)["meta_loss"]
    assert math.isfinite(first) and loss.network.layers[-1].weight.abs().sum() > 0


def test_binary_form_starts_at_bce_from_probabilities_or_logits_and_its_hypergradient_matches():
    """The pairwise form (DAC's ``--loss adalfl``): BCE at the start, either input; its look-ahead
    hypergradient against central differences on real digits (odd against even)."""
    x, y = _digits(24)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 8), nn.Tanh(), nn.Linear(8, 1), nn.Flatten(0)).double()
    target = (y % 2).double()
    logits = model(x)
    for from_logits, input in ((True, logits), (False, torch.sigmoid(logits))):
        loss = AdaLFLBinaryLoss(from_logits=from_logits, hidden=4).double()
        torch.testing.assert_close(loss(input, target), F.binary_cross_entropy_with_logits(logits, target))
    torch.manual_seed(1)
    loss = AdaLFLBinaryLoss(hidden=4, lookahead_lr=LOOKAHEAD_LR).double()
    with torch.no_grad():
        loss.network.layers[-1].weight.normal_(0.0, 1.0)

    def meta_loss():
        stepped = unrolled_sgd_step(model, lambda output: loss(output, target), x, LOOKAHEAD_LR)
        return F.binary_cross_entropy_with_logits(call_with_parameters(model, stepped, x), target)

    analytic = torch.autograd.grad(meta_loss(), list(loss.network.parameters()))
    for a, n in zip(analytic, _central_differences(loss.network.parameters(), meta_loss)):
        assert n.abs().max() > 1e-7
        torch.testing.assert_close(a, n, rtol=1e-5, atol=1e-9)
    with pytest.raises(TypeError, match="from_logits must be True or False"):
        AdaLFLBinaryLoss(from_logits="no")


def test_bad_options_and_several_processes_are_refused():
    with pytest.raises(ValueError, match="adalfl: meta_lr must be a finite number > 0, got 0"):
        AdaLFLClassificationLoss(meta_lr=0)
    with pytest.raises(ValueError, match="adalfl: lookahead_lr must be a finite number > 0"):
        AdaLFLRegressionLoss(lookahead_lr=-1.0)
    with pytest.raises(ValueError, match="not synchronised across processes; run it on one process"):
        check_online_loss_world(AdaLFLClassificationLoss(), "adalfl", world=2)
    assert check_online_loss_world(AdaLFLClassificationLoss(), "adalfl", world=1)
    assert not check_online_loss_world(nn.CrossEntropyLoss(), "ce", world=2)
    with pytest.raises(ValueError, match="has no parameter that requires a gradient"):
        unrolled_sgd_step(nn.ReLU(), lambda output: output.sum(), torch.ones(2), lr=0.1)


def test_slf_classify_trains_adalfl_on_real_digits():
    result = train_classifier(
        ClassifyConfig(data="digits", model="mlp", loss="adalfl", epochs=3, seed=0, num_threads=1), progress=False
    )
    record = result["loss_learning"]
    assert record["meta_steps"] == result["num_steps"] > 0  # one look-ahead update per step
    assert record["meta_loss_last"] < record["meta_loss_first"]  # the model learns under the learned loss
    assert result["final_test_acc"] > 0.8
    assert result["config"]["loss"] == "adalfl"


def test_a_learned_loss_is_refused_where_it_could_not_learn():
    for cfg in (
        ClassifyConfig(data="digits", loss="ce", extra_losses={"adalfl": 0.5}, epochs=1),
        ClassifyConfig(data="digits", loss="mils", mils_primary="adalfl", epochs=1),
    ):
        with pytest.raises(ValueError, match="'adalfl' learns online and trains alone"):
            train_classifier(cfg, progress=False)


def test_a_learned_loss_is_no_slf_candidate_nor_a_mils_loss():
    from slf import StochasticLoss
    from slf.mils import MILS

    for name in ("adalfl", "l2t_dlf"):
        with pytest.raises(ValueError, match=f"candidate '{name}' learns its own parameters online"):
            StochasticLoss(["ce", name])
    with pytest.raises(ValueError, match="MILS: loss 'adalfl' learns online and trains alone"):
        model = nn.Linear(4, 3)
        observation = (torch.zeros(8, 4), torch.zeros(8, dtype=torch.long))
        MILS(model, torch.optim.SGD(model.parameters(), lr=0.1), "ce", ["adalfl"], observation=observation)


# --------------------------------------------------------------------------- L2T-DLF


def _student() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 10)).double()


def _away_from_start(loss: nn.Module) -> nn.Module:
    """Move every parameter of ``loss`` off its start (seeded by the caller), so each has a hypergradient."""
    with torch.no_grad():
        for parameter in loss.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    return loss


def _teacher(**options) -> L2TDLFLoss:
    """A teacher whose every parameter is away from its start, so each has a hypergradient."""
    torch.manual_seed(2)
    return _away_from_start(
        L2TDLFLoss(num_classes=10, pretrain_steps=0, lookahead_lr=LOOKAHEAD_LR, sharpness=5.0, **options).double()
    )


def _teacher_objective(model, loss, x, y, held_x, held_y):
    stepped = unrolled_sgd_step(model, lambda output: loss(output, y), x, LOOKAHEAD_LR)
    return smoothed_error(call_with_parameters(model, stepped, held_x), held_y, loss.sharpness)


def _assert_teacher_update(model: nn.Module, loss: nn.Module, batch: tuple, objective: Callable) -> None:
    """The teacher's hypergradient of ``objective(model, loss, *batch)`` against central differences, and
    its meta step as Adam's first step on it (lr 1e-3), the model untouched."""
    analytic = torch.autograd.grad(objective(model, loss, *batch), list(loss.parameters()))
    numeric = _central_differences(loss.parameters(), lambda: objective(model, loss, *batch))
    for a, n in zip(analytic, numeric):
        assert n.abs().max() > 1e-7
        torch.testing.assert_close(a, n, rtol=1e-4, atol=1e-9)
    before = [p.detach().clone() for p in loss.parameters()]
    model_before = {k: v.clone() for k, v in model.state_dict().items()}
    info = loss.meta_step(model, *batch)
    _assert_first_adam_step(before, loss.parameters(), numeric, 1e-3)
    assert info["meta_loss"] == pytest.approx(objective(model, loss, *batch).item(), rel=0.05)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, model_before[key], rtol=0, atol=0)
    assert loss.online.steps == loss.steps == 1


def test_teacher_hypergradient_matches_finite_differences_and_meta_step_takes_adam_on_it():
    x, y = _digits(40)
    batch = (x[:24], y[:24], x[24:], y[24:])  # train on the first 24 digits, judge on the other 16
    _assert_teacher_update(_student(), _teacher(meta_lr=1e-3), batch, _teacher_objective)


def test_the_student_pretrains_with_cross_entropy_and_the_teacher_waits():
    x, y = _digits(40)
    model = _student()
    loss = L2TDLFLoss(num_classes=10, pretrain_steps=2).double()
    start = {k: v.clone() for k, v in loss.state_dict().items()}
    logits = model(x)
    for _ in range(2):
        torch.testing.assert_close(loss(logits, y), F.cross_entropy(logits, y))
        assert loss.meta_step(model, x[:24], y[:24], x[24:], y[24:]) == {}
    assert all(torch.equal(v, start[k]) for k, v in loss.state_dict().items())
    assert loss.teaching and loss.steps == 2 and loss.online.steps == 0
    signal = loss.teacher_signal(logits, y)
    expected = l2t_dlf_loss(logits, y, loss.weight, loss.bias, signal, loss.dynamic_weight)
    torch.testing.assert_close(loss(logits, y), expected)  # -sigmoid(log p_y) at the start: W = I
    torch.testing.assert_close(expected, -torch.sigmoid(F.log_softmax(logits, 1).gather(1, y[:, None])).mean())
    assert "meta_loss" in loss.meta_step(model, x[:24], y[:24], x[24:], y[24:])


def test_every_parameter_of_a_fresh_teacher_learns_and_an_interval_spaces_its_updates():
    """From its start (theta random, W_2 at zero) the state's reading and the dynamic coefficients move too;
    with interval 2 the teacher updates on every other step, its step count advancing every call."""
    x, y = _digits(40)
    torch.manual_seed(0)
    model, loss = _student(), L2TDLFLoss(num_classes=10, pretrain_steps=1, interval=2, lookahead_lr=0.5).double()
    start = {name: p.detach().clone() for name, p in loss.named_parameters()}
    updated = [bool(loss.meta_step(model, x[:24], y[:24], x[24:], y[24:])) for _ in range(7)]
    assert updated == [False, True, False, True, False, True, False] and loss.steps == 7 and loss.online.steps == 3
    assert all(not torch.equal(start[name], p) for name, p in loss.named_parameters()), [
        name for name, p in loss.named_parameters() if torch.equal(start[name], p)
    ]


def test_diagonal_coefficients_are_the_full_form_with_w_its_diagonal_plus_one_shared_value():
    """W = diag(w) + (u / C) 1 1^T, and W_2 alike: the full form's loss, and the same hypergradient check."""
    x, y = _digits(40)
    diagonal = _teacher(coefficients="diagonal")
    assert diagonal.weight.shape == diagonal.dynamic_weight.shape == (10,) and diagonal.shared_weight.shape == (2,)
    full = L2TDLFLoss(num_classes=10, pretrain_steps=0).double()
    with torch.no_grad():
        full.weight.copy_(torch.diag(diagonal.weight) + diagonal.shared_weight[0] / 10)
        full.dynamic_weight.copy_(torch.diag(diagonal.dynamic_weight) + diagonal.shared_weight[1] / 10)
        full.bias.copy_(diagonal.bias)
        full.state_weight.copy_(diagonal.state_weight)
        full.state_bias.copy_(diagonal.state_bias)
    logits = _student()(x)
    torch.testing.assert_close(diagonal(logits, y, reduction="none"), full(logits, y, reduction="none"))
    batch = (x[:24], y[:24], x[24:], y[24:])
    _assert_teacher_update(_student(), diagonal, batch, _teacher_objective)


def test_bad_options_and_a_missing_held_out_batch_are_refused():
    with pytest.raises(ValueError, match="l2t_dlf: num_classes must be an integer >= 2, got 1"):
        L2TDLFLoss(num_classes=1)
    with pytest.raises(ValueError, match="l2t_dlf: pretrain_steps must be an integer >= 0"):
        L2TDLFLoss(num_classes=3, pretrain_steps=-1)
    with pytest.raises(ValueError, match="l2t_dlf: interval must be an integer >= 1, got 0"):
        L2TDLFLoss(num_classes=3, interval=0)
    with pytest.raises(ValueError, match="l2t_dlf: sharpness must be a finite number > 0"):
        L2TDLFLoss(num_classes=3, sharpness=0.0)
    with pytest.raises(ValueError, match=r"coefficients must be one of \['full', 'diagonal'\], got 'low_rank'"):
        L2TDLFLoss(num_classes=3, coefficients="low_rank")
    with pytest.raises(ValueError, match=r"built for num_classes=3, got logits of shape \(2, 4\)"):
        L2TDLFLoss(num_classes=3)(torch.zeros(2, 4), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="learns on held-out data; pass held_inputs and held_target"):
        L2TDLFLoss(num_classes=3).meta_step(nn.Linear(2, 3), torch.zeros(4, 2), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="needs a validation split"):
        train_classifier(ClassifyConfig(data="digits", loss="l2t_dlf", epochs=1, val_size=0), progress=False)


def test_slf_classify_teaches_with_l2t_dlf_on_real_digits():
    result = train_classifier(
        ClassifyConfig(
            data="digits", loss="l2t_dlf", loss_options={"pretrain_steps": 10}, epochs=3, seed=0, num_threads=1
        ),
        progress=False,
    )
    record = result["loss_learning"]
    assert record["meta_steps"] == result["num_steps"] - 10 > 0  # the teacher learns once the student pretrained
    assert 0.0 <= record["meta_loss_last"] < 1.0
    assert result["final_test_acc"] > 0.7


# --------------------------------------------------------------------------- L2T-DLF, regression


def _diabetes(n: int):
    """The first n patients of scikit-learn's diabetes table, features and target standardised."""
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    x, y = torch.tensor(x[:n]), torch.tensor(y[:n])
    return (x - x.mean(0)) / x.std(0), (y - y.mean()) / y.std()


def _regressor() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(10, 8), nn.Tanh(), nn.Linear(8, 1), nn.Flatten(0)).double()


def _regression_teacher(**options) -> L2TDLFRegressionLoss:
    """A regression teacher whose every parameter is away from its start, so each has a hypergradient."""
    torch.manual_seed(3)
    return _away_from_start(L2TDLFRegressionLoss(pretrain_steps=0, lookahead_lr=LOOKAHEAD_LR, **options).double())


def _regression_objective(model, loss, x, y, held_x, held_y):
    stepped = unrolled_sgd_step(model, lambda output: loss(output, y), x, LOOKAHEAD_LR)
    return (call_with_parameters(model, stepped, held_x) - held_y).pow(2).mean()


def test_regression_teacher_hypergradient_matches_finite_differences_and_meta_step_takes_adam_on_it():
    x, y = _diabetes(60)
    batch = (x[:40], y[:40], x[40:], y[40:])  # train on 40 patients, judge on the other 20
    _assert_teacher_update(_regressor(), _regression_teacher(meta_lr=1e-3), batch, _regression_objective)


def test_the_regression_student_pretrains_with_mse_then_starts_at_the_bounded_squared_error():
    x, y = _diabetes(60)
    model = _regressor()
    loss = L2TDLFRegressionLoss(pretrain_steps=2).double()
    prediction = model(x)
    for _ in range(2):
        torch.testing.assert_close(loss(prediction, y), F.mse_loss(prediction, y))
        assert loss.meta_step(model, x[:40], y[:40], x[40:], y[40:]) == {}
    assert loss.teaching and loss.online.steps == 0
    residual = prediction - y
    per_sample = loss(prediction, y, reduction="none")
    torch.testing.assert_close(per_sample, 0.5 - torch.sigmoid(-residual.pow(2)))  # w = (1, 0), b = 0
    small = residual.abs() < 0.1
    assert small.any()
    torch.testing.assert_close(per_sample[small], residual[small].pow(2) / 4, rtol=0.01, atol=1e-6)
    assert (per_sample < 0.5).all()  # bounded where the residual is large
    assert "meta_loss" in loss.meta_step(model, x[:40], y[:40], x[40:], y[40:])
