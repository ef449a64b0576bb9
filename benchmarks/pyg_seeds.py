"""Graph regression on CHEMBL2321810: every model x {MSE, best single candidate, SLF}, over seeds.

The shape of the SLF paper's Table 3 (DPP4, squared correlation R^2 per model and loss) on
the real molecule set that installs here (rdkit's CHEMBL2321810, 1,017 molecules, pIC50),
on the scaffold split (813 / 102 / 102). For each model it trains, with seeds 0..N-1,

- each regression candidate alone (``mse``, ``mae``, ``huber``, ``log_cosh``, ``robust``);
  the **best single candidate** is the one with the highest mean *validation* R^2 (the
  choice a user could make without the test set);
- SLF over those candidates with the default recipe (``slf_align``: weights from how each
  candidate's gradient at the output layer aligns with MSE's on validation batches);
- SLF over those candidates, literal joint update (the paper's Algorithm 1);
- SLF with the validation-driven decision network (one-step look-ahead).
- SLF's peers, each alone: the learned losses AdaLFL and L2T-DLF (``--peers``), compared with the
  default recipe.

Each cell is the test R^2 at the epoch of best validation R^2, mean +- std over seeds,
and a paired t-test (same seeds) of SLF's default recipe and of SLF validation against MSE
and against the best single candidate. Every run is saved as JSON under ``--out``; a rerun with the same
settings reuses them, so an interrupted benchmark continues where it stopped. Writes
``pyg_seeds.json``, ``pyg_seeds.md`` (the table), ``pyg_seeds.png`` and
``pyg_default_weights.png`` (the default recipe's weights over training, per model).

    python benchmarks/pyg_seeds.py                          # 6 models x 10 methods x 5 seeds, 20 epochs
    python benchmarks/pyg_seeds.py --models gcn --seeds 2 --epochs 3    # a smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Optional

import matplotlib
import numpy as np
from tqdm import tqdm

from slf.plots import plot_selection_weight_grid
from slf_pyg.graph_data import load_graph_data
from slf_pyg.models import MODELS
from slf_pyg.train_graph import REGRESSION_CANDIDATES, GraphRegressionConfig, train_graph_regression

from _comparison import cached_run, paired_p, summary

SLF_METHODS = {
    "slf_align": dict(loss="slf", slf_mode="align"),  # the default recipe
    "slf_joint": dict(loss="slf", slf_mode="joint"),
    "slf_validation": dict(loss="slf", slf_mode="validation"),
}
DEFAULT_METHOD = "slf_align"
# SLF's peers, each trained alone and compared with the default recipe, never picked as the best single.
PEERS = ("adalfl", "l2t_dlf")


def method_config(base: GraphRegressionConfig, model: str, method: str) -> GraphRegressionConfig:
    return replace(base, model=model, **SLF_METHODS.get(method, {"loss": method}))


def run_config(base: GraphRegressionConfig, model: str, method: str, seed: int) -> GraphRegressionConfig:
    return replace(method_config(base, model, method), seed=seed)


def run_path(out: Path, model: str, method: str, seed: int) -> Path:
    return out / model / method / f"seed{seed}.json"


def run_one(base: GraphRegressionConfig, model: str, method: str, seed: int, out: Path, data) -> Dict[str, Any]:
    """One run, read back from ``out`` when an earlier run with the same settings saved it."""
    cfg = run_config(base, model, method, seed)
    return cached_run(
        run_path(out, model, method, seed), cfg.__dict__, lambda: train_graph_regression(cfg, progress=False, data=data)
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models",
        nargs="+",
        default=[m for m in MODELS if m != "ecc"] + ["ecc"],
        choices=list(MODELS),
        help="models, the slow ecc last (default: all six)",
    )
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--hidden", type=int, default=32, help="hidden channels of every model (default: 32)")
    parser.add_argument("--candidates", nargs="+", default=list(REGRESSION_CANDIDATES))
    parser.add_argument("--root", default=None, help="molecule cache folder (default: ~/.cache/stochastic-loss/pyg)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--slf-methods",
        nargs="+",
        default=list(SLF_METHODS),
        choices=list(SLF_METHODS),
        help="SLF methods beside the candidates (default: all)",
    )
    parser.add_argument(
        "--peers", nargs="*", default=list(PEERS), choices=list(PEERS), help="SLF's peers, each alone (default: all)"
    )
    parser.add_argument("--out", type=Path, default=Path("runs/pyg_seeds"))
    return parser


def base_config(args: argparse.Namespace) -> GraphRegressionConfig:
    return GraphRegressionConfig(
        data="chembl2321810",
        root=args.root,
        split="scaffold",
        epochs=args.epochs,
        hidden_channels=args.hidden,
        slf_candidates=tuple(args.candidates),
        num_threads=args.threads,
    )


def main() -> None:
    args = build_parser().parse_args()
    base = base_config(args)
    data = load_graph_data(base.data, base.root, base.split)
    methods = [*args.candidates, *args.slf_methods, *args.peers]
    print(
        f"CHEMBL2321810 scaffold split {data.sizes()}, width {args.hidden}, {args.epochs} epochs, "
        f"seeds 0..{args.seeds - 1}, "
        f"methods {methods}"
    )
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

    slf_methods = list(args.slf_methods)
    table: Dict[str, Dict[str, Any]] = {}
    for model in args.models:
        best = max(args.candidates, key=lambda name: val_score(model, name))
        mse = scores(model, "mse") if "mse" in args.candidates else None
        row: Dict[str, Any] = {
            "mse": mse,
            "best_single": best,
            "best_single_r2": scores(model, best),
            "best_single_val_r2": val_score(model, best),
            "every_candidate": {name: statistics.fmean(scores(model, name)) for name in args.candidates},
            "candidate_r2": {name: scores(model, name) for name in args.candidates},
        }
        # Each SLF method's test R², its p-values against MSE and the best single candidate, and its
        # weights (mean over training, then over seeds); null for a method not run.
        for method in SLF_METHODS:
            ran = method in slf_methods
            ours = scores(model, method) if ran else None
            row[method] = ours
            row[f"{method}_weights"] = (
                dict(
                    zip(
                        args.candidates,
                        np.mean([run["mean_weights"] for run in runs[model][method]], axis=0).round(3).tolist(),
                    )
                )
                if ran
                else None
            )
            short = {"slf_align": "align", "slf_validation": "slf"}.get(method, method)
            row[f"p_{short}_vs_mse"] = paired_p(ours, mse) if ran and mse else float("nan")
            row[f"p_{short}_vs_best"] = paired_p(ours, scores(model, best)) if ran else float("nan")
        # Each peer's test R², ms per step and the paired test of the default recipe against it.
        for peer in args.peers:
            row[peer] = scores(model, peer)
            row[f"{peer}_ms_per_step"] = 1e3 * statistics.fmean(run["time_per_step_s"] for run in runs[model][peer])
            row[f"p_align_vs_{peer}"] = paired_p(row["slf_align"], row[peer]) if row.get("slf_align") else float("nan")
        table[model] = row

    def cell(values: Optional[List[float]]) -> str:
        return summary(values, 3) if values else "-"

    def top(weights: Optional[Dict[str, float]]) -> str:
        if not weights:
            return "-"
        return ", ".join(f"{n} {w:.2f}" for n, w in sorted(weights.items(), key=lambda item: -item[1])[:2])

    lines = [
        "| model | MSE | best single (by val R²) | SLF default (align) | p vs MSE | p vs best | "
        "SLF default weights | SLF joint | SLF validation | p vs MSE | p vs best | SLF validation weights |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model, row in table.items():
        lines.append(
            f"| {model} | {cell(row['mse'])} | {row['best_single']} "
            f"{summary(row['best_single_r2'], 3)} | {cell(row['slf_align'])} | "
            f"{row['p_align_vs_mse']:.2f} | {row['p_align_vs_best']:.2f} | {top(row['slf_align_weights'])} | "
            f"{cell(row['slf_joint'])} | {cell(row['slf_validation'])} | {row['p_slf_vs_mse']:.2f} | "
            f"{row['p_slf_vs_best']:.2f} | {top(row['slf_validation_weights'])} |"
        )
    markdown = "\n".join(lines)
    print()
    print(markdown)
    print("\nevery candidate alone (test R², mean over seeds):")
    for model, row in table.items():
        print(f"  {model:8s} " + "  ".join(f"{n} {v:.3f}" for n, v in row["every_candidate"].items()))
    for method in slf_methods:
        print(f"\n{method} mean weights:")
        for model, row in table.items():
            print(f"  {model:8s} " + "  ".join(f"{n} {v:.2f}" for n, v in row[f"{method}_weights"].items()))

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pyg_seeds.md").write_text(markdown + "\n")
    (args.out / "pyg_seeds.json").write_text(
        json.dumps(
            {
                "epochs": args.epochs,
                "seeds": args.seeds,
                "sizes": data.sizes(),
                "table": table,
                "minutes": (time.perf_counter() - started) / 60,
            },
            indent=1,
            allow_nan=True,
        )
    )
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    columns = [
        ("MSE", "mse"),
        ("best single", "best_single_r2"),
        *[
            (label, method)
            for method, label in (
                ("slf_align", "SLF default (align)"),
                ("slf_joint", "SLF joint"),
                ("slf_validation", "SLF validation"),
            )
            if method in slf_methods
        ],
    ]
    width = 0.16
    for i, (label, key) in enumerate(columns):
        values = [table[m][key] or [float("nan")] for m in args.models]
        ax.bar(
            np.arange(len(args.models)) + (i - (len(columns) - 1) / 2) * width,
            [np.mean(v) for v in values],
            width,
            yerr=[np.std(v, ddof=1) if len(v) > 1 else 0 for v in values],
            capsize=2,
            label=label,
        )
    ax.set_xticks(range(len(args.models)), args.models)
    ax.set_ylabel("test R² (squared correlation)")
    ax.set_title(f"CHEMBL2321810, scaffold split: mean +- std over {args.seeds} seeds")
    ax.legend(fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out / "pyg_seeds.png", dpi=120)
    plt.close(fig)
    written = [args.out / "pyg_seeds.md", args.out / "pyg_seeds.json", args.out / "pyg_seeds.png"]
    if DEFAULT_METHOD in slf_methods:
        written.append(
            plot_selection_weight_grid(
                {model: {"runs": runs[model][DEFAULT_METHOD]} for model in args.models},
                args.out / "pyg_default_weights.png",
                columns=min(3, len(args.models)),
                title="CHEMBL2321810: SLF default recipe (align), weights over training (mean +- std over seeds)",
            )
        )
    print(f"\nwrote {', '.join(map(str, written))} ({(time.perf_counter() - started) / 60:.1f} min)")


if __name__ == "__main__":
    main()
