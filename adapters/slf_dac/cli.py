"""``slf cluster``: Deep Adaptive Clustering over several seeds, the DAC adapter's subcommand
(entry point ``slf.commands``).

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> COMMAND.configure(parser)
    >>> parser.parse_args(["--out", "runs/c", "--loss", "slf"]).slf_mode
    'align'
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List

from slf import losses
from slf.cli_options import (
    add_output_options,
    add_slf_options,
    loss_names,
    positive_float,
    positive_int,
    run_and_report,
)
from slf.commands import Command


def _configure(cluster: argparse.ArgumentParser) -> None:
    cluster.add_argument(
        "--data",
        default="mnist5k",
        help="mnist5k, digits, cifar10:PATH, imagenet10:PATH or imagenet_dog:PATH (an image "
        "folder with one subfolder per class) (default: mnist5k)",
    )
    cluster.add_argument(
        "--image-size",
        type=positive_int,
        default=None,
        help="side images of an image folder are resized to (default: 96)",
    )
    cluster.add_argument(
        "--min-retention",
        type=positive_float,
        default=None,
        metavar="R",
        help="imbalanced subset: class 0 kept with probability R, the last class with 1, linear "
        "between (default: all images)",
    )
    cluster.add_argument(
        "--clusters", type=int, default=None, metavar="K", help="number of clusters k (default: the number of classes)"
    )
    cluster.add_argument(
        "--loss",
        default="bce",
        metavar="{NAME,slf}",
        help="bce (DAC), mse, mae, hinge, cosine, the paper's other baselines (l4, smooth01, adaptive_robust, "
        "self_paced) or slf (default: bce)",
    )
    add_slf_options(
        cluster,
        "mse,mae,hinge,cosine,bce",
        "mse,mae,hinge,cosine,bce",
        "align (the default recipe, against the previous batch: clustering has no labels), joint (the "
        "paper's Algorithm 1) or softmax",
        decision_lr=False,
    )
    cluster.add_argument(
        "--slf-normalize",
        choices=["none", "mean"],
        default="none",
        help="measure each candidate from its floor and divide by its running mean (default: none)",
    )
    cluster.add_argument(
        "--width", type=positive_int, default=64, help="channels of the network's first stage (default: 64, as DAC)"
    )
    cluster.add_argument(
        "--rounds", type=positive_int, default=None, help="rounds of the threshold schedule (default: DAC's, 46)"
    )
    cluster.add_argument(
        "--epochs-per-round", type=positive_int, default=1, help="passes over the images per round (default: 1)"
    )
    cluster.add_argument("--no-augment", action="store_true", help="no random rotation / shift / zoom")
    cluster.add_argument(
        "--optimizer",
        choices=("rmsprop", "adam", "sgd"),
        default="rmsprop",
        help="rmsprop (DAC), adam, or sgd with momentum 0.9 (default: rmsprop)",
    )
    cluster.add_argument("--lr", type=positive_float, default=1e-3, help="learning rate (default: 1e-3)")
    cluster.add_argument("--batch-size", type=positive_int, default=128, help="batch size (default: 128)")
    cluster.add_argument("--seeds", type=positive_int, default=5, help="seeds 0..N-1 (default: 5)")
    add_output_options(cluster)
    cluster.add_argument("--threads", type=positive_int, default=None, help="CPU threads for torch")
    cluster.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    cluster.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .cluster_data import parse_cluster_spec
    from .train_dac import DACConfig, format_cluster_table, run_cluster

    try:
        parse_cluster_spec(args.data)
    except ValueError as error:
        parser.error(f"argument --data: {error}")
    pairwise = list(losses.available("binary"))
    if args.loss not in [*pairwise, "slf"]:
        parser.error(f"argument --loss: invalid choice {args.loss!r}; valid choices: {', '.join(pairwise)}, slf")
    try:
        cfg = DACConfig(
            data=args.data,
            image_size=args.image_size,
            min_retention=args.min_retention,
            num_clusters=args.clusters,
            width=args.width,
            loss=args.loss,
            slf_mode=args.slf_mode,
            slf_candidates=tuple(loss_names(parser, args.slf_candidates, "--slf-candidates", pairwise)),
            slf_samples=args.slf_samples,
            slf_tau=args.slf_tau,
            slf_options={"normalize": "mean"} if args.slf_normalize == "mean" else {},
            rounds=args.rounds,
            epochs_per_round=args.epochs_per_round,
            augment=not args.no_augment,
            optimizer=args.optimizer,
            lr=args.lr,
            batch_size=args.batch_size,
            device=args.device,
            num_threads=args.threads,
        )
    except ValueError as error:
        parser.error(str(error))
    return run_and_report(
        "slf cluster",
        lambda: run_cluster(cfg, args.seeds, args.out, not args.no_progress, overwrite=args.overwrite),
        format_cluster_table,
        errors=(FileNotFoundError, NotADirectoryError, ValueError),
    )


def _write_plots(run_dir: Path) -> List[Path]:
    from .train_dac import write_cluster_plots

    return write_cluster_plots(run_dir)


COMMAND = Command(
    name="cluster",
    help="Deep Adaptive Clustering with BCE, another pairwise loss or SLF: NMI, ARI and ACC",
    description="Cluster images with DAC (Chang et al. 2017) over several seeds, the pairwise loss being DAC's bce, "
    "another pairwise loss or SLF over them; writes OUT/results.json, OUT/metrics.png, OUT/confusion.png "
    "and (SLF) OUT/selection_weights.png.",
    configure=_configure,
    run=_run,
    trainer="dac",
    write_plots=_write_plots,
)
