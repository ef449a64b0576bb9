"""Command line: ``slf demo | classify | plot | fairseq-user-dir | fairseq-recipe``, and the subcommands that installed
adapters add through the ``slf.commands`` entry points (:mod:`slf.commands`): ``cluster`` (DAC),
``graph`` (PyG).

Examples::

    slf demo                                   # a few minutes on 2 CPU cores
    slf classify --data mnist5k --model lenet --loss slf --epochs 20 --seeds 5 --out runs/lenet-slf
    slf classify --data cifar10:~/data/cifar-10-batches-py --model resnet20 --loss ce \\
        --optimizer sgd --lr 0.1 --epochs 100 --seeds 3 --out runs/r20-ce
    slf classify --loss mils --mils-primary ce --mils-aux multi_margin,center --mils-rate 0.01 \
        --epochs 10 --seeds 5 --out runs/mils
    slf classify --loss slf --label-noise 0.4 --noise-type symmetric --seeds 5 --out runs/noisy
    slf classify --data csv:wine.csv --label-column target --loss slf --seeds 5 --out runs/wine-slf
    slf cluster --data mnist5k --loss slf --seeds 5 --out runs/dac-slf
    slf graph --data chembl2321810 --model chebnet --loss slf --seeds 5 --out runs/chebnet-slf
    slf graph --data csv:molecules.csv --smiles-column smiles --target-column logS --loss slf --out runs/logs-slf
    slf plot runs/lenet-slf
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Mapping, Optional, Sequence, Tuple, Union

from .cli_options import (
    add_output_options,
    add_slf_options,
    add_training_options,
    loss_names,
    noise_rate,
    positive_int,
    rate,
    run_and_report,
)
from .commands import Command, installed_commands
from .data import DATASET_CHOICES, NOISE_TYPES, load_dataset, parse_dataset_spec
from .demo import run_demo
from .fairseq_files import fairseq_user_dir, run_fairseq_recipe
from .models import MODEL_CHOICES, VECTOR_MODELS
from .stochastic_loss import MODES as SLF_MODE_CHOICES

MILS_RULE_CHOICES = ("not_worse", "better", "always")
DEMO_SEEDS = 3


def _classification_losses() -> List[str]:
    from . import losses

    return list(losses.available("classification"))


def _data_spec(value: str) -> str:
    try:
        parse_dataset_spec(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return value


def build_parser(
    loss_choices: Optional[Sequence[str]] = None, adapters: Optional[Mapping[str, Union[Command, str]]] = None
) -> argparse.ArgumentParser:
    """The ``slf`` argument parser.

    Args:
        loss_choices: valid ``--loss`` values (default: the registry's classification
            losses plus ``slf``).
        adapters: the adapters' subcommands (default: :func:`slf.commands.installed_commands`).

    Example:
        >>> build_parser(["ce", "slf"]).parse_args(["plot", "runs/x"]).command
        'plot'
    """
    if loss_choices is None:
        loss_choices = [*_classification_losses(), "slf", "mils"]
    parser = argparse.ArgumentParser(
        prog="slf", description="Learned loss selection (Stochastic Loss Function) for PyTorch."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    classify = commands.add_parser(
        "classify",
        help="train a classifier over several seeds and report test accuracy",
        description="Train an image classifier with one loss, a baseline or SLF over several seeds; "
        "writes OUT/results.json, OUT/accuracy.png and (SLF) OUT/selection_weights.png.",
    )
    classify.add_argument(
        "--data", type=_data_spec, default="mnist5k", help=f"data set: {', '.join(DATASET_CHOICES)} (default: mnist5k)"
    )
    classify.add_argument(
        "--label-column",
        metavar="NAME",
        default=None,
        help="csv:PATH only: the column holding the class (default: the last column)",
    )
    classify.add_argument(
        "--feature-columns",
        metavar="A,B,...",
        default=None,
        help="csv:PATH only: comma-separated numeric feature columns (default: all but the label)",
    )
    classify.add_argument(
        "--model", choices=MODEL_CHOICES, default="mlp", help="model (default: mlp; a CSV table's rows take mlp)"
    )
    classify.add_argument(
        "--loss",
        choices=list(loss_choices),
        default="ce",
        metavar="{NAME,slf,mils}",
        help=f"a registry loss, slf or mils; one of: {', '.join(loss_choices)} (default: ce)",
    )
    add_slf_options(
        classify,
        "ce,mse,mae,hinge,cosine,bce",
        "the paper's six",
        "how SLF weighs its candidates: align (the default recipe: gradient alignment with the "
        "validation split), joint (the paper's literal Algorithm 1, which collapses), softmax or "
        "validation",
        modes=SLF_MODE_CHOICES,
    )
    classify.add_argument(
        "--slf-normalize",
        choices=["none", "mean"],
        default="none",
        help="measure each candidate from its floor and divide by its running mean (default: none)",
    )
    classify.add_argument(
        "--slf-selection",
        choices=["batch", "sample"],
        default="batch",
        help="one weight vector per batch or one per sample (default: batch)",
    )
    classify.add_argument(
        "--slf-hypergradient",
        choices=["inner", "cosine"],
        default="inner",
        help="validation mode: descend the look-ahead's inner product or its cosine, the "
        "direction only (default: inner)",
    )
    classify.add_argument(
        "--slf-decision-reads-losses",
        action="store_true",
        help="the decision network also reads each candidate's value on the sample",
    )
    classify.add_argument(
        "--slf-compile",
        action="store_true",
        help="run the loss through torch.compile (about a minute to compile, then faster steps)",
    )
    classify.add_argument("--mils-primary", default="ce", help="MILS primary loss (default: ce)")
    classify.add_argument(
        "--mils-aux", default="multi_margin", help="comma-separated MILS auxiliary losses (default: multi_margin)"
    )
    classify.add_argument(
        "--mils-rate", type=rate, default=0.01, help="MILS participation rate r in [0, 1] (default: 0.01)"
    )
    classify.add_argument(
        "--mils-obs-size",
        type=positive_int,
        default=128,
        help="MILS observation set size, drawn from the training split (default: 128)",
    )
    classify.add_argument(
        "--mils-rule",
        choices=MILS_RULE_CHOICES,
        default="not_worse",
        help="accept an auxiliary step if observation accuracy is not worse, strictly better, "
        "or always (the ablation) (default: not_worse)",
    )
    classify.add_argument(
        "--label-noise",
        type=noise_rate,
        default=0.0,
        metavar="RATE",
        help="flip exactly this fraction in [0, 1) of the training labels; validation and test "
        "labels stay clean (default: 0)",
    )
    classify.add_argument(
        "--noise-type",
        choices=NOISE_TYPES,
        default="symmetric",
        help="symmetric: a flipped label goes to a random other class; pairflip: class c goes to "
        "c + 1 (default: symmetric)",
    )
    classify.add_argument("--epochs", type=positive_int, default=10, help="epochs (default: 10)")
    classify.add_argument("--seeds", type=positive_int, default=3, help="seeds 0..N-1 (default: 3)")
    add_output_options(classify)
    add_training_options(classify)

    demo = commands.add_parser(
        "demo",
        help="MLP on 5,000 real MNIST digits: SLF's default recipe vs cross-entropy and every candidate "
        "alone (a few minutes on CPU)",
        description="Train an MLP on 5,000 real MNIST digits with cross-entropy, with each of the SLF paper's six "
        "candidate losses alone, and with SLF's default recipe over all six; report test accuracy, the "
        "best single loss (picked by validation accuracy) and the recipe's weights over training.",
    )
    demo.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder (default: runs/demo)")
    demo.add_argument("--epochs", type=positive_int, default=15, help="epochs (default: 15)")
    demo.add_argument(
        "--label-noise",
        type=noise_rate,
        default=0.4,
        metavar="RATE",
        help="fraction of training labels flipped, where the choice of loss matters (default: 0.4; 0 for clean labels)",
    )
    demo.add_argument(
        "--noise-type", choices=NOISE_TYPES, default="symmetric", help="symmetric or pairflip (default: symmetric)"
    )
    demo.add_argument("--seeds", type=positive_int, default=DEMO_SEEDS, help=f"seeds (default: {DEMO_SEEDS})")
    demo.add_argument("--threads", type=positive_int, default=None, help="CPU threads for torch")
    demo.add_argument("--no-progress", action="store_true", help="hide the progress bars")

    adapters = installed_commands() if adapters is None else adapters
    for name, command in sorted(adapters.items()):
        if isinstance(command, Command):
            command.configure(commands.add_parser(name, help=command.help, description=command.description))
        else:  # listed; asking for it says why it is not there (main)
            commands.add_parser(name, help=f"(unavailable: {command})")

    plot = commands.add_parser("plot", help="(re)write the PNGs of a run folder from its results.json")
    plot.add_argument(
        "run_dir", type=Path, metavar="RUN_DIR", help="a folder with results.json (or whose subfolders have one)"
    )

    commands.add_parser("fairseq-user-dir", help="print the folder to pass to fairseq's --user-dir for --criterion slf")
    recipe = commands.add_parser(
        "fairseq-recipe",
        help="print the path of a fairseq recipe installed with slf_fairseq (without NAME: list them)",
        description="Print the path of one of the IWSLT-14 recipes installed with slf_fairseq, to run it as "
        'bash "$(slf fairseq-recipe iwslt14_transformer)" --max-epoch 50; without NAME, list them.',
    )
    recipe.add_argument("name", nargs="?", metavar="NAME", help="a recipe, e.g. iwslt14_transformer")
    return parser


def _candidates(parser: argparse.ArgumentParser, text: str, option: str = "--slf-candidates") -> List[str]:
    return loss_names(parser, text, option, _classification_losses())


def _mils_primary(parser: argparse.ArgumentParser, text: str) -> str:
    from . import losses

    names = _candidates(parser, text, "--mils-primary")
    if len(names) != 1:
        parser.error(f"argument --mils-primary: expected one loss, got {names}")
    if getattr(losses.resolve(names[0], "classification"), "input_kind", "logits") != "logits":
        parser.error(f"argument --mils-primary: {names[0]!r} reads features; the primary loss must read logits")
    return names[0]


def _table_columns(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Optional[Tuple[str, ...]]:
    """The CSV column options checked against ``--data`` and ``--model``; the feature columns as a tuple."""
    is_csv = parse_dataset_spec(args.data)[0] == "csv"
    if not is_csv and (args.label_column is not None or args.feature_columns is not None):
        parser.error(
            f"--label-column and --feature-columns name a CSV's columns; --data {args.data} is not a CSV "
            "(use --data csv:PATH)"
        )
    if is_csv and args.model not in VECTOR_MODELS:
        parser.error(
            f"argument --model: {args.model!r} reads images; a CSV's rows are feature vectors: use one of "
            f"{', '.join(VECTOR_MODELS)}"
        )
    if args.feature_columns is None:
        return None
    columns = tuple(name.strip() for name in args.feature_columns.split(",") if name.strip())
    if not columns:
        parser.error("argument --feature-columns: expected comma-separated column names")
    return columns


def _run_classify(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .train import ClassifyConfig, format_summary_table, run_classify

    feature_columns = _table_columns(args, parser)
    cfg = ClassifyConfig(
        data=args.data,
        label_column=args.label_column,
        feature_columns=feature_columns,
        model=args.model,
        loss=args.loss,
        slf_mode=args.slf_mode,
        slf_candidates=tuple(_candidates(parser, args.slf_candidates)),
        slf_samples=args.slf_samples,
        slf_tau=args.slf_tau,
        slf_decision_lr=args.slf_decision_lr,
        slf_options={
            **({"normalize": "mean"} if args.slf_normalize == "mean" else {}),
            **({"selection": "sample"} if args.slf_selection == "sample" else {}),
            **({"hypergradient": "cosine"} if args.slf_hypergradient == "cosine" else {}),
            **({"decision_reads_losses": True} if args.slf_decision_reads_losses else {}),
            **({"compile": True} if args.slf_compile else {}),
        },
        mils_primary=_mils_primary(parser, args.mils_primary),
        mils_aux=tuple(_candidates(parser, args.mils_aux, "--mils-aux")),
        mils_rate=args.mils_rate,
        mils_obs_size=args.mils_obs_size,
        mils_rule=args.mils_rule,
        optimizer=args.optimizer,
        lr=args.lr,
        batch_size=args.batch_size,
        epochs=args.epochs,
        device=args.device,
        num_threads=args.threads,
        max_train_samples=args.max_train_samples,
        label_noise=args.label_noise,
        noise_type=args.noise_type,
    )
    if parse_dataset_spec(args.data)[0] == "csv":
        try:  # a bad table is the user's to fix: one line naming its row and column, before any training
            load_dataset(args.data, 0, label_column=args.label_column, feature_columns=feature_columns)
        except (FileNotFoundError, ValueError) as error:
            print(f"slf classify: {error}", file=sys.stderr)
            return 2
    return run_and_report(
        "slf classify",
        lambda: run_classify(cfg, args.seeds, args.out, not args.no_progress, args.overwrite),
        format_summary_table,
        errors=(FileNotFoundError,),
    )


def _run_plot(args: argparse.Namespace, adapters: Mapping[str, Union[Command, str]]) -> int:
    from .train import write_run_plots

    run_dir: Path = args.run_dir
    folders = (
        [run_dir]
        if (run_dir / "results.json").is_file()
        else sorted(path.parent for path in run_dir.glob("*/results.json"))
    )
    if not folders:
        print(f"slf plot: no results.json in {run_dir} or its subfolders", file=sys.stderr)
        return 2
    plot_writers = {
        command.trainer: command.write_plots
        for command in adapters.values()
        if isinstance(command, Command) and command.trainer and command.write_plots
    }
    for folder in folders:
        results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        write_plots = plot_writers.get(results.get("trainer"), write_run_plots)
        for path in write_plots(folder):
            print(f"wrote {path}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``slf`` console script (and ``python -m slf``).

    Args:
        argv: arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        the exit status (0 on success).

    Example:
        >>> main(["plot", "runs/demo"])  # doctest: +SKIP
        0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    adapters = installed_commands()
    unavailable = adapters.get(argv[0]) if argv else None
    if isinstance(unavailable, str):
        print(f'slf {argv[0]}: {unavailable}; install its extra (pip install -e ".[all]")', file=sys.stderr)
        return 2
    parser = build_parser(adapters=adapters)
    args = parser.parse_args(argv)
    if args.command == "classify":
        return _run_classify(args, parser)
    if args.command == "demo":
        return run_demo(args)
    if args.command == "fairseq-user-dir":
        print(fairseq_user_dir())
        return 0
    if args.command == "fairseq-recipe":
        return run_fairseq_recipe(args)
    if args.command == "plot":
        return _run_plot(args, adapters)
    command = adapters[args.command]
    assert isinstance(command, Command)  # an unavailable one returned above
    return command.run(args, parser)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
