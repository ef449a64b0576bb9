r"""The graph regression models by their registry names (the ``--model`` choices of ``slf graph``)."""

from __future__ import annotations

import inspect
from typing import Any

from .base import GraphRegressor
from .chebnet import ChebNetRegressor
from .dfn import DFNRegressor
from .ecc import ECCRegressor
from .gcn import GCNRegressor
from .lcn import LCNRegressor
from .scn import SCNRegressor

__all__ = ["MODELS", "READOUTS", "build_model"]

#: How a model reads a graph out: ``pool`` (mean and max over the nodes) or ``flatten`` (the nodes in order,
#: for graphs of one size: :meth:`GraphRegressor.use_flatten_readout`).
READOUTS = ("pool", "flatten")

#: Registry name -> model class, the six models of the SLF paper's DPP4 experiment.
MODELS: dict[str, type[GraphRegressor]] = {
    "gcn": GCNRegressor,
    "chebnet": ChebNetRegressor,
    "ecc": ECCRegressor,
    "scn": SCNRegressor,
    "lcn": LCNRegressor,
    "dfn": DFNRegressor,
}


def build_model(name: str, in_channels: int, edge_dim: int | None = None, **kwargs: Any) -> GraphRegressor:
    """Build a graph regression model by its registry name.

    Args:
        name: one of ``gcn``, ``chebnet``, ``ecc``, ``scn``, ``lcn``, ``dfn``
            (case-insensitive).
        in_channels: node feature columns (9 for molecules, 1 for descriptor signals).
        edge_dim: ``edge_attr`` columns; required by ``ecc``, accepted (unread) by the others.
        **kwargs: the model's other arguments (``hidden_channels``, ``num_layers``,
            ``dropout``, and ``K`` for ``chebnet`` / ``scn``, ``heads`` for ``dfn``,
            ``edge_hidden`` for ``ecc``), and for any model ``readout`` (``'pool'``, the default, or
            ``'flatten'`` with ``num_nodes`` and optionally ``readout_channels``, 8).

    Raises:
        ValueError: unknown ``name`` (the message lists the valid names), or ``ecc``
            without ``edge_dim``.
        TypeError: a keyword the model does not take (the message lists those it does).

    Example:
        >>> build_model("chebnet", in_channels=9, K=2)
        ChebNetRegressor(9, hidden_channels=64, num_layers=3, conv=ChebConv)
        >>> build_model("gat", in_channels=9)
        Traceback (most recent call last):
        ...
        ValueError: unknown graph model 'gat'; valid names: ['chebnet', 'dfn', 'ecc', 'gcn', 'lcn', 'scn']
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in MODELS:
        raise ValueError(f"unknown graph model {name!r}; valid names: {sorted(MODELS)}")
    readout = kwargs.pop("readout", "pool")
    num_nodes, readout_channels = kwargs.pop("num_nodes", None), kwargs.pop("readout_channels", 8)
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {list(READOUTS)}, got {readout!r}")
    if readout == "flatten" and num_nodes is None:
        raise ValueError("readout 'flatten' needs num_nodes, the nodes of every graph (the descriptors)")
    cls = MODELS[key]
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "in_channels", "edge_dim")]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise TypeError(
            f"model {key!r} ({cls.__name__}) got unexpected argument(s) {unknown}; "
            f"it takes {accepted} besides in_channels and edge_dim"
        )
    model = cls(in_channels, edge_dim=edge_dim, **kwargs)
    return model.use_flatten_readout(num_nodes, readout_channels) if readout == "flatten" else model
