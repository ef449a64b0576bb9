r"""Graph regression models for the SLF paper's DPP4 experiment, each on a PyG layer.

===========  ==================================  ==========================================
name         paper                               PyG layer (stand-in where PyG lacks one)
===========  ==================================  ==========================================
``gcn``      Kipf & Welling (2017)               ``GCNConv``
``chebnet``  Defferrard et al. (2016)            ``ChebConv`` (order ``K``)
``ecc``      Simonovsky & Komodakis (2017)       ``NNConv`` + edge MLP over ``edge_attr``
``scn``      Bruna et al. (2014), Henaff et al.  ``TAGConv``: learnable polynomial spectral
             (2015)                              filter, no eigenbasis
``lcn``      Bruna et al. (2014), spatial        ``GraphConv``: shared root / neighbour
                                                 weights, not per-node weights
``dfn``      Verma, Boyer & Verbeek (2017)       ``FeaStConv``
===========  ==================================  ==========================================

All are :class:`GraphRegressor` s: ``Linear`` input encoder, ``num_layers`` convolutions
with batch norm and ReLU, global mean + max pooling, an MLP head; ``model(data)`` gives ``(B,)``
predictions and ``model.embed(data)`` the ``(B, hidden_channels)`` graph embedding. They
run on molecular graphs (:func:`~slf_pyg.molecules.smiles_to_graphs`) and on descriptor
signals (:func:`~slf_pyg.descriptor_graph.molecule_signals`), whose 1-column
``edge_attr`` is used as the edge weight by the layers that take one.

Example:
    >>> from torch_geometric.data import Batch
    >>> from slf_pyg.molecules import smiles_to_graphs
    >>> batch = Batch.from_data_list(smiles_to_graphs(["CCO", "CC(=O)N"], ids=["a", "b"], targets=[1.0, 2.0]))
    >>> {name: tuple(build_model(name, in_channels=9, edge_dim=3, hidden_channels=8)(batch).shape)
    ...  for name in MODELS}
    {'gcn': (2,), 'chebnet': (2,), 'ecc': (2,), 'scn': (2,), 'lcn': (2,), 'dfn': (2,)}
"""

from __future__ import annotations

from .base import GraphRegressor
from .chebnet import ChebNetRegressor
from .dfn import DFNRegressor
from .ecc import ECCRegressor
from .gcn import GCNRegressor
from .lcn import LCNRegressor
from .registry import MODELS, build_model
from .scn import SCNRegressor

__all__ = [
    "MODELS",
    "ChebNetRegressor",
    "DFNRegressor",
    "ECCRegressor",
    "GCNRegressor",
    "GraphRegressor",
    "LCNRegressor",
    "SCNRegressor",
    "build_model",
]
