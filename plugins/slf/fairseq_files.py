"""The files of the installed fairseq adapter, found without importing fairseq: the folder for ``--user-dir``
and the IWSLT-14 recipes (``slf fairseq-user-dir``, ``slf fairseq-recipe``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict


def fairseq_user_dir() -> Path:
    """The ``slf_fairseq`` package folder, found without importing fairseq.

    Raises:
        ModuleNotFoundError: the adapter is not installed (``pip install ".[fairseq]"``).
    """
    import importlib.util

    spec = importlib.util.find_spec("slf_fairseq")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError('slf_fairseq is not installed: pip install ".[fairseq]" from a checkout')
    return Path(list(spec.submodule_search_locations)[0])


def fairseq_recipes() -> Dict[str, Path]:
    """The fairseq recipes installed with ``slf_fairseq`` (``configs/fairseq`` of a checkout), by name.

    Raises:
        ModuleNotFoundError: the adapter is not installed.
        FileNotFoundError: it was installed without its recipes.

    Example:
        >>> sorted(fairseq_recipes())[:2]
        ['iwslt14_common', 'iwslt14_lstm1']
    """
    folder = fairseq_user_dir() / "recipes"
    if not folder.is_dir():
        raise FileNotFoundError(f"slf_fairseq has no recipes at {folder}; reinstall stochastic-loss")
    return {path.stem: path for path in sorted(folder.glob("*.sh"))}


def run_fairseq_recipe(args: argparse.Namespace) -> int:
    """``slf fairseq-recipe [NAME]``: list the recipes, or print the path of one; 2 on an unknown name."""
    try:
        recipes = fairseq_recipes()
    except (ModuleNotFoundError, FileNotFoundError) as error:
        print(f"slf fairseq-recipe: {error}", file=sys.stderr)
        return 2
    if args.name is None:
        print("\n".join(recipes))
        return 0
    name = args.name[:-3] if args.name.endswith(".sh") else args.name
    if name not in recipes:
        print(f"slf fairseq-recipe: no recipe {args.name!r}; valid choices: {', '.join(recipes)}", file=sys.stderr)
        return 2
    print(recipes[name])
    return 0
