r"""The data sets of ``slf graph``: molecular graphs, or Merck descriptor signals, split three ways.

``data`` names one of

- ``chembl2321810`` or ``freesolv``: molecular graphs (:mod:`slf_pyg.molecules`), split
  by scaffold or at random (:mod:`slf_pyg.splits`);
- ``csv:PATH``: a user's CSV of SMILES and a measured property
  (:func:`slf_pyg.molecules.read_smiles_csv`), split as the molecule sets are;
- ``dpp4:PATH``: a Merck Molecular Activity Challenge CSV (:mod:`slf_pyg.merck_activity`),
  e.g. the DPP4 training file, as descriptor signals on a descriptor graph
  (:mod:`slf_pyg.descriptor_graph`): split at random (the file has no SMILES), the rare
  descriptor filter, ``log(x + 1)`` and the kNN correlation graph are all computed from
  the training molecules alone and applied unchanged to the others.

Graphs built in Python (a PyG dataset, a list of ``Data`` with ``y``) are split by
:func:`split_graphs` into the same :class:`GraphSplits` that the trainer takes.

Targets are standardised with the training split's mean :math:`\mu` and standard
deviation :math:`\sigma` for training, :math:`\tilde y = (y - \mu) / \sigma`, so that
the candidate losses (Huber's threshold, Barron's scale) see unit-scale residuals on any
data set; metrics are reported in the original units.

Example:
    >>> parse_graph_data("dpp4:~/merck/DPP4_training_disguised.csv")  # doctest: +ELLIPSIS
    ('dpp4', '.../merck/DPP4_training_disguised.csv')
    >>> parse_graph_data("qm9")
    Traceback (most recent call last):
    ...
    ValueError: unknown graph data set 'qm9'; valid choices: chembl2321810, freesolv, dpp4:PATH, csv:PATH
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .splits import split_indices

__all__ = ["GRAPH_DATA_CHOICES", "GraphSplits", "default_root", "load_graph_data", "parse_graph_data", "split_graphs"]

GRAPH_DATA_CHOICES = ("chembl2321810", "freesolv", "dpp4:PATH", "csv:PATH")


def default_root() -> Path:
    """``~/.cache/stochastic-loss/pyg``: where the molecule data sets cache their graphs."""
    return Path.home() / ".cache" / "stochastic-loss" / "pyg"


def parse_graph_data(spec: str) -> tuple[str, str | None]:
    """``(kind, path)`` of a ``--data`` value: ``('chembl2321810', None)``, ``('dpp4', PATH)`` or ``('csv', PATH)``.

    Raises:
        ValueError: an unknown name or ``dpp4:`` / ``csv:`` without a path; the message lists the choices.
    """
    from .molecules import MOLECULE_DATASETS

    name, sep, path = str(spec).partition(":")
    key = name.lower()
    if key in MOLECULE_DATASETS and not sep:
        return key, None
    if key in ("dpp4", "csv"):
        if not path:
            raise ValueError(
                f"{key} needs the path of a CSV file: {key}:PATH; valid choices: {', '.join(GRAPH_DATA_CHOICES)}"
            )
        return key, str(Path(path).expanduser())
    raise ValueError(f"unknown graph data set {spec!r}; valid choices: {', '.join(GRAPH_DATA_CHOICES)}")


@dataclass
class GraphSplits:
    """Train / validation / test graphs with what a model needs to know of them.

    Attributes:
        name: the data spec.
        train, val, test: lists of PyG ``Data`` with ``y`` of shape ``(1,)`` in original units.
        in_channels: node feature columns.
        edge_dim: ``edge_attr`` columns.
        y_mean, y_std: the training targets' mean and standard deviation.
        split: ``'scaffold'`` or ``'random'``.
    """

    name: str
    train: list
    val: list
    test: list
    in_channels: int
    edge_dim: int
    y_mean: float
    y_std: float
    split: str

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def _split(graphs, split: str, fractions, seed: int):
    smiles = [g.smiles for g in graphs] if all(isinstance(getattr(g, "smiles", None), str) for g in graphs) else None
    parts = split_indices(split, smiles, len(graphs), fractions, seed)
    return [[graphs[i] for i in part] for part in parts]


def _molecules(name: str, root: str | os.PathLike[str], split: str, fractions, seed: int):
    from .molecules import molecule_dataset

    dataset = molecule_dataset(name, root, log=False)
    return _split([dataset[i] for i in range(len(dataset))], split, fractions, seed)


def _dpp4(path: str, split: str, fractions, seed: int, k: int, min_nonzero: int):
    from .descriptor_graph import descriptor_graph, molecule_signals
    from .merck_activity import load_merck_csv, preprocess_descriptors

    if split != "random":
        raise ValueError(f"{path}: a Merck CSV has no SMILES, so it cannot be split by scaffold; use split='random'")
    table = load_merck_csv(path)
    parts = split_indices("random", None, len(table), fractions, seed)
    train_x, kept = preprocess_descriptors(table.descriptors[parts[0]], min_nonzero=min_nonzero)
    edge_index, edge_weight = descriptor_graph(train_x, k=k)
    out = []
    for part in parts:
        x, _ = preprocess_descriptors(table.descriptors[part], keep=kept)
        out.append(molecule_signals(x, table.activity[part], edge_index, edge_weight) if part else [])
    return out


def load_graph_data(
    spec: str,
    root: str | os.PathLike[str] | None = None,
    split: str = "scaffold",
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    max_train: int | None = None,
    dpp4_k: int = 8,
    dpp4_min_nonzero: int = 20,
    smiles_column: str | None = None,
    target_column: str | None = None,
) -> GraphSplits:
    """Load and split a data set of :data:`GRAPH_DATA_CHOICES`.

    Args:
        spec: ``'chembl2321810'``, ``'freesolv'``, ``'dpp4:PATH'`` or ``'csv:PATH'``.
        root: cache folder of the molecule data sets (default :func:`default_root`).
        split: ``'scaffold'`` (molecules only) or ``'random'``.
        fractions: ``(train, val, test)``.
        seed: seed of a random split (a scaffold split does not depend on it).
        max_train: keep the first this many training graphs of a seeded shuffle (``None``: all).
        dpp4_k: neighbours per descriptor in the descriptor graph.
        dpp4_min_nonzero: the rare-descriptor filter of :func:`~slf_pyg.merck_activity.preprocess_descriptors`.
        smiles_column, target_column: a ``csv:PATH`` file's columns (:func:`~slf_pyg.molecules.read_smiles_csv`).

    Raises:
        ValueError: an unknown data set or split, a split that leaves the training or
            validation set empty, or a bad file (the loaders name the row).

    Example:
        >>> import tempfile
        >>> data = load_graph_data("freesolv", tempfile.mkdtemp(), split="random")  # doctest: +SKIP
        >>> data.sizes()  # doctest: +SKIP
        {'train': 514, 'val': 64, 'test': 64}
    """
    kind, path = parse_graph_data(spec)
    if kind != "csv" and (smiles_column is not None or target_column is not None):
        raise ValueError(
            f"smiles_column and target_column name a CSV's columns; {spec!r} is not a CSV (use 'csv:PATH')"
        )
    if kind == "dpp4":
        return _as_splits(
            spec, _dpp4(path, split, fractions, seed, dpp4_k, dpp4_min_nonzero), split, fractions, seed, max_train
        )
    if kind == "csv":
        from .molecules import read_smiles_csv

        return split_graphs(
            read_smiles_csv(path, smiles_column, target_column), split, fractions, seed, max_train, name=spec
        )
    return _as_splits(
        spec, _molecules(kind, root or default_root(), split, fractions, seed), split, fractions, seed, max_train
    )


def split_graphs(
    graphs,
    split: str = "scaffold",
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    max_train: int | None = None,
    name: str = "graphs",
) -> GraphSplits:
    """Split graphs built in Python (a PyG dataset, a list of ``Data``) for the trainer.

    Args:
        graphs: PyG ``Data`` with node features ``x`` and one target ``y`` each; with a
            ``smiles`` string each for a scaffold split.
        split: ``'scaffold'`` or ``'random'``.
        fractions: ``(train, val, test)``.
        seed: seed of a random split.
        max_train: keep this many training graphs of a seeded shuffle (``None``: all).
        name: names the data in the results.

    Raises:
        ValueError: a graph without ``x`` or without exactly one target, a scaffold split
            of graphs without SMILES, or a split that leaves too few graphs.

    Example:
        >>> from slf_pyg.molecules import smiles_to_graphs
        >>> smiles = ["CCO", "CCC", "CCN", "c1ccccc1", "c1ccccc1O", "C1CCCCC1", "CC(=O)O", "c1ccncc1"]
        >>> graphs = smiles_to_graphs(smiles, smiles, [float(i) for i in range(8)])
        >>> split_graphs(graphs, "random", (0.5, 0.25, 0.25), seed=0, name="mine").sizes()
        {'train': 4, 'val': 2, 'test': 2}
    """
    graphs = [graphs[i] for i in range(len(graphs))]
    for index, graph in enumerate(graphs):
        if getattr(graph, "x", None) is None:
            raise ValueError(f"graph {index} has no node features x")
        y = getattr(graph, "y", None)
        if y is None or y.numel() != 1:
            raise ValueError(
                f"graph {index}: y must hold one regression target, got {None if y is None else tuple(y.shape)}"
            )
    return _as_splits(name, _split(graphs, split, fractions, seed), split, fractions, seed, max_train)


def _as_splits(spec: str, parts, split: str, fractions, seed: int, max_train: int | None) -> GraphSplits:
    """The three parts as :class:`GraphSplits`: the training part capped, the target's statistics taken."""
    train, val, test = parts
    if max_train is not None:
        if max_train < 1:
            raise ValueError(f"max_train must be >= 1, got {max_train}")
        order = np.random.default_rng(seed).permutation(len(train))[:max_train]
        train = [train[i] for i in sorted(order.tolist())]
    if len(train) < 2 or not val:
        raise ValueError(
            f"{spec}: the {split} split {tuple(fractions)} leaves {len(train)} training and "
            f"{len(val)} validation graphs; need at least 2 and 1"
        )
    y = torch.cat([g.y.view(-1) for g in train]).double()
    first = train[0]
    edge_attr = getattr(first, "edge_attr", None)
    return GraphSplits(
        name=spec,
        train=train,
        val=val,
        test=test,
        in_channels=int(first.x.size(-1)),
        edge_dim=1 if edge_attr is None or edge_attr.dim() == 1 else int(edge_attr.size(-1)),
        y_mean=float(y.mean()),
        y_std=float(y.std()) if len(y) > 1 and float(y.std()) > 0 else 1.0,
        split=split,
    )
