"""Shared fixtures of the PyG tests: real molecules from rdkit's bundled CHEMBL2321810 set."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest

# Count-like (integer) rdkit descriptors, standing in for the Merck atom-pair counts.
PYG_COUNT_DESCRIPTORS = 40


@pytest.fixture(scope="session")
def pyg_chembl_rows() -> list[tuple[str, str, float]]:
    """``(smiles, id, pIC50)`` for all 1,017 molecules, read straight from rdkit's files."""
    from rdkit import RDConfig

    folder = os.path.join(RDConfig.RDContribDir, "FreeWilson", "data")
    with open(os.path.join(folder, "CHEMBL2321810_act.csv"), newline="") as f:
        act = {row["Name"]: float(row["Act"]) for row in csv.DictReader(f)}
    with open(os.path.join(folder, "CHEMBL2321810.smi")) as f:
        pairs = [line.split() for line in f if line.strip()]
    return [(smi, mol_id, act[mol_id]) for smi, mol_id in pairs]


@pytest.fixture(scope="session")
def pyg_dataset_root(tmp_path_factory):
    """One cache folder with both molecule datasets (CHEMBL2321810, FreeSolv) built once, the PyG way."""
    from slf_pyg.molecules import Chembl2321810, FreeSolv

    root = tmp_path_factory.mktemp("pyg_molecules")
    Chembl2321810(root, log=False)
    FreeSolv(root, log=False)
    return root


@pytest.fixture(scope="session")
def pyg_merck_sample(pyg_chembl_rows) -> dict:
    """60 real molecules x 40 rdkit count descriptors, in the Merck layout's pieces.

    Every 17th molecule of CHEMBL2321810; descriptors are the first 40 integer-valued
    rdkit descriptors (``Num*``, ``*Count``, ``fr_*``), named ``D_<rdkit name>``.
    Several are constant on this congeneric series (e.g. ``NumRadicalElectrons``).
    """
    from rdkit import Chem
    from rdkit.Chem import Descriptors

    calcs = [
        (n, f)
        for n, f in Descriptors._descList
        if n.startswith(("Num", "fr_")) or n in ("HeavyAtomCount", "NHOHCount", "NOCount", "RingCount")
    ]
    calcs = calcs[:PYG_COUNT_DESCRIPTORS]
    rows = pyg_chembl_rows[::17][:60]
    mols = [Chem.MolFromSmiles(smi) for smi, _, _ in rows]
    x = np.array([[f(m) for _, f in calcs] for m in mols], dtype=np.float32)
    assert x.shape == (60, PYG_COUNT_DESCRIPTORS) and np.all(x == np.round(x)) and np.all(x >= 0)
    return {
        "ids": [r[1] for r in rows],
        "activity": np.array([r[2] for r in rows]),
        "descriptors": x,
        "names": [f"D_{n}" for n, _ in calcs],
        "smiles": [r[0] for r in rows],
    }


@pytest.fixture
def pyg_merck_file(tmp_path, pyg_merck_sample):
    """:func:`pyg_merck_sample` written as a Merck challenge CSV (the real layout)."""
    from slf_pyg.merck_activity import write_merck_csv

    s = pyg_merck_sample
    path = tmp_path / "DPP4_like_training.csv"
    write_merck_csv(path, s["ids"], s["activity"], s["descriptors"], s["names"])
    return path
