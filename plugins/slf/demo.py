"""``slf demo``: the SLF paper's six losses alone and SLF's default recipe over all six, on real MNIST digits,
with the best single loss chosen by validation and a plot of the three test curves that matter."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List


def run_demo(args: argparse.Namespace) -> int:
    """Run ``slf demo`` with the parsed options (``--epochs``, ``--seeds``, ``--threads``, label noise, ``--out``)."""
    from .plots import accuracy_curves, plot_curves
    from .stochastic_loss import PAPER_CANDIDATES
    from .train import ClassifyConfig, print_summary_table, run_classify

    base = ClassifyConfig(
        data="mnist5k",
        model="mlp",
        epochs=args.epochs,
        num_threads=args.threads,
        label_noise=args.label_noise,
        noise_type=args.noise_type,
    )
    configs = [replace(base, loss=name) for name in PAPER_CANDIDATES] + [replace(base, loss="slf")]
    noise = (
        f"{args.label_noise:.0%} of the training labels flipped ({args.noise_type})"
        if args.label_noise
        else "clean labels"
    )
    print(
        f"slf demo: MLP on 5,000 real MNIST digits (3,500 train / 500 val / 1,000 test), {noise}, "
        f"{args.epochs} epochs, {args.seeds} seeds: each of the SLF paper's six losses alone, and SLF's default "
        f"recipe over all six in one run"
    )
    summaries: Dict[str, Dict[str, Any]] = {}
    for cfg in configs:
        # The demo owns its folder: a rerun with other options replaces it, the same one continues it.
        summaries[cfg.method] = run_classify(
            cfg, args.seeds, args.out / cfg.method, progress=not args.no_progress, overwrite=True
        )
    val = {name: _mean_final_val(Path(summaries[name]["out_dir"])) for name in PAPER_CANDIDATES}
    best = max(PAPER_CANDIDATES, key=val.get)
    default = configs[-1].method
    curves: Dict[str, List[List[float]]] = {}
    for name, label in (
        ("ce", "cross-entropy"),
        (best, f"best single loss ({best}, by validation)"),
        (default, "SLF default recipe"),
    ):
        test_curves = accuracy_curves(Path(summaries[name]["out_dir"]) / "results.json", label)
        curves.update({key: values for key, values in test_curves.items() if key.endswith("test")})
    comparison = plot_curves(curves, args.out / "accuracy.png", title=f"test accuracy per epoch: MNIST-5k MLP, {noise}")
    print()
    print_summary_table(list(summaries.values()))
    print()
    ours = summaries[default]
    print(
        f"best single loss by validation accuracy: {best} ({summaries[best]['test_acc_mean']:.4f} test); "
        f"cross-entropy {summaries['ce']['test_acc_mean']:.4f}; SLF's default recipe {ours['test_acc_mean']:.4f}, "
        f"in one run"
    )
    print()
    print(f"outputs in {args.out}/:")
    for summary in summaries.values():
        print(f"  {summary['out_dir']}/results.json")
    for path in ours["plots"]:
        print(f"  {path}")
    print(f"  {comparison}")
    return 0


def _mean_final_val(run_dir: Path) -> float:
    runs = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))["runs"]
    return sum(run["val_acc"][-1] for run in runs) / len(runs)
