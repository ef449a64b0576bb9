"""matplotlib on the Agg backend, and a figure written as a PNG atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Union

from ..atomic_file import atomic_destination


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, plt: Any, path: Union[str, Path]) -> Path:
    """Write the figure as ``path`` atomically (a reader never sees half a PNG) and close it."""
    try:
        fig.tight_layout()
        with atomic_destination(path) as temporary:
            fig.savefig(temporary, dpi=120, bbox_inches="tight")
    finally:
        plt.close(fig)
    return Path(path)
