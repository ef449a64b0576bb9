"""benchmarks/run_all.py: the quick budget of the core sections runs end to end and renders the report."""
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
CORE = ["classify", "k_sweep", "mils", "noisy_labels", "scaling", "step_overhead", "mils_overhead"]
CELL = re.compile(r"(\d+\.\d+) \+- (\d+\.\d+)")


def run_all(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks/run_all.py"), "--quick", *arguments],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    runs = tmp_path_factory.mktemp("quick")
    finished = run_all("--only", *CORE, "--runs", str(runs))
    assert finished.returncode == 0, finished.stderr[-3000:]
    return runs, (runs / "RESULTS.md").read_text()


def test_table_1_cells_are_the_mean_and_95_percent_interval_of_the_saved_runs(quick):
    runs, report = quick
    saved = json.loads((runs / "classify/classify_seeds.json").read_text())["results"]["mlp"]
    row = next(line for line in report.splitlines() if line.startswith("| mlp | 0.9806 | 0.9852 |"))
    ce_mean, ce_half = map(float, CELL.findall(row)[0])  # the CE column follows the paper's two
    accuracy = [r["final_test_acc"] for r in saved["ce"]]
    half = stats.t.ppf(0.975, len(accuracy) - 1) * statistics.stdev(accuracy) / len(accuracy) ** 0.5
    assert ce_mean == pytest.approx(statistics.fmean(accuracy), abs=5e-5)
    assert ce_half == pytest.approx(half, abs=5e-5)
    assert len(CELL.findall(row)) == 2 + 4  # CE, best single and the four SLF modes run at this budget


def test_every_core_section_is_rendered_with_its_command_and_figures(quick):
    runs, report = quick
    for title in ("Table 1: classification", "number of samples K", "Gumbel-Softmax against softmax", "MILS against",
                  "Label noise", "Literal against validation-driven", "how it scales"):
        assert f"{title}" in report
    assert "classify_seeds.py --models mlp --seeds 2 --epochs 1" in report
    headline = report.split("## Headline")[1].split("## Sections run")[0]
    rows = [line for line in headline.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) >= 4  # classification, MILS and the two label-noise settings
    assert all(re.search(r"SLF ahead|SLF loses|level", row) for row in rows)
    for png in ("classify_classify_seeds_mlp.png", "k_sweep_k_sweep.png", "scaling_slf_scaling.png",
                "noisy_labels_selection_weights_sym0.4.png"):
        assert (runs / "figures" / png).stat().st_size > 10_000
        assert f"](figures/{png})" in report
    # The host sections were not run, and the report says how to run them instead of leaving a gap.
    for host in ("dac", "pyg", "fairseq", "mmdet"):
        assert f"Not run at this budget yet. Command: `python benchmarks/run_all.py --quick --only {host}`" in report


def test_a_finished_section_is_not_run_again_unless_asked(quick):
    runs, _ = quick
    stamp = runs / "k_sweep/run_all.stamp.json"
    before = stamp.read_text()
    again = run_all("--only", "k_sweep", "--runs", str(runs))
    assert again.returncode == 0, again.stderr[-2000:]
    assert stamp.read_text() == before
    assert "k_sweep" in (runs / "RESULTS.md").read_text()


def test_an_unknown_section_is_refused_with_the_valid_choices(tmp_path):
    refused = run_all("--only", "classfy", "--runs", str(tmp_path))
    assert refused.returncode == 2
    assert "unknown section(s) classfy" in refused.stderr and "classify, k_sweep, mils" in refused.stderr
    assert not (tmp_path / "RESULTS.md").exists()
