"""Fixtures shared by every test folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict

import pytest

WORLD = 2


@pytest.fixture(scope="module")
def single_thread() -> Any:
    """One intra-op thread for a module of tiny-tensor tests: it avoids OpenMP wake-ups, which cost
    milliseconds per op on a busy machine (``pytestmark = pytest.mark.usefixtures("single_thread")``)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def slf_torchrun(tmp_path: Path) -> Callable[..., Dict[str, Any]]:
    """Run ``torchrun --standalone --nproc_per_node 2 -m slf <command> ... --out OUT`` (CPU, gloo),
    check it succeeded with one report (rank 0's), and return the first run of ``OUT/results.json``."""

    def run(command: str, *arguments: str, out_name: str = "ddp") -> Dict[str, Any]:
        out = tmp_path / out_name
        line = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            str(WORLD),
            "-m",
            "slf",
            command,
            *arguments,
            "--threads",
            "1",
            "--no-progress",
            "--out",
            str(out),
        ]
        finished = subprocess.run(line, capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert finished.returncode == 0, finished.stderr[-3000:]
        assert finished.stdout.count("results:") == 1  # one report, from rank 0
        return json.loads((out / "results.json").read_text())["runs"][0]

    return run
