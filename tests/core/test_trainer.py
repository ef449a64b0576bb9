"""The plain-PyTorch classification trainer and the ``slf`` command line, on real digits."""

import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from scipy import stats

from slf import losses
from slf.cli import main
from slf.models import build_model
from slf.train import ClassifyConfig, format_summary_table, run_classify, train_classifier
from slf.train.classify import build_criterion, loss_parameters_for_optimizer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# One thread: the batches are small, and on a shared 2-core CI machine a second torch
# thread competing with other work makes steps several times slower, not faster.
FAST = dict(num_threads=1)


def _is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC


def _weights_moved(history, tolerance=1e-3) -> bool:
    first = history[0]["weights"]
    return any(max(abs(a - b) for a, b in zip(first, row["weights"])) > tolerance for row in history[1:])


def test_cross_entropy_one_epoch_on_mnist5k_learns():
    result = train_classifier(ClassifyConfig(loss="ce", epochs=1, **FAST), progress=False)
    assert result["sizes"] == {"train": 3500, "val": 500, "test": 1000}
    assert result["final_test_acc"] > 0.7
    assert len(result["train_loss"]) == len(result["val_acc"]) == len(result["test_acc"]) == 1
    assert result["num_steps"] == math.ceil(3500 / 128)
    assert result["best_val_epoch"] == 1 and result["best_val_test_acc"] == result["final_test_acc"]
    assert 0 < result["time_per_step_s"] < 1
    assert "weights_history" not in result
    json.dumps(result)  # serialisable as is


def test_same_seed_same_result_other_seed_other_result():
    cfg = ClassifyConfig(data="digits", loss="slf", slf_mode="joint", epochs=2, **FAST)
    first, again = train_classifier(cfg, progress=False), train_classifier(cfg, progress=False)
    assert first["test_acc"] == again["test_acc"] and first["final_weights"] == again["final_weights"]
    other = train_classifier(replace(cfg, seed=1), progress=False)
    assert other["train_loss"] != first["train_loss"]


def test_slf_joint_run_learns_and_records_weights():
    cfg = ClassifyConfig(loss="slf", slf_mode="joint", epochs=1, slf_options={"history_interval": 1}, **FAST)
    result = train_classifier(cfg, progress=False)
    assert result["candidates"] == ["ce", "mse", "mae", "hinge", "cosine", "bce"]
    history = result["weights_history"]
    assert len(history) == result["num_steps"] and [row["step"] for row in history[:3]] == [0, 1, 2]
    assert _weights_moved(history)
    assert math.isclose(sum(result["final_weights"]), 1.0, rel_tol=1e-4)
    assert result["final_test_acc"] > 0.5
    assert "validation_loss" not in result


def test_slf_validation_run_learns_its_decision_network(monkeypatch):
    from slf.stochastic_loss import StochasticLoss

    calls = []
    original = StochasticLoss.validation_step

    def recording_step(self, model, inputs, targets, val_inputs, val_targets):
        calls.append((len(inputs), len(val_inputs), tuple(val_inputs.shape[1:])))
        return original(self, model, inputs, targets, val_inputs, val_targets)

    monkeypatch.setattr(StochasticLoss, "validation_step", recording_step)
    cfg = ClassifyConfig(
        loss="slf", slf_mode="validation", epochs=1, max_train_samples=1500, slf_options={"history_interval": 1}, **FAST
    )
    result = train_classifier(cfg, progress=False)
    assert result["sizes"]["train"] == 1500
    assert len(calls) == result["num_steps"] == math.ceil(1500 / 128)
    assert all(0 < held_out <= 128 and shape == (1, 28, 28) for _, held_out, shape in calls)
    history = result["weights_history"]
    assert len(history) == result["num_steps"] and _weights_moved(history)
    assert len(result["validation_loss"]) == 1 and 0 < result["validation_loss"][0] < 10
    assert result["final_test_acc"] > 0.5


def test_optimizer_gets_loss_parameters_where_they_belong():
    model = build_model("mlp", (1, 8, 8), 10)
    joint, kind = build_criterion(ClassifyConfig(loss="slf", slf_mode="joint"), model, 10)
    assert kind == "slf"
    joint_ids = {id(p) for p in loss_parameters_for_optimizer(joint, kind)}
    assert joint_ids and joint_ids == {id(p) for p in joint.decision.parameters()}
    validation, kind = build_criterion(ClassifyConfig(loss="slf", slf_mode="validation"), model, 10)
    assert not validation.trainable_with_model()
    assert loss_parameters_for_optimizer(validation, kind) == []  # it owns its optimizer
    lsoftmax, kind = build_criterion(ClassifyConfig(loss="large_margin_softmax"), model, 10)
    assert kind == "features" and lsoftmax.input_kind == "features"
    assert {id(p) for p in loss_parameters_for_optimizer(lsoftmax, kind)} == {id(p) for p in lsoftmax.parameters()}
    assert lsoftmax.logits(model.features(torch.zeros(2, 1, 8, 8))).shape == (2, 10)
    plain, kind = build_criterion(ClassifyConfig(loss="mae"), model, 10)
    assert kind == "logits" and loss_parameters_for_optimizer(plain, kind) == []


def test_large_margin_softmax_baseline_trains_its_own_last_layer():
    cfg = ClassifyConfig(loss="large_margin_softmax", epochs=1, max_train_samples=2000, **FAST)
    result = train_classifier(cfg, progress=False)
    assert result["final_test_acc"] > 0.6  # predictions come from the loss's own weights


def test_run_classify_writes_results_and_plots(tmp_path):
    cfg = ClassifyConfig(data="digits", loss="slf", slf_mode="joint", epochs=2, **FAST)
    summary = run_classify(cfg, seeds=2, out_dir=tmp_path, progress=False)
    results = json.loads((tmp_path / "results.json").read_text())
    assert [run["seed"] for run in results["runs"]] == [0, 1]
    assert results["method"] == summary["method"] == "slf-joint"
    accuracies = [run["final_test_acc"] for run in results["runs"]]
    assert math.isclose(summary["test_acc_mean"], sum(accuracies) / 2)
    assert math.isclose(summary["test_acc_std"], abs(accuracies[0] - accuracies[1]) / math.sqrt(2))
    low, high = stats.t.interval(0.95, 1, loc=summary["test_acc_mean"], scale=summary["test_acc_std"] / math.sqrt(2))
    assert math.isclose(summary["test_acc_ci95"], (high - low) / 2)
    assert set(summary["mean_weights"]) == set(cfg.slf_candidates)
    assert _is_png(tmp_path / "accuracy.png") and _is_png(tmp_path / "selection_weights.png")
    table = format_summary_table([summary])
    assert "slf-joint" in table and f"{summary['test_acc_mean']:.4f} +- {summary['test_acc_ci95']:.4f}" in table

    (tmp_path / "accuracy.png").unlink()
    (tmp_path / "selection_weights.png").unlink()
    assert main(["plot", str(tmp_path)]) == 0
    assert _is_png(tmp_path / "accuracy.png") and _is_png(tmp_path / "selection_weights.png")


def test_cli_classify_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "classify",
            "--data",
            "digits",
            "--model",
            "lenet",
            "--loss",
            "slf",
            "--slf-mode",
            "validation",
            "--slf-candidates",
            "ce,mae,hinge",
            "--slf-samples",
            "2",
            "--epochs",
            "1",
            "--seeds",
            "2",
            "--out",
            str(out),
            "--threads",
            "1",
            "--batch-size",
            "64",
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "slf-validation" in printed and "+-" in printed and "results.json" in printed
    results = json.loads((out / "results.json").read_text())
    config = results["config"]
    assert (config["model"], config["slf_candidates"], config["slf_samples"], config["batch_size"]) == (
        "lenet",
        ["ce", "mae", "hinge"],
        2,
        64,
    )
    assert len(results["runs"]) == 2 and results["runs"][0]["candidates"] == ["ce", "mae", "hinge"]
    assert _is_png(out / "selection_weights.png") and _is_png(out / "accuracy.png")


def test_cli_classify_normalized_joint_slf(tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(
            [
                "classify",
                "--data",
                "digits",
                "--loss",
                "slf",
                "--slf-mode",
                "joint",
                "--slf-normalize",
                "mean",
                "--epochs",
                "1",
                "--seeds",
                "1",
                "--out",
                str(out),
                "--threads",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    assert "slf-joint+normalize" in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["slf_options"] == {"normalize": "mean"}
    assert results["runs"][0]["method"] == "slf-joint+normalize"


def test_cli_classify_per_sample_cosine_slf_that_reads_losses(tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(
            [
                "classify",
                "--data",
                "digits",
                "--loss",
                "slf",
                "--slf-mode",
                "validation",
                "--slf-selection",
                "sample",
                "--slf-hypergradient",
                "cosine",
                "--slf-decision-reads-losses",
                "--label-noise",
                "0.4",
                "--epochs",
                "1",
                "--seeds",
                "1",
                "--out",
                str(out),
                "--threads",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    assert "slf-validation+cosine+per-sample+reads-losses" in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["slf_options"] == {
        "selection": "sample",
        "hypergradient": "cosine",
        "decision_reads_losses": True,
    }
    run = results["runs"][0]
    assert run["method"] == "slf-validation+cosine+per-sample+reads-losses"
    assert abs(sum(run["final_weights"]) - 1) < 1e-5 and all(math.isfinite(v) for v in run["validation_loss"])
    with pytest.raises(SystemExit):
        main(["classify", "--loss", "slf", "--slf-hypergradient", "angle"])
    assert "invalid choice: 'angle' (choose from 'inner', 'cosine')" in capsys.readouterr().err


def test_cli_demo_shows_the_default_recipe_beside_cross_entropy_and_the_best_single_loss(tmp_path, capsys):
    assert (
        main(["demo", "--out", str(tmp_path), "--epochs", "1", "--seeds", "1", "--threads", "1", "--no-progress"]) == 0
    )
    printed = capsys.readouterr().out
    methods = ("ce", "mse", "mae", "hinge", "cosine", "bce", "slf-align")
    assert all(method in printed for method in methods) and str(tmp_path) in printed
    assert "40% of the training labels flipped" in printed
    for method in methods:
        assert (tmp_path / method / "results.json").is_file()
    val = {
        method: json.loads((tmp_path / method / "results.json").read_text())["runs"][0]["val_acc"][-1]
        for method in methods[:-1]
    }
    assert f"best single loss by validation accuracy: {max(val, key=val.get)} " in printed
    assert _is_png(tmp_path / "slf-align" / "selection_weights.png")
    assert _is_png(tmp_path / "accuracy.png")


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["classify", "--model", "vgg", "--out", "x"], "resnet20"),
        (["classify", "--loss", "nope", "--out", "x"], "large_margin_softmax"),
        (["classify", "--data", "imagenet", "--out", "x"], "cifar10:PATH"),
        (["classify", "--slf-mode", "greedy", "--out", "x"], "'align', 'joint', 'softmax', 'validation'"),
        (["classify", "--epochs", "0", "--out", "x"], "positive integer"),
        (["classify", "--loss", "slf", "--slf-candidates", "ce,nope", "--epochs", "1", "--out", "x"], "hinge"),
        (["classify"], "--out"),
        ([], "COMMAND"),
    ],
)
def test_cli_bad_arguments_are_argparse_errors(argv, expected, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert expected in capsys.readouterr().err


def test_cli_loss_choices_come_from_the_registry(capsys):
    with pytest.raises(SystemExit):
        main(["classify", "--loss", "nope", "--out", "x"])
    error = capsys.readouterr().err
    for name in [*losses.available("classification"), "slf"]:
        assert name in error


def test_cli_missing_cifar_folder_fails_cleanly(tmp_path, capsys):
    code = main(
        [
            "classify",
            "--data",
            f"cifar10:{tmp_path / 'nowhere'}",
            "--epochs",
            "1",
            "--seeds",
            "1",
            "--out",
            str(tmp_path / "run"),
            "--no-progress",
        ]
    )
    assert code == 2 and "nowhere" in capsys.readouterr().err


def test_cli_plot_without_results_fails_cleanly(tmp_path, capsys):
    assert main(["plot", str(tmp_path)]) == 2
    assert "results.json" in capsys.readouterr().err


def test_python_dash_m_slf():
    root = Path(__file__).resolve().parents[2]
    completed = subprocess.run(
        [sys.executable, "-m", "slf", "classify", "--help"],
        capture_output=True,
        text=True,
        cwd=root,
        env={"PYTHONPATH": str(root / "plugins"), "PATH": ""},
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert "--slf-mode" in completed.stdout and "cifar100:PATH" in completed.stdout


# --------------------------------------------------------------------------- MILS and fixed-weight sums


def test_mils_run_records_its_stats_and_learns():
    cfg = ClassifyConfig(
        loss="mils",
        mils_aux=("multi_margin", "center"),
        mils_rate=0.3,
        mils_obs_size=64,
        epochs=1,
        max_train_samples=1500,
        **FAST,
    )
    assert cfg.method == "mils-ce+multi_margin+center"
    result = train_classifier(cfg, progress=False)
    stats = result["mils_stats"]
    assert stats["steps"] == result["num_steps"]
    assert 0 < stats["attempted_total"] < result["num_steps"]
    assert set(stats["attempted"]) == {"multi_margin", "center"}
    assert result["final_test_acc"] > 0.6
    json.dumps(result)


def test_fixed_weight_sum_of_losses_trains_the_extra_loss_parameters():
    cfg = ClassifyConfig(loss="ce", extra_losses={"center": 0.01}, epochs=1, max_train_samples=1000, **FAST)
    assert cfg.method == "ce+0.01*center"
    assert train_classifier(cfg, progress=False)["final_test_acc"] > 0.6
    with pytest.raises(ValueError, match="no classifier of its own"):
        build_criterion(ClassifyConfig(loss="center"), build_model("mlp", (1, 8, 8), 10), 10)


def test_cli_mils_end_to_end(tmp_path, capsys):
    out = tmp_path / "mils"
    code = main(
        [
            "classify",
            "--data",
            "digits",
            "--loss",
            "mils",
            "--mils-aux",
            "multi_margin,center",
            "--mils-rate",
            "0.5",
            "--mils-obs-size",
            "32",
            "--mils-rule",
            "not_worse",
            "--epochs",
            "1",
            "--seeds",
            "1",
            "--threads",
            "1",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "mils accepted" in printed and "mils-ce+multi_margin+center" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["runs"][0]["mils_stats"]["attempted_total"] > 0
    assert results["summary"]["mils_attempted"] == results["runs"][0]["mils_stats"]["attempted_total"]


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["classify", "--loss", "mils", "--mils-rate", "1.5", "--out", "x"], "number in [0, 1]"),
        (["classify", "--loss", "mils", "--mils-aux", "ce,nope", "--out", "x"], "multi_margin"),
        (["classify", "--loss", "mils", "--mils-primary", "center", "--out", "x"], "must read logits"),
        (["classify", "--loss", "mils", "--mils-rule", "sometimes", "--out", "x"], "not_worse"),
        (["classify", "--loss", "mils", "--mils-obs-size", "0", "--out", "x"], "positive integer"),
    ],
)
def test_cli_bad_mils_arguments_are_argparse_errors(argv, expected, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert expected in capsys.readouterr().err
