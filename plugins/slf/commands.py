"""Subcommands that installed adapters add to ``slf``, through the ``slf.commands`` entry-point group.

An adapter declares, in its package metadata::

    entry_points={"slf.commands": ["graph = slf_pyg.cli:COMMAND"]}

where ``COMMAND`` is a :class:`Command`. The core's command line lists every installed one and
imports none of them until it is asked for, so the core knows no host by name.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Callable, Dict, List, Optional, Union

COMMAND_GROUP = "slf.commands"


@dataclass(frozen=True)
class Command:
    """One ``slf`` subcommand contributed by an adapter.

    Args:
        name: the subcommand (``slf NAME``).
        help: one line for ``slf --help``.
        description: the subcommand's ``--help`` text.
        configure: adds the subcommand's arguments to its parser.
        run: runs it from the parsed arguments (the parser reports usage errors); returns the exit status.
        trainer: the ``trainer`` field of the ``results.json`` files it writes, so ``slf plot`` can
            redraw them with ``write_plots(run_dir)``.
        write_plots: redraws a run folder's PNGs, returns their paths.

    Example:
        >>> hello = Command("hello", "say hello", "", lambda parser: None, lambda args, parser: 0)
        >>> hello.run(argparse.Namespace(), argparse.ArgumentParser())
        0
    """

    name: str
    help: str
    description: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, argparse.ArgumentParser], int]
    trainer: Optional[str] = None
    write_plots: Optional[Callable[[Path], List[Path]]] = None


def installed_commands() -> Dict[str, Union[Command, str]]:
    """Every installed adapter command by name, or, where it cannot be loaded, why not (a message).

    Example:
        >>> all(isinstance(name, str) for name in installed_commands())
        True
    """
    commands: Dict[str, Union[Command, str]] = {}
    for point in entry_points(group=COMMAND_GROUP):
        try:
            command = point.load()
        except ImportError as error:  # the adapter's own dependencies are missing
            commands[point.name] = f"{point.value} cannot be imported: {error}"
            continue
        if not isinstance(command, Command) or command.name != point.name:
            commands[point.name] = f"{point.value} is not a slf.commands.Command named {point.name!r}"
            continue
        commands[point.name] = command
    return commands
