"""The SLF paper's Fig. 2a ablation on MNIST-5k: test accuracy against the number K of Gumbel-Softmax samples.

For each model (MLP, LeNet), K in ``--samples`` and seed, it trains SLF over the paper's six
candidates with the literal joint update (``slf-joint``) and with scale normalisation
(``slf-joint-normalize``, ``normalize='mean'``), and once per seed SLF-Softmax (no sampling,
so no K: the paper's baseline line in Fig. 2a). Same data and training as
``classify_seeds.py`` (3,500 train / 500 val / 1,000 test, Adam lr 1e-3, batch 128).

Each point is the test accuracy at the last epoch, mean and 95% confidence interval (Student
t) over seeds. Runs are saved under ``--out`` and reused by a rerun with the same settings.
Writes ``k_sweep.json``, ``k_sweep.md`` and ``k_sweep.png``.

    python benchmarks/k_sweep.py --workers 2                                   # 5 seeds, 10 epochs
    python benchmarks/k_sweep.py --models mlp --samples 1 3 --seeds 2 --epochs 1   # smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import matplotlib
from tqdm import tqdm

from slf.train import ClassifyConfig, train_classifier

from _comparison import cached_run, ci_cell, mean_and_half_width

SAMPLED_METHODS: Dict[str, Dict[str, Any]] = {
    "slf-joint": {},
    "slf-joint-normalize": {"slf_options": {"normalize": "mean"}},
}
KEPT = ("final_test_acc", "best_val_test_acc", "seed", "time_per_step_s", "candidates", "mean_weights")


def run_job(job: Tuple[str, str, Optional[int], ClassifyConfig, Path]) -> Tuple[str, str, Optional[int], Dict]:
    model, method, samples, cfg, path = job

    def train() -> Dict[str, Any]:
        result = train_classifier(cfg, progress=False)
        return {"config": result["config"], **{key: result[key] for key in KEPT if key in result}}

    return model, method, samples, cached_run(path, cfg.__dict__, train)


def jobs(args: argparse.Namespace) -> List[Tuple[str, str, Optional[int], ClassifyConfig, Path]]:
    work = []
    for model in args.models:
        for seed in range(args.seeds):
            base = dict(
                data="mnist5k", model=model, epochs=args.epochs, num_threads=1, seed=seed, data_seed=0, loss="slf"
            )
            work.append(
                (
                    model,
                    "slf-softmax",
                    None,
                    ClassifyConfig(**base, slf_mode="softmax"),
                    args.out / model / "slf-softmax" / f"seed{seed}.json",
                )
            )
            for method, options in SAMPLED_METHODS.items():
                for samples in args.samples:
                    cfg = ClassifyConfig(**base, slf_mode="joint", slf_samples=samples, **options)
                    path = args.out / model / method / f"K{samples}_seed{seed}.json"
                    work.append((model, method, samples, cfg, path))
    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["mlp", "lenet"])
    parser.add_argument("--samples", nargs="+", type=int, default=[1, 2, 3, 4, 5, 8], help="the values of K")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2, help="parallel runs (processes, one torch thread each)")
    parser.add_argument("--out", type=Path, default=Path("runs/k_sweep"))
    args = parser.parse_args()
    if min(args.samples) < 1:
        parser.error(f"--samples must be positive integers, got {args.samples}")

    work = jobs(args)
    started = time.perf_counter()
    # scores[model][method][K or "-"] = one accuracy per seed
    scores: Dict[str, Dict[str, Dict[str, List[float]]]] = {}
    weights: Dict[str, Dict[str, Dict[str, List[List[float]]]]] = {}
    candidates: List[str] = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for model, method, samples, run in tqdm(pool.map(run_job, work), total=len(work), unit="run"):
            key = "-" if samples is None else str(samples)
            scores.setdefault(model, {}).setdefault(method, {}).setdefault(key, []).append(run["final_test_acc"])
            weights.setdefault(model, {}).setdefault(method, {}).setdefault(key, []).append(run["mean_weights"])
            candidates = run["candidates"]

    lines = [
        "| model | method | " + " | ".join(f"K = {k}" for k in args.samples) + " |",
        "|---|---|" + "---|" * len(args.samples),
    ]
    for model, by_method in scores.items():
        softmax = by_method["slf-softmax"]["-"]
        lines.append(f"| {model} | slf-softmax (no K) | {ci_cell(softmax, 4)} |" + " |" * (len(args.samples) - 1))
        for method in SAMPLED_METHODS:
            lines.append(
                f"| {model} | {method} | "
                + " | ".join(ci_cell(by_method[method][str(k)], 4) for k in args.samples)
                + " |"
            )
    markdown = "\n".join(lines)
    minutes = (time.perf_counter() - started) / 60
    print(f"\nMNIST-5k, {args.epochs} epochs, seeds 0..{args.seeds - 1}; test accuracy, mean +- 95% CI half-width")
    print(markdown)
    mean_weights = {
        model: {
            method: {k: [statistics.fmean(column) for column in zip(*rows)] for k, rows in by_k.items()}
            for method, by_k in by_method.items()
        }
        for model, by_method in weights.items()
    }
    for model, by_method in mean_weights.items():
        for method in SAMPLED_METHODS:
            for k in args.samples:
                mean = by_method[method][str(k)]
                top = max(range(len(mean)), key=mean.__getitem__)
                print(f"  {model} {method} K={k}: largest mean weight {candidates[top]} {mean[top]:.2f}")

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "k_sweep.md").write_text(markdown + "\n")
    (args.out / "k_sweep.json").write_text(
        json.dumps(
            {
                "settings": {
                    "models": args.models,
                    "samples": args.samples,
                    "seeds": args.seeds,
                    "epochs": args.epochs,
                },
                "scores": scores,
                "candidates": candidates,
                "mean_weights": mean_weights,
                "minutes": minutes,
            },
            indent=1,
        )
    )
    png = plot_k_sweep(scores, args.samples, args.out / "k_sweep.png", args.seeds)
    print(f"\nwrote {args.out / 'k_sweep.md'}, {args.out / 'k_sweep.json'}, {png} ({minutes:.1f} min)")


def plot_k_sweep(
    scores: Dict[str, Dict[str, Dict[str, List[float]]]], samples: List[int], path: Path, seeds: int
) -> Path:
    """One panel per model: accuracy against K with 95% CIs, SLF-Softmax as a band."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(scores), figsize=(5 * len(scores), 3.8), squeeze=False)
    for ax, (model, by_method) in zip(axes[0], scores.items()):
        mean, half = mean_and_half_width(by_method["slf-softmax"]["-"])
        ax.axhspan(mean - half, mean + half, color="grey", alpha=0.2)
        ax.axhline(mean, color="grey", label="SLF-Softmax (no K)")
        for method in SAMPLED_METHODS:
            points = [mean_and_half_width(by_method[method][str(k)]) for k in samples]
            ax.errorbar(
                samples, [m for m, _ in points], yerr=[h for _, h in points], marker="o", capsize=3, label=method
            )
        ax.set_xlabel("K (Gumbel-Softmax samples averaged)")
        ax.set_ylabel("test accuracy")
        ax.set_title(f"MNIST-5k, {model}: mean and 95% CI over {seeds} seeds", fontsize="small")
        ax.set_xticks(samples)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


if __name__ == "__main__":
    main()
