r"""``chebnet``: Chebyshev spectral graph convolutions (Defferrard et al., 2016), PyG's ``ChebConv``."""

from __future__ import annotations

import torch
from torch_geometric.nn import ChebConv

from .base import GraphRegressor, _positive_int

__all__ = ["ChebNetRegressor"]


class ChebNetRegressor(GraphRegressor):
    r"""The ``chebnet`` model of the SLF paper's DPP4 experiment: graph regression with the
    filters of `"Convolutional Neural Networks on Graphs with Fast Localized Spectral
    Filtering" <https://arxiv.org/abs/1606.09375>`_ (Defferrard, Bresson & Vandergheynst),
    PyG's :class:`~torch_geometric.nn.conv.ChebConv`, exactly:

    .. math::

        \mathbf{H}^{\prime} = \sum_{k=0}^{K-1} T_k(\tilde{\mathbf{L}})\, \mathbf{H}\,
        \mathbf{\Theta}_k + \mathbf{b}, \qquad
        \tilde{\mathbf{L}} = \frac{2\mathbf{L}}{\lambda_{\max}} - \mathbf{I},\;
        \mathbf{L} = \mathbf{I} - \mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2},

    with :math:`T_k` the Chebyshev polynomials (:math:`T_0 = 1`, :math:`T_1 = x`,
    :math:`T_k = 2x T_{k-1} - T_{k-2}`): a learnable spectral filter that is a polynomial
    of degree :math:`K - 1` of the Laplacian, hence :math:`K - 1` hops local.
    :math:`\lambda_{\max}` is PyG's default for the symmetric normalisation, 2 (the upper
    bound), not the exact largest eigenvalue; Defferrard et al.'s graph coarsening and
    pooling are replaced by the global readout of :class:`GraphRegressor`. :math:`A_{ij}`
    is the edge weight: a 1-column ``edge_attr`` (the descriptor graph's correlations),
    else 1.

    Args:
        in_channels, hidden_channels, num_layers, edge_dim, dropout, batch_norm: as in
            :class:`GraphRegressor` (``edge_dim`` is not read).
        K: Chebyshev order (number of terms, filter degree ``K - 1``), ``>= 1``.

    Example:
        >>> import numpy as np
        >>> from torch_geometric.data import Batch
        >>> from slf_pyg.descriptor_graph import descriptor_graph, molecule_signals
        >>> x = np.random.default_rng(0).poisson(2.0, size=(8, 5)).astype(np.float32)
        >>> graphs = molecule_signals(np.log1p(x), np.arange(8.0), *descriptor_graph(x, k=2))
        >>> model = ChebNetRegressor(in_channels=1, hidden_channels=16, K=4)
        >>> model(Batch.from_data_list(graphs)).shape
        torch.Size([8])
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int = 64,
        num_layers: int = 3,
        edge_dim: int | None = None,
        dropout: float = 0.0,
        batch_norm: bool = True,
        K: int = 3,
    ) -> None:
        super().__init__(in_channels, hidden_channels, num_layers, edge_dim, dropout, batch_norm)
        self.K = _positive_int(K, "K")
        self.convs = torch.nn.ModuleList(ChebConv(hidden_channels, hidden_channels, K=K) for _ in range(num_layers))
