"""The README's loss table names every registered loss, and names no loss that does not exist; its cost
table is the one rendered from the committed cost benchmark."""
from __future__ import annotations

import re
from pathlib import Path

import slf.losses as L

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


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


def test_the_readme_cost_table_is_rendered_from_the_committed_cost_json():
    import json
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _report import readme_cost_block

    report = json.loads((ROOT / "benchmarks/results/cost/cost.json").read_text())
    block = readme_cost_block(report)
    assert block in README.read_text(encoding="utf-8")
    rows = [row for row in report["checks"] if row["recipe"] == "default"]
    assert rows and all(f"| {row['name']} | default | {row['ratio']:.3f} |" in block for row in rows)
    assert (ROOT / "benchmarks/results/cost/cost.png").stat().st_size > 10_000
