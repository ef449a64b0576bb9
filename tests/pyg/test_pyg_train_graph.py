"""Graph regression with SLF on real molecules: splits, metrics, the trainer, dpp4 signals, `slf graph`."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from slf import StochasticLoss
from slf.cli import main
from slf.lookahead import decision_hypergradient, directional_derivative
from slf_pyg.graph_data import load_graph_data, parse_graph_data
from slf_pyg.splits import murcko_scaffold, random_split, scaffold_split
from slf_pyg.train_graph import (
    GraphRegressionConfig,
    regression_metrics,
    run_graph,
    summarize_graph_runs,
    train_graph_regression,
)

pytestmark = pytest.mark.pyg


@pytest.fixture(scope="module")
def pyg_graph_root(pyg_dataset_root):
    return str(pyg_dataset_root)


@pytest.fixture(scope="module")
def pyg_chembl_splits(pyg_graph_root):
    return load_graph_data("chembl2321810", pyg_graph_root, split="scaffold")


@pytest.fixture
def pyg_dpp4_file(pyg_merck_file):
    return pyg_merck_file


# ---------------------------------------------------------------------- splits
def test_scaffold_split_keeps_each_scaffold_in_one_split(pyg_chembl_rows):
    smiles = [row[0] for row in pyg_chembl_rows]
    parts = scaffold_split(smiles, (0.8, 0.1, 0.1))
    assert sorted(i for part in parts for i in part) == list(range(len(smiles)))
    scaffolds = [{murcko_scaffold(smiles[i]) for i in part} for part in parts]
    assert not (scaffolds[0] & scaffolds[1]) and not (scaffolds[0] & scaffolds[2]) and not (scaffolds[1] & scaffolds[2])
    assert len(parts[0]) <= 0.8 * len(smiles) and len(parts[0]) + len(parts[1]) <= 0.9 * len(smiles)
    assert [len(p) for p in parts] == [813, 102, 102]  # deterministic: no seed involved


def test_random_split_is_a_seeded_partition():
    a, b = random_split(1017, seed=3), random_split(1017, seed=3)
    assert a == b and a != random_split(1017, seed=4)
    assert sorted(i for part in a for i in part) == list(range(1017))
    assert [len(p) for p in a] == [813, 102, 102]


@pytest.mark.parametrize(
    "fractions, message",
    [((0.8, 0.1), "three numbers"), ((0.8, 0.3, 0.1), "sum to 1"), ((0.0, 0.5, 0.5), "training fraction")],
)
def test_bad_split_fractions(fractions, message):
    with pytest.raises(ValueError, match=message):
        random_split(10, fractions)


def test_unparsable_smiles_in_a_scaffold_split_names_the_row():
    with pytest.raises(ValueError, match="row 1: rdkit cannot parse SMILES 'C1CC'"):
        scaffold_split(["CCO", "C1CC", "CCN"])


# ---------------------------------------------------------------------- metrics
def test_r2_is_the_squared_correlation():
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    pred = 0.5 * y + rng.normal(scale=0.5, size=200) + 3.0
    metrics = regression_metrics(pred, y)
    assert metrics["r2"] == pytest.approx(np.corrcoef(pred, y)[0, 1] ** 2, rel=1e-9)
    assert metrics["rmse"] == pytest.approx(np.sqrt(np.mean((pred - y) ** 2)))
    # The offset of 3 leaves R^2 alone but ruins the coefficient of determination.
    assert metrics["coefficient_of_determination"] < 0 < metrics["r2"] < 1
    assert math.isnan(regression_metrics([1.0, 1.0], [0.0, 2.0])["r2"])


# ---------------------------------------------------------------------- data
def test_chembl_scaffold_splits_and_standardisation(pyg_chembl_splits):
    data = pyg_chembl_splits
    assert data.sizes() == {"train": 813, "val": 102, "test": 102}
    assert data.in_channels == 9 and data.edge_dim == 3
    y = torch.cat([g.y for g in data.train]).double()
    assert data.y_mean == pytest.approx(float(y.mean())) and data.y_std == pytest.approx(float(y.std()))


def test_dpp4_signals_use_training_statistics_only(pyg_dpp4_file, pyg_merck_sample):
    data = load_graph_data(f"dpp4:{pyg_dpp4_file}", split="random", dpp4_k=4, dpp4_min_nonzero=5)
    assert data.sizes() == {"train": 48, "val": 6, "test": 6}
    first = data.train[0]
    assert first.x.shape[1] == 1 and data.in_channels == 1 and data.edge_dim == 1
    # Every molecule is a signal on the same descriptor graph, built from the training rows.
    assert all(g.x.shape[0] == first.x.shape[0] for g in data.train + data.val + data.test)
    assert all(torch.equal(g.edge_index, first.edge_index) for g in data.val)
    from slf_pyg.merck_activity import preprocess_descriptors

    train_rows = random_split(60, seed=0)[0]
    _, kept = preprocess_descriptors(pyg_merck_sample["descriptors"][train_rows], min_nonzero=5)
    assert first.x.shape[0] == len(kept)


def test_data_errors(pyg_dpp4_file):
    with pytest.raises(ValueError, match="valid choices: chembl2321810, freesolv, dpp4:PATH"):
        parse_graph_data("qm9")
    with pytest.raises(ValueError, match="dpp4:PATH"):
        parse_graph_data("dpp4:")
    with pytest.raises(ValueError, match="cannot be split by scaffold"):
        load_graph_data(f"dpp4:{pyg_dpp4_file}", split="scaffold")
    assert GraphRegressionConfig(data=f"dpp4:{pyg_dpp4_file}").split == "random"
    with pytest.raises(ValueError, match="unknown loss 'ce'"):
        GraphRegressionConfig(loss="ce")
    with pytest.raises(ValueError, match=r"unknown \['hinge'\]"):
        GraphRegressionConfig(loss="slf", slf_candidates=("mse", "hinge"))
    with pytest.raises(ValueError, match="slf_decision_input"):
        GraphRegressionConfig(slf_decision_input="logits")


# ---------------------------------------------------------------------- the look-ahead on PyG batches
def test_validation_hypergradient_on_a_pyg_batch_matches_central_differences(pyg_chembl_splits):
    from torch_geometric.data import Batch

    from slf_pyg.models import build_model

    torch.manual_seed(0)
    data = pyg_chembl_splits
    model = build_model("gcn", in_channels=9, hidden_channels=16).double()
    crit = StochasticLoss(["mse", "mae", "huber"], task="regression", mode="validation", seed=0)
    batch, held = Batch.from_data_list(data.train[:32]), Batch.from_data_list(data.val[:32])
    scale = lambda y: ((y.double() - data.y_mean) / data.y_std).view(-1)  # noqa: E731
    target, held_target = scale(batch.y), scale(held.y)
    model.eval()  # BatchNorm from running statistics: the same function in every pass
    crit(model(batch), target)
    saved = crit.learner.take_saved("test")
    coefficients, _ = decision_hypergradient(crit, model, batch, target, held, held_target, saved)

    params = dict(model.named_parameters())
    val_loss = torch.nn.functional.mse_loss(model(held), held_target)
    direction = dict(zip(params, torch.autograd.grad(val_loss, list(params.values()))))
    derivative = directional_derivative(
        model, direction, lambda: crit.candidate_losses(model(batch), target).mean(0), radius=1e-4
    )
    expected = -crit.lookahead_lr * derivative.double()
    torch.testing.assert_close(coefficients.view(-1).double(), expected, rtol=2e-3, atol=1e-7)


# ---------------------------------------------------------------------- the trainer
@pytest.mark.slow
def test_training_improves_r2_and_slf_weights_move(pyg_graph_root):
    base = GraphRegressionConfig(
        data="chembl2321810", root=pyg_graph_root, model="gcn", hidden_channels=32, epochs=4, num_threads=2
    )
    mse = train_graph_regression(base, progress=False)
    assert mse["sizes"] == {"train": 813, "val": 102, "test": 102}
    assert mse["val_r2"][-1] > mse["val_r2"][0] and mse["final"]["r2"] > 0.3
    assert mse["train_loss"][-1] < mse["train_loss"][0]
    assert len(mse["test_predictions"]) == 102 and "candidates" not in mse

    slf = train_graph_regression(
        GraphRegressionConfig(
            **{**base.__dict__, "loss": "slf", "slf_mode": "validation", "slf_decision_input": "prediction+embedding"}
        ),
        progress=False,
    )
    weights = np.array(slf["final_weights"])
    assert slf["candidates"] == ["mse", "mae", "huber", "log_cosh", "robust"]
    assert np.abs(weights - 0.2).max() > 0.02 and weights.sum() == pytest.approx(1.0, abs=1e-5)
    assert len(slf["validation_loss"]) == 4 and all(math.isfinite(v) for v in slf["validation_loss"])
    assert slf["final"]["r2"] > 0.3


def test_the_default_recipe_takes_its_reference_from_the_validation_split(pyg_graph_root, recwarn):
    cfg = GraphRegressionConfig(
        data="chembl2321810", root=pyg_graph_root, model="gcn", hidden_channels=32, epochs=3, num_threads=2, loss="slf"
    )
    assert cfg.slf_mode == "align" and cfg.method == "slf-align"
    run = train_graph_regression(cfg, progress=False)
    assert run["slf_stats"]["held_out_reference"] == 1.0  # the validation batches, through slf.HeldOut
    assert not [w for w in recwarn if "no held-out data" in str(w.message)]
    scores = [run["slf_stats"][f"alignment/{name}"] for name in run["candidates"]]
    assert all(-1.0 <= score <= 1.0 for score in scores) and len(set(scores)) > 1
    weights = np.array(run["mean_weights"])
    assert np.abs(weights - 0.2).max() > 0.05 and weights.sum() == pytest.approx(1.0, abs=1e-5)
    assert run["final"]["r2"] > 0.3
    with pytest.raises(ValueError, match="slf_mode='align' has none"):
        GraphRegressionConfig(loss="slf", slf_decision_input="prediction+embedding")


def test_same_seed_same_run(pyg_graph_root):
    cfg = GraphRegressionConfig(
        root=pyg_graph_root,
        model="lcn",
        hidden_channels=16,
        epochs=1,
        max_train_samples=128,
        loss="slf",
        slf_mode="joint",
    )
    a, b = train_graph_regression(cfg, progress=False), train_graph_regression(cfg, progress=False)
    assert a["test_predictions"] == b["test_predictions"] and a["final_weights"] == b["final_weights"]


def test_run_graph_on_dpp4_signals_writes_json_and_plots(tmp_path, pyg_dpp4_file):
    cfg = GraphRegressionConfig(
        data=f"dpp4:{pyg_dpp4_file}",
        model="chebnet",
        hidden_channels=8,
        epochs=2,
        batch_size=16,
        loss="slf",
        dpp4_k=4,
        dpp4_min_nonzero=5,
    )
    summary = run_graph(cfg, 2, tmp_path / "run", progress=False)
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["trainer"] == "graph_regression" and len(results["runs"]) == 2
    assert {p.rsplit("/", 1)[-1] for p in summary["plots"]} == {"r2.png", "parity.png", "selection_weights.png"}
    assert summary["seeds"] == 2 and set(summary["mean_weights"]) == set(cfg.slf_candidates)
    assert summary == {
        **summarize_graph_runs(results["runs"]),
        "out_dir": summary["out_dir"],
        "plots": summary["plots"],
    }


# ---------------------------------------------------------------------- the command line
def test_slf_graph_command(tmp_path, pyg_graph_root, capsys):
    out = tmp_path / "cli"
    code = main(
        [
            "graph",
            "--data",
            "chembl2321810",
            "--root",
            pyg_graph_root,
            "--model",
            "scn",
            "--loss",
            "huber",
            "--hidden",
            "16",
            "--epochs",
            "1",
            "--seeds",
            "2",
            "--max-train-samples",
            "200",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0 and "huber" in printed and "scaffold" in printed and "test R2 (final)" in printed
    results = json.loads((out / "results.json").read_text())
    assert [run["sizes"]["train"] for run in results["runs"]] == [200, 200]
    assert (out / "r2.png").stat().st_size > 0 and (out / "parity.png").stat().st_size > 0
    (out / "r2.png").unlink()
    assert main(["plot", str(out)]) == 0 and (out / "r2.png").is_file()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "gat"], "invalid choice 'gat'; valid choices: gcn, chebnet, ecc, scn, lcn, dfn"),
        (["--loss", "ce"], "invalid choice 'ce'; valid choices: adalfl, adaptive_robust"),
        (["--loss", "slf", "--slf-candidates", "mse,cosine"], "unknown loss(es) ['cosine']"),
        (["--data", "qm9"], "unknown graph data set 'qm9'"),
    ],
)
def test_slf_graph_bad_arguments(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as stop:
        main(["graph", "--out", str(tmp_path), *argv])
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_slf_graph_under_torchrun_keeps_every_rank_identical(slf_torchrun, tmp_path):
    """Two CPU processes (gloo), each with its shard of every batch; rank 0 processes the data set first."""
    run = slf_torchrun(
        "graph",
        "--data",
        "chembl2321810",
        "--root",
        str(tmp_path / "data"),
        "--model",
        "gcn",
        "--loss",
        "slf",
        "--hidden",
        "16",
        "--epochs",
        "2",
        "--seeds",
        "1",
        "--max-train-samples",
        "200",
    )
    assert run["distributed"] == {
        "world_size": 2,
        "backend": "gloo",
        "model_max_rank_difference": 0.0,
        "decision_max_rank_difference": 0.0,
    }
    assert all(math.isfinite(v) for v in run["train_loss"]) and len(run["weights_history"]) > 0
