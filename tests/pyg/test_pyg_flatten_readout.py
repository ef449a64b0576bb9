"""The flatten readout for descriptor-graph signals: it keeps which descriptor is which (pooling does not),
builds from the data's node count, trains on a Merck-format file of real molecules' rdkit descriptors and is
refused on molecules of many sizes."""

from __future__ import annotations

import pytest
import torch

from slf.cli import main
from slf_pyg.graph_data import load_graph_data
from slf_pyg.models import build_model
from slf_pyg.train_graph import GraphRegressionConfig, train_graph_regression

pytestmark = pytest.mark.pyg


def _signal(values):
    """One descriptor-graph signal with no edges: each descriptor a node with its value."""
    from torch_geometric.data import Data

    return Data(x=torch.tensor(values, dtype=torch.float32).view(-1, 1), edge_index=torch.zeros(2, 0, dtype=torch.long))


def test_pooling_forgets_which_descriptor_is_which_and_flatten_keeps_it():
    from torch_geometric.data import Batch

    batch = Batch.from_data_list([_signal([1.0, 0.0, 3.0, 0.0]), _signal([0.0, 1.0, 0.0, 3.0])])  # values swapped
    torch.manual_seed(0)
    pooled = build_model("gcn", in_channels=1, hidden_channels=8, batch_norm=False).eval()
    flat = build_model("gcn", in_channels=1, hidden_channels=8, batch_norm=False, readout="flatten", num_nodes=4)
    flat.eval()
    with torch.no_grad():
        z = pooled.embed(batch)
        torch.testing.assert_close(z[0], z[1])  # the same values on other descriptors: one embedding
        assert not torch.allclose(flat.embed(batch)[0], flat.embed(batch)[1])
    assert flat.lin1.in_features == 4 * 8 and flat.node_projection.out_features == 8


def test_flatten_readout_is_refused_without_a_size_or_on_graphs_of_another_size():
    with pytest.raises(ValueError, match="readout must be one of \\['pool', 'flatten'\\]"):
        build_model("gcn", in_channels=1, readout="sum")
    with pytest.raises(ValueError, match="needs num_nodes"):
        build_model("chebnet", in_channels=1, readout="flatten")
    model = build_model("gcn", in_channels=1, hidden_channels=8, readout="flatten", num_nodes=4)
    with pytest.raises(ValueError, match="has 5 nodes; the flatten readout is for graphs of one size"):
        model(_signal([1.0, 2.0, 3.0, 4.0, 5.0]))


def test_flatten_readout_trains_on_real_descriptor_signals(pyg_merck_file):
    spec = f"dpp4:{pyg_merck_file}"
    descriptors = load_graph_data(spec, split="random", dpp4_k=4, dpp4_min_nonzero=5).train[0].num_nodes
    cfg = GraphRegressionConfig(
        data=spec,
        model="chebnet",
        hidden_channels=16,
        num_layers=2,
        epochs=8,
        batch_size=16,
        dpp4_k=4,
        dpp4_min_nonzero=5,
        model_options={"readout": "flatten"},
        num_threads=1,
    )
    result = train_graph_regression(cfg, progress=False)
    assert result["train_loss"][-1] < result["train_loss"][0]
    assert all(value == value for value in result["final"].values() if isinstance(value, float))
    assert 10 < descriptors < 40  # the rdkit count descriptors that are not too rare to keep


def test_slf_graph_reads_out_dpp4_by_flatten_and_refuses_it_on_molecules(
    pyg_merck_file, pyg_dataset_root, tmp_path, capsys
):
    status = main(
        [
            "graph",
            "--data",
            f"dpp4:{pyg_merck_file}",
            "--model",
            "gcn",
            "--readout",
            "flatten",
            "--hidden",
            "8",
            "--epochs",
            "2",
            "--seeds",
            "1",
            "--threads",
            "1",
            "--no-progress",
            "--out",
            str(tmp_path / "flat"),
        ]
    )
    assert status == 0 and (tmp_path / "flat" / "results.json").is_file()
    status = main(
        ["graph", "--data", "freesolv", "--readout", "flatten", "--epochs", "1", "--seeds", "1", "--no-progress"]
        + ["--root", str(pyg_dataset_root), "--out", str(tmp_path / "molecules")]
    )
    assert status == 2
    assert "readout 'flatten' reads graphs of one size" in capsys.readouterr().err
