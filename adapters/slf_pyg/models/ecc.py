r"""``ecc``: edge-conditioned convolution (Simonovsky & Komodakis, 2017), PyG's ``NNConv``."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.nn import NNConv

from .base import GraphRegressor, _positive_int

__all__ = ["ECCRegressor"]


class ECCRegressor(GraphRegressor):
    r"""The ``ecc`` model of the SLF paper's DPP4 experiment: graph regression with the
    edge-conditioned convolution of `"Dynamic Edge-Conditioned Filters in Convolutional
    Neural Networks on Graphs" <https://arxiv.org/abs/1704.02901>`_ (Simonovsky &
    Komodakis), PyG's :class:`~torch_geometric.nn.conv.NNConv` with mean aggregation:

    .. math::

        \mathbf{h}^{\prime}_i = \mathbf{\Theta}_{root} \mathbf{h}_i +
        \frac{1}{|\mathcal{N}(i)|} \sum_{j \in \mathcal{N}(i)}
        F_w(\mathbf{e}_{j,i})\, \mathbf{h}_j + \mathbf{b},

    where the filter-generating network :math:`F_w` is an MLP
    ``Linear(edge_dim, edge_hidden) - ReLU - Linear(edge_hidden, H * H)`` that maps each
    edge's features :math:`\mathbf{e}_{j,i}` (all columns of ``edge_attr``) to an
    :math:`H \times H` weight matrix. ECC puts the node itself in :math:`\mathcal{N}(i)`
    through a self-loop; here the root weight :math:`\mathbf{\Theta}_{root}` plays that
    part, and ECC's graph coarsening and pooling are replaced by the global readout of
    :class:`GraphRegressor`. On molecules ``edge_attr`` holds the 3 bond categories
    (type, stereo, conjugated) as float, read as numbers; on the descriptor graph it is the
    correlation weight (``edge_dim=1``).

    Args:
        in_channels, hidden_channels, num_layers, dropout, batch_norm: as in :class:`GraphRegressor`.
        edge_dim: required, the number of ``edge_attr`` columns (3 for molecules from
            :func:`~slf_pyg.molecules.smiles_to_graphs`, 1 for descriptor signals).
        edge_hidden: hidden width of the filter-generating MLP.

    Raises:
        ValueError: ``edge_dim`` is missing; at call time, the data has no ``edge_attr`` or
            one with a different number of columns.

    Example:
        >>> from slf_pyg.molecules import example_batch
        >>> batch = example_batch()
        >>> model = ECCRegressor(in_channels=9, hidden_channels=8, edge_dim=3)
        >>> model(batch).shape
        torch.Size([2])
        >>> ECCRegressor(in_channels=9)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: ECCRegressor needs edge_dim, the number of edge_attr columns (3 for molecules ...
    """

    needs_edge_attr = True

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int = 64,
        num_layers: int = 3,
        edge_dim: int | None = None,
        dropout: float = 0.0,
        batch_norm: bool = True,
        edge_hidden: int = 32,
    ) -> None:
        if edge_dim is None:
            raise ValueError(
                f"{type(self).__name__} needs edge_dim, the number of edge_attr columns (3 for "
                f"molecules from smiles_to_graphs, 1 for descriptor-graph signals)"
            )
        super().__init__(in_channels, hidden_channels, num_layers, edge_dim, dropout, batch_norm)
        self.edge_hidden = _positive_int(edge_hidden, "edge_hidden")
        h = hidden_channels
        self.convs = torch.nn.ModuleList(
            NNConv(
                h,
                h,
                torch.nn.Sequential(
                    torch.nn.Linear(edge_dim, edge_hidden), torch.nn.ReLU(), torch.nn.Linear(edge_hidden, h * h)
                ),
                aggr="mean",
            )
            for _ in range(num_layers)
        )

    def conv(
        self,
        layer: torch.nn.Module,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None,
        edge_attr: Tensor | None,
    ) -> Tensor:
        r"""``NNConv`` reads every column of ``edge_attr``."""
        return layer(x, edge_index, edge_attr.float())
