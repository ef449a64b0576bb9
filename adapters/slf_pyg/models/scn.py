r"""``scn``: spectral networks (Bruna et al., 2014; Henaff et al., 2015); PyG's ``TAGConv`` stands in."""

from __future__ import annotations

import torch
from torch_geometric.nn import TAGConv

from .base import GraphRegressor, _positive_int

__all__ = ["SCNRegressor"]


class SCNRegressor(GraphRegressor):
    r"""The ``scn`` model of the SLF paper's DPP4 experiment, standing in for the spectral
    networks of `"Spectral Networks and Locally Connected Networks on Graphs"
    <https://arxiv.org/abs/1312.6203>`_ (Bruna et al.) and `"Deep Convolutional Networks on
    Graph-Structured Data" <https://arxiv.org/abs/1506.05163>`_ (Henaff, Bruna & LeCun).

    Those learn a multiplier per Laplacian eigenvector,
    :math:`\mathbf{H}' = \mathbf{U}\,\mathrm{diag}(\boldsymbol\theta)\,\mathbf{U}^\top \mathbf{H}`,
    which Henaff et al. make *smooth* in the eigenvalue (spline-interpolated from a few
    parameters) so that the filter is nearly local. PyG has no eigenbasis layer, and a
    free multiplier per eigenvector is tied to one fixed graph, so it cannot be shared by
    molecular graphs of different sizes. What stands in is PyG's
    :class:`~torch_geometric.nn.conv.TAGConv` (Du et al., `"Topology Adaptive Graph
    Convolutional Networks" <https://arxiv.org/abs/1710.10370>`_):

    .. math::

        \mathbf{H}^{\prime} = \sum_{k=0}^{K} \big(\mathbf{D}^{-1/2}\mathbf{A}
        \mathbf{D}^{-1/2}\big)^k \mathbf{H}\, \mathbf{\Theta}_k + \mathbf{b}
        = \mathbf{U}\, g_{\Theta}(\boldsymbol\Lambda)\, \mathbf{U}^\top \mathbf{H},
        \qquad g_{\Theta}(\lambda) = \sum_{k=0}^{K} (1 - \lambda)^k \mathbf{\Theta}_k,

    with :math:`\lambda` the eigenvalues of the normalised Laplacian
    :math:`\mathbf{I} - \mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}`. It is genuinely
    spectral (a function of the Laplacian's spectrum, computed without eigenvectors),
    learnable (one weight matrix per power) and smooth in :math:`\lambda` (a polynomial),
    which is the property Henaff et al. ask of their multipliers; unlike
    :class:`~torch_geometric.nn.conv.SGConv`, whose frequency response is fixed and only a
    linear map is learnt. Differences to be honest about: the response is a polynomial of
    degree :math:`K` (the same function class as ``chebnet`` of order :math:`K + 1`, in
    the monomial basis of the normalised adjacency without self loops instead of the
    Chebyshev basis), not a spline with global support; and the spectral nets' pooling
    is replaced by the global readout of :class:`GraphRegressor`. :math:`A_{ij}` is the
    edge weight: a 1-column ``edge_attr`` (the descriptor graph's correlations), else 1.

    Args:
        in_channels, hidden_channels, num_layers, edge_dim, dropout, batch_norm: as in
            :class:`GraphRegressor` (``edge_dim`` is not read).
        K: polynomial degree (hops), ``>= 1``.

    Example:
        >>> from slf_pyg.molecules import example_batch
        >>> batch = example_batch()
        >>> SCNRegressor(in_channels=9, hidden_channels=16, K=2)(batch).shape
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
        K: int = 3,
    ) -> None:
        super().__init__(in_channels, hidden_channels, num_layers, edge_dim, dropout, batch_norm)
        self.K = _positive_int(K, "K")
        self.convs = torch.nn.ModuleList(TAGConv(hidden_channels, hidden_channels, K=K) for _ in range(num_layers))
