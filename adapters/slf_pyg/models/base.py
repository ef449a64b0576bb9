r"""The shared body of the graph regression models: input encoder, message passing, readout.

Every model of :mod:`slf_pyg.models` is a :class:`GraphRegressor`; a subclass chooses
only its graph convolution (one PyG layer) and how that layer reads the edges.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import global_max_pool, global_mean_pool

if TYPE_CHECKING:
    from torch_geometric.data import Batch, Data

__all__ = ["GraphRegressor"]


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be an integer >= 1, got {value!r}")
    return value


class GraphRegressor(torch.nn.Module):
    r"""One scalar prediction per graph: encoder, ``num_layers`` convolutions, pooled MLP head.

    With :math:`\mathbf{X} \in \mathbb{R}^{N \times C_{in}}` the node features of a batch
    of :math:`B` graphs and :math:`H` = ``hidden_channels``,

    .. math::

        \mathbf{H}^{(0)} &= \mathbf{X} \mathbf{W}_{in} + \mathbf{b}_{in}

        \mathbf{H}^{(l)} &= \mathrm{dropout}\big(\mathrm{ReLU}
            (\mathrm{BN}_l(\mathrm{conv}_l(\mathbf{H}^{(l-1)}, \mathcal{E})))\big),
            \qquad l = 1, \dots, L

        \mathbf{z}_b &= \mathrm{ReLU}\Big(\mathbf{W}_1 \big[\tfrac{1}{|V_b|}
            \textstyle\sum_{i \in V_b} \mathbf{h}_i^{(L)} \,\big\|\,
            \max_{i \in V_b} \mathbf{h}_i^{(L)}\big] + \mathbf{b}_1\Big) \in \mathbb{R}^H

        \hat y_b &= \mathbf{w}_2^\top \mathrm{dropout}(\mathbf{z}_b) + b_2,

    where :math:`V_b` is the node set of graph :math:`b`, :math:`\|` concatenation, and
    :math:`\mathcal{E}` the edges with what the layer reads of them, and
    :math:`\mathrm{BN}_l` a ``BatchNorm1d`` over the nodes of the batch (the identity with
    ``batch_norm=False``; it keeps the raw, unscaled node features below from slowing
    training). :math:`\mathbf{z}_b` is the graph embedding (:meth:`embed`), e.g. for an
    SLF decision network.

    **Input encoder.** :math:`\mathbf{W}_{in}` is one ``Linear(in_channels, H)`` on the raw
    node features. For molecules from :func:`~slf_pyg.molecules.smiles_to_graphs` these
    are the 9 category indices of ``from_smiles`` stored as float (atomic number, degree,
    ...), so they are read as ordinal numbers, not one-hot categories; one-hot them in a
    ``transform`` (and set ``in_channels``) for a categorical reading. For descriptor-graph
    signals (:func:`~slf_pyg.descriptor_graph.molecule_signals`) ``in_channels`` is 1.

    **Edges.** ``edge_attr`` with one column (the descriptor graph's correlation weights)
    is passed as the scalar ``edge_weight`` to layers that take one; wider ``edge_attr``
    (the 3 bond categories of molecules) is not a weight, so those layers then see an
    unweighted graph. Only :class:`~slf_pyg.models.ECCRegressor` reads every column.

    Subclasses name their layer in ``conv_type`` (called as ``conv_type(H, H)`` for each of
    the ``num_layers`` layers) or set ``self.convs`` themselves (layers with options of
    their own), and may override :meth:`conv` to choose what each layer reads.

    Args:
        in_channels: node feature columns (9 for molecules, 1 for descriptor signals).
        hidden_channels: :math:`H`, width of every layer and of the embedding.
        num_layers: :math:`L`, number of graph convolutions.
        edge_dim: ``edge_attr`` columns; read only by models that use edge features
            (``needs_edge_attr``), accepted by all so one call can build any model.
        dropout: dropout probability after each convolution and in the head.
        batch_norm: ``BatchNorm1d`` after each convolution.

    Shape:
        - Input: a ``Data`` (one graph) or ``Batch`` of :math:`B` graphs with ``x`` of
          shape :math:`(N, C_{in})` and ``edge_index`` :math:`(2, E)`.
        - Output: :math:`(B,)`; :meth:`embed`: :math:`(B, H)`.

    Example:
        A model is a subclass that fills ``self.convs``; here with PyG's ``GINConv``:

        >>> from torch_geometric.nn import GINConv
        >>> from slf_pyg.molecules import example_batch
        >>> class GIN(GraphRegressor):
        ...     def __init__(self, in_channels: int, hidden_channels: int = 64, num_layers: int = 3) -> None:
        ...         super().__init__(in_channels, hidden_channels, num_layers)
        ...         self.convs = torch.nn.ModuleList(
        ...             GINConv(torch.nn.Linear(hidden_channels, hidden_channels)) for _ in range(num_layers))
        ...     def conv(self, layer, x, edge_index, edge_weight, edge_attr):
        ...         return layer(x, edge_index)  # GINConv takes no edge weight
        >>> batch = example_batch()
        >>> model = GIN(in_channels=9, hidden_channels=16)
        >>> pred, z = model(batch, return_embedding=True)
        >>> pred.shape, z.shape
        (torch.Size([2]), torch.Size([2, 16]))
    """

    needs_edge_attr: ClassVar[bool] = False
    conv_type: ClassVar[Callable[[int, int], torch.nn.Module] | None] = None

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int = 64,
        num_layers: int = 3,
        edge_dim: int | None = None,
        dropout: float = 0.0,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels = _positive_int(in_channels, "in_channels")
        self.hidden_channels = _positive_int(hidden_channels, "hidden_channels")
        self.num_layers = _positive_int(num_layers, "num_layers")
        if edge_dim is not None:
            _positive_int(edge_dim, "edge_dim")
        self.edge_dim = edge_dim
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)
        self.encoder = torch.nn.Linear(in_channels, hidden_channels)
        self.convs = torch.nn.ModuleList()  # filled last (below, or by the subclass): the seeded draws keep their order
        self.batch_norm = bool(batch_norm)
        self.norms = torch.nn.ModuleList(
            torch.nn.BatchNorm1d(hidden_channels) if batch_norm else torch.nn.Identity() for _ in range(num_layers)
        )
        self.lin1 = torch.nn.Linear(2 * hidden_channels, hidden_channels)
        self.lin2 = torch.nn.Linear(hidden_channels, 1)
        self.readout = "pool"  # or 'flatten': use_flatten_readout()
        if self.conv_type is not None:
            self.convs.extend(self.conv_type(hidden_channels, hidden_channels) for _ in range(num_layers))

    def use_flatten_readout(self, num_nodes: int, channels: int = 8) -> GraphRegressor:
        r"""Read a graph out by flattening its nodes in order instead of pooling them (graphs of one size).

        On descriptor-graph signals (:func:`~slf_pyg.descriptor_graph.molecule_signals`) every graph has the
        same :math:`D` nodes, one per descriptor, in the same order, and mean/max pooling forgets which
        descriptor is which. Hechtlinger et al.'s models keep it: each node's last hidden state is projected
        to ``channels`` values and the nodes are concatenated in order,

        .. math::

            \mathbf{z}_b = \mathrm{ReLU}\big(\mathbf{W}_1 [\mathbf{P}\mathbf{h}_{b,1} \,\|\, \cdots
                \,\|\, \mathbf{P}\mathbf{h}_{b,D}] + \mathbf{b}_1\big),
            \qquad \mathbf{P} \in \mathbb{R}^{c \times H},\ \mathbf{W}_1 \in \mathbb{R}^{H \times Dc}.

        Args:
            num_nodes: :math:`D`, the nodes of every graph.
            channels: :math:`c`, the values kept per node (the head then has :math:`D c H` weights).

        Returns:
            the model itself, with new (freshly initialised) ``node_projection`` and ``lin1``.

        Raises:
            ValueError: ``num_nodes`` or ``channels`` not a positive integer.
        """
        self.num_nodes = _positive_int(num_nodes, "num_nodes")
        self.readout_channels = _positive_int(channels, "readout channels")
        self.node_projection = torch.nn.Linear(self.hidden_channels, self.readout_channels)
        self.lin1 = torch.nn.Linear(self.num_nodes * self.readout_channels, self.hidden_channels)
        self.readout = "flatten"
        return self

    def reset_parameters(self) -> None:
        r"""Resets all learnable parameters of the module."""
        self.encoder.reset_parameters()
        if self.readout == "flatten":
            self.node_projection.reset_parameters()
        for conv in self.convs:
            conv.reset_parameters()
        for norm in self.norms:
            if isinstance(norm, torch.nn.BatchNorm1d):
                norm.reset_parameters()  # also the running statistics
        self.lin1.reset_parameters()
        self.lin2.reset_parameters()

    def conv(
        self,
        layer: torch.nn.Module,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None,
        edge_attr: Tensor | None,
    ) -> Tensor:
        r"""Apply one convolution; by default ``layer(x, edge_index, edge_weight)``."""
        return layer(x, edge_index, edge_weight)

    def _edges(self, data: Data | Batch) -> tuple[Tensor | None, Tensor | None]:
        """``(edge_weight, edge_attr)`` of ``data``, checked against what the model needs."""
        edge_attr = getattr(data, "edge_attr", None)
        name = type(self).__name__
        if edge_attr is not None and edge_attr.dim() == 1:
            edge_attr = edge_attr.view(-1, 1)
        if self.needs_edge_attr:
            if edge_attr is None:
                raise ValueError(
                    f"{name} needs edge features: data has no edge_attr (expected shape "
                    f"(E, {self.edge_dim})); use a model that does not read edge_attr, "
                    f"e.g. 'gcn', 'chebnet', 'scn', 'lcn' or 'dfn'"
                )
            if edge_attr.size(-1) != self.edge_dim:
                raise ValueError(
                    f"{name} was built with edge_dim={self.edge_dim} but data.edge_attr "
                    f"has {edge_attr.size(-1)} column(s)"
                )
        weight = edge_attr.view(-1) if edge_attr is not None and edge_attr.size(-1) == 1 else None
        return weight, edge_attr

    def embed(self, data: Data | Batch) -> Tensor:
        r"""The graph embedding :math:`\mathbf{z}`, shape :math:`(B, H)`."""
        x = getattr(data, "x", None)
        if x is None or x.dim() != 2 or x.size(-1) != self.in_channels:
            got = None if x is None else tuple(x.shape)
            raise ValueError(
                f"{type(self).__name__} expects data.x of shape (N, {self.in_channels}) "
                f"(in_channels={self.in_channels}), got {got}"
            )
        edge_weight, edge_attr = self._edges(data)
        batch = getattr(data, "batch", None)
        if batch is None:
            batch, num_graphs = x.new_zeros(x.size(0), dtype=torch.long), 1
        else:
            num_graphs = getattr(data, "num_graphs", None) or int(batch.max()) + 1
        h = self.encoder(x.to(self.encoder.weight.dtype))
        for layer, norm in zip(self.convs, self.norms, strict=True):
            h = F.relu(norm(self.conv(layer, h, data.edge_index, edge_weight, edge_attr)))
            h = F.dropout(h, p=self.dropout, training=self.training)
        if self.readout == "flatten":
            if h.size(0) != num_graphs * self.num_nodes:
                raise ValueError(
                    f"{type(self).__name__} reads graphs out by flattening their {self.num_nodes} nodes, but this "
                    f"batch of {num_graphs} graph(s) has {h.size(0)} nodes; the flatten readout is for graphs of "
                    f"one size (descriptor-graph signals), use readout 'pool' for molecules"
                )
            return F.relu(self.lin1(self.node_projection(h).reshape(num_graphs, -1)))
        pooled = torch.cat([global_mean_pool(h, batch, num_graphs), global_max_pool(h, batch, num_graphs)], dim=-1)
        return F.relu(self.lin1(pooled))

    def forward(self, data: Data | Batch, return_embedding: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        r"""Predictions :math:`\hat y` of shape :math:`(B,)`; with ``return_embedding``,
        ``(predictions, embedding)`` with the embedding of shape :math:`(B, H)`."""
        z = self.embed(data)
        out = self.lin2(F.dropout(z, p=self.dropout, training=self.training)).view(-1)
        return (out, z) if return_embedding else out

    def __repr__(self) -> str:
        conv = type(self.convs[0]).__name__ if len(self.convs) else None
        return (
            f"{type(self).__name__}({self.in_channels}, hidden_channels={self.hidden_channels}, "
            f"num_layers={self.num_layers}, conv={conv})"
        )
