"""Seeds x losses on the 5,000 real MNIST digits: every single candidate vs the SLF modes.

For each model (MLP, LeNet) and method (cross-entropy, each paper candidate alone, the
paper's other Table 1 baselines alone (``smooth01``, ``large_margin_softmax``, ``adaptive_robust``,
the learned losses ``l2t_dlf`` and ``adalfl``),
SLF's default recipe ``slf-align``, SLF joint / softmax / validation) trains ``--seeds``
seeds and prints test accuracy as mean +- std and a 95% confidence interval (Student t),
best-validation-epoch test accuracy, and SLF's final mean weights; the best single candidate
is the one with the best mean validation accuracy at the last epoch. Writes JSON to ``--out``
and ``<out>_<model>.png``; ``classify_default_weights.png`` beside it draws the default
recipe's weights over training (mean over seeds).

    python benchmarks/classify_seeds.py --seeds 5 --epochs 10 --workers 2
"""

from __future__ import annotations

import argparse
import json
import statistics
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from scipy import stats as scipy_stats
from tqdm import tqdm

from slf.intervals import mean_interval
from slf.plots import plot_method_comparison, plot_selection_weight_grid
from slf.train import ClassifyConfig, train_classifier

CANDIDATES = ("ce", "mse", "mae", "hinge", "cosine", "bce")
# The other baselines of the SLF paper's Table 1, each trained alone: Smooth 0-1, L-M Softmax, ARLF, L2T-DLF;
# and AdaLFL, a learned loss of today.
PEERS = ("smooth01", "large_margin_softmax", "adaptive_robust", "l2t_dlf", "adalfl")
SLF_MODES = ("align", "joint", "softmax", "validation")  # align: the default recipe
DEFAULT_METHOD = "slf-align"


# Variants of the SLF modes (docs/results.md explains each).
VARIANTS: Dict[str, Dict[str, Any]] = {
    "slf-joint+normalize": {"loss": "slf", "slf_mode": "joint", "slf_options": {"normalize": "mean"}},
    "slf-validation+sample": {"loss": "slf", "slf_mode": "validation", "slf_options": {"selection": "sample"}},
    "slf-validation+smooth01": {
        "loss": "slf",
        "slf_mode": "validation",
        "slf_options": {"validation_loss": "smooth01"},
    },
    "slf-validation+every4": {"loss": "slf", "slf_mode": "validation", "slf_options": {"validation_interval": 4}},
}


def methods() -> List[Tuple[str, Dict[str, Any]]]:
    rows: List[Tuple[str, Dict[str, Any]]] = [(name, {"loss": name}) for name in CANDIDATES + PEERS]
    rows += [(f"slf-{mode}", {"loss": "slf", "slf_mode": mode}) for mode in SLF_MODES]
    rows += list(VARIANTS.items())
    return rows


def best_single_by_validation(by_method: Dict[str, List[Dict[str, Any]]]) -> Optional[str]:
    """The candidate with the best mean validation accuracy at the last epoch (test accuracy for runs
    saved before ``final_val_acc`` was kept)."""
    singles = [m for m in CANDIDATES if m in by_method]
    if not singles:
        return None
    key = "final_val_acc" if all("final_val_acc" in r for m in singles for r in by_method[m]) else "final_test_acc"
    return max(singles, key=lambda m: statistics.fmean(r[key] for r in by_method[m]))


def run_one(job: Tuple[str, str, ClassifyConfig]) -> Tuple[str, str, Dict[str, Any]]:
    model, method, cfg = job
    result = train_classifier(cfg, progress=False)
    keep = {k: result[k] for k in ("final_test_acc", "best_val_test_acc", "time_per_step_s", "seed")}
    keep["final_val_acc"] = result["val_acc"][-1]  # picks the best single candidate without the test set
    if "mean_weights" in result:
        keep["final_weights"] = result["final_weights"]
        keep["mean_weights"] = result["mean_weights"]
        keep["candidates"] = result["candidates"]
        if method == DEFAULT_METHOD:
            keep["weights_history"] = result["weights_history"]
    return model, method, keep


def train_all(args: argparse.Namespace) -> Dict[str, Dict[str, List[Dict[str, Any]]]]:
    chosen = [m for m in methods() if not args.only or m[0] in args.only.split(",")]
    jobs = []
    for model in args.models.split(","):
        for method, options in chosen:
            for seed in range(args.seeds):
                cfg = replace(
                    ClassifyConfig(
                        data="mnist5k", model=model, epochs=args.epochs, num_threads=1, seed=seed, data_seed=0
                    ),
                    **options,
                )
                jobs.append((model, method, cfg))
    results: Dict[str, Dict[str, List[Dict[str, Any]]]] = {}
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for model, method, row in tqdm(pool.map(run_one, jobs), total=len(jobs), desc="runs"):
            results.setdefault(model, {}).setdefault(method, []).append(row)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="mlp,lenet")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2, help="parallel processes, one torch thread each")
    parser.add_argument("--only", default="", help="comma-separated method names to run (default all)")
    parser.add_argument("--out", default="runs/bench_classify_seeds.json")
    parser.add_argument(
        "--from-json",
        nargs="+",
        default=None,
        metavar="JSON",
        help="do not train: print the table and plots of earlier --out files, merged",
    )
    args = parser.parse_args()

    results: Dict[str, Dict[str, List[Dict[str, Any]]]] = {}
    if args.from_json:
        for path in args.from_json:
            for model, by_method in json.loads(Path(path).read_text())["results"].items():
                for method, rows in by_method.items():
                    results.setdefault(model, {})[method] = rows
        args.seeds = max(len(rows) for by_method in results.values() for rows in by_method.values())
    else:
        results = train_all(args)
    order = [name for name, _ in methods()]
    results = {
        model: dict(
            sorted(by_method.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))
        )
        for model, by_method in results.items()
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "results": results}, indent=1))
    print(
        f"\nMNIST-5k (3,500 train / 500 val / 1,000 test, one split), {args.epochs} epochs, "
        f"Adam lr 1e-3, batch 128, {args.seeds} seeds; test accuracy at the last epoch"
    )
    print("best single: the candidate with the best mean validation accuracy at the last epoch")
    print(
        "| model | method | mean +- std | 95% CI | vs best single (paired t, p) | best-val-epoch acc "
        "| SLF mean weights |"
    )
    print("|---|---|---|---|---|---|---|")
    for model, by_method in results.items():
        best_name = best_single_by_validation(by_method)
        best_single = statistics.fmean(r["final_test_acc"] for r in by_method[best_name]) if best_name else float("nan")
        for method, rows in by_method.items():
            mean, std, half = mean_interval([r["final_test_acc"] for r in rows])
            versus = ""
            if best_name and method != best_name and len(rows) == len(by_method[best_name]) > 1:
                ours = [r["final_test_acc"] for r in sorted(rows, key=lambda r: r["seed"])]
                theirs = [r["final_test_acc"] for r in sorted(by_method[best_name], key=lambda r: r["seed"])]
                test = scipy_stats.ttest_rel(ours, theirs)
                versus = f"{mean - best_single:+.4f} (p={test.pvalue:.2f})"
            best_val = statistics.fmean(r["best_val_test_acc"] for r in rows)
            weights = ""
            if "mean_weights" in rows[0]:
                names = rows[0]["candidates"]
                avg = [statistics.fmean(r["mean_weights"][i] for r in rows) for i in range(len(names))]
                weights = " ".join(f"{n} {w:.2f}" for n, w in zip(names, avg))
            mark = " (best single)" if method == best_name else ""
            print(
                f"| {model} | {method}{mark} | {mean:.4f} +- {std:.4f} | +-{half:.4f} | {versus} | {best_val:.4f} "
                f"| {weights} |"
            )
    for model, by_method in results.items():
        png = plot_method_comparison(
            {m: [r["final_test_acc"] for r in rows] for m, rows in by_method.items()},
            out.with_name(f"{out.stem}_{model}.png"),
            title=f"MNIST-5k, {model}: test accuracy, mean and 95% CI over seeds",
        )
        print(f"plot: {png}")
    panels = {
        model: {"runs": by_method[DEFAULT_METHOD]}
        for model, by_method in results.items()
        if any(r.get("weights_history") for r in by_method.get(DEFAULT_METHOD, []))
    }
    if panels:
        png = plot_selection_weight_grid(
            panels,
            out.with_name("classify_default_weights.png"),
            columns=len(panels),
            title="MNIST-5k: SLF default recipe (align), weights over training (mean +- std over seeds)",
        )
        print(f"plot: {png}")
    print(f"\nJSON: {out}")


if __name__ == "__main__":
    main()
