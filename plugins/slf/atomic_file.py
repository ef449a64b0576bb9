"""Writing a file so that no reader ever sees it half written: a temporary file in the same
folder, then a rename over the target (atomic on POSIX and Windows), and nothing left behind
when the writer fails.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator, Union


@contextlib.contextmanager
def atomic_destination(path: Union[str, Path]) -> Iterator[Path]:
    """A temporary path to write to; on leaving the block it replaces ``path``.

    The temporary name keeps ``path``'s suffix (writers such as matplotlib pick the format
    by it). The folder is created. If the block raises, ``path`` keeps its old content.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "a.txt"
        >>> with atomic_destination(target) as temporary:
        ...     _ = temporary.write_text("done")
        >>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
        ('done', ['a.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def atomic_write_text(path: Union[str, Path], text: str) -> Path:
    """Write ``text`` to ``path`` through :func:`atomic_destination`.

    Example:
        >>> import tempfile
        >>> atomic_write_text(Path(tempfile.mkdtemp()) / "a.json", "{}").read_text()
        '{}'
    """
    with atomic_destination(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)
