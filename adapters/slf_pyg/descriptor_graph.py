r"""The graph over the descriptors, for the DPP4 experiment (Hechtlinger et al., 2017).

In "A generalization of convolutional neural networks to graph-structured data" each
molecule is not a graph of atoms: it is a *signal* on one fixed graph whose ``D`` nodes
are the descriptors, linked when the descriptors are strongly correlated over the
molecules. Every molecule shares that graph; only the node values (its descriptor
values) and its activity differ.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> base = rng.poisson(2.0, size=(50, 3)).astype(np.float64)
    >>> x = np.concatenate([base, base + rng.poisson(0.5, size=(50, 3))], axis=1)  # 6 descriptors
    >>> edge_index, edge_weight = descriptor_graph(x, k=1)
    >>> sorted(set(map(tuple, edge_index.t().tolist())))  # descriptor j pairs with j + 3
    [(0, 3), (1, 4), (2, 5), (3, 0), (4, 1), (5, 2)]
    >>> graphs = molecule_signals(x, rng.normal(size=50), edge_index, edge_weight)
    >>> len(graphs), graphs[0]
    (50, Data(x=[6, 1], edge_index=[2, 6], edge_attr=[6, 1], y=[1]))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

if TYPE_CHECKING:
    from torch_geometric.data import Data

__all__ = ["descriptor_correlation", "descriptor_graph", "molecule_signals"]


def _as_matrix(descriptors: np.ndarray | Tensor, what: str = "descriptors") -> np.ndarray:
    x = descriptors.detach().cpu().numpy() if isinstance(descriptors, Tensor) else np.asarray(descriptors)
    if x.ndim != 2:
        raise ValueError(f"{what} must be 2-D (molecules, descriptors), got shape {x.shape}")
    x = x.astype(np.float64)
    if not np.isfinite(x).all():
        raise ValueError(f"{what} contain NaN or infinite values")
    return x


def descriptor_correlation(descriptors: np.ndarray | Tensor) -> np.ndarray:
    r"""Absolute Pearson correlation between descriptor columns over the molecules.

    .. math::

        C_{jl} = \left| \frac{\sum_i (x_{ij} - \bar x_j)(x_{il} - \bar x_l)}
        {\sqrt{\sum_i (x_{ij} - \bar x_j)^2} \sqrt{\sum_i (x_{il} - \bar x_l)^2}} \right|,

    with :math:`C_{jl} = 0` when column :math:`j` or :math:`l` is constant (zero variance),
    where the Pearson correlation is undefined.

    Args:
        descriptors: shape ``(N, D)``, ``N >= 2`` molecules.

    Returns:
        ``(D, D)`` float64, symmetric, entries in ``[0, 1]``; the diagonal is 1 for
        non-constant columns.

    Example:
        >>> descriptor_correlation(np.array([[0., 1., 5.], [1., 0., 5.], [2., -1., 5.]]))
        array([[1., 1., 0.],
               [1., 1., 0.],
               [0., 0., 0.]])
    """
    x = _as_matrix(descriptors)
    if x.shape[0] < 2:
        raise ValueError(f"need at least 2 molecules to correlate descriptors, got {x.shape[0]}")
    xc = x - x.mean(axis=0, keepdims=True)
    norm = np.sqrt((xc * xc).sum(axis=0))
    # a column is constant when its spread is at rounding level of its magnitude
    scale = np.maximum(np.abs(x).max(axis=0), 1.0)
    varies = norm > 1e-12 * scale * np.sqrt(x.shape[0])
    z = np.zeros_like(xc)
    z[:, varies] = xc[:, varies] / norm[varies]
    corr = np.abs(z.T @ z)
    return np.clip(corr, 0.0, 1.0)


def descriptor_graph(descriptors: np.ndarray | Tensor, k: int = 8) -> tuple[Tensor, Tensor]:
    r"""k-nearest-neighbour graph of the descriptors by absolute correlation.

    With :math:`C` from :func:`descriptor_correlation`, each descriptor :math:`j` is
    joined to the set :math:`N_k(j)` of the ``k`` other descriptors with the largest
    :math:`C_{jl}` (ties go to the lower index). The graph is made undirected,

    .. math::

        E = \{(j, l), (l, j) : l \in N_k(j)\}, \qquad w_{jl} = C_{jl},

    with no self loops, so every node has at least ``k`` neighbours (more when it is
    among other nodes' ``k`` nearest). Constant descriptors correlate 0 with everything,
    so their ``k`` edges have weight 0.

    This follows Hechtlinger et al.'s DPP4 script (top neighbours of
    :math:`|\mathrm{corr}|`); it differs in that their neighbour list includes the node
    itself (their convolution has no separate self term) and is not symmetrised. Add
    self loops in the model (e.g. ``GCNConv`` does) if you want them.

    Args:
        descriptors: shape ``(N, D)``, ``N >= 2`` molecules, ``D`` descriptors (after
            :func:`~slf_pyg.merck_activity.preprocess_descriptors`, typically).
        k: neighbours per descriptor, ``1 <= k < D``.

    Returns:
        ``(edge_index, edge_weight)``: ``edge_index`` a ``LongTensor`` of shape ``(2, E)``
        (sorted, coalesced) and ``edge_weight`` a ``FloatTensor`` of shape ``(E,)``.

    Raises:
        ValueError: ``k`` out of range, or ``descriptors`` not a finite 2-D array with
            at least 2 rows.

    Example:
        >>> x = np.array([[0., 0., 1.], [1., 2., 0.], [2., 4., 2.], [3., 5., 0.]])
        >>> ei, w = descriptor_graph(x, k=1)
        >>> ei.tolist()  # 0-1 strongly correlated; 2 joins its best match, 0
        [[0, 0, 1, 2], [1, 2, 0, 0]]
        >>> [round(v, 3) for v in w.tolist()]
        [0.99, 0.135, 0.99, 0.135]
    """
    from torch_geometric.utils import to_undirected

    x = _as_matrix(descriptors)
    d = x.shape[1]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < d:
        raise ValueError(f"k must be an integer with 1 <= k < D = {d} (the number of descriptors), got {k!r}")
    corr = descriptor_correlation(x)
    score = corr.copy()
    np.fill_diagonal(score, -np.inf)  # never choose the node itself
    nbrs = np.argsort(-score, axis=1, kind="stable")[:, :k]  # (D, k), ties to the lower index
    src = np.repeat(np.arange(d), k)
    dst = nbrs.reshape(-1)
    edge_index = torch.from_numpy(np.stack([src, dst])).long()
    edge_weight = torch.from_numpy(corr[src, dst]).float()
    return to_undirected(edge_index, edge_weight, num_nodes=d, reduce="max")


def molecule_signals(
    descriptors: np.ndarray | Tensor,
    activity: Sequence[float] | np.ndarray | Tensor,
    edge_index: Tensor,
    edge_weight: Tensor,
) -> list[Data]:
    r"""One PyG ``Data`` per molecule: its descriptors as a signal on the descriptor graph.

    Molecule :math:`i` becomes a graph with node features
    :math:`X^{(i)} = (x_{i1}, \dots, x_{iD})^\top \in \mathbb{R}^{D \times 1}`, the shared
    ``edge_index`` and ``edge_attr`` :math:`= w \in \mathbb{R}^{E \times 1}`, and target
    :math:`y^{(i)} \in \mathbb{R}^1` (so a batch of ``B`` graphs has ``y`` of shape
    ``(B,)``). All graphs hold the same ``edge_index`` / ``edge_attr`` tensors (no copies).

    Args:
        descriptors: shape ``(N, D)``.
        activity: ``N`` targets.
        edge_index: ``(2, E)`` over ``D`` nodes, e.g. from :func:`descriptor_graph`.
        edge_weight: ``(E,)``.

    Returns:
        A list of ``N`` :class:`torch_geometric.data.Data` with float32 ``x``,
        ``edge_attr`` and ``y``.

    Example:
        >>> x = np.array([[0., 1.], [2., 3.]])
        >>> ei, w = torch.tensor([[0, 1], [1, 0]]), torch.tensor([0.5, 0.5])
        >>> g = molecule_signals(x, [7.0, 8.0], ei, w)[1]
        >>> g.x.view(-1).tolist(), g.y.tolist(), g.edge_attr.shape
        ([2.0, 3.0], [8.0], torch.Size([2, 1]))
    """
    from torch_geometric.data import Data

    x = torch.as_tensor(_as_matrix(descriptors), dtype=torch.float32)
    y = torch.as_tensor(
        np.asarray(activity, dtype=np.float64) if not isinstance(activity, Tensor) else activity.detach().cpu(),
        dtype=torch.float32,
    ).reshape(-1)
    n, d = x.shape
    if y.numel() != n:
        raise ValueError(f"activity has {y.numel()} values for {n} molecules")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"edge_index must have shape (2, E), got {tuple(edge_index.shape)}")
    edge_index = edge_index.long()
    if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= d):
        raise ValueError(f"edge_index refers to nodes outside [0, {d}) (D = {d} descriptors)")
    if edge_weight.dim() != 1 or edge_weight.numel() != edge_index.size(1):
        raise ValueError(f"edge_weight must have shape ({edge_index.size(1)},), got {tuple(edge_weight.shape)}")
    edge_attr = edge_weight.float().view(-1, 1)
    return [
        Data(x=x[i].reshape(d, 1).clone(), edge_index=edge_index, edge_attr=edge_attr, y=y[i].view(1)) for i in range(n)
    ]
