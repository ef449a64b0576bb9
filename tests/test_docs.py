"""The documentation: the loss library page names every registered loss, the performance page's cost table is
rendered from the committed cost benchmark, the README stays a first read, the site builds with
warnings as errors, and the pages' examples run as written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

import slf.losses as L

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"


def docs_loss_table() -> set:
    text = (DOCS / "losses.md").read_text(encoding="utf-8")
    listed = set()
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] in L.TASKS:
            listed |= {(cells[0], name) for name in re.findall(r"`([a-z0-9_]+)`", cells[1])}
    return listed


def test_the_loss_library_page_lists_every_registered_loss_with_its_task():
    listed = docs_loss_table()
    registered = {(task, name) for task in L.TASKS for name in L.available(task)}
    assert registered - listed == set(), f"registered but not in docs/losses.md: {sorted(registered - listed)}"
    assert listed - registered == set(), f"in docs/losses.md but not registered: {sorted(listed - registered)}"


def test_the_performance_page_cost_table_is_rendered_from_the_committed_cost_json():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _report import docs_cost_block

    report = json.loads((ROOT / "benchmarks/results/cost/cost.json").read_text())
    block = docs_cost_block(report)
    assert block in (DOCS / "performance.md").read_text(encoding="utf-8")
    rows = [row for row in report["checks"] if row["recipe"] == "default"]
    assert rows and all(f"| {row['name']} | default | {row['ratio']:.3f} |" in block for row in rows)
    assert (ROOT / "benchmarks/results/cost/cost.png").stat().st_size > 10_000


def test_the_readme_is_a_first_read_that_points_to_the_docs():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) < 250
    for heading in (
        "## Two commands",
        "## Quick start: Python",
        "## Quick start: MMDetection",
        "## Quick start: fairseq",
        "## Quick start: PyTorch Geometric and clustering",
        "## The headline result",
    ):
        assert heading in text
    assert "make docs" in text and "make demo" in text and "make test" in text


class _Headings(HTMLParser):
    """The text of a page's h1/h2 headings."""

    def __init__(self) -> None:
        super().__init__()
        self.headings, self._open = [], None

    def handle_starttag(self, tag, attrs):
        if tag in ("h1", "h2"):
            self._open = tag
            self.headings.append("")

    def handle_endtag(self, tag):
        if tag == self._open:
            self._open = None

    def handle_data(self, data):
        if self._open:
            self.headings[-1] += data


def headings(page: Path) -> list:
    parser = _Headings()
    parser.feed(page.read_text(encoding="utf-8"))
    return [" ".join(h.replace("\N{PILCROW SIGN}", "").split()) for h in parser.headings]


def sphinx(builder: str, out: Path) -> subprocess.CompletedProcess:
    # -W: a warning (a broken reference, a malformed docstring, a missing page) fails the build.
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            builder,
            "-d",
            str(out / "doctrees"),
            str(DOCS),
            str(out / builder),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        cwd=ROOT,
    )


@pytest.mark.slow
@pytest.mark.mmdet
@pytest.mark.fairseq
@pytest.mark.pyg
@pytest.mark.lightning
@pytest.mark.transformers
def test_the_site_builds_with_warnings_as_errors(tmp_path):
    built = sphinx("html", tmp_path)
    assert built.returncode == 0, built.stderr[-5000:]
    html = tmp_path / "html"
    assert headings(html / "index.html")[0] == "stochastic-loss"
    for host in ("mmdet", "fairseq", "pyg", "dac", "lightning", "transformers"):
        assert headings(html / "hosts" / f"{host}.html")[1] == "Quick start", host
    assert headings(html / "hosts" / "mmdet.html")[0].startswith("MMDetection: type='StochasticLoss'")
    api = headings(html / "api" / "generated" / "slf.stochastic_loss.html")
    assert (
        api[0] == "slf.stochastic_loss"
        and "StochasticLoss" in (html / "api" / "generated" / "slf.stochastic_loss.html").read_text()
    )
    assert (html / "_images").is_dir() and any((html / "_images").glob("*.png"))  # the results' plots


def python_blocks(page: Path) -> list:
    return re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)


def test_the_python_page_runs_as_written_on_real_data(capsys):
    """The docstrings' examples run under pytest's doctests (the API pages render those very
    docstrings); the narrative pages' Python runs here, block after block as a reader would."""
    namespace: dict = {}
    blocks = python_blocks(DOCS / "python.md")
    assert len(blocks) == 3
    for block in blocks:
        exec(compile(block, str(DOCS / "python.md"), "exec"), namespace)
    weights = namespace["crit"].weights
    assert weights.shape == (6,) and abs(float(weights.sum()) - 1.0) < 1e-5
    assert namespace["mils"].stats()["steps"] > 0 and "'ce':" in capsys.readouterr().out


@pytest.mark.mmdet
def test_the_mmdet_quick_start_builds_its_head_from_the_installed_config(tmp_path):
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    import slf_mmdet  # noqa: F401  (the 'slf_mmdet::' scope)

    snippet = python_blocks(DOCS / "hosts" / "mmdet.md")[0]
    (tmp_path / "mine.py").write_text("_base_ = 'slf_mmdet::slf/yolov3_mobilenetv2_deepforest.py'\n" + snippet)
    cfg = Config.fromfile(tmp_path / "mine.py")
    with DefaultScope.overwrite_default_scope("mmdet"):
        model = MODELS.build(cfg.model)
    assert model.bbox_head.loss_cls.candidate_names == ["bce", "FocalLoss", "CrossEntropyLoss"]
    assert [hook.type for hook in cfg.custom_hooks] == ["SLFHeldOutHook", "SLFLoggerHook"]
