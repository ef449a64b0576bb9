"""``slf graph``: graph regression over several seeds, the PyG adapter's subcommand (entry point
``slf.commands``).

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> COMMAND.configure(parser)
    >>> parser.parse_args(["--out", "runs/g", "--model", "gcn"]).model
    'gcn'
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List

from slf import losses
from slf.cli_options import (
    add_output_options,
    add_slf_options,
    add_training_options,
    loss_names,
    positive_int,
    run_and_report,
)
from slf.commands import Command
from slf.stochastic_loss import MODES


def _configure(graph: argparse.ArgumentParser) -> None:
    graph.add_argument(
        "--data",
        default="chembl2321810",
        help="chembl2321810, freesolv, dpp4:PATH (a Merck challenge CSV) or csv:PATH (your CSV of "
        "SMILES and a measured property) (default: chembl2321810)",
    )
    graph.add_argument(
        "--smiles-column", metavar="NAME", default=None, help="csv:PATH only: the SMILES column (default: smiles)"
    )
    graph.add_argument(
        "--target-column",
        metavar="NAME",
        default=None,
        help="csv:PATH only: the property to regress (default: the other column of a two-column file)",
    )
    graph.add_argument(
        "--root",
        type=Path,
        default=None,
        help="cache folder of the molecule data sets (default: ~/.cache/stochastic-loss/pyg)",
    )
    graph.add_argument(
        "--split",
        choices=("auto", "scaffold", "random"),
        default="auto",
        help="80/10/10 split by scaffold (molecules only) or at random; auto: scaffold for "
        "molecules, random for dpp4 (default: auto)",
    )
    graph.add_argument("--model", default="chebnet", help="gcn, chebnet, ecc, scn, lcn or dfn (default: chebnet)")
    graph.add_argument("--hidden", type=positive_int, default=64, help="hidden channels (default: 64)")
    graph.add_argument("--layers", type=positive_int, default=3, help="graph convolutions (default: 3)")
    graph.add_argument(
        "--readout",
        choices=("pool", "flatten"),
        default="pool",
        help="how a graph is read out: pool (mean and max over the nodes) or flatten (the nodes in order, for "
        "descriptor graphs of one size, dpp4:PATH, as Hechtlinger et al.'s models) (default: pool)",
    )
    graph.add_argument(
        "--loss", default="mse", metavar="{NAME,slf}", help="a regression registry loss or slf (default: mse)"
    )
    add_slf_options(
        graph,
        "mse,mae,huber,log_cosh,robust",
        "mse,mae,huber,log_cosh,robust",
        "how SLF weighs its candidates: align (the default recipe), joint (the paper's Algorithm 1), "
        "softmax or validation",
        modes=MODES,
    )
    graph.add_argument(
        "--slf-decision-input",
        choices=("prediction", "prediction+embedding"),
        default="prediction",
        help="what the decision network reads (default: prediction)",
    )
    graph.add_argument("--epochs", type=positive_int, default=30, help="epochs (default: 30)")
    graph.add_argument("--seeds", type=positive_int, default=5, help="seeds 0..N-1 (default: 5)")
    add_output_options(graph)
    add_training_options(graph)
    graph.set_defaults(batch_size=64)


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        from .models import MODELS
        from .train_graph import GraphRegressionConfig, format_graph_table, run_graph
    except ModuleNotFoundError as error:
        print(f'slf graph: {error}; install the PyG extra: pip install -e ".[pyg]"', file=sys.stderr)
        return 2
    regression = list(losses.available("regression"))
    if args.loss not in [*regression, "slf"]:
        parser.error(f"argument --loss: invalid choice {args.loss!r}; valid choices: {', '.join(regression)}, slf")
    if args.model not in MODELS:
        parser.error(f"argument --model: invalid choice {args.model!r}; valid choices: {', '.join(MODELS)}")
    try:
        cfg = GraphRegressionConfig(
            data=args.data,
            smiles_column=args.smiles_column,
            target_column=args.target_column,
            root=None if args.root is None else str(args.root),
            split=args.split,
            model=args.model,
            hidden_channels=args.hidden,
            num_layers=args.layers,
            model_options={"readout": "flatten"} if args.readout == "flatten" else {},
            loss=args.loss,
            slf_mode=args.slf_mode,
            slf_candidates=tuple(loss_names(parser, args.slf_candidates, "--slf-candidates", regression)),
            slf_samples=args.slf_samples,
            slf_tau=args.slf_tau,
            slf_decision_lr=args.slf_decision_lr,
            slf_decision_input=args.slf_decision_input,
            optimizer=args.optimizer,
            lr=args.lr,
            batch_size=args.batch_size,
            epochs=args.epochs,
            device=args.device,
            num_threads=args.threads,
            max_train_samples=args.max_train_samples,
        )
    except ValueError as error:
        parser.error(str(error))
    return run_and_report(
        "slf graph",
        lambda: run_graph(cfg, args.seeds, args.out, not args.no_progress, args.overwrite),
        format_graph_table,
    )


def _write_plots(run_dir: Path) -> List[Path]:
    from .train_graph import write_graph_plots

    return write_graph_plots(run_dir)


COMMAND = Command(
    name="graph",
    help="graph regression (PyG) over several seeds: R^2 and RMSE (needs the pyg extra)",
    description="Train a PyG graph regression model on molecules (or Merck descriptor signals) with one regression "
    "loss or SLF over several seeds; writes OUT/results.json, OUT/r2.png, OUT/parity.png and (SLF) "
    "OUT/selection_weights.png.",
    configure=_configure,
    run=_run,
    trainer="graph_regression",
    write_plots=_write_plots,
)
