"""Seeds x methods on the 5,000 real MNIST digits: MILS against its primary and auxiliary losses.

Methods (LeNet by default, Adam lr 1e-3, batch 128): softmax cross-entropy alone,
multi-margin alone, MILS(ce + multi_margin), MILS(ce + center), the joint sum
``ce + 0.01 * center`` (Wen et al.'s joint supervision with a fixed weight), and the
paper's ablation: auxiliary steps taken at random without the accept test
(MILS with ``rule='always'``). Prints test accuracy as mean +- std and a 95% confidence
interval (Student t) per method, and MILS's acceptance rates. Writes JSON to ``--out``.

    python benchmarks/mils_seeds.py --seeds 5 --epochs 10 --workers 2
    python benchmarks/mils_seeds.py --seeds 1 --epochs 1          # a smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Tuple

from tqdm import tqdm

from slf.intervals import mean_interval
from slf.train import ClassifyConfig, train_classifier


def methods(rate: float, obs_size: int) -> List[Tuple[str, Dict[str, Any]]]:
    mils = {"loss": "mils", "mils_rate": rate, "mils_obs_size": obs_size}
    return [
        ("ce", {"loss": "ce"}),
        ("multi_margin", {"loss": "multi_margin"}),
        ("mils(ce+multi_margin)", {**mils, "mils_aux": ("multi_margin",)}),
        ("mils(ce+center)", {**mils, "mils_aux": ("center",)}),
        ("ce+0.01*center (joint)", {"loss": "ce", "extra_losses": {"center": 0.01}}),
        ("random aux, no test (ce+multi_margin)", {**mils, "mils_aux": ("multi_margin",), "mils_rule": "always"}),
    ]


def run_one(job: Tuple[str, ClassifyConfig]) -> Tuple[str, Dict[str, Any]]:
    method, cfg = job
    result = train_classifier(cfg, progress=False)
    keep = {k: result[k] for k in ("final_test_acc", "best_val_test_acc", "time_per_step_s", "seed")}
    if "mils_stats" in result:
        keep["mils_stats"] = result["mils_stats"]
    return method, keep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="lenet")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rate", type=float, default=0.1, help="MILS participation rate (default: 0.1)")
    parser.add_argument("--obs-size", type=int, default=128, help="MILS observation set size (default: 128)")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes, one torch thread each")
    parser.add_argument("--only", default="", help="comma-separated method names to run (default all)")
    parser.add_argument("--out", default="runs/bench_mils_seeds.json")
    args = parser.parse_args()

    chosen = [m for m in methods(args.rate, args.obs_size) if not args.only or m[0] in args.only.split(",")]
    jobs = []
    for method, options in chosen:
        for seed in range(args.seeds):
            cfg = replace(
                ClassifyConfig(
                    data="mnist5k", model=args.model, epochs=args.epochs, num_threads=1, seed=seed, data_seed=0
                ),
                **options,
            )
            jobs.append((method, cfg))
    results: Dict[str, List[Dict[str, Any]]] = {method: [] for method, _ in chosen}
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for method, row in tqdm(pool.map(run_one, jobs), total=len(jobs), desc="runs"):
            results[method].append(row)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "results": results}, indent=1))
    print(
        f"\nMNIST-5k (3,500 train / 500 val / 1,000 test, one split), {args.model}, {args.epochs} epochs, "
        f"Adam lr 1e-3, batch 128, {args.seeds} seeds, MILS r={args.rate:g}, observation {args.obs_size} "
        f"samples; test accuracy at the last epoch"
    )
    print("| method | mean +- std | 95% CI | best-val-epoch acc | ms/step | MILS accepted/attempted |")
    print("|---|---|---|---|---|---|")
    for method, rows in results.items():
        mean, std, half = mean_interval([r["final_test_acc"] for r in rows])
        best_val = statistics.fmean(r["best_val_test_acc"] for r in rows)
        ms = 1000 * statistics.fmean(r["time_per_step_s"] for r in rows)
        acceptance = ""
        if rows and "mils_stats" in rows[0]:
            attempted = sum(r["mils_stats"]["attempted_total"] for r in rows)
            accepted = sum(r["mils_stats"]["accepted_total"] for r in rows)
            acceptance = f"{accepted}/{attempted}" + (f" ({100 * accepted / attempted:.0f}%)" if attempted else "")
        print(f"| {method} | {mean:.4f} +- {std:.4f} | +-{half:.4f} | {best_val:.4f} | {ms:.1f} | {acceptance} |")
    print(f"\nJSON: {out}")


if __name__ == "__main__":
    main()
