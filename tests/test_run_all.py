"""benchmarks/run_all.py: the quick budget of the core sections runs end to end and renders the report."""

import json
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Callable, List

import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
CORE = ["classify", "k_sweep", "mils", "noisy_labels", "cost", "mils_overhead"]
CELL = re.compile(r"(\d+\.\d+) \+- (\d+\.\d+)")


def run_all(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/run_all.py"), "--quick", *arguments],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """The core sections at the quick budget, archived as the full budget archives into benchmarks/results."""
    base = tmp_path_factory.mktemp("quick")
    finished = run_all(
        "--only",
        *CORE,
        "--runs",
        str(base / "runs"),
        "--archive",
        str(base / "archive"),
        "--results",
        str(base / "RESULTS.md"),
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return base, (base / "RESULTS.md").read_text()


def test_table_1_cells_are_the_mean_and_95_percent_interval_of_the_saved_runs(quick):
    base, report = quick
    saved = json.loads((base / "archive/classify/classify_seeds.json").read_text())["results"]["mlp"]
    row = next(line for line in report.splitlines() if line.startswith("| mlp | 0.9806 | 0.9852 |"))
    ce_mean, ce_half = map(float, CELL.findall(row)[0])  # the CE column follows the paper's two
    accuracy = [r["final_test_acc"] for r in saved["ce"]]
    half = stats.t.ppf(0.975, len(accuracy) - 1) * statistics.stdev(accuracy) / len(accuracy) ** 0.5
    assert ce_mean == pytest.approx(statistics.fmean(accuracy), abs=5e-5)
    assert ce_half == pytest.approx(half, abs=5e-5)
    assert len(CELL.findall(row)) == 2 + 5  # CE, best single, the default recipe and the four SLF modes run here


def test_the_paper_baselines_stand_beside_the_default_recipe_with_a_paired_test(quick):
    base, report = quick
    saved = json.loads((base / "archive/classify/classify_seeds.json").read_text())["results"]["mlp"]
    default = [r["final_test_acc"] for r in sorted(saved["slf-align"], key=lambda r: r["seed"])]
    for method, label in (
        ("smooth01", "Smooth 0-1"),
        ("large_margin_softmax", "L-M Softmax"),
        ("adaptive_robust", "ARLF"),
        ("l2t_dlf", "L2T-DLF"),
        ("adalfl", "AdaLFL"),
    ):
        peer = [r["final_test_acc"] for r in sorted(saved[method], key=lambda r: r["seed"])]
        row = next(line for line in report.splitlines() if line.startswith(f"| mlp | {label}"))
        assert float(CELL.findall(row)[0][0]) == pytest.approx(statistics.fmean(peer), abs=5e-5)
        difference = re.search(r"\| ([+-]\d\.\d{4}), p (\S+), ", row)
        assert float(difference.group(1)) == pytest.approx(statistics.fmean(default) - statistics.fmean(peer), abs=5e-5)
        p = stats.ttest_rel(default, peer).pvalue
        assert difference.group(2) == ("-" if p != p else f"{p:.2f}")
        line = next(text for text in report.splitlines() if text.startswith(f"Against {label}"))
        counts = [int(n) for n in re.findall(r"(?:in|behind in) (\d+)", line)]
        assert sum(counts) == 1 and line.endswith("of 1 comparisons (paired t-test, p < 0.05).")


def test_every_core_section_is_rendered_with_its_command_and_figures(quick):
    base, report = quick
    for title in (
        "Table 1: classification",
        "number of samples K",
        "Gumbel-Softmax against softmax",
        "MILS against",
        "Label noise",
        "Literal against validation-driven",
        "how it scales",
    ):
        assert f"{title}" in report
    assert "classify_seeds.py --models mlp --seeds 2 --epochs 1" in report
    headline = report.split("## Headline")[1].split("## Sections run")[0]
    rows = [line for line in headline.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) >= 4  # classification, MILS and the two label-noise settings
    assert all(re.search(r"SLF ahead|SLF loses|level", row) for row in rows)
    for png in (
        "classify/classify_seeds_mlp.png",
        "k_sweep/k_sweep.png",
        "cost/cost.png",
        "noisy_labels/selection_weights_sym0.4.png",
        "classify/classify_default_weights.png",
        "noisy_labels/noisy_labels_default_weights.png",
    ):
        assert (base / "archive" / png).stat().st_size > 10_000  # linked where the archive keeps it
        assert f"](archive/{png})" in report
    # The host sections were not run, and the report says how to run them instead of leaving a gap.
    for host in ("dac", "pyg", "fairseq", "mmdet"):
        assert f"Not run at this budget yet. Command: `python benchmarks/run_all.py --quick --only {host}`" in report


def test_the_archive_keeps_each_run_and_a_fresh_checkout_continues_from_it(quick):
    base, _ = quick
    archive, runs = base / "archive", base / "runs"
    assert len(list(archive.glob("k_sweep/mlp/*/*seed*.json"))) == len(list(runs.glob("k_sweep/mlp/*/*seed*.json")))
    assert len(list(archive.glob("noisy_labels/mlp/*/*/seed*.json"))) == 2 * 6 * 2  # settings x methods x seeds
    stamp = json.loads((archive / "k_sweep/run_all.stamp.json").read_text())
    assert stamp["returncode"] == 0 and stamp["command"][1] == "benchmarks/k_sweep.py" and "cores" in stamp["machine"]

    shutil.rmtree(runs / "k_sweep")  # what a new checkout has: the archive, no runs/
    again = run_all(
        "--only", "k_sweep", "--runs", str(runs), "--archive", str(archive), "--results", str(base / "RESULTS.md")
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert "k_sweep: continuing from" in again.stdout
    assert json.loads((runs / "k_sweep/run_all.stamp.json").read_text()) == stamp  # restored, not run again
    assert "Ablation: the number of samples K" in (base / "RESULTS.md").read_text()


def test_the_cost_section_renders_every_measured_ratio_against_its_goal(quick):
    base, report = quick
    cost = json.loads((base / "archive/cost/cost.json").read_text())
    parts, checks = cost["parts"], {row["name"]: row for row in cost["checks"]}
    settled = checks["LeNet batch 128 step / CE, settled"]
    assert settled["recipe"] == "default" and settled["goal"] == "<= 1.2"
    assert settled["ratio"] == parts["lenet"]["SLF default, settled"]["ratio"]
    assert checks["MLP batch 32 step / CE"]["ratio"] == parts["batch"]["32"]["SLF joint"]
    assert checks["MLP step / CE, the largest over batches >= 512"]["ratio"] == parts["batch"]["512"]["SLF joint"]
    assert {
        "each added candidate (MLP batch 128), weighing",
        "peak resident memory / CE (LeNet batch 128), settled",
    } <= set(checks)
    assert (
        sorted(parts["model"]) == ["256", "64"]
        and parts["model"]["256"]["parameters"] > parts["model"]["64"]["parameters"]
    )
    for row in (row for row in cost["checks"] if row["goal"] is not None):  # None: measured, no goal set
        bound = float(row["goal"].split()[1])
        assert row["met"] == (row["ratio"] >= bound if row["goal"].startswith(">=") else row["ratio"] <= bound)
        assert f"| {row['name']} | {row['recipe']} | {row['ratio']:.3f} | {row['goal']} |" in report
    memory = parts["memory"]
    # A whole torch process; a settled step may allocate nothing new, so its peak can equal the level before it.
    assert memory["cross-entropy"]["ratio"] == 1.0 and all(
        row["peak_kib"] >= row["before_kib"] > 100_000 for row in memory.values()
    )
    assert "](archive/cost/cost.png)" in report


def test_a_section_this_run_did_not_run_archives_only_its_saved_runs(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run_all as module

    folder, archive = tmp_path / "runs", tmp_path / "archive"
    (folder / "a_seed0").mkdir(parents=True)
    (folder / "run_all.log").write_text("a killed run's log\n")
    (folder / "a_seed0/result.json").write_text("{}")
    archive.mkdir()
    (archive / "run_all.log").write_text("the finished run's log\n")
    section = module.Section("mmdet", "mmdet_yolo.py", (), (), saved_runs=("*_seed*/result.json",))
    assert module.archive(section, folder, archive, saved_runs_only=True) == 1
    assert (archive / "run_all.log").read_text() == "the finished run's log\n"
    assert (archive / "a_seed0/result.json").is_file()


def test_the_cost_benchmark_refuses_a_candidate_count_beyond_its_pool():
    refused = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/cost.py"), "--candidate-counts", "2", "99"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert refused.returncode == 2
    assert "--candidate-counts [99]: choose from 1 to" in refused.stderr and "(ce, mse, mae, hinge" in refused.stderr


def test_a_file_too_big_to_be_a_result_is_not_archived(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run_all as module

    folder, archive = tmp_path / "runs", tmp_path / "archive"
    (folder / "a_seed0").mkdir(parents=True)
    (folder / "pyg_seeds.json").write_text("{}")
    (folder / "checkpoint_dump.json").write_bytes(b" " * (module.LARGEST_ARCHIVED + 1))
    (folder / "a_seed0/result.json").write_text("{}")
    section = module.Section("mmdet", "mmdet_yolo.py", (), (), saved_runs=("*_seed*/result.json",))
    assert module.archive(section, folder, archive) == 2
    assert sorted(p.relative_to(archive).as_posix() for p in archive.rglob("*.json")) == [
        "a_seed0/result.json",
        "pyg_seeds.json",
    ]
    assert module.archive(section, folder, archive) == 0  # nothing changed, nothing copied


def test_an_unknown_section_is_refused_with_the_valid_choices(tmp_path):
    refused = run_all("--only", "classfy", "--runs", str(tmp_path))
    assert refused.returncode == 2
    assert "unknown section(s) classfy" in refused.stderr and "classify, k_sweep, mils" in refused.stderr
    assert not (tmp_path / "RESULTS.md").exists()


def test_a_saved_default_recipe_run_is_stale_only_under_other_recipe_constants(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from slf import alignment

    from _comparison import cached_run, recipe_signature

    config = {"loss": "slf", "slf_mode": "align", "seed": 0}
    trained = []

    def train():
        trained.append(1)
        return {"config": config, "final_test_acc": 0.9}

    path = tmp_path / "seed0.json"
    cached_run(path, config, train)
    assert cached_run(path, config, train)["recipe"] == recipe_signature() and len(trained) == 1
    saved = json.loads(path.read_text())
    # Saved before held_interval was recorded, when every run drew held-out batches every step:
    # current under held_interval 1, stale under 4.
    before = {name: value for name, value in saved["recipe"].items() if name != "held_interval"}
    path.write_text(json.dumps({**saved, "recipe": before}))
    monkeypatch.setattr(alignment, "DEFAULT_HELD_INTERVAL", 1)
    cached_run(path, config, train)
    assert len(trained) == 1
    monkeypatch.setattr(alignment, "DEFAULT_HELD_INTERVAL", 4)
    cached_run(path, config, train)
    assert len(trained) == 2
    saved = json.loads(path.read_text())
    path.write_text(json.dumps({**saved, "recipe": {**saved["recipe"], "gap": 1.25}}))
    cached_run(path, config, train)
    assert len(trained) == 3  # another gap: stale, trained again
    # Saved before gap_z was recorded, when the gap had no noise allowance: current under 0 only.
    saved = json.loads(path.read_text())
    path.write_text(json.dumps({**saved, "recipe": {n: v for n, v in saved["recipe"].items() if n != "gap_z"}}))
    monkeypatch.setattr(alignment, "DEFAULT_GAP_Z", 0.0)
    cached_run(path, config, train)
    assert len(trained) == 3
    monkeypatch.setattr(alignment, "DEFAULT_GAP_Z", 1.0)
    cached_run(path, config, train, gap_acts=False)  # a host where the gap cannot act (DAC, the YOLO head)
    assert len(trained) == 3
    cached_run(path, config, train)
    assert len(trained) == 4
    saved = json.loads(path.read_text())
    path.write_text(json.dumps({**saved, "recipe": {**saved["recipe"], "margin": 0.05}}))
    cached_run(path, config, train, gap_acts=False)  # other constants than the gap's: stale there too
    assert len(trained) == 5
    single = {"loss": "ce", "seed": 0}
    path = tmp_path / "ce.json"
    cached_run(path, single, lambda: {"config": single})
    path.write_text(json.dumps({"config": single, "recipe": {"gap": 9.0}}))
    assert cached_run(path, single, lambda: pytest.fail("a single loss's run does not depend on the recipe"))


def test_interleaved_times_runs_blocks_in_a_new_order_each_round_and_averages_each_block_past_its_switch():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _timing import interleaved_times

    # A step that costs 5 right after another variant ran (a cold cache), 1 when its own step ran last.
    history: List[str] = []

    def variant(label: str) -> Callable[[], float]:
        def step() -> float:
            cold = bool(history) and history[-1] != label
            history.append(label)
            return 5.0 if cold else 1.0

        return step

    steps = {label: variant(label) for label in "abc"}
    blocks = interleaved_times(steps, rounds=20, warmup=1, block=3, shuffle=True, seed=0)
    assert blocks == {label: [1.0] * 20 for label in "abc"}  # each block's first step paid for the switch
    timed = history[3 * 3 :]  # after the warm-up
    orders = {tuple(timed[r * 9 : (r + 1) * 9 : 3]) for r in range(20)}
    assert len(orders) > 1 and all(sorted(order) == ["a", "b", "c"] for order in orders)

    # A held-out batch every 4th step: a block of 1 + 4 steps holds one whole period past its switch.
    calls = {"n": 0}

    def periodic() -> float:
        calls["n"] += 1
        return 3.0 if calls["n"] % 4 == 0 else 1.0

    assert interleaved_times({"periodic": periodic}, rounds=7, warmup=2, block=5)["periodic"] == [1.5] * 7

    history.clear()
    one_each = interleaved_times(steps, rounds=4, warmup=0)  # the fixed order: every step follows another
    assert history == list("abc") * 4 and one_each["b"] == [5.0] * 4
    with pytest.raises(ValueError, match="block must be at least 1"):
        interleaved_times(steps, rounds=1, warmup=0, block=0)
