"""Argument types and shared options of the ``slf`` subcommands, for the core's and the adapters' alike.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> _ = parser.add_argument("--epochs", type=positive_int)
    >>> parser.parse_args(["--epochs", "3"]).epochs
    3
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple, Type


def _number(kind: Callable[[str], Any], accepts: Callable[[Any], bool], expected: str) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value!r}") from None
        if not accepts(number):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value!r}")
        return number

    parse.__name__ = expected.replace(" ", "_")
    return parse


positive_int = _number(int, lambda n: n >= 1, "a positive integer")
positive_float = _number(float, lambda n: n > 0, "a positive number")
rate = _number(float, lambda n: 0.0 <= n <= 1.0, "a number in [0, 1]")
noise_rate = _number(float, lambda n: 0.0 <= n < 1.0, "a number in [0, 1)")


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """``--optimizer --lr --batch-size --threads --device --max-train-samples --no-progress``."""
    parser.add_argument(
        "--optimizer", choices=("adam", "sgd"), default="adam", help="adam, or sgd with momentum 0.9 (default: adam)"
    )
    parser.add_argument("--lr", type=positive_float, default=1e-3, help="learning rate (default: 1e-3)")
    parser.add_argument("--batch-size", type=positive_int, default=128, help="batch size (default: 128)")
    parser.add_argument("--threads", type=positive_int, default=None, help="CPU threads for torch")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument(
        "--max-train-samples",
        type=positive_int,
        default=None,
        help="train on a subset of this size (classify: stratified by class)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """``--out`` (required) and ``--overwrite``: a folder's finished seeds are kept and a rerun continues
    them; another configuration's results there are refused unless ``--overwrite``."""
    parser.add_argument(
        "--out", type=Path, required=True, help="output folder; the same command again continues its unfinished seeds"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace results of another configuration in --out (default: refuse)"
    )


def add_slf_options(
    parser: argparse.ArgumentParser,
    candidates: str,
    candidates_help: str,
    mode_help: str,
    modes: Optional[Sequence[str]] = None,
    decision_lr: bool = True,
) -> None:
    """``--slf-mode --slf-candidates --slf-samples --slf-tau`` (and ``--slf-decision-lr``).

    Args:
        candidates: the default comma-separated candidates; ``candidates_help`` says what they are.
        mode_help: what each ``--slf-mode`` does there (the default mode is the core's).
        modes: the valid modes (default: any, checked by the trainer).
        decision_lr: add ``--slf-decision-lr`` (the trainers with validation mode).
    """
    from .stochastic_loss import DEFAULT_MODE

    parser.add_argument(
        "--slf-mode", choices=modes, default=DEFAULT_MODE, help=f"{mode_help} (default: {DEFAULT_MODE})"
    )
    parser.add_argument(
        "--slf-candidates", default=candidates, help=f"comma-separated candidate losses (default: {candidates_help})"
    )
    parser.add_argument("--slf-samples", type=positive_int, default=3, help="K Gumbel-Softmax samples (default: 3)")
    parser.add_argument("--slf-tau", type=positive_float, default=1.0, help="temperature (default: 1.0)")
    if decision_lr:
        parser.add_argument(
            "--slf-decision-lr",
            type=positive_float,
            default=None,
            help="decision network learning rate in validation mode",
        )


def loss_names(parser: argparse.ArgumentParser, text: str, option: str, valid: Sequence[str]) -> List[str]:
    """The comma-separated loss names of ``option``, each one of ``valid``, none twice (else a usage error).

    Example:
        >>> loss_names(argparse.ArgumentParser(), "mse, mae", "--slf-candidates", ["mse", "mae", "huber"])
        ['mse', 'mae']
    """
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in valid]
    if not names or unknown:
        parser.error(f"argument {option}: unknown loss(es) {unknown or [text]}; valid choices: {', '.join(valid)}")
    if len(set(names)) != len(names):
        parser.error(f"argument {option}: a loss appears twice in {names}")
    return names


def run_and_report(
    command: str,
    run: Callable[[], Mapping[str, Any]],
    table: Callable[[List[Any]], str],
    errors: Tuple[Type[BaseException], ...] = (FileNotFoundError, ValueError),
) -> int:
    """Run a subcommand's seeds and print its report; a data or value problem (``errors``) or an ``--out``
    that holds another run (``FileExistsError``) is one line on stderr naming the command (exit status 2).

    Example:
        >>> run_and_report("slf x", lambda: {"out_dir": "runs/x", "plots": []}, lambda summaries: "(table)")
        (table)
        results: runs/x/results.json
        0
    """
    try:
        summary = run()
    except (FileExistsError, *errors) as error:
        print(f"{command}: {error}", file=sys.stderr)
        return 2
    return print_run_report(table([summary]), summary)


def print_run_report(table: str, summary: Mapping[str, Any], out: Optional[Any] = None) -> int:
    """Print a finished run's table, its ``results.json`` and plots (rank 0 only under torchrun); returns 0."""
    from .distributed import rank

    if rank() != 0:  # torchrun: one report, from rank 0
        return 0
    stream = out or sys.stdout
    print(table, file=stream)
    print(f"results: {Path(summary['out_dir']) / 'results.json'}", file=stream)
    for path in summary["plots"]:
        print(f"plot:    {path}", file=stream)
    return 0
