r"""``dfn``: dynamic filter networks, FeaStNet (Verma, Boyer & Verbeek), PyG's ``FeaStConv``."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.nn import FeaStConv

from .base import GraphRegressor, _positive_int

__all__ = ["DFNRegressor"]


class DFNRegressor(GraphRegressor):
    r"""The ``dfn`` model of the SLF paper's DPP4 experiment: graph regression with the
    feature-steered convolution of `"Dynamic Filters in Graph Convolutional Networks"
    <https://arxiv.org/abs/1706.05206>`_ (Verma, Boyer & Verbeek, 2017; "FeaStNet",
    CVPR 2018), PyG's :class:`~torch_geometric.nn.conv.FeaStConv`, exactly:

    .. math::

        \mathbf{h}^{\prime}_i = \frac{1}{|\mathcal{N}(i)|} \sum_{j \in \mathcal{N}(i)}
        \sum_{m=1}^{M} q_m(\mathbf{h}_i, \mathbf{h}_j)\, \mathbf{W}_m \mathbf{h}_j
        + \mathbf{b}, \qquad
        q_m = \mathrm{softmax}_m\big(\mathbf{u}_m^{\top}(\mathbf{h}_j - \mathbf{h}_i)
        + c_m\big),

    with :math:`\mathcal{N}(i)` including :math:`i` (self loops): the neighbour-to-filter
    assignment is computed from the features themselves ("dynamic"), over :math:`M` =
    ``heads`` weight matrices. ``FeaStConv`` takes no edge weights or features, so this
    model ignores ``edge_attr`` (on the descriptor graph every edge counts alike, also the
    zero-weight edges of constant descriptors).

    Args:
        in_channels, hidden_channels, num_layers, edge_dim, dropout, batch_norm: as in
            :class:`GraphRegressor` (``edge_dim`` is not read).
        heads: :math:`M`, the number of filters a neighbour is softly assigned to.

    Example:
        >>> from slf_pyg.molecules import example_batch
        >>> batch = example_batch()
        >>> DFNRegressor(in_channels=9, hidden_channels=16, heads=2)(batch).shape
        torch.Size([2])
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int = 64,
        num_layers: int = 3,
        edge_dim: int | None = None,
        dropout: float = 0.0,
        batch_norm: bool = True,
        heads: int = 4,
    ) -> None:
        super().__init__(in_channels, hidden_channels, num_layers, edge_dim, dropout, batch_norm)
        self.heads = _positive_int(heads, "heads")
        self.convs = torch.nn.ModuleList(
            FeaStConv(hidden_channels, hidden_channels, heads=heads) for _ in range(num_layers)
        )

    def conv(
        self,
        layer: torch.nn.Module,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None,
        edge_attr: Tensor | None,
    ) -> Tensor:
        r"""``FeaStConv`` reads only the connectivity."""
        return layer(x, edge_index)
