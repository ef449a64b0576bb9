"""The gate's noise allowance (``gap_z``, docs/recipe.md's step 5), chosen on validation scores.

The default recipe at each value of ``--values``:

1. on the label-noise table's eight settings (MNIST-5k, MLP and LeNet; clean, 20% and 40%
   symmetric, 40% pairflip; 30 epochs, seeds 0-2): final validation and test accuracy;
2. on fairseq's one-layer LSTM (Ding German-English, Table 4's LSTM-1 model, 4 epochs, seeds
   1-3), beside label smoothing: validation NLL per epoch and the mean logged weight on
   ``label_smoothed_nll`` (the stock loss the gate holds).

Writes ``gap_z_probes.json`` and ``gap_z_probes.md`` to ``--out``; each run's result is kept in its
own file there (an LSTM run's ``summary.json``; fairseq's log and checkpoints go to ``--work``), so
a rerun trains only what is missing.

    python benchmarks/gap_z_probes.py --values 0 1 2 --workers 2 --out benchmarks/results/gap_z_probes
    python benchmarks/gap_z_probes.py --values 2 --parts lstm --lstm-seeds 1 2 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from fairseq_slf import CANDIDATES, METHOD_ARCH
from noisy_labels import SETTINGS, method_options
from tqdm import tqdm

from slf.train.classify import train_classifier
from slf.train.classify_config import ClassifyConfig
from slf_fairseq.ding_prepare import prepare_ding
from slf_fairseq.ding_translate import train_command

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("mlp", "lenet")
LSTM_EPOCHS = 4


def mnist_run(job: Tuple[float, str, str, int, Path]) -> Dict[str, Any]:
    """One default-recipe run of the label-noise table at ``gap_z``; read back when saved."""
    gap_z, model, setting, seed, path = job
    if path.is_file():
        return json.loads(path.read_text())
    rate, kind = SETTINGS[setting]
    config = ClassifyConfig(
        data="mnist5k", model=model, epochs=30, num_threads=1, seed=seed, data_seed=0, label_noise=rate, noise_type=kind
    )
    config = replace(config, **method_options("slf-align"))
    config = replace(config, slf_options={**config.slf_options, "alignment": {"gap_z": gap_z}})
    result = train_classifier(config, progress=False)
    run = {
        "val": result["val_acc"][-1],
        "test": result["final_test_acc"],
        "candidates": result["candidates"],
        "mean_weights": result["mean_weights"],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run))
    return run


def fairseq_log_summary(log: Path) -> Optional[Dict[str, Any]]:
    """Validation NLL per epoch and the mean logged weight on ``label_smoothed_nll`` from a
    fairseq-train JSON log; None until its run has finished ``LSTM_EPOCHS`` epochs."""
    valid: List[float] = []
    stock_weights: List[float] = []
    for line in log.read_text().splitlines() if log.is_file() else []:
        if "{" not in line:
            continue
        try:
            record = json.loads(line[line.index("{") :])
        except json.JSONDecodeError:
            continue
        if "valid_nll_loss" in record:
            valid.append(float(record["valid_nll_loss"]))
        if "w_label_smoothed_nll" in record and "train_inner" in line and int(record["epoch"]) <= LSTM_EPOCHS:
            stock_weights.append(float(record["w_label_smoothed_nll"]))
    if len(valid) < LSTM_EPOCHS:
        return None
    return {
        "valid_nll": valid[:LSTM_EPOCHS],
        "stock_weight": statistics.fmean(stock_weights) if stock_weights else None,
    }


def lstm_run(method: str, gap_z: Optional[float], seed: int, out: Path, work: Path, data_bin: Path) -> Dict[str, Any]:
    """One LSTM-1 run of ``LSTM_EPOCHS`` epochs: label smoothing (``gap_z`` None) or the default recipe;
    fairseq's log and checkpoints in ``work``, the summary in ``out``."""
    name = f"{method}_seed{seed}" if gap_z is None else f"{method}_z{gap_z:g}_seed{seed}"
    summary_path = out / "lstm" / name / "summary.json"
    if summary_path.is_file():
        return json.loads(summary_path.read_text())
    folder = work / "lstm" / name
    summary = fairseq_log_summary(folder / "train.log")
    if summary is None:
        criterion = "label_smoothed_cross_entropy" if gap_z is None else "slf"
        extra = [] if gap_z is None else ["--slf-candidates", CANDIDATES, "--slf-gap-z", str(gap_z)]
        arch = METHOD_ARCH["lstm1_slf_align"]
        command = train_command(data_bin, folder, criterion, LSTM_EPOCHS, seed, arch, extra)
        folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        with open(folder / "train.log", "w") as log:
            subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, check=True)
        summary = fairseq_log_summary(folder / "train.log")
        if summary is None:
            raise RuntimeError(f"fairseq-train ended before epoch {LSTM_EPOCHS}: see {folder / 'train.log'}")
    summary_path.parent.mkdir(parents=True, exist_ok=True)
    summary_path.write_text(json.dumps(summary))
    return summary


def _lstm_job(job: Tuple[str, Optional[float], int, Path, Path, Path]) -> Dict[str, Any]:
    return lstm_run(*job)


def mnist_table(values: Sequence[float], runs: Dict[float, Dict[str, List[Dict[str, Any]]]]) -> List[str]:
    columns = [f"{model} {setting}" for model in MODELS for setting in SETTINGS]
    lines = [
        "| gap_z | " + " | ".join(columns) + " | mean validation |",
        "|---|" + "---|" * (len(columns) + 1),
    ]
    for value in values:
        cells, validation = [], []
        for column in columns:
            seeds = runs[value][column]
            validation.append(statistics.fmean(run["val"] for run in seeds))
            cells.append(f"{statistics.fmean(run['test'] for run in seeds):.3f} / {validation[-1]:.3f}")
        lines.append(f"| {value:g} | " + " | ".join(cells) + f" | {statistics.fmean(validation):.4f} |")
    return lines


def lstm_table(rows: Dict[str, List[Dict[str, Any]]]) -> List[str]:
    lines = [
        "| LSTM-1 | seeds | valid NLL per epoch (mean) | epoch 4 per seed | weight on label smoothing |",
        "|---|---|---|---|---|",
    ]
    for name, seeds in rows.items():
        epochs = [statistics.fmean(run["valid_nll"][e] for run in seeds) for e in range(LSTM_EPOCHS)]
        weights = [run["stock_weight"] for run in seeds if run["stock_weight"] is not None]
        last = ", ".join(f"{run['valid_nll'][-1]:.3f}" for run in seeds)
        weight = f"{statistics.fmean(weights):.3f}" if weights else "1 (label smoothing alone)"
        lines.append(f"| {name} | {len(seeds)} | {' / '.join(f'{v:.3f}' for v in epochs)} | {last} | {weight} |")
    return lines


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--values", type=float, nargs="+", default=[0.0, 1.0, 2.0], help="gap_z values to probe")
    parser.add_argument("--parts", nargs="+", choices=["mnist", "lstm"], default=["mnist", "lstm"])
    parser.add_argument("--seeds", type=int, default=3, help="MNIST seeds 0..N-1")
    parser.add_argument("--lstm-seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--workers", type=int, default=2, help="runs at a time, one thread each")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "ding", help="prepared Ding data folder")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "gap_z_probes", help="results (small JSON)")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "gap_z_probes_work", help="fairseq's logs")
    args = parser.parse_args(argv)
    if any(value < 0 for value in args.values):
        parser.error(f"--values must be >= 0 (standard errors), got {args.values}")
    report: Dict[str, Any] = {"values": args.values}
    lines = ["# The gate's noise allowance (gap_z): probes", ""]
    if "mnist" in args.parts:
        jobs = [
            (value, model, setting, seed, args.out / "mnist" / f"z{value:g}_{model}_{setting}_{seed}.json")
            for value in args.values
            for model in MODELS
            for setting in SETTINGS
            for seed in range(args.seeds)
        ]
        mnist: Dict[float, Dict[str, List[Dict[str, Any]]]] = {}
        with ProcessPoolExecutor(args.workers) as pool:
            for job, run in tqdm(zip(jobs, pool.map(mnist_run, jobs)), total=len(jobs), unit="run", desc="MNIST"):
                mnist.setdefault(job[0], {}).setdefault(f"{job[1]} {job[2]}", []).append(run)
        report["mnist"] = {f"{value:g}": runs for value, runs in mnist.items()}
        lines += [
            f"MNIST-5k, the default recipe, 30 epochs, seeds 0-{args.seeds - 1}: final test / validation accuracy.",
            "",
            *mnist_table(args.values, mnist),
            "",
        ]
    if "lstm" in args.parts:
        data_bin = prepare_ding(args.data)
        arms: List[Tuple[str, Optional[float]]] = [("label smoothing", None)]
        arms += [(f"default, gap_z={value:g}", value) for value in args.values]
        jobs = [
            ("lstm1_label_smoothed" if value is None else "lstm1_slf_align", value, seed, args.out, args.work, data_bin)
            for _, value in arms
            for seed in args.lstm_seeds
        ]
        with ProcessPoolExecutor(args.workers) as pool:
            summaries = list(tqdm(pool.map(_lstm_job, jobs), total=len(jobs), unit="run", desc="LSTM-1"))
        rows: Dict[str, List[Dict[str, Any]]] = {}
        for (name, _), start in zip(arms, range(0, len(jobs), len(args.lstm_seeds))):
            rows[name] = summaries[start : start + len(args.lstm_seeds)]
        report["lstm"] = rows
        lines += [
            f"fairseq LSTM-1 (Table 4's model), {LSTM_EPOCHS} epochs, seeds {args.lstm_seeds}: validation NLL "
            "(bits per token, fairseq's log) and the mean logged weight on label_smoothed_nll.",
            "",
            *lstm_table(rows),
            "",
        ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gap_z_probes.json").write_text(json.dumps(report, indent=1))
    (args.out / "gap_z_probes.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
