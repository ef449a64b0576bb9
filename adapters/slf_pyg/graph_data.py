r"""The data sets of ``slf graph``: molecular graphs, or Merck descriptor signals, split three ways.

``data`` names one of

- ``chembl2321810`` or ``freesolv``: molecular graphs (:mod:`slf_pyg.molecules`), split
  by scaffold or at random (:mod:`slf_pyg.splits`);
- ``dpp4:PATH``: a Merck Molecular Activity Challenge CSV (:mod:`slf_pyg.merck_activity`),
  e.g. the DPP4 training file, as descriptor signals on a descriptor graph
  (:mod:`slf_pyg.descriptor_graph`): split at random (the file has no SMILES), the rare
  descriptor filter, ``log(x + 1)`` and the kNN correlation graph are all computed from
  the training molecules alone and applied unchanged to the others.

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
    ValueError: unknown graph data set 'qm9'; valid choices: chembl2321810, freesolv, dpp4:PATH
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .splits import split_indices

__all__ = ["GRAPH_DATA_CHOICES", "GraphSplits", "default_root", "load_graph_data", "parse_graph_data"]

GRAPH_DATA_CHOICES = ("chembl2321810", "freesolv", "dpp4:PATH")


def default_root() -> Path:
    """``~/.cache/stochastic-loss/pyg``: where the molecule data sets cache their graphs."""
    return Path.home() / ".cache" / "stochastic-loss" / "pyg"


def parse_graph_data(spec: str) -> tuple[str, str | None]:
    """``(kind, path)`` of a ``--data`` value: ``('chembl2321810', None)`` or ``('dpp4', PATH)``.

    Raises:
        ValueError: an unknown name or ``dpp4:`` without a path; the message lists the choices.
    """
    from .molecules import MOLECULE_DATASETS

    name, sep, path = str(spec).partition(":")
    key = name.lower()
    if key in MOLECULE_DATASETS and not sep:
        return key, None
    if key == "dpp4":
        if not path:
            raise ValueError("dpp4 needs the path of a Merck challenge CSV: dpp4:PATH")
        return "dpp4", str(Path(path).expanduser())
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


def _molecules(name: str, root: str | os.PathLike[str], split: str, fractions, seed: int):
    from .molecules import molecule_dataset

    dataset = molecule_dataset(name, root, log=False)
    graphs = [dataset[i] for i in range(len(dataset))]
    parts = split_indices(split, [g.smiles for g in graphs], len(graphs), fractions, seed)
    return [[graphs[i] for i in part] for part in parts]


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


def load_graph_data(spec: str, root: str | os.PathLike[str] | None = None, split: str = "scaffold",
                    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0,
                    max_train: int | None = None, dpp4_k: int = 8, dpp4_min_nonzero: int = 20) -> GraphSplits:
    """Load and split a data set of :data:`GRAPH_DATA_CHOICES`.

    Args:
        spec: ``'chembl2321810'``, ``'freesolv'`` or ``'dpp4:PATH'``.
        root: cache folder of the molecule data sets (default :func:`default_root`).
        split: ``'scaffold'`` (molecules only) or ``'random'``.
        fractions: ``(train, val, test)``.
        seed: seed of a random split (a scaffold split does not depend on it).
        max_train: keep the first this many training graphs of a seeded shuffle (``None``: all).
        dpp4_k: neighbours per descriptor in the descriptor graph.
        dpp4_min_nonzero: the rare-descriptor filter of :func:`~slf_pyg.merck_activity.preprocess_descriptors`.

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
    if kind == "dpp4":
        train, val, test = _dpp4(path, split, fractions, seed, dpp4_k, dpp4_min_nonzero)
    else:
        train, val, test = _molecules(kind, root or default_root(), split, fractions, seed)
    if max_train is not None:
        if max_train < 1:
            raise ValueError(f"max_train must be >= 1, got {max_train}")
        order = np.random.default_rng(seed).permutation(len(train))[:max_train]
        train = [train[i] for i in sorted(order.tolist())]
    if len(train) < 2 or not val:
        raise ValueError(f"{spec}: the {split} split {tuple(fractions)} leaves {len(train)} training and "
                         f"{len(val)} validation graphs; need at least 2 and 1")
    y = torch.cat([g.y.view(-1) for g in train]).double()
    first = train[0]
    edge_attr = getattr(first, "edge_attr", None)
    return GraphSplits(name=spec, train=train, val=val, test=test, in_channels=int(first.x.size(-1)),
                       edge_dim=1 if edge_attr is None or edge_attr.dim() == 1 else int(edge_attr.size(-1)),
                       y_mean=float(y.mean()), y_std=float(y.std()) if len(y) > 1 and float(y.std()) > 0 else 1.0,
                       split=split)
