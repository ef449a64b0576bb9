"""The README's loss table names every registered loss, and names no loss that does not exist."""
from __future__ import annotations

import re
from pathlib import Path

import slf.losses as L

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_loss_table() -> set:
    text = README.read_text(encoding="utf-8")
    section = text.split("### The loss library", 1)[1].split("\n### ", 1)[0]
    listed = set()
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] in L.TASKS:
            listed |= {(cells[0], name) for name in re.findall(r"`([a-z0-9_]+)`", cells[1])}
    return listed


def test_readme_lists_every_registered_loss_with_its_task():
    listed = readme_loss_table()
    registered = {(task, name) for task in L.TASKS for name in L.available(task)}
    assert registered - listed == set(), f"registered but not in the README: {sorted(registered - listed)}"
    assert listed - registered == set(), f"in the README but not registered: {sorted(listed - registered)}"
