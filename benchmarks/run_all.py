"""Every benchmark of the suite at one budget, then the reproduction report ``RESULTS.md``.

Each section runs one benchmark script as its own process (its progress bar on stderr, its
printed tables in ``<runs>/<section>/run_all.log``) and writes its JSON and PNGs under
``<runs>/<section>``. The benchmarks save each training run, so an interrupted ``run_all``
continues where it stopped, and a section whose exact command already finished is not run
again (``--rerun`` forces it).

``runs/`` is scratch space (checkpoints, logs) and is not committed. At the full budget the
small files of each section (its JSON, its PNGs, each run's saved result, the stamp and the
log) are archived in ``benchmarks/results/<section>``, which is committed: the report is
rendered from there, and a fresh checkout restores it into ``runs/`` before running, so a
report too long for one sitting continues across checkouts and machines.

Budgets:

- ``--full`` (the default): the settings of the report, at least 5 seeds per cell;
  many hours on 2 CPU cores (the docs' per-benchmark times add up to about 7).
  Writes ``RESULTS.md`` at the repository root from ``benchmarks/results``.
- ``--quick``: a smoke run of every section (1-2 epochs, 2 seeds) in ``runs/quick``,
  report ``runs/quick/RESULTS.md``. Its figures mean nothing; it checks that the
  pipeline runs end to end.

    python benchmarks/run_all.py                         # the full report
    python benchmarks/run_all.py --quick                 # smoke run, a few minutes
    python benchmarks/run_all.py --only classify k_sweep # some sections; the report keeps the others' results
    python benchmarks/run_all.py --render-only           # redraw RESULTS.md from what has been run
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from tqdm import tqdm

from _report import git_commit, write_docs_cost, write_report

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = Path(__file__).resolve().parent
ARCHIVE = BENCHMARKS / "results"
PERFORMANCE_PAGE = ROOT / "docs" / "performance.md"
STAMP = "run_all.stamp.json"
# Every section's own top-level files; a benchmark's per-run results are named in its Section.
ARCHIVED = ("*.json", "*.png", "*.md", "run_all.log")
LARGEST_ARCHIVED = 2 * 1024 * 1024  # bytes; anything bigger is a checkpoint or a log, not a result


@dataclass(frozen=True)
class Section:
    """One benchmark run at the two budgets.

    Attributes:
        name: the section's name, also its folder under the runs root.
        script: the benchmark file in ``benchmarks/``.
        full: its arguments at the report's budget.
        quick: its arguments for the smoke run.
        out: how it is told where to write; ``{out}`` is the section's folder.
        saved_runs: glob patterns, relative to the section's folder, of the per-run results the
            benchmark reads back instead of training again; they are archived with the section.
    """

    name: str
    script: str
    full: Tuple[str, ...]
    quick: Tuple[str, ...]
    out: Tuple[str, ...] = ("--out", "{out}")
    saved_runs: Tuple[str, ...] = ()

    def command(self, budget: str, folder: Path) -> List[str]:
        """The command line that runs this section at ``budget`` into ``folder``."""
        arguments = self.full if budget == "full" else self.quick
        return [
            sys.executable,
            str(BENCHMARKS / self.script),
            *arguments,
            *(part.format(out=folder) for part in self.out),
        ]


# Ordered cheapest first; the timing sections last, on a machine no other section is loading.
# Methods named in the full commands: a section whose command changed runs again (its saved runs make that
# cheap), so a new method is added here. The first SLF method of each is SLF's default recipe (align).
CLASSIFY_METHODS = (
    "ce,mse,mae,hinge,cosine,bce,slf-align,slf-joint,slf-softmax,slf-validation,slf-joint+normalize,"
    "slf-validation+sample,slf-validation+smooth01,slf-validation+every4,smooth01,large_margin_softmax,adaptive_robust,"
    "l2t_dlf,adalfl"
)
NOISY_METHODS = (
    "ce",
    "mse",
    "mae",
    "hinge",
    "cosine",
    "bce",
    "gce",
    "sce",
    "bi_tempered",
    "slf-align",
    "slf-joint",
    "slf-validation",
    "slf-validation-cosine",
    "slf-validation-sample-losses-cosine",
    "adalfl",
    "l2t_dlf",
)
DAC_METHODS = (
    "bce",
    "mse",
    "mae",
    "hinge",
    "cosine",
    "slf-align",
    "slf-joint",
    "slf-joint-norm",
    "slf-softmax",
    "l4",
    "smooth01",
    "adaptive_robust",
    "curriculum",
    "adalfl",
)
SECTIONS: Tuple[Section, ...] = (
    Section(
        "classify",
        "classify_seeds.py",
        ("--seeds", "5", "--epochs", "10", "--workers", "2", "--only", CLASSIFY_METHODS),
        (
            "--models",
            "mlp",
            "--seeds",
            "2",
            "--epochs",
            "1",
            "--workers",
            "2",
            "--only",
            "ce,mse,mae,hinge,cosine,bce,slf-align,slf-joint,slf-softmax,slf-validation,slf-joint+normalize,"
            "smooth01,large_margin_softmax,adaptive_robust,l2t_dlf,adalfl",
        ),
        out=("--out", "{out}/classify_seeds.json"),
    ),
    Section(
        "k_sweep",
        "k_sweep.py",
        ("--workers", "2"),
        ("--models", "mlp", "--samples", "1", "3", "--seeds", "2", "--epochs", "1", "--workers", "2"),
        saved_runs=("*/*/*seed*.json",),
    ),
    Section(
        "mils",
        "mils_seeds.py",
        ("--seeds", "5", "--epochs", "10", "--workers", "2"),
        ("--model", "mlp", "--seeds", "2", "--epochs", "1", "--workers", "2"),
        out=("--out", "{out}/mils_seeds.json"),
    ),
    Section(
        "noisy_labels",
        "noisy_labels.py",
        ("--workers", "2", "--methods", *NOISY_METHODS),
        (
            "--models",
            "mlp",
            "--settings",
            "clean",
            "sym0.4",
            "--seeds",
            "2",
            "--epochs",
            "2",
            "--workers",
            "2",
            "--methods",
            "ce",
            "mae",
            "gce",
            "slf-align",
            "slf-joint",
            "slf-validation",
        ),
        saved_runs=("*/*/*/seed*.json",),
    ),
    Section(
        "pyg",
        "pyg_seeds.py",
        (
            "--seeds",
            "5",
            "--epochs",
            "20",
            "--slf-methods",
            "slf_align",
            "slf_joint",
            "slf_validation",
            "--peers",
            "adalfl",
            "l2t_dlf",
        ),
        ("--models", "gcn", "--seeds", "2", "--epochs", "2"),
        saved_runs=("*/*/seed*.json",),
    ),
    Section(
        "dac",
        "dac_seeds.py",
        ("--workers", "2", "--methods", *DAC_METHODS, "--imbalanced-methods", "bce", "slf-align", "slf-joint"),
        (
            "--seeds",
            "2",
            "--rounds",
            "2",
            "--epochs-per-round",
            "1",
            "--retentions",
            "0.5",
            "--workers",
            "2",
            "--methods",
            "bce",
            "mse",
            "slf-align",
            "slf-joint",
            "slf-softmax",
            "--imbalanced-methods",
            "bce",
            "slf-align",
            "slf-joint",
        ),
        saved_runs=("*/*/seed*.json",),
    ),
    Section(
        "mmdet",
        "mmdet_yolo.py",
        (
            "--seeds",
            "5",
            "--epochs",
            "20",
            "--methods",
            "stock",
            "slf_align",
            "slf",
            "slf_normalized",
            "slf_softmax_normalized",
            "uncertainty",
            "gradnorm",
            "dwa",
        ),
        ("--seeds", "2", "--epochs", "1", "--rounds", "3", "--methods", "stock", "slf_align", "slf", "gradnorm"),
        saved_runs=("*_seed*/result.json",),
    ),
    Section(
        "fairseq",
        "fairseq_slf.py",
        (
            "--seeds",
            "5",
            "--epochs",
            "10",
            "--keep-finished",
            "--workers",
            "2",
            "--methods",
            "label_smoothed",
            "slf_align",
            "slf_joint",
            "slf_validation",
            "l2t_dlf",
            "lstm1_label_smoothed",
            "lstm1_slf_align",
            "lstm2_label_smoothed",
            "lstm2_slf_align",
        ),
        (
            "--seeds",
            "2",
            "--epochs",
            "1",
            "--rounds",
            "3",
            "--keep-finished",
            "--methods",
            "label_smoothed",
            "slf_align",
            "slf_joint",
        ),
        saved_runs=("*_seed*/results.json",),
    ),
    Section(
        "cost",
        "cost.py",
        ("--threads", "2", "--rounds", "30", "--host-rounds", "16"),
        (
            "--parts",
            "lenet",
            "batch",
            "candidates",
            "model",
            "memory",
            "--rounds",
            "3",
            "--block",
            "2",
            "--warmup",
            "1",
            "--batch-sizes",
            "32",
            "512",
            "--candidate-counts",
            "2",
            "6",
            "--widths",
            "64",
            "256",
            "--memory-steps",
            "2",
            "--no-compile",
        ),
    ),
    Section(
        "mils_overhead", "mils_overhead.py", ("--steps", "300", "--threads", "2"), ("--steps", "10", "--warmup", "2")
    ),
)
BY_NAME: Dict[str, Section] = {section.name: section for section in SECTIONS}


def finished(folder: Path, command: Sequence[str]) -> Optional[Dict[str, object]]:
    """The stamp of ``command``'s completed run into ``folder``, or ``None`` if it has not completed."""
    stamp = folder / STAMP
    if not stamp.is_file():
        return None
    saved = json.loads(stamp.read_text())
    return saved if saved.get("returncode") == 0 and saved.get("command") == _portable(command) else None


def _portable(command: Sequence[str]) -> List[str]:
    """The command without the interpreter's path, so a stamp survives a new virtual environment."""
    return [
        Path(part).name
        if i == 0
        else str(Path(part).relative_to(ROOT))
        if Path(part).is_absolute() and ROOT in Path(part).parents
        else part
        for i, part in enumerate(command)
    ]


def _archived_files(section: Section, folder: Path, saved_runs_only: bool = False) -> List[Path]:
    """The files of ``folder`` that the archive keeps, relative to it (only the per-run results with
    ``saved_runs_only``)."""
    patterns = section.saved_runs if saved_runs_only else (*ARCHIVED, *section.saved_runs)
    found = {path for pattern in patterns for path in folder.glob(pattern) if path.is_file()}
    return sorted(path.relative_to(folder) for path in found)


def archive(section: Section, folder: Path, archived: Path, saved_runs_only: bool = False) -> int:
    """Copies the section's small files from its run folder into its archive folder; returns how many changed.

    With ``saved_runs_only``, only its per-run results: the section's own files (its JSON, PNGs,
    log) in a folder this run_all did not run may be a killed run's, older than the archive's.
    A file over ``LARGEST_ARCHIVED`` bytes is left out with a warning, so no checkpoint or data
    set lands in the repository by accident.
    """
    changed = 0
    for relative in _archived_files(section, folder, saved_runs_only):
        source, target = folder / relative, archived / relative
        if source.stat().st_size > LARGEST_ARCHIVED:
            tqdm.write(f"[run_all] not archived, {source.stat().st_size / 2**20:.1f} MB: {source}")
            continue
        if target.is_file() and filecmp.cmp(source, target, shallow=False):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        changed += 1
    return changed


def restore(section: Section, archived: Path, folder: Path) -> int:
    """Copies the archived files that ``folder`` lacks back into it (a fresh checkout continues); returns how many."""
    missing = [relative for relative in _archived_files(section, archived) if not (folder / relative).exists()]
    for relative in missing:
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(archived / relative, folder / relative)
    return len(missing)


def _machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores"


def run_section(section: Section, budget: str, folder: Path, rerun: bool) -> Dict[str, object]:
    """Runs one section unless its command already finished; returns its stamp."""
    command = section.command(budget, folder)
    done = None if rerun else finished(folder, command)
    if done is not None:
        return done
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(folder / "run_all.log", "w") as log:
        log.write("$ " + shlex.join(_portable(command)) + "\n")
        log.flush()
        returncode = subprocess.run(command, cwd=ROOT, stdout=log, stderr=sys.stderr).returncode
    stamp = {
        "command": _portable(command),
        "returncode": returncode,
        "minutes": round((time.perf_counter() - started) / 60, 2),
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": _machine(),
        "commit": git_commit(),
    }
    (folder / STAMP).write_text(json.dumps(stamp, indent=1))
    return stamp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument(
        "--full", dest="budget", action="store_const", const="full", help="the report's budget (default)"
    )
    budget.add_argument(
        "--quick", dest="budget", action="store_const", const="quick", help="a smoke run of every section"
    )
    parser.set_defaults(budget="full")
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="SECTION",
        help=f"run only these sections (of: {', '.join(BY_NAME)}); the report keeps the others",
    )
    parser.add_argument("--render-only", action="store_true", help="run nothing; redraw the report")
    parser.add_argument("--rerun", action="store_true", help="run sections even where their command already finished")
    parser.add_argument(
        "--runs",
        type=Path,
        default=None,
        help="root of the sections' folders (default: runs/ for --full, runs/quick for --quick)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help="the report's path (default: RESULTS.md for --full, <runs>/RESULTS.md for --quick)",
    )
    parser.add_argument(
        "--archive",
        type=Path,
        default=None,
        help="where the sections' small files are kept and the report is rendered from "
        "(default: benchmarks/results for --full, none for --quick)",
    )
    args = parser.parse_args()
    unknown = sorted(set(args.only or []) - set(BY_NAME))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; valid: {', '.join(BY_NAME)}")
    runs = args.runs or (ROOT / "runs" if args.budget == "full" else ROOT / "runs" / "quick")
    results = args.results or (ROOT / "RESULTS.md" if args.budget == "full" else runs / "RESULTS.md")
    archived = args.archive or (ARCHIVE if args.budget == "full" else None)

    failed = []
    if not args.render_only:
        chosen = [s for s in SECTIONS if args.only is None or s.name in args.only]
        for section in tqdm(chosen, desc="sections", unit="section"):
            folder = runs / section.name
            if archived is not None and restore(section, archived / section.name, folder):
                tqdm.write(f"[run_all] {section.name}: continuing from {archived / section.name}")
            tqdm.write(f"[run_all] {section.name}: " + shlex.join(_portable(section.command(args.budget, folder))))
            try:
                stamp = run_section(section, args.budget, folder, args.rerun)
            finally:  # an interrupted section keeps the runs it finished
                if archived is not None:
                    archive(section, folder, archived / section.name)
            if stamp["returncode"] != 0:
                failed.append(section.name)
                tqdm.write(
                    f"[run_all] {section.name} FAILED (exit {stamp['returncode']}); see {folder / 'run_all.log'}"
                )
    if archived is not None:  # also the runs a killed run_all left in runs/
        ran = set() if args.render_only else {section.name for section in chosen}
        for section in SECTIONS:
            if (runs / section.name).is_dir():
                archive(section, runs / section.name, archived / section.name, saved_runs_only=section.name not in ran)

    write_report(
        results,
        archived or runs,
        {s.name: _portable(s.command(args.budget, runs / s.name)) for s in SECTIONS},
        args.budget,
    )
    print(f"wrote {results}")
    if archived == ARCHIVE and (ARCHIVE / "cost/cost.json").is_file():
        print(f"wrote {write_docs_cost(PERFORMANCE_PAGE, ARCHIVE / 'cost/cost.json')}'s cost table")
    if failed:
        raise SystemExit(f"sections failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
