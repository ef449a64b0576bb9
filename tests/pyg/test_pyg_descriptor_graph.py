"""The descriptor graph of the DPP4 experiment and the per-molecule signals on it, on real molecules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from slf_pyg.descriptor_graph import (
    descriptor_correlation,
    descriptor_graph,
    molecule_signals,
)
from slf_pyg.merck_activity import preprocess_descriptors

pytestmark = pytest.mark.pyg


@pytest.fixture(scope="module")
def pyg_signal_x(pyg_merck_sample) -> np.ndarray:
    z, _ = preprocess_descriptors(pyg_merck_sample["descriptors"], min_nonzero=3)
    return z


def _abs_corrcoef(x: np.ndarray) -> np.ndarray:
    """|Pearson| from numpy's corrcoef, constant columns set to 0 (independent reference)."""
    x = np.asarray(x, dtype=np.float64)
    varies = x.std(axis=0) > 0
    ref = np.zeros((x.shape[1], x.shape[1]))
    ref[np.ix_(varies, varies)] = np.abs(np.corrcoef(x[:, varies].T))
    return ref


def test_correlation_matches_numpy_and_zeroes_constant_columns(pyg_merck_sample):
    x = pyg_merck_sample["descriptors"]  # raw counts, with constant columns
    corr = descriptor_correlation(x)
    ref = _abs_corrcoef(x)
    constant = x.std(axis=0) == 0
    assert constant.any() and np.isfinite(corr).all()
    np.testing.assert_allclose(corr, ref, atol=1e-10)
    assert np.all(corr[constant] == 0) and np.all(corr[:, constant] == 0)


@pytest.mark.parametrize("k", [1, 3, 8])
def test_graph_is_symmetric_knn_without_self_loops(pyg_signal_x, k):
    x = pyg_signal_x
    d = x.shape[1]
    edge_index, edge_weight = descriptor_graph(x, k=k)
    assert edge_index.dtype == torch.long and edge_index.shape[0] == 2
    assert edge_weight.dtype == torch.float32 and edge_weight.shape == (edge_index.shape[1],)
    src, dst = edge_index.tolist()
    assert all(s != t for s, t in zip(src, dst))  # no self loops
    weights = {(s, t): w for s, t, w in zip(src, dst, edge_weight.tolist())}
    assert len(weights) == len(src)  # no duplicates
    assert all(weights.get((t, s)) == w for (s, t), w in weights.items())  # undirected, same weight
    assert np.bincount(np.array(src), minlength=d).min() >= k  # each node has at least k neighbours
    ref = _abs_corrcoef(x)
    np.testing.assert_allclose(edge_weight.numpy(), ref[src, dst], atol=1e-6)
    # each node's k best partners (by the reference correlation) are among its neighbours
    off = ref - 2 * np.eye(d)
    for j in range(d):
        kth = np.sort(off[j])[-k]
        strictly_better = np.flatnonzero(off[j] > kth + 1e-9)
        assert all((j, int(t)) in weights for t in strictly_better)


def test_strongest_pair_is_connected(pyg_signal_x):
    ref = _abs_corrcoef(pyg_signal_x) - 2 * np.eye(pyg_signal_x.shape[1])
    a, b = np.unravel_index(np.argmax(ref), ref.shape)
    edge_index, edge_weight = descriptor_graph(pyg_signal_x, k=1)
    pairs = set(map(tuple, edge_index.t().tolist()))
    assert (a, b) in pairs and (b, a) in pairs
    assert edge_weight.max().item() == pytest.approx(ref[a, b], abs=1e-6)


@pytest.mark.parametrize("k", [0, -1, "all", 2.5, True])
def test_k_validation_small_and_wrong_type(pyg_signal_x, k):
    with pytest.raises(ValueError, match=r"k must be an integer with 1 <= k < D = \d+"):
        descriptor_graph(pyg_signal_x, k=k)


def test_k_must_be_below_the_number_of_descriptors(pyg_signal_x):
    d = pyg_signal_x.shape[1]
    with pytest.raises(ValueError, match=rf"1 <= k < D = {d} .* got {d}"):
        descriptor_graph(pyg_signal_x, k=d)
    edge_index, _ = descriptor_graph(pyg_signal_x, k=d - 1)  # the complete graph
    assert edge_index.shape[1] == d * (d - 1)


def test_molecule_signals_and_a_batch(pyg_signal_x, pyg_merck_sample):
    from torch_geometric.loader import DataLoader
    from torch_geometric.nn import GCNConv

    x = pyg_signal_x
    n, d = x.shape
    edge_index, edge_weight = descriptor_graph(x, k=4)
    e = edge_index.shape[1]
    graphs = molecule_signals(x, pyg_merck_sample["activity"], edge_index, edge_weight)
    assert len(graphs) == n
    g = graphs[3]
    assert g.x.shape == (d, 1) and g.x.dtype == torch.float32 and np.array_equal(g.x[:, 0].numpy(), x[3])
    assert g.edge_attr.shape == (e, 1) and torch.equal(g.edge_index, edge_index)
    assert g.y.shape == (1,) and g.y.item() == pytest.approx(pyg_merck_sample["activity"][3])
    batch = next(iter(DataLoader(graphs, batch_size=16, shuffle=False)))
    assert batch.num_graphs == 16 and batch.x.shape == (16 * d, 1) and batch.y.shape == (16,)
    assert batch.edge_index.shape == (2, 16 * e) and batch.edge_index.max().item() == 16 * d - 1
    out = GCNConv(1, 4)(batch.x, batch.edge_index, batch.edge_attr.view(-1))
    assert out.shape == (16 * d, 4) and torch.isfinite(out).all()


def test_molecule_signals_validation(pyg_signal_x):
    edge_index, edge_weight = descriptor_graph(pyg_signal_x, k=2)
    with pytest.raises(ValueError, match="activity has 3 values for 60 molecules"):
        molecule_signals(pyg_signal_x, [1.0, 2.0, 3.0], edge_index, edge_weight)
    with pytest.raises(ValueError, match="edge_weight must have shape"):
        molecule_signals(pyg_signal_x, np.zeros(60), edge_index, edge_weight[:-1])
    with pytest.raises(ValueError, match="outside"):
        molecule_signals(pyg_signal_x[:, :2], np.zeros(60), edge_index, edge_weight)
