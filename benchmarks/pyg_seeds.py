"""Graph regression on CHEMBL2321810: every model x {MSE, best single candidate, SLF}, over seeds.

The shape of the SLF paper's Table 3 (DPP4, squared correlation R^2 per model and loss) on
the real molecule set that installs here (rdkit's CHEMBL2321810, 1,017 molecules, pIC50),
on the scaffold split (813 / 102 / 102). For each model it trains, with seeds 0..N-1,

- each regression candidate alone (``mse``, ``mae``, ``huber``, ``log_cosh``, ``robust``);
  the **best single candidate** is the one with the highest mean *validation* R^2 (the
  choice a user could make without the test set);
- SLF over those candidates, literal joint update (the paper's Algorithm 1);
- SLF with the validation-driven decision network (the suite's default).

Each cell is the test R^2 at the epoch of best validation R^2, mean +- std over seeds,
and a paired t-test (same seeds) of SLF validation against MSE and against the best
single candidate. Every run is saved as JSON under ``--out``; a rerun with the same
settings reuses them, so an interrupted benchmark continues where it stopped. Writes
``pyg_seeds.json``, ``pyg_seeds.md`` (the table) and ``pyg_seeds.png``.

    python benchmarks/pyg_seeds.py                          # 6 models x 7 methods x 5 seeds, 20 epochs
    python benchmarks/pyg_seeds.py --models gcn --seeds 2 --epochs 3    # a smoke run
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List

import matplotlib
import numpy as np
from slf_pyg.graph_data import load_graph_data
from slf_pyg.models import MODELS
from slf_pyg.train_graph import REGRESSION_CANDIDATES, GraphRegressionConfig, train_graph_regression
from tqdm import tqdm

from _comparison import cached_run, paired_p, summary

SLF_METHODS = {"slf_joint": dict(loss="slf", slf_mode="joint"), "slf_validation": dict(loss="slf",
                                                                                         slf_mode="validation")}


def method_config(base: GraphRegressionConfig, model: str, method: str) -> GraphRegressionConfig:
    return replace(base, model=model, **SLF_METHODS.get(method, {"loss": method}))


def run_one(base: GraphRegressionConfig, model: str, method: str, seed: int, out: Path, data) -> Dict[str, Any]:
    """One run, read back from ``out`` when an earlier run with the same settings saved it."""
    cfg = replace(method_config(base, model, method), seed=seed)
    return cached_run(out / model / method / f"seed{seed}.json", cfg.__dict__,
                      lambda: train_graph_regression(cfg, progress=False, data=data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=[m for m in MODELS if m != "ecc"] + ["ecc"], choices=list(MODELS),
                        help="models, the slow ecc last (default: all six)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--hidden", type=int, default=32, help="hidden channels of every model (default: 32)")
    parser.add_argument("--candidates", nargs="+", default=list(REGRESSION_CANDIDATES))
    parser.add_argument("--root", default=None, help="molecule cache folder (default: ~/.cache/stochastic-loss/pyg)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("runs/pyg_seeds"))
    args = parser.parse_args()

    base = GraphRegressionConfig(data="chembl2321810", root=args.root, split="scaffold", epochs=args.epochs,
                                 hidden_channels=args.hidden,
                                 slf_candidates=tuple(args.candidates), num_threads=args.threads)
    data = load_graph_data(base.data, base.root, base.split)
    methods = [*args.candidates, *SLF_METHODS]
    print(f"CHEMBL2321810 scaffold split {data.sizes()}, width {args.hidden}, {args.epochs} epochs, seeds 0..{args.seeds - 1}, "
          f"methods {methods}")
    runs: Dict[str, Dict[str, List[Dict[str, Any]]]] = {}
    started = time.perf_counter()
    bar = tqdm(total=len(args.models) * len(methods) * args.seeds, unit="run")
    for model in args.models:
        for method in methods:
            bar.set_description(f"{model} {method}")
            done = runs.setdefault(model, {}).setdefault(method, [])
            for seed in range(args.seeds):
                done.append(run_one(base, model, method, seed, args.out, data))
                bar.update(1)
    bar.close()

    def scores(model: str, method: str, key: str = "best_val") -> List[float]:
        return [run[key]["r2"] for run in runs[model][method]]

    def val_score(model: str, method: str) -> float:
        return statistics.fmean(max(run["val_r2"]) for run in runs[model][method])

    table: Dict[str, Dict[str, Any]] = {}
    for model in args.models:
        best = max(args.candidates, key=lambda name: val_score(model, name))
        slf = scores(model, "slf_validation")
        weights = np.mean([run["mean_weights"] for run in runs[model]["slf_validation"]], axis=0)
        table[model] = {
            "mse": scores(model, "mse") if "mse" in args.candidates else None,
            "best_single": best, "best_single_r2": scores(model, best),
            "slf_joint": scores(model, "slf_joint"), "slf_validation": slf,
            "p_slf_vs_mse": paired_p(slf, scores(model, "mse")) if "mse" in args.candidates else float("nan"),
            "p_slf_vs_best": paired_p(slf, scores(model, best)),
            "every_candidate": {name: statistics.fmean(scores(model, name)) for name in args.candidates},
            "slf_validation_weights": dict(zip(args.candidates, weights.round(3).tolist())),
            "slf_joint_weights": dict(zip(args.candidates, np.mean(
                [run["mean_weights"] for run in runs[model]["slf_joint"]], axis=0).round(3).tolist())),
        }

    lines = [f"| model | MSE | best single (by val R²) | SLF joint | SLF validation | p vs MSE | p vs best | "
             f"SLF validation weights |", "|---|---|---|---|---|---|---|---|"]
    for model, row in table.items():
        top = sorted(row["slf_validation_weights"].items(), key=lambda item: -item[1])[:2]
        lines.append(f"| {model} | {summary(row['mse'], 3) if row['mse'] else '-'} | {row['best_single']} "
                     f"{summary(row['best_single_r2'], 3)} | {summary(row['slf_joint'], 3)} | "
                     f"{summary(row['slf_validation'], 3)} | {row['p_slf_vs_mse']:.2f} | {row['p_slf_vs_best']:.2f} | "
                     + ", ".join(f"{n} {w:.2f}" for n, w in top) + " |")
    markdown = "\n".join(lines)
    print()
    print(markdown)
    print("\nevery candidate alone (test R², mean over seeds):")
    for model, row in table.items():
        print(f"  {model:8s} " + "  ".join(f"{n} {v:.3f}" for n, v in row["every_candidate"].items()))
    print("\nSLF joint mean weights:")
    for model, row in table.items():
        print(f"  {model:8s} " + "  ".join(f"{n} {v:.2f}" for n, v in row["slf_joint_weights"].items()))

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pyg_seeds.md").write_text(markdown + "\n")
    (args.out / "pyg_seeds.json").write_text(json.dumps(
        {"epochs": args.epochs, "seeds": args.seeds, "sizes": data.sizes(), "table": table,
         "minutes": (time.perf_counter() - started) / 60}, indent=1, allow_nan=True))
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    columns = [("MSE", "mse"), ("best single", "best_single_r2"), ("SLF joint", "slf_joint"),
               ("SLF validation", "slf_validation")]
    width = 0.2
    for i, (label, key) in enumerate(columns):
        values = [table[m][key] or [float("nan")] for m in args.models]
        ax.bar(np.arange(len(args.models)) + (i - 1.5) * width, [np.mean(v) for v in values], width,
               yerr=[np.std(v, ddof=1) if len(v) > 1 else 0 for v in values], capsize=2, label=label)
    ax.set_xticks(range(len(args.models)), args.models)
    ax.set_ylabel("test R² (squared correlation)")
    ax.set_title(f"CHEMBL2321810, scaffold split: mean +- std over {args.seeds} seeds")
    ax.legend(fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out / "pyg_seeds.png", dpi=120)
    print(f"\nwrote {args.out / 'pyg_seeds.md'}, {args.out / 'pyg_seeds.json'}, {args.out / 'pyg_seeds.png'} "
          f"({(time.perf_counter() - started) / 60:.1f} min)")


if __name__ == "__main__":
    main()
