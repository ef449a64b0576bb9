"""Deep Adaptive Clustering (Chang et al., ICCV 2017) with a pluggable pairwise loss, SLF included.

``slf cluster --data mnist5k --loss slf --seeds 5 --out runs/dac-slf`` trains DAC with
the SLF paper's stochastic loss over {MSE, MAE, hinge, cosine proximity, BCE} and
reports NMI / ARI / ACC. In Python::

    from slf_dac import DACConfig, run_cluster
    summary = run_cluster(DACConfig(data="mnist5k", loss="slf"), seeds=5, out_dir="runs/dac-slf")
"""

from .augment import random_affine
from .cluster_data import (
    CLUSTER_DATA_CHOICES,
    ClusterData,
    imbalanced_subset,
    load_cluster_data,
    parse_cluster_spec,
    read_image_folder,
)
from .metrics import assigned_confusion, cluster_to_class, clustering_accuracy, clustering_metrics
from .model import DACNet
from .thresholds import AdaptiveThresholds, pair_similarities, select_pairs
from .train_dac import (
    PAIRWISE_CANDIDATES,
    DACConfig,
    build_pairwise_criterion,
    dac_pair_loss,
    format_cluster_table,
    predict_clusters,
    run_cluster,
    summarize_cluster_runs,
    train_dac,
    write_cluster_plots,
)

__all__ = [
    "CLUSTER_DATA_CHOICES",
    "PAIRWISE_CANDIDATES",
    "AdaptiveThresholds",
    "ClusterData",
    "DACConfig",
    "DACNet",
    "assigned_confusion",
    "build_pairwise_criterion",
    "cluster_to_class",
    "clustering_accuracy",
    "clustering_metrics",
    "dac_pair_loss",
    "format_cluster_table",
    "imbalanced_subset",
    "load_cluster_data",
    "pair_similarities",
    "parse_cluster_spec",
    "predict_clusters",
    "random_affine",
    "read_image_folder",
    "run_cluster",
    "select_pairs",
    "summarize_cluster_runs",
    "train_dac",
    "write_cluster_plots",
]
