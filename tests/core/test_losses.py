"""Tests of the core loss library ``slf.losses``.

Generic properties are parametrised over every registered (task, name) pair at once
(in the manner of mmdet's ``tests/test_models/test_losses/test_loss.py``): gradients,
extreme inputs, minimum at a perfect prediction, reductions, empty batches, dtypes and
agreement of each module with its functional form. Loss-specific known values and
input errors follow.
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
from slf.losses._utils import log1mexp
from slf.losses.regression import adaptive_robust as adaptive_module

C, D, N = 5, 6, 7  # classes, feature dim (large_margin_softmax), batch size
# lambda_base=0: lambda stays 0, the full margin acts (the annealing is tested separately).
LMS_KW = dict(in_features=D, num_classes=C, margin=2, lambda_base=0.0)
# Losses over penultimate features (N, D) that own per-class parameters (C, D).
# Per (task, name): L2T-DLF sized by the number of classes (its C x C coefficients), and its teacher's loss
# from the first step.
TASK_KW = {
    ("classification", "l2t_dlf"): {"num_classes": C, "pretrain_steps": 0},
    ("regression", "l2t_dlf"): {"pretrain_steps": 0},
}
FEATURE_KW = {
    "large_margin_softmax": LMS_KW,
    "center": dict(in_features=D, num_classes=C),
    "lgm": dict(in_features=D, num_classes=C),
}
QUADRATIC_FEATURE_LOSSES = {"center", "lgm"}  # values grow as ||f||^2
KINKED = {"hinge", "categorical_hinge", "multi_margin"}
DTYPES = [torch.float32, torch.float64]

pytestmark = pytest.mark.usefixtures("single_thread")


EXPECTED = {
    "classification": {
        "ce",
        "mse",
        "mae",
        "hinge",
        "categorical_hinge",
        "cosine",
        "bce",
        "smooth01",
        "large_margin_softmax",
        "label_smoothing",
        "multi_margin",
        "focal",
        "center",
        "lgm",
        "poly1",
        "bi_tempered",
        "gce",
        "sce",
        "adalfl",
        "l2t_dlf",
    },
    "binary": {
        "bce",
        "mse",
        "mae",
        "hinge",
        "cosine",
        "bi_tempered",
        "focal",
        "l4",
        "smooth01",
        "adaptive_robust",
        "self_paced",
    },
    "regression": {"mse", "mae", "huber", "log_cosh", "robust", "adaptive_robust", "adalfl", "l2t_dlf"},
}


def _cases():
    """The generic cases of the prediction tasks (the advanced tasks have their own test files)."""
    cases = []
    for task in L.SLF_TASKS:
        for name in L.available(task):
            if task == "binary":
                for from_logits in (True, False):
                    tag = "logits" if from_logits else "probs"
                    cases.append(pytest.param(task, name, {"from_logits": from_logits}, id=f"binary-{name}-{tag}"))
            else:
                kwargs = dict(FEATURE_KW.get(name, TASK_KW.get((task, name), {})))
                cases.append(pytest.param(task, name, kwargs, id=f"{task}-{name}"))
    return cases


CASES = _cases()
CLASSIFICATION_CASES = [c for c in CASES if c.values[0] == "classification"]
BINARY_CASES = [c for c in CASES if c.values[0] == "binary"]
REGRESSION_CASES = [c for c in CASES if c.values[0] == "regression"]
LOGIT_CASES = CLASSIFICATION_CASES + [c for c in BINARY_CASES if c.values[2]["from_logits"]]


def make_loss(task, name, kwargs, dtype=torch.float64, **extra):
    loss = L.build(name, task=task, **kwargs, **extra)
    return loss.to(dtype)  # parameters (adaptive_robust, large_margin_softmax) follow the inputs


def make_inputs(task, name, kwargs, n=N, dtype=torch.float64, seed=0):
    """Random inputs of the task's shapes; for hinge losses, bounded away from the kinks."""
    g = torch.Generator().manual_seed(seed)
    if task == "classification":
        target = torch.randint(0, C, (n,), generator=g)
        if name in FEATURE_KW:
            return torch.randn(n, D, generator=g, dtype=dtype), target
        if name in KINKED and n > 0:
            # distinct logits 0.3 apart in {-0.55, ..., 0.65}: |1 - s z| >= 0.35,
            # |1 + z_c - z_y| >= 0.1 and no ties, so no kink within gradcheck's eps
            perms = torch.stack([torch.randperm(C, generator=g) for _ in range(n)])
            return 0.3 * perms.to(dtype) - 0.55, target
        return 2.0 * torch.randn(n, C, generator=g, dtype=dtype), target
    if task == "binary":
        target = torch.randint(0, 2, (n, 3), generator=g).to(dtype)
        if kwargs["from_logits"]:
            x = 2.0 * torch.randn(n, 3, generator=g, dtype=dtype)
            x = torch.where((x.abs() - 1.0).abs() < 0.1, 0.5 * x, x)  # hinge kink at |x| = 1
        else:
            x = 0.05 + 0.9 * torch.rand(n, 3, generator=g, dtype=dtype)
        return x, target
    return torch.randn(n, 3, generator=g, dtype=dtype), torch.randn(n, 3, generator=g, dtype=dtype)


def call_functional(task, name, loss, input, target, reduction):
    """The functional form of each registered loss, with the module's settings."""
    functional = {
        ("classification", "ce"): L.cross_entropy_loss,
        ("classification", "mse"): L.mse_classification_loss,
        ("classification", "mae"): L.mae_classification_loss,
        ("classification", "hinge"): L.hinge_classification_loss,
        ("classification", "categorical_hinge"): L.categorical_hinge_loss,
        ("classification", "cosine"): L.cosine_classification_loss,
        ("classification", "bce"): L.bce_classification_loss,
        ("classification", "smooth01"): L.smooth01_loss,
        ("classification", "label_smoothing"): L.label_smoothing_loss,
        ("classification", "multi_margin"): L.multi_margin_loss,
        ("binary", "bce"): L.bce_binary_loss,
        ("binary", "mse"): L.mse_binary_loss,
        ("binary", "mae"): L.mae_binary_loss,
        ("binary", "hinge"): L.hinge_binary_loss,
        ("binary", "cosine"): L.cosine_binary_loss,
        ("binary", "l4"): L.l4_binary_loss,
        # Outside training (no input needing a gradient) self-paced learning keeps every sample: its base, bce.
        ("binary", "self_paced"): L.bce_binary_loss,
        ("regression", "mse"): L.mse_regression_loss,
        ("regression", "mae"): L.mae_regression_loss,
        ("regression", "huber"): L.huber_loss,
        ("regression", "log_cosh"): L.log_cosh_loss,
        ("regression", "robust"): L.robust_loss,
    }
    if name == "large_margin_softmax":
        return L.large_margin_softmax_loss(
            input, target, loss.weight, margin=loss.margin, lam=loss.current_lambda(), reduction=reduction
        )
    if name == "focal" and task == "classification":
        return L.focal_loss(input, target, gamma=loss.gamma, alpha=loss.alpha, reduction=reduction)
    if name == "focal":
        return L.sigmoid_focal_loss(
            input, target, gamma=loss.gamma, alpha=loss.alpha, from_logits=loss.from_logits, reduction=reduction
        )
    if name == "bi_tempered":
        tempered = dict(label_smoothing=loss.label_smoothing, num_iters=loss.num_iters, reduction=reduction)
        if task == "binary":
            return L.bi_tempered_binary_loss(input, target, loss.t1, loss.t2, from_logits=loss.from_logits, **tempered)
        return L.bi_tempered_logistic_loss(input, target, loss.t1, loss.t2, **tempered)
    if name == "poly1":
        return L.poly1_loss(input, target, epsilon=loss.epsilon, reduction=reduction)
    if name == "gce":
        return L.generalized_cross_entropy_loss(input, target, q=loss.q, k=loss.k, reduction=reduction)
    if name == "sce":
        return L.symmetric_cross_entropy_loss(
            input, target, alpha=loss.alpha, beta=loss.beta, A=loss.A, reduction=reduction
        )
    if name == "center":
        return L.center_loss(input, target, loss.centers, reduction=reduction)
    if name == "lgm":
        return L.lgm_loss(input, target, loss.means, alpha=loss.alpha, lambda_lkd=loss.lambda_lkd, reduction=reduction)
    if name == "smooth01" and task == "binary":
        return L.smooth01_binary_loss(
            input, target, from_logits=loss.from_logits, sharpness=loss.sharpness, reduction=reduction
        )
    if name == "adaptive_robust" and task == "binary":
        return L.adaptive_robust_binary_loss(
            input, target, loss.alpha(), loss.scale(), from_logits=loss.from_logits, reduction=reduction
        )
    if name == "adaptive_robust" and task == "classification":
        return L.adaptive_robust_classification_loss(input, target, loss.alpha(), loss.scale(), reduction=reduction)
    if name == "l2t_dlf" and task == "regression":  # MSE while the student pretrains, then the teacher's loss
        if not loss.teaching:
            return L.mse_regression_loss(input, target, reduction=reduction)
        signal = loss.teacher_signal(input, target)
        return L.l2t_dlf_regression_loss(
            input, target, loss.weight, loss.bias, signal, loss.dynamic_weight, reduction=reduction
        )
    if name == "l2t_dlf":  # cross-entropy while the student pretrains, then the teacher's loss
        if not loss.teaching:
            return L.cross_entropy_loss(input, target, reduction=reduction)
        signal = loss.teacher_signal(input, target)
        return L.l2t_dlf_loss(input, target, loss.weight, loss.bias, signal, loss.dynamic_weight, reduction=reduction)
    if name == "adalfl":
        return L.adalfl_loss(
            input, target, loss.network, task=task, reduction=reduction, from_logits=getattr(loss, "from_logits", True)
        )
    if name == "adaptive_robust":
        return L.adaptive_robust_loss(input, target, loss.alpha(), loss.scale(), reduction=reduction)
    if task == "binary":
        return functional[(task, name)](input, target, from_logits=loss.from_logits, reduction=reduction)
    return functional[(task, name)](input, target, reduction=reduction)


# --------------------------------------------------------------------------- registry


def test_available_lists_every_expected_loss():
    for task, names in EXPECTED.items():
        assert names <= set(L.available(task)), (task, names - set(L.available(task)))
    assert L.tasks_of("mse") == ["classification", "binary", "regression"]
    assert L.tasks_of("categorical_hinge") == ["classification"]


def test_registered_classes_declare_their_task_and_name():
    from slf.losses.base import TASKS

    for task in TASKS:
        for name in L.available(task):
            cls = L.resolve(name, task=task)
            assert issubclass(cls, L.BaseLoss), (task, name)
            assert cls.task == task and cls.registry_name == name, (task, name, cls)
    assert len({L.resolve("mse", task=t) for t in L.SLF_TASKS}) == 3  # one class per (task, name)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="unknown loss 'nope'") as info:
        L.build("nope", task="classification")
    for name in EXPECTED["classification"]:
        assert repr(name) in str(info.value)
    with pytest.raises(ValueError, match="valid names") as info:
        L.build("nope")
    assert "'adaptive_robust'" in str(info.value) and "'ce'" in str(info.value)
    with pytest.raises(ValueError, match="'log_cosh'"):  # exists, but for regression only
        L.resolve("log_cosh", task="classification")


def test_unknown_task_lists_tasks():
    for call in (lambda: L.build("mse", task="ranking"), lambda: L.available("ranking"), lambda: L.resolve("ce", "x")):
        with pytest.raises(ValueError, match="unknown task") as info:
            call()
        from slf.losses.base import TASKS

    for task in TASKS:
        assert repr(task) in str(info.value)


def test_build_resolves_tasks_and_passes_arguments():
    assert isinstance(L.build("mse"), L.MSEClassificationLoss)  # classification first
    assert isinstance(L.build("log_cosh"), L.LogCoshLoss)  # then regression
    assert isinstance(L.build("mse", task="binary", from_logits=False), L.MSEBinaryLoss)
    loss = L.build("huber", task="regression", delta=0.5, reduction="sum")
    assert (loss.delta, loss.reduction) == (0.5, "sum")
    assert L.build("ce").name == "ce" and L.build("mse", task="regression").name == "mse"
    assert L.resolve("large_margin_softmax").input_kind == "features"
    assert L.resolve("ce").input_kind == "logits"


# --------------------------------------------------------------------------- generic properties


@pytest.mark.parametrize("task,name,kwargs", CASES)
def test_gradcheck(task, name, kwargs):
    # Self-paced learning keeps a share of the batch that grows a step at each call: held still here.
    paced = {"growth_steps": 10**9} if name == "self_paced" else {}
    loss = make_loss(task, name, kwargs, reduction="none", **paced)
    input, target = make_inputs(task, name, kwargs, n=4)
    input.requires_grad_(True)
    assert gradcheck(lambda x: loss(x, target), (input,), eps=1e-6, atol=1e-6, rtol=1e-4)


# 0.5 ||f - c||^2 of features ~1e30 is ~1e60, beyond float32's range by definition:
# the quadratic feature losses are checked at 1e30 in float64 only.
EXTREME_CASES = [
    pytest.param(*case.values, dtype, scale, id=f"{case.id}-{str(dtype)[6:]}-{scale:g}")
    for case in LOGIT_CASES
    for dtype in DTYPES
    for scale in (1e4, 1e30)
    if not (case.values[1] in QUADRATIC_FEATURE_LOSSES and dtype == torch.float32 and scale > 1e10)
]


@pytest.mark.parametrize("task,name,kwargs,dtype,scale", EXTREME_CASES)
def test_extreme_logits_give_finite_values_and_gradients(task, name, kwargs, dtype, scale):
    loss = make_loss(task, name, kwargs, dtype=dtype, reduction="none")
    g = torch.Generator().manual_seed(1)
    if task == "binary":
        target = torch.randint(0, 2, (12, 3), generator=g).to(dtype)
        signs = 2.0 * target - 1.0
        # random, confidently right, confidently wrong, exact ties at zero
        x = torch.cat([torch.randn(6, 3, generator=g, dtype=dtype), signs[6:9], -signs[9:12]]) * scale
        x[0] = 0.0
    elif name in FEATURE_KW:
        weight = next(loss.parameters()).detach()  # class weights, centers or means (C, D)
        target = torch.randint(0, C, (12,), generator=g)
        x = scale * torch.randn(12, D, generator=g, dtype=dtype)
        x[0] = scale * weight[target[0]]  # theta = 0
        x[1] = -scale * weight[target[1]]  # theta = pi
    else:
        target = torch.randint(0, C, (12,), generator=g)
        one_hot = F.one_hot(target, C).to(dtype)
        x = (
            torch.cat(
                [
                    torch.randn(4, C, generator=g, dtype=dtype),
                    (2.0 * one_hot - 1.0)[4:6],  # confidently right
                    (1.0 - 2.0 * one_hot)[6:8],  # confidently wrong
                    one_hot[8:10].roll(1, dims=1),  # wrong class at +scale, the rest at 0
                    torch.ones(2, C, dtype=dtype),  # all tied
                ]
            )
            * scale
        )
    x.requires_grad_(True)
    values = loss(x, target)
    assert values.dtype == dtype and values.shape == (12,)
    assert torch.isfinite(values).all(), values
    values.sum().backward()
    assert torch.isfinite(x.grad).all(), x.grad
    for parameter in loss.parameters():
        assert torch.isfinite(parameter.grad).all()


def _minimum_value(name, loss):
    if name == "cosine":
        return -1.0
    if name == "l2t_dlf":  # W = I, b = 0: -sigmoid(log p_y), at p_y = 1
        return -0.5
    if name == "adaptive_robust":  # a negative log-likelihood: at a zero residual, log c + log Z(alpha)
        from slf.losses.regression.adaptive_robust import robust_log_partition

        with torch.no_grad():
            return float((loss.scale().log() + robust_log_partition(loss.alpha())).mean())
    return 0.0


@pytest.mark.parametrize("task,name,kwargs", CLASSIFICATION_CASES)
def test_classification_minimum_at_perfect_prediction(task, name, kwargs):
    loss = make_loss(task, name, kwargs, reduction="none")
    n = 64
    g = torch.Generator().manual_seed(2)
    target = torch.randint(0, C, (n,), generator=g)
    one_hot = F.one_hot(target, C).double()
    if name in FEATURE_KW:
        with torch.no_grad():  # class weights, centers or means: 20 e_c, far apart
            next(loss.parameters()).copy_(20.0 * torch.eye(C, D, dtype=torch.float64))
        perfect = 20.0 * torch.eye(C, D, dtype=torch.float64)[target]
        randoms = [2.0 * torch.randn(n, D, generator=g, dtype=torch.float64) for _ in range(5)]
    else:
        perfect = 20.0 * (2.0 * one_hot - 1.0)  # +20 for the target, -20 elsewhere
        if name == "bi_tempered":  # t2 > 1: a polynomial tail, the minimum 0 is reached only in the limit
            perfect = 1e3 * perfect
        randoms = [s * torch.randn(n, C, generator=g, dtype=torch.float64) for s in (0.5, 1.0, 2.0, 4.0, 8.0)]
    if name == "label_smoothing":
        smoothed = (1.0 - loss.epsilon) * one_hot + loss.epsilon / C
        perfect = smoothed.log()  # the minimiser: softmax(perfect) == smoothed target
        minimum = -(smoothed * smoothed.log()).sum(dim=1)  # entropy of the smoothed target
        torch.testing.assert_close(loss(perfect, target), minimum)
        for delta in (1e-2, -1e-2):  # any nudge of the target logit costs
            assert (loss(perfect + delta * one_hot, target) > minimum).all()
    else:
        best = loss(perfect, target)
        torch.testing.assert_close(best, torch.full_like(best, _minimum_value(name, loss)), atol=1e-6, rtol=0)
    best = loss(perfect, target)
    for logits in randoms:
        assert (best <= loss(logits, target) + 1e-12).all()


@pytest.mark.parametrize("task,name,kwargs", BINARY_CASES)
def test_binary_minimum_at_perfect_prediction(task, name, kwargs):
    loss = make_loss(task, name, kwargs, reduction="none")
    input, target = make_inputs(task, name, kwargs, n=32)
    perfect = 20.0 * (2.0 * target - 1.0) if kwargs["from_logits"] else target.clone()
    if name == "bi_tempered" and kwargs["from_logits"]:  # t2 > 1: a polynomial tail, 0 only in the limit
        perfect = 1e3 * perfect
    best = loss(perfect, target)
    minimum = -1.0 if name == "cosine" else 0.0
    if name == "adaptive_robust":  # a negative log-likelihood: its floor is that of a zero residual
        zero = torch.zeros(1, dtype=target.dtype)
        minimum = float(L.adaptive_robust_loss(zero, zero, loss.alpha(), loss.scale()))
    torch.testing.assert_close(best, torch.full_like(best, minimum), atol=1e-6, rtol=0)
    other = loss(input, target)
    assert (best <= other).all() and best.sum() < other.sum()


@pytest.mark.parametrize("task,name,kwargs", REGRESSION_CASES)
def test_regression_minimum_at_perfect_prediction(task, name, kwargs):
    loss = make_loss(task, name, kwargs, reduction="none")
    pred, target = make_inputs(task, name, kwargs, n=16)
    best = loss(target.clone(), target)
    if name == "adaptive_robust":  # an NLL: smallest at zero residual, but not zero
        assert (best < loss(target + 0.3, target)).all() and (best < loss(target - 0.3, target)).all()
    else:
        assert torch.equal(best, torch.zeros(16, dtype=torch.float64))
        assert (loss(pred, target) > 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("task,name,kwargs", CASES)
def test_reductions_dtypes_and_functional_form(task, name, kwargs, dtype):
    input, target = make_inputs(task, name, kwargs, dtype=dtype)
    loss = make_loss(task, name, kwargs, dtype=dtype, reduction="none")
    per_sample = loss(input, target)
    assert per_sample.shape == (N,) and per_sample.dtype == dtype
    assert torch.isfinite(per_sample).all()
    assert per_sample.std() > 0  # the values depend on the sample
    torch.testing.assert_close(loss(input, target, reduction="mean"), per_sample.mean())
    torch.testing.assert_close(loss(input, target, reduction="sum"), per_sample.sum())
    for reduction in ("none", "mean", "sum"):
        module = make_loss(task, name, kwargs, dtype=dtype, reduction=reduction)
        if any(True for _ in loss.parameters()):
            module.load_state_dict(loss.state_dict())
        expected = module(input, target)
        assert expected.shape == ((N,) if reduction == "none" else ())
        torch.testing.assert_close(call_functional(task, name, module, input, target, reduction), expected)


@pytest.mark.parametrize("task,name,kwargs", CASES)
def test_empty_batch(task, name, kwargs):
    input, target = make_inputs(task, name, kwargs, n=0)
    input.requires_grad_(True)
    loss = make_loss(task, name, kwargs)
    assert loss(input, target, reduction="none").shape == (0,)
    for reduction in ("mean", "sum"):
        value = loss(input, target, reduction=reduction)
        assert value.shape == () and value.item() == 0.0
    loss(input, target).backward()
    assert input.grad.shape == input.shape


@pytest.mark.parametrize("task,name,kwargs", CASES)
def test_bad_reduction(task, name, kwargs):
    with pytest.raises(ValueError, match=r"reduction must be one of \('none', 'mean', 'sum'\), got 'avg'"):
        make_loss(task, name, kwargs, reduction="avg")
    input, target = make_inputs(task, name, kwargs)
    with pytest.raises(ValueError, match="reduction must be one of"):
        make_loss(task, name, kwargs)(input, target, reduction="avg")
    with pytest.raises(ValueError, match="reduction must be one of"):
        call_functional(task, name, make_loss(task, name, kwargs), input, target, "avg")


# --------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("task,name,kwargs", CLASSIFICATION_CASES)
def test_classification_input_errors(task, name, kwargs):
    loss = make_loss(task, name, kwargs)
    input, target = make_inputs(task, name, kwargs)
    with pytest.raises(TypeError, match="target must be an integer tensor of class indices"):
        loss(input, target.double())
    with pytest.raises(TypeError, match="must be a floating point tensor"):
        loss(input.long(), target)
    with pytest.raises(ValueError, match=r"must have shape \(N, "):
        loss(input[0], target)
    with pytest.raises(ValueError, match=rf"target must have shape \({N},\)"):
        loss(input, target[:-1])
    with pytest.raises(ValueError, match=rf"target must have shape \({N},\)"):
        loss(input, target.unsqueeze(1))
    for bad in (C, -1):
        wrong = target.clone()
        wrong[3] = bad
        with pytest.raises(ValueError, match=rf"class indices outside \[0, {C}\)"):
            loss(input, wrong)
    if name in FEATURE_KW:
        with pytest.raises(ValueError, match=rf"features must have shape \(N, {D}\)"):
            loss(torch.randn(N, D + 1, dtype=torch.float64), target)


def test_margin_losses_need_two_classes():
    for loss in (L.CategoricalHingeLoss(), L.Smooth01Loss()):
        with pytest.raises(ValueError, match="at least 2 classes"):
            loss(torch.zeros(3, 1), torch.zeros(3, dtype=torch.long))


@pytest.mark.parametrize("task,name,kwargs", BINARY_CASES)
def test_binary_input_errors(task, name, kwargs):
    loss = make_loss(task, name, kwargs)
    input, target = make_inputs(task, name, kwargs)
    with pytest.raises(ValueError, match=r"binary targets must lie in \[0, 1\]"):
        loss(input, 2.0 * target - 1.0)  # -1/+1 labels
    with pytest.raises(TypeError, match="target must be a floating point tensor"):
        loss(input, target.long())
    with pytest.raises(ValueError, match="must have the same shape"):
        loss(input, target[:, :2])
    if kwargs["from_logits"]:
        loss(input * 10.0, target)  # any real number is a logit
    else:
        for bad in (input + 1.0, input - 1.0):
            probabilities = r"from_logits=False the prediction must hold probabilities in \[0, 1\]"
            with pytest.raises(ValueError, match=probabilities):
                loss(bad, target)
        with pytest.raises(ValueError, match="probabilities"):
            call_functional(task, name, loss, input * 3.0, target, "mean")
    with pytest.raises(TypeError, match="from_logits must be True or False"):
        make_loss(task, name, {"from_logits": "yes"})


@pytest.mark.parametrize("task,name,kwargs", REGRESSION_CASES)
def test_regression_input_errors(task, name, kwargs):
    loss = make_loss(task, name, kwargs)
    pred, target = make_inputs(task, name, kwargs)
    with pytest.raises(ValueError, match=r"must have the same shape \(N, \*\), got \(7, 3\) and \(7, 2\)"):
        loss(pred, target[:, :2])
    with pytest.raises(ValueError, match="same shape"):
        loss(pred[0, 0], target[0, 0])  # 0-d: no batch dimension
    with pytest.raises(TypeError, match="prediction must be a floating point tensor"):
        loss(pred.long(), target)
    with pytest.raises(TypeError, match="target must be a floating point tensor"):
        loss(pred, target.long())


@pytest.mark.parametrize(
    "name,task,kwargs,match",
    [
        ("huber", "regression", {"delta": 0.0}, "delta must be a finite number > 0"),
        ("robust", "regression", {"scale": -1.0}, "scale must be a finite number > 0"),
        ("robust", "regression", {"alpha": float("nan")}, "alpha must be a number"),
        ("smooth01", "classification", {"sharpness": 0}, "sharpness must be a finite number > 0"),
        ("label_smoothing", "classification", {"epsilon": 1.5}, r"epsilon must be a number in \[0, 1\]"),
        ("large_margin_softmax", "classification", dict(LMS_KW, margin=0), "margin must be an integer >= 1"),
        ("large_margin_softmax", "classification", dict(LMS_KW, gamma=-1.0), "gamma must be a finite number >= 0"),
        ("multi_margin", "classification", {"margin": -1.0}, "margin must be a finite number >= 0"),
        ("focal", "classification", {"gamma": -0.5}, "gamma must be a finite number >= 0"),
        ("focal", "classification", {"alpha": [1.0, -1.0]}, "alpha must be None, a number >= 0 or a 1-D list"),
        ("focal", "classification", {"alpha": "x"}, "alpha must be None, a number or a list"),
        ("center", "classification", {"in_features": 0, "num_classes": C}, "in_features must be a positive integer"),
        ("lgm", "classification", dict(FEATURE_KW["lgm"], alpha=-0.1), "alpha must be a finite number >= 0"),
        ("lgm", "classification", dict(FEATURE_KW["lgm"], lambda_lkd=float("inf")), "lambda_lkd must be a finite"),
        ("adaptive_robust", "regression", {"alpha_lo": -0.5}, "0 <= alpha_lo < alpha_hi <= 2"),
        ("adaptive_robust", "regression", {"alpha_hi": 2.5}, "0 <= alpha_lo < alpha_hi <= 2"),
        ("adaptive_robust", "regression", {"alpha_init": 1.999}, "alpha_init must lie strictly inside"),
        ("adaptive_robust", "regression", {"scale_init": 0.0}, "scale_init must be finite and > scale_lo"),
        ("adaptive_robust", "regression", {"num_dims": 0}, "num_dims must be a positive integer"),
    ],
)
def test_bad_constructor_arguments(name, task, kwargs, match):
    with pytest.raises(ValueError, match=match):
        L.build(name, task=task, **kwargs)


# --------------------------------------------------------------------------- known values: classification


def _rand_classification(n=9, seed=3):
    g = torch.Generator().manual_seed(seed)
    return 3.0 * torch.randn(n, C, generator=g, dtype=torch.float64), torch.randint(0, C, (n,), generator=g)


def test_ce_matches_torch():
    logits, target = _rand_classification()
    torch.testing.assert_close(
        L.CrossEntropyLoss(reduction="none")(logits, target), F.cross_entropy(logits, target, reduction="none")
    )
    torch.testing.assert_close(L.cross_entropy_loss(logits, target.int()), F.cross_entropy(logits, target))


@pytest.mark.parametrize("epsilon", [0.0, 0.1, 0.35])
def test_label_smoothing_matches_torch(epsilon):
    logits, target = _rand_classification()
    expected = F.cross_entropy(logits, target, label_smoothing=epsilon, reduction="none")
    torch.testing.assert_close(L.LabelSmoothingLoss(epsilon=epsilon, reduction="none")(logits, target), expected)


def test_softmax_losses_match_naive_formulas():
    logits, target = _rand_classification()
    p, t = logits.softmax(dim=1), F.one_hot(target, C).double()
    none = dict(reduction="none")
    torch.testing.assert_close(L.mse_classification_loss(logits, target, **none), ((p - t) ** 2).mean(1))
    torch.testing.assert_close(L.mae_classification_loss(logits, target, **none), 2.0 * (1.0 - p[t.bool()]) / C)
    torch.testing.assert_close(L.cosine_classification_loss(logits, target, **none), -F.cosine_similarity(p, t, dim=1))
    bce = F.binary_cross_entropy(p, t, reduction="none").mean(1)
    torch.testing.assert_close(L.bce_classification_loss(logits, target, **none), bce)
    values = L.cosine_classification_loss(logits, target, **none)
    assert ((values >= -1.0) & (values < 0.0)).all()


def test_hinge_losses_match_naive_formulas():
    logits, target = _rand_classification()
    expected_hinge, expected_cs, expected_s01 = [], [], []
    for z, y in zip(logits.tolist(), target.tolist()):
        expected_hinge.append(sum(max(0.0, 1.0 - (1 if c == y else -1) * z[c]) for c in range(C)) / C)
        best_other = max(z[c] for c in range(C) if c != y)
        expected_cs.append(max(0.0, 1.0 + best_other - z[y]))
        expected_s01.append(1.0 / (1.0 + math.exp(5.0 * (z[y] - best_other))))
    as_tensor = lambda values: torch.tensor(values, dtype=torch.float64)  # noqa: E731
    torch.testing.assert_close(L.hinge_classification_loss(logits, target, reduction="none"), as_tensor(expected_hinge))
    torch.testing.assert_close(L.categorical_hinge_loss(logits, target, reduction="none"), as_tensor(expected_cs))
    torch.testing.assert_close(L.smooth01_loss(logits, target, reduction="none"), as_tensor(expected_s01))
    torch.testing.assert_close(
        L.Smooth01Loss(sharpness=1.0, reduction="none")(logits, target),
        torch.sigmoid(
            -torch.tensor(
                [z[y] - max(z[:y] + z[y + 1 :]) for z, y in zip(logits.tolist(), target.tolist())], dtype=torch.float64
            )
        ),
    )


def test_log1mexp_is_accurate_and_clamped():
    x = -torch.logspace(-30, 3, 500, dtype=torch.float64)
    # naive log(-expm1(x)) loses only absolute precision (< 1e-16) far from 0
    reference = torch.tensor([max(math.log(-math.expm1(v)), -100.0) for v in x.tolist()], dtype=torch.float64)
    torch.testing.assert_close(log1mexp(x), reference, rtol=1e-12, atol=1e-15)
    far = torch.tensor([-40.0, -100.0], dtype=torch.float64)
    torch.testing.assert_close(log1mexp(far), -torch.exp(far), rtol=1e-12, atol=0)  # log(1 - e) ~ -e
    tiny = torch.tensor([0.0, -1e-50, -1e-40], dtype=torch.float64, requires_grad=True)
    values = log1mexp(tiny)
    torch.testing.assert_close(values.detach(), torch.tensor([-100.0, -100.0, math.log(1e-40)], dtype=torch.float64))
    values.sum().backward()
    assert torch.isfinite(tiny.grad).all() and tiny.grad[0] == 0.0
    x32 = torch.tensor([0.0, -1e-20, -0.5, -1.0, -50.0, -200.0])
    assert torch.isfinite(log1mexp(x32)).all() and log1mexp(x32)[0] == -100.0


def test_bce_classification_clamps_like_torch():
    logits = torch.tensor([[1e4, -1e4, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    target = torch.tensor([1, 0])
    # row 0: p = (1, 0, 0), target 1 -> -log p_1 = 100 (clamped), -log(1 - p_0) = 100 (clamped)
    expected = torch.tensor([200.0 / 3.0, (math.log(3.0) + 2.0 * math.log(1.5)) / 3.0], dtype=torch.float64)
    torch.testing.assert_close(L.bce_classification_loss(logits, target, reduction="none"), expected)


# --------------------------------------------------------------------------- known values: binary


@pytest.mark.parametrize("from_logits", [True, False])
def test_binary_losses_match_naive_formulas(from_logits):
    g = torch.Generator().manual_seed(4)
    logits = 3.0 * torch.randn(10, 4, generator=g, dtype=torch.float64)
    target = torch.randint(0, 2, (10, 4), generator=g).double()
    q = torch.sigmoid(logits)
    x = logits if from_logits else q
    kw = dict(from_logits=from_logits, reduction="none")
    torch.testing.assert_close(
        L.bce_binary_loss(x, target, **kw), F.binary_cross_entropy(q, target, reduction="none").mean(1)
    )
    torch.testing.assert_close(L.mse_binary_loss(x, target, **kw), ((q - target) ** 2).mean(1))
    torch.testing.assert_close(L.mae_binary_loss(x, target, **kw), (q - target).abs().mean(1))
    margin = logits if from_logits else 2.0 * q - 1.0
    torch.testing.assert_close(
        L.hinge_binary_loss(x, target, **kw), (1.0 - (2.0 * target - 1.0) * margin).clamp(min=0).mean(1)
    )
    two_q, two_t = torch.stack([q, 1 - q], -1), torch.stack([target, 1 - target], -1)
    torch.testing.assert_close(
        L.cosine_binary_loss(x, target, **kw), -F.cosine_similarity(two_q, two_t, dim=-1).mean(1)
    )


def test_binary_accepts_one_dimensional_and_higher_dimensional_inputs():
    x = torch.tensor([0.3, 0.9, 0.1])
    t = torch.tensor([0.0, 1.0, 1.0])
    torch.testing.assert_close(L.MSEBinaryLoss(from_logits=False, reduction="none")(x, t), (x - t) ** 2)
    x4 = torch.rand(2, 3, 4, 5)
    t4 = (torch.rand(2, 3, 4, 5) > 0.5).float()
    torch.testing.assert_close(
        L.MAEBinaryLoss(from_logits=False, reduction="none")(x4, t4), (x4 - t4).abs().mean((1, 2, 3))
    )


# --------------------------------------------------------------------------- known values: regression


def test_regression_known_values():
    g = torch.Generator().manual_seed(5)
    pred = 3.0 * torch.randn(8, 2, 3, generator=g, dtype=torch.float64)
    target = torch.randn(8, 2, 3, generator=g, dtype=torch.float64)
    r = pred - target
    none = dict(reduction="none")
    torch.testing.assert_close(L.mse_regression_loss(pred, target, **none), (r**2).mean((1, 2)))
    torch.testing.assert_close(L.mae_regression_loss(pred, target, **none), r.abs().mean((1, 2)))
    for delta in (1.0, 0.5, 4.0):
        expected = F.huber_loss(pred, target, delta=delta, reduction="none").mean((1, 2))
        torch.testing.assert_close(L.HuberLoss(delta=delta, reduction="none")(pred, target), expected)
    torch.testing.assert_close(L.log_cosh_loss(pred, target, **none), torch.log(torch.cosh(r)).mean((1, 2)))
    big = torch.tensor([1e4, -1e5], dtype=torch.float64)
    torch.testing.assert_close(
        L.log_cosh_loss(big, torch.zeros(2, dtype=torch.float64), **none), big.abs() - math.log(2.0)
    )


@pytest.mark.parametrize("scale", [1.0, 0.7, 2.5])
def test_robust_special_cases(scale):
    x = torch.linspace(-6.0, 6.0, 41, dtype=torch.float64)
    z = torch.zeros_like(x)
    s2 = (x / scale) ** 2
    robust = lambda alpha: L.RobustLoss(alpha=alpha, scale=scale, reduction="none")(x, z)  # noqa: E731
    torch.testing.assert_close(robust(2.0), 0.5 * s2)
    torch.testing.assert_close(robust(0.0), torch.log(0.5 * s2 + 1.0))
    torch.testing.assert_close(robust(1.0), torch.sqrt(s2 + 1.0) - 1.0)
    torch.testing.assert_close(robust(-2.0), 2.0 * s2 / (s2 + 4.0))  # Geman-McClure
    torch.testing.assert_close(robust(-math.inf), 1.0 - torch.exp(-0.5 * s2))
    torch.testing.assert_close(robust(math.inf), torch.expm1(0.5 * s2))
    torch.testing.assert_close(robust(3.0), (1.0 / 3.0) * ((s2 + 1.0) ** 1.5 - 1.0))


def test_robust_is_continuous_near_special_alphas_and_tensor_alpha_agrees():
    x = torch.linspace(-5.0, 5.0, 21, dtype=torch.float64)
    for special, near in ((0.0, 1e-7), (2.0, 2.0 - 1e-7), (2.0, 2.0 + 1e-7), (0.0, -1e-7)):
        torch.testing.assert_close(L.robust_rho(x, near), L.robust_rho(x, special), rtol=1e-5, atol=1e-6)
    for alpha in (0.0, 0.3, 1.0, 2.0, 3.5, -4.0):
        torch.testing.assert_close(
            L.robust_rho(x, torch.tensor(alpha, dtype=torch.float64), 1.3), L.robust_rho(x, alpha, 1.3)
        )
    small = torch.tensor([1e-4], dtype=torch.float64)
    for alpha in (1e-6, 0.5, 1.0, 1.9999):
        torch.testing.assert_close(L.robust_rho(small, alpha), 0.5 * small**2, rtol=1e-6, atol=0)  # quadratic bowl


@pytest.mark.parametrize("alpha", [-math.inf, -2.0, 0.0, 0.5, 2.0, 4.0])
def test_robust_gradcheck_for_every_shape(alpha):
    x = torch.randn(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(6), requires_grad=True)
    t = torch.zeros(5, 2, dtype=torch.float64)
    assert gradcheck(lambda p: L.robust_loss(p, t, alpha=alpha, scale=0.8, reduction="none"), (x,))


def test_robust_log_partition_known_values():
    alpha = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    from scipy.special import k1

    expected = torch.tensor(
        [math.log(math.pi * math.sqrt(2.0)), math.log(2.0 * math.e * k1(1.0)), 0.5 * math.log(2.0 * math.pi)],
        dtype=torch.float64,
    )
    got = L.robust_log_partition(alpha)
    torch.testing.assert_close(got[[0, 2]], expected[[0, 2]], rtol=0, atol=1e-12)  # nodes of the table
    assert abs(float(got[1] - expected[1])) < adaptive_module.LOG_Z_MAX_ABS_ERROR  # interpolated
    # between the nodes: interpolation error within the documented bound
    nodes, values = L.log_partition_table()
    assert nodes[0] == 0.0 and nodes[-1] == 2.0 and len(nodes) == adaptive_module.LOG_Z_GRID_SIZE
    assert adaptive_module.LOG_Z_MAX_ABS_ERROR <= 1e-5
    from scipy import integrate

    for a in (0.37, 1.2345, 1.9995):
        half, _ = integrate.quad(
            lambda v: math.exp(-float(L.robust_rho(torch.tensor(v, dtype=torch.float64), a))), 0, math.inf
        )
        got = float(L.robust_log_partition(torch.tensor(a, dtype=torch.float64)))
        assert abs(got - math.log(2.0 * half)) < adaptive_module.LOG_Z_MAX_ABS_ERROR
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 2\]"):
        L.robust_log_partition(torch.tensor([-0.1]))


@pytest.mark.parametrize("alpha", [0.5, 1.0, 1.5])
@pytest.mark.parametrize("scale", [1.0, 0.3])
def test_adaptive_density_integrates_to_one(alpha, scale):
    loss = L.AdaptiveRobustLoss(alpha_init=alpha, scale_init=scale, reduction="none").double()
    torch.testing.assert_close(loss.alpha(), torch.tensor([alpha], dtype=torch.float64))
    torch.testing.assert_close(loss.scale(), torch.tensor([scale], dtype=torch.float64))
    x = torch.linspace(-400.0 * scale, 400.0 * scale, 400001, dtype=torch.float64)
    with torch.no_grad():
        density = torch.exp(-loss(x, torch.zeros_like(x)))
    assert abs(float(torch.trapezoid(density, x)) - 1.0) < 1e-3


def test_adaptive_is_gaussian_and_cauchy_nll_at_the_ends():
    x = torch.linspace(-4.0, 4.0, 17, dtype=torch.float64)
    for c in (1.0, 0.5):
        scale = torch.tensor([c], dtype=torch.float64)
        gaussian = 0.5 * (x / c) ** 2 + math.log(c) + 0.5 * math.log(2.0 * math.pi)
        got = L.adaptive_robust_loss(
            x, torch.zeros_like(x), torch.tensor([2.0], dtype=torch.float64), scale, reduction="none"
        )
        torch.testing.assert_close(got, gaussian)
        cauchy = torch.log(0.5 * (x / c) ** 2 + 1.0) + math.log(c) + math.log(math.pi * math.sqrt(2.0))
        got = L.adaptive_robust_loss(
            x, torch.zeros_like(x), torch.tensor([0.0], dtype=torch.float64), scale, reduction="none"
        )
        torch.testing.assert_close(got, cauchy)


def test_adaptive_parameters_are_learnable():
    loss = L.AdaptiveRobustLoss(num_dims=3)
    assert {name for name, _ in loss.named_parameters()} == {"latent_alpha", "latent_scale"}
    torch.testing.assert_close(loss.alpha(), torch.full((3,), 1.0))
    torch.testing.assert_close(loss.scale(), torch.full((3,), 1.0))
    model = nn.Sequential(nn.Linear(4, 3))
    model.criterion = loss  # picked up as a submodule
    assert sum(p.numel() for p in model.parameters()) == 4 * 3 + 3 + 3 + 3
    g = torch.Generator().manual_seed(7)
    features = torch.randn(256, 4, generator=g)
    # outliers in output 0 only: its alpha should fall, the others' should not fall as much
    target = 0.1 * torch.randn(256, 3, generator=g)
    target[::4, 0] += 20.0
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(60):
        optimizer.zero_grad()
        value = loss(model[0](features), target)
        value.backward()
        optimizer.step()
    alpha, scale = loss.alpha().detach(), loss.scale().detach()
    assert (alpha > 0.001).all() and (alpha < 1.999).all() and (scale > 1e-5).all()
    assert alpha[0] < 0.8 and alpha[0] < alpha[1:].min()
    assert (scale[1:] < 0.5).all() and scale[0] > scale[1:].max()  # tight residuals shrink the scale
    with torch.no_grad():  # an NLL with small scales is negative
        tight = L.adaptive_robust_loss(model[0](features)[:, 1:], target[:, 1:], alpha[1:], scale[1:])
    assert float(tight) < 0.0


def test_adaptive_gradcheck_through_alpha_and_scale():
    g = torch.Generator().manual_seed(8)
    pred = torch.randn(6, 2, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randn(6, 2, generator=g, dtype=torch.float64)
    alpha = torch.tensor([0.4321, 1.6789], dtype=torch.float64, requires_grad=True)
    nodes, _ = L.log_partition_table()
    assert np.abs(nodes[:, None] - alpha.detach().numpy()[None]).min() > 1e-4  # not on a kink of the table
    scale = torch.tensor([0.7, 1.9], dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda p, a, s: L.adaptive_robust_loss(p, target, a, s, reduction="none"), (pred, alpha, scale))
    loss = L.AdaptiveRobustLoss(num_dims=2, alpha_init=1.234, reduction="none").double()
    latents = (loss.latent_alpha.detach().clone().requires_grad_(), loss.latent_scale.detach().clone().requires_grad_())
    assert gradcheck(
        lambda a, s: torch.func.functional_call(loss, {"latent_alpha": a, "latent_scale": s}, (pred.detach(), target)),
        latents,
    )
    value = loss(pred, target).sum()
    value.backward()
    assert loss.latent_alpha.grad.abs().min() > 0 and loss.latent_scale.grad.abs().min() > 0


def test_adaptive_shape_errors():
    loss = L.AdaptiveRobustLoss(num_dims=3)
    with pytest.raises(ValueError, match=r"num_dims=3 .* must have shape \(N, \.\.\., 3\); got \(4, 2\)"):
        loss(torch.zeros(4, 2), torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"must have shape \(N, \.\.\., 3\)"):
        loss(torch.zeros(4), torch.zeros(4))
    assert loss(torch.zeros(4, 5, 3), torch.zeros(4, 5, 3), reduction="none").shape == (4,)
    assert L.AdaptiveRobustLoss()(torch.zeros(4, 5, 2), torch.ones(4, 5, 2), reduction="none").shape == (4,)
    one = torch.ones(1)
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 2\]"):
        L.adaptive_robust_loss(torch.zeros(3), torch.zeros(3), 3.0 * one, one)
    with pytest.raises(ValueError, match="scale must be > 0"):
        L.adaptive_robust_loss(torch.zeros(3), torch.zeros(3), one, 0.0 * one)
    with pytest.raises(ValueError, match=r"alpha has 2 entries"):
        L.adaptive_robust_loss(torch.zeros(3, 4), torch.zeros(3, 4), torch.ones(2), one)


# --------------------------------------------------------------------------- large-margin softmax


def _lsoftmax_reference(features, target, weight, margin, lam):
    """Independent L-Softmax: theta by acos, psi piecewise, loops in Python."""
    logits = (features @ weight.t()).tolist()
    for i, y in enumerate(target.tolist()):
        x, w = features[i], weight[y]
        norms = float(x.norm() * w.norm())
        theta = math.acos(max(-1.0, min(1.0, float(x @ w) / norms)))
        k = min(int(theta * margin / math.pi), margin - 1)
        psi = (-1) ** k * math.cos(margin * theta) - 2 * k
        logits[i][y] = (lam * norms * math.cos(theta) + norms * psi) / (1.0 + lam)
    logits = torch.tensor(logits, dtype=torch.float64)
    return F.cross_entropy(logits, target, reduction="none")


def _lms_data(seed=9, n=16):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n, D, generator=g, dtype=torch.float64),
        torch.randint(0, C, (n,), generator=g),
        torch.randn(C, D, generator=g, dtype=torch.float64),
    )


def test_lsoftmax_margin_one_is_plain_softmax():
    features, target, weight = _lms_data()
    loss = L.LargeMarginSoftmaxLoss(D, C, margin=1, lambda_base=0.0, reduction="none").double()
    with torch.no_grad():
        loss.weight.copy_(weight)
    expected = F.cross_entropy(features @ weight.t(), target, reduction="none")
    torch.testing.assert_close(loss(features, target), expected)
    torch.testing.assert_close(loss.logits(features), features @ weight.t())
    # a huge lambda also gives back plain softmax, whatever the margin
    loss_big = L.large_margin_softmax_loss(features, target, weight, margin=4, lam=1e12, reduction="none")
    torch.testing.assert_close(loss_big, expected)


@pytest.mark.parametrize("margin", [2, 3, 4])
@pytest.mark.parametrize("lam", [0.0, 2.5])
def test_lsoftmax_matches_reference(margin, lam):
    features, target, weight = _lms_data(seed=margin)
    got = L.large_margin_softmax_loss(features, target, weight, margin=margin, lam=lam, reduction="none")
    torch.testing.assert_close(got, _lsoftmax_reference(features, target, weight, margin, lam))
    plain = F.cross_entropy(features @ weight.t(), target, reduction="none")
    assert (got >= plain - 1e-12).all() and (got > plain).any()  # psi(theta) <= cos(theta): a harder task


@pytest.mark.parametrize("margin", [1, 2, 3, 4])
def test_lsoftmax_gradcheck_features_and_weights(margin):
    features, target, weight = _lms_data(seed=10 + margin, n=5)
    features.requires_grad_(True)
    weight.requires_grad_(True)
    assert gradcheck(
        lambda x, w: L.large_margin_softmax_loss(x, target, w, margin=margin, lam=0.5, reduction="none"),
        (features, weight),
    )


def test_lsoftmax_lambda_annealing_and_state_dict():
    loss = L.LargeMarginSoftmaxLoss(D, C)  # lambda_base=1000, gamma=0.12, power=1, lambda_min=0
    assert loss.input_kind == "features" and loss.weight.shape == (C, D)
    assert int(loss.iteration) == 0 and loss.current_lambda() == pytest.approx(1000.0)
    features, target = torch.randn(4, D), torch.randint(0, C, (4,))
    for _ in range(5):
        loss(features, target)
    assert int(loss.iteration) == 5
    assert loss.current_lambda() == pytest.approx(1000.0 / (1.0 + 0.12 * 5))
    loss.eval()
    loss(features, target)
    assert int(loss.iteration) == 5  # eval forwards do not advance the schedule
    restored = L.LargeMarginSoftmaxLoss(D, C)
    state = loss.state_dict()
    assert "iteration" in state
    restored.load_state_dict(state)
    assert int(restored.iteration) == 5 and restored.current_lambda() == loss.current_lambda()
    restored.eval()
    torch.testing.assert_close(restored(features, target), loss(features, target))
    floor = L.LargeMarginSoftmaxLoss(D, C, lambda_base=10.0, gamma=1.0, lambda_min=4.0)
    floor.iteration.fill_(100)
    assert floor.current_lambda() == pytest.approx(4.0)
    floor.iteration.fill_(1)
    assert floor.current_lambda() == pytest.approx(5.0)
    with pytest.raises(ValueError, match=rf"shape \(N, {D}\)"):
        loss.logits(torch.randn(3, D + 2))


# --------------------------------------------------------------------------- MILS auxiliaries


def test_multi_margin_matches_torch():
    g = torch.Generator().manual_seed(20)
    logits, target = torch.randn(32, C, generator=g, dtype=torch.float64), torch.randint(0, C, (32,), generator=g)
    for margin in (1.0, 0.5, 2.0):
        got = L.multi_margin_loss(logits, target, margin=margin, reduction="none")
        torch.testing.assert_close(got, F.multi_margin_loss(logits, target, margin=margin, reduction="none"))
    torch.testing.assert_close(L.MultiMarginLoss()(logits, target), F.multi_margin_loss(logits, target))


def test_poly1_is_cross_entropy_plus_its_first_polynomial_term():
    logits, target = torch.randn(16, 7, generator=torch.Generator().manual_seed(3)), torch.arange(16) % 7
    ce = L.cross_entropy_loss(logits, target, reduction="none")
    torch.testing.assert_close(L.poly1_loss(logits, target, epsilon=0.0, reduction="none"), ce)
    p = torch.softmax(logits, 1).gather(1, target[:, None])[:, 0]
    torch.testing.assert_close(L.poly1_loss(logits, target, epsilon=2.0, reduction="none"), ce + 2.0 * (1 - p))
    # Log-probabilities in place of logits give the same values (what a seq2seq model hands a criterion).
    torch.testing.assert_close(
        L.poly1_loss(torch.log_softmax(logits, 1), target, reduction="none"),
        L.poly1_loss(logits, target, reduction="none"),
    )
    with pytest.raises(ValueError, match="epsilon must be >= -1"):
        L.Poly1Loss(epsilon=-2.0)


def test_focal_gamma_zero_is_cross_entropy_and_down_weights_easy_samples():
    g = torch.Generator().manual_seed(21)
    logits, target = 3.0 * torch.randn(32, C, generator=g, dtype=torch.float64), torch.randint(0, C, (32,), generator=g)
    ce = F.cross_entropy(logits, target, reduction="none")
    torch.testing.assert_close(L.focal_loss(logits, target, gamma=0.0, reduction="none"), ce)
    focal = L.focal_loss(logits, target, gamma=2.0, reduction="none")
    p = torch.exp(-ce)
    torch.testing.assert_close(focal, (1 - p) ** 2 * ce)
    assert (focal <= ce).all()
    weights = torch.rand(C, generator=g, dtype=torch.float64)
    torch.testing.assert_close(
        L.FocalLoss(gamma=1.5, alpha=weights.tolist(), reduction="none")(logits, target),
        weights[target] * (1 - p) ** 1.5 * ce,
    )
    torch.testing.assert_close(L.focal_loss(logits, target, gamma=0.0, alpha=0.25), 0.25 * ce.mean())
    with pytest.raises(ValueError, match="alpha holds 2 class weights but logits have C = 5"):
        L.focal_loss(logits, target, alpha=[1.0, 2.0])


def test_center_loss_zero_at_centers_and_gradients_reach_centers():
    loss = L.CenterLoss(in_features=D, num_classes=C, reduction="none")
    target = torch.tensor([0, 3, 3, 4])
    features = loss.centers.detach()[target].clone().requires_grad_(True)
    values = loss(features, target)
    assert torch.equal(values, torch.zeros(4))
    shifted = features.detach() + torch.tensor([1.0, 0, 0, 0, 0, 2.0])
    torch.testing.assert_close(loss(shifted, target), torch.full((4,), 2.5))
    loss(shifted, target).sum().backward()
    expected = torch.zeros(C, D)
    expected[0] = expected[3] = expected[4] = -torch.tensor([1.0, 0, 0, 0, 0, 2.0])
    expected[3] *= 2  # two samples of class 3
    torch.testing.assert_close(loss.centers.grad, expected)
    assert not hasattr(loss, "logits")


def test_lgm_matches_naive_formula_and_predicts_nearest_mean():
    g = torch.Generator().manual_seed(22)
    loss = L.LGMLoss(in_features=D, num_classes=C, alpha=0.3, lambda_lkd=0.2, reduction="none").double()
    features, target = torch.randn(16, D, generator=g, dtype=torch.float64), torch.randint(0, C, (16,), generator=g)
    means = loss.means.detach()
    d = 0.5 * torch.cdist(features, means) ** 2
    margin_logits = -d.clone()
    margin_logits[torch.arange(16), target] *= 1.3
    expected = F.cross_entropy(margin_logits, target, reduction="none") + 0.2 * d[torch.arange(16), target]
    torch.testing.assert_close(loss(features, target), expected)
    torch.testing.assert_close(loss.logits(features), -d)
    assert torch.equal(loss.logits(means).argmax(dim=1), torch.arange(C))
    plain = L.lgm_loss(features, target, means, alpha=0.0, lambda_lkd=0.0, reduction="none")
    torch.testing.assert_close(plain, F.cross_entropy(-d, target, reduction="none"))
    assert (loss(features, target) > plain).all()  # the margin and the likelihood term only add
    with pytest.raises(ValueError, match=rf"features must be a floating point tensor of shape \(N, {D}\)"):
        loss.logits(torch.zeros(2, D + 1))


def test_every_registered_loss_and_its_function_show_their_whole_docs():
    """Shared docstring sections (slf.losses.shared_docs) are filled in: help() never shows a placeholder."""
    import inspect
    import re

    from slf.losses.shared_docs import SECTIONS, shared_sections

    placeholder = re.compile(r"^\s*\{[A-Z_]+\}\s*$", re.MULTILINE)
    documented = []
    from slf.losses.base import TASKS

    for task in TASKS:
        for name in L.available(task):
            cls = L.resolve(name, task)
            module = inspect.getmodule(cls)
            for obj in (
                cls,
                *(
                    f
                    for _, f in inspect.getmembers(module, inspect.isfunction)
                    if f.__module__ == module.__name__ and f.__name__.endswith("_loss")
                ),
            ):
                assert obj.__doc__ and not placeholder.search(obj.__doc__), f"{obj.__qualname__} in {module.__name__}"
                documented.append(obj)
    filled = [obj for obj in documented if "reduction: ``'none'`` | ``'mean'`` | ``'sum'``." in obj.__doc__]
    assert len(documented) > 60 and len(filled) > 40
    mae = L.resolve("mae", "classification")
    assert SECTIONS["CLASSIFICATION_MODULE"].split("\n")[-1].strip() in mae.__doc__

    def undocumented():
        """{NO_SUCH_SECTION}"""

    with pytest.raises(KeyError, match="no shared docstring section 'NO_SUCH_SECTION'; known: CLASSIFICATION"):
        shared_sections(undocumented)
