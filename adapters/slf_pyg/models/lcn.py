r"""``lcn``: locally connected networks (Bruna et al., 2014); PyG's ``GraphConv`` stands in."""

from __future__ import annotations

import functools

from torch_geometric.nn import GraphConv

from .base import GraphRegressor

__all__ = ["LCNRegressor"]


class LCNRegressor(GraphRegressor):
    r"""The ``lcn`` model of the SLF paper's DPP4 experiment, standing in for the spatial
    construction ("locally connected networks") of `"Spectral Networks and Locally
    Connected Networks on Graphs" <https://arxiv.org/abs/1312.6203>`_ (Bruna et al.).

    Bruna et al.'s locally connected layer gives every node :math:`i` its *own* weights
    over its neighbourhood,
    :math:`\mathbf{h}'_i = \sum_{j \in \mathcal{N}_\delta(i)} \mathbf{W}_{ij} \mathbf{h}_j`,
    followed by pooling over a multiscale clustering of the graph. Unshared per-node
    weights presuppose one fixed graph whose nodes correspond across samples; molecular
    graphs of different sizes have no such correspondence, and PyG has no such layer. What
    stands in is PyG's :class:`~torch_geometric.nn.conv.GraphConv` (Morris et al., `"Weisfeiler
    and Leman Go Neural" <https://arxiv.org/abs/1810.02244>`_), which keeps the spatial,
    1-hop-local, non-spectral reading with separate weights for the node and its
    neighbours:

    .. math::

        \mathbf{h}^{\prime}_i = \mathbf{\Theta}_1 \mathbf{h}_i +
        \mathbf{\Theta}_2 \sum_{j \in \mathcal{N}(i)} e_{j,i}\, \mathbf{h}_j + \mathbf{b}.

    Honest difference: :math:`\mathbf{\Theta}_1, \mathbf{\Theta}_2` are shared by all nodes
    (it is a convolution, not a locally connected layer), so it has far fewer parameters
    than Bruna et al.'s layer and cannot weight neighbours by position; the multiscale
    pooling is replaced by the global readout of :class:`GraphRegressor`. :math:`e_{j,i}`
    is the edge weight: a 1-column ``edge_attr`` (the descriptor graph's correlations),
    else 1 (sum aggregation, as in the locally connected layer).

    It takes the arguments of :class:`GraphRegressor` (``edge_dim`` is not read).

    Example:
        >>> from slf_pyg.molecules import example_batch
        >>> batch = example_batch()
        >>> LCNRegressor(in_channels=9, hidden_channels=16)(batch).shape
        torch.Size([2])
    """

    conv_type = functools.partial(GraphConv, aggr="add")
