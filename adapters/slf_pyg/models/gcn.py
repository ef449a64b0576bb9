r"""``gcn``: graph convolutional network (Kipf & Welling, 2017) on PyG's ``GCNConv``."""

from __future__ import annotations

from torch_geometric.nn import GCNConv

from .base import GraphRegressor

__all__ = ["GCNRegressor"]


class GCNRegressor(GraphRegressor):
    r"""The ``gcn`` model of the SLF paper's DPP4 experiment: graph regression with the
    graph convolution of `"Semi-Supervised Classification with Graph Convolutional
    Networks" <https://arxiv.org/abs/1609.02907>`_ (Kipf & Welling), PyG's
    :class:`~torch_geometric.nn.conv.GCNConv`, exactly:

    .. math::

        \mathbf{H}^{\prime} = \hat{\mathbf{D}}^{-1/2} \hat{\mathbf{A}}
        \hat{\mathbf{D}}^{-1/2} \mathbf{H} \mathbf{\Theta} + \mathbf{b},
        \qquad \hat{\mathbf{A}} = \mathbf{A} + \mathbf{I},\;
        \hat{D}_{ii} = \textstyle\sum_j \hat{A}_{ij},

    the first-order (renormalised) simplification of a Chebyshev spectral filter.
    :math:`A_{ij}` is the edge weight: a 1-column ``edge_attr`` (the descriptor graph's
    correlations), else 1. Encoder, readout and head as in :class:`GraphRegressor`.

    It takes the arguments of :class:`GraphRegressor` (``edge_dim`` is not read).

    Example:
        >>> from slf_pyg.molecules import example_batch
        >>> batch = example_batch()
        >>> model = GCNRegressor(in_channels=9, hidden_channels=16)
        >>> model(batch).shape, model.embed(batch).shape
        (torch.Size([2]), torch.Size([2, 16]))
    """

    conv_type = GCNConv
