r"""Clustering metrics: NMI and ARI from scikit-learn, ACC by the Hungarian assignment (scipy).

.. math::

    \mathrm{ACC} = \max_{m} \frac{1}{N} \sum_{i=1}^{N} [\, y_i = m(c_i) \,],

the best one-to-one map :math:`m` from clusters to classes, found by
:func:`scipy.optimize.linear_sum_assignment` on the contingency table. NMI is
scikit-learn's ``normalized_mutual_info_score`` (arithmetic-mean normalisation) and ARI
its ``adjusted_rand_score``.
"""

from __future__ import annotations

from typing import Dict, Sequence, Tuple

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix

__all__ = ["assigned_confusion", "cluster_to_class", "clustering_accuracy", "clustering_metrics"]


def _as_labels(labels: Sequence[int], clusters: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
    labels, clusters = np.asarray(labels), np.asarray(clusters)
    if labels.ndim != 1 or labels.shape != clusters.shape:
        raise ValueError(f"labels and clusters must be 1-D of the same length, got {labels.shape} and {clusters.shape}")
    if labels.size == 0:
        raise ValueError("clustering metrics need at least one sample, got none")
    return labels.astype(np.int64), clusters.astype(np.int64)


def cluster_to_class(labels: Sequence[int], clusters: Sequence[int]) -> Dict[int, int]:
    """The Hungarian map from cluster ids to class ids (clusters left over map to -1).

    Example:
        >>> cluster_to_class([0, 0, 1, 1, 2], [2, 2, 0, 0, 1])
        {0: 1, 1: 2, 2: 0}
    """
    labels, clusters = _as_labels(labels, clusters)
    class_ids, cluster_ids = np.unique(labels), np.unique(clusters)
    table = contingency_matrix(labels, clusters)  # rows: classes, columns: clusters
    rows, columns = linear_sum_assignment(table, maximize=True)
    mapping = {int(c): -1 for c in cluster_ids}
    mapping.update({int(cluster_ids[c]): int(class_ids[r]) for r, c in zip(rows, columns)})
    return mapping


def clustering_accuracy(labels: Sequence[int], clusters: Sequence[int]) -> float:
    """ACC: the share of samples whose cluster maps to their class under the best one-to-one map.

    Example:
        >>> clustering_accuracy([0, 0, 1, 1], [1, 1, 0, 0])
        1.0
        >>> clustering_accuracy([0, 0, 1, 1], [0, 0, 0, 1])
        0.75
    """
    labels, clusters = _as_labels(labels, clusters)
    mapping = cluster_to_class(labels, clusters)
    return float(np.mean(np.array([mapping[c] for c in clusters.tolist()]) == labels))


def clustering_metrics(labels: Sequence[int], clusters: Sequence[int]) -> Dict[str, float]:
    """``{'nmi', 'ari', 'acc'}`` of a clustering against the ground-truth classes.

    Example:
        >>> clustering_metrics([0, 0, 1, 1, 2, 2], [5, 5, 3, 3, 4, 4])
        {'nmi': 1.0, 'ari': 1.0, 'acc': 1.0}
    """
    labels, clusters = _as_labels(labels, clusters)
    return {
        "nmi": float(normalized_mutual_info_score(labels, clusters)),
        "ari": float(adjusted_rand_score(labels, clusters)),
        "acc": clustering_accuracy(labels, clusters),
    }


def assigned_confusion(labels: Sequence[int], clusters: Sequence[int], num_classes: int) -> np.ndarray:
    """Confusion matrix ``(num_classes, num_classes)``: true class by the class its cluster maps to.

    Clusters that the assignment leaves unmatched (more clusters than classes) are dropped.

    Example:
        >>> assigned_confusion([0, 0, 1, 1], [1, 1, 1, 0], num_classes=2).tolist()
        [[2, 0], [1, 1]]
    """
    labels, clusters = _as_labels(labels, clusters)
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes}), got {labels.min()}..{labels.max()}")
    mapping = cluster_to_class(labels, clusters)
    assigned = np.array([mapping[c] for c in clusters.tolist()])
    keep = assigned >= 0
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels[keep], assigned[keep]), 1)
    return matrix
