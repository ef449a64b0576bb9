"""Learned loss selection under label noise: MNIST-5k, MLP and LeNet, every loss alone vs SLF.

For each model, noise setting (clean, 20% and 40% symmetric, 40% pairflip: each class
flipped to the next one) and seed, it trains every candidate alone (the SLF paper's six,
and the robust ``gce``, ``sce``, ``bi_tempered``) and SLF over all nine: the literal joint
update, the validation-driven update (one-step look-ahead on a clean held-out batch), the
same with a direction-only (cosine) hypergradient, and per-sample decisions that read the
candidates' values with the cosine hypergradient. ``--methods`` also takes the other
variants tried on the way (``SLF_METHODS``: a 10x decision learning rate, scale
normalisation, an MAE held-out objective, per-sample with the inner product) and SLF's peers,
the learned losses ``adalfl`` and ``l2t_dlf`` (``PEERS``), each trained alone. Only the
3,500 training labels are corrupted; the 500 validation and 1,000 test labels stay clean.

Each cell is the clean test accuracy at the last epoch, mean +- std over seeds; the best
single loss of a setting is the one with the best mean *validation* accuracy (clean
labels, so picking it is what a user with a clean validation split would do), and p is a
paired t-test (same seeds) against it. Runs are saved under ``--out`` and reused by a rerun
with the same settings, so an interrupted run continues. Writes ``noisy_labels.md``,
``noisy_labels.json``, ``selection_weights_<model>_<setting>_<method>.png`` for each SLF method
and ``selection_weights_<setting>.png``, every model and SLF method side by side, and
``noisy_labels_default_weights.png``, the default recipe (``slf-align``) in every model and setting.

    python benchmarks/noisy_labels.py --workers 2                       # the docs' table
    python benchmarks/noisy_labels.py --models mlp --settings sym0.4 --seeds 2 --epochs 3 \\
        --methods ce mae slf-validation                                  # smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Tuple

from tqdm import tqdm

from slf.plots import plot_selection_weight_grid, plot_selection_weights
from slf.train import ClassifyConfig, train_classifier

from _comparison import cached_run, paired_p, summary

SINGLES = ("ce", "mse", "mae", "hinge", "cosine", "bce", "gce", "sce", "bi_tempered")
# SLF's peers, learned losses each trained alone (their meta step on the clean validation batches, as the
# default recipe's reference): compared with the default recipe, never picked as the best single loss.
PEERS = ("adalfl", "l2t_dlf")
SLF_CANDIDATES = SINGLES
SLF_METHODS: Dict[str, Dict[str, Any]] = {
    "slf-align": {"loss": "slf", "slf_mode": "align"},
    "slf-joint": {"loss": "slf", "slf_mode": "joint"},
    # The default recipe scoring the candidates and drawing a held-out batch every 4th step only (issue 26's cost).
    "slf-align-interval4": {"loss": "slf", "slf_mode": "align", "slf_options": {"alignment": {"interval": 4}}},
    # The same, each draw and score weighing as one step did (beta and rho per draw as at interval 1, so the
    # averages span 4x the steps; the gap's loss averages too).
    "slf-align-interval4-per-draw": {
        "loss": "slf",
        "slf_mode": "align",
        "slf_options": {"alignment": {"interval": 4, "momentum": 0.9**0.25, "reference_momentum": 0.95**0.25}},
    },
    # The default recipe scoring every step against a reference drawn from a held-out batch on every 8th step only
    # (issue 26's cost: the held-out forward is most of a weighing step's work).
    "slf-align-reference8": {
        "loss": "slf",
        "slf_mode": "align",
        "slf_options": {"alignment": {"interval": [1, 8]}},
    },
    # The same every 4th step; and every 8th with each draw weighing as one step did (rho per draw as at every
    # step, so the reference averages as many held-out batches, over 8x the steps).
    "slf-align-reference4": {
        "loss": "slf",
        "slf_mode": "align",
        "slf_options": {"alignment": {"interval": [1, 4]}},
    },
    "slf-align-reference8-per-draw": {
        "loss": "slf",
        "slf_mode": "align",
        "slf_options": {"alignment": {"interval": [1, 8], "reference_momentum": 0.95**0.125}},
    },
    "slf-validation": {"loss": "slf", "slf_mode": "validation"},
    "slf-validation-lr10": {"loss": "slf", "slf_mode": "validation", "slf_decision_lr": 0.1},
    "slf-validation-normalize": {"loss": "slf", "slf_mode": "validation", "slf_options": {"normalize": "mean"}},
    "slf-validation-cosine": {"loss": "slf", "slf_mode": "validation", "slf_options": {"hypergradient": "cosine"}},
    "slf-validation-cosine-normalize": {
        "loss": "slf",
        "slf_mode": "validation",
        "slf_options": {"hypergradient": "cosine", "normalize": "mean"},
    },
    "slf-validation-mae-objective": {
        "loss": "slf",
        "slf_mode": "validation",
        "slf_options": {"validation_loss": "mae"},
    },
    "slf-validation-sample-losses": {
        "loss": "slf",
        "slf_mode": "validation",
        "slf_options": {"selection": "sample", "decision_reads_losses": True},
    },
    "slf-validation-sample-losses-cosine": {
        "loss": "slf",
        "slf_mode": "validation",
        "slf_options": {"selection": "sample", "decision_reads_losses": True, "hypergradient": "cosine"},
    },
}
# What the docs' table runs; the other SLF_METHODS are the variants tried on the way (docs/results.md).
DEFAULT_SLF_METHODS = (
    "slf-align",
    "slf-joint",
    "slf-validation",
    "slf-validation-cosine",
    "slf-validation-sample-losses-cosine",
)
SETTINGS: Dict[str, Tuple[float, str]] = {
    "clean": (0.0, "symmetric"),
    "sym0.2": (0.2, "symmetric"),
    "sym0.4": (0.4, "symmetric"),
    "pair0.4": (0.4, "pairflip"),
}
KEPT = (
    "final_test_acc",
    "best_val_test_acc",
    "val_acc",
    "test_acc",
    "seed",
    "time_per_step_s",
    "candidates",
    "weights_history",
    "final_weights",
    "mean_weights",
)


def method_options(method: str) -> Dict[str, Any]:
    if method in SLF_METHODS:
        return {**SLF_METHODS[method], "slf_candidates": SLF_CANDIDATES}
    return {"loss": method}


def run_job(job: Tuple[str, str, str, ClassifyConfig, Path]) -> Tuple[str, str, str, Dict[str, Any]]:
    """One seed of one method; the per-run JSON keeps the scores and weights, not the label lists."""
    model, setting, method, cfg, path = job

    def train() -> Dict[str, Any]:
        result = train_classifier(cfg, progress=False)
        kept = {key: result[key] for key in KEPT if key in result}
        noise = result.get("label_noise")
        if noise:
            kept["label_noise"] = {k: v for k, v in noise.items() if k not in ("clean_labels", "noisy_labels")}
        return {"config": result["config"], **kept}

    return model, setting, method, cached_run(path, cfg.__dict__, train)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["mlp", "lenet"])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument(
        "--methods",
        nargs="+",
        default=[*SINGLES, *DEFAULT_SLF_METHODS],
        help=f"single losses ({', '.join(SINGLES)}), SLF methods ({', '.join(SLF_METHODS)}) and SLF's peers "
        f"({', '.join(PEERS)})",
    )
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--workers", type=int, default=1, help="parallel runs (processes, one torch thread each)")
    parser.add_argument("--out", type=Path, default=Path("runs/noisy_labels"))
    args = parser.parse_args()
    unknown = [m for m in args.methods if m not in SINGLES and m not in SLF_METHODS and m not in PEERS]
    if unknown:
        parser.error(f"unknown methods {unknown}; valid choices: {', '.join([*SINGLES, *SLF_METHODS, *PEERS])}")

    work = []
    for model in args.models:
        for setting in args.settings:
            rate, kind = SETTINGS[setting]
            for method in args.methods:
                for seed in range(args.seeds):
                    cfg = replace(
                        ClassifyConfig(
                            data="mnist5k",
                            model=model,
                            epochs=args.epochs,
                            num_threads=1,
                            seed=seed,
                            data_seed=0,
                            label_noise=rate,
                            noise_type=kind,
                        ),
                        **method_options(method),
                    )
                    work.append((model, setting, method, cfg, args.out / model / setting / method / f"seed{seed}.json"))
    print(
        f"MNIST-5k (3,500 train / 500 val / 1,000 test), {args.epochs} epochs, Adam lr 1e-3, batch 128; "
        f"{len(work)} runs on {args.workers} worker(s)"
    )
    runs: Dict[str, Dict[str, Dict[str, List[Dict[str, Any]]]]] = {}
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for model, setting, method, run in tqdm(pool.map(run_job, work), total=len(work), unit="run"):
            runs.setdefault(model, {}).setdefault(setting, {}).setdefault(method, []).append(run)
    minutes = (time.perf_counter() - started) / 60

    def test(model: str, setting: str, method: str) -> List[float]:
        return [run["final_test_acc"] for run in runs[model][setting][method]]

    def val(model: str, setting: str, method: str) -> float:
        return statistics.fmean(run["val_acc"][-1] for run in runs[model][setting][method])

    singles = [m for m in args.methods if m in SINGLES]
    slf = [m for m in args.methods if m in SLF_METHODS]
    peers = [m for m in args.methods if m in PEERS]
    lines = [
        "| model | setting | CE | best single (by val) | " + " | ".join(slf + peers) + " |",
        "|---|---|---|---|" + "---|" * len(slf + peers),
    ]
    for model in args.models:
        for setting in args.settings:
            best = max(singles, key=lambda m: val(model, setting, m)) if singles else None
            ce = summary(test(model, setting, "ce"), 3) if "ce" in singles else "-"
            cells = []
            for method in slf:
                p = paired_p(test(model, setting, method), test(model, setting, best)) if best else float("nan")
                names = runs[model][setting][method][0].get("candidates") or []
                mean_weights = [
                    statistics.fmean(r["mean_weights"][i] for r in runs[model][setting][method])
                    for i in range(len(names))
                ]
                top = sorted(zip(names, mean_weights), key=lambda item: -item[1])[:2]
                cells.append(
                    f"{summary(test(model, setting, method), 3)} (p {p:.2f}; "
                    + ", ".join(f"{n} {w:.2f}" for n, w in top)
                    + ")"
                )
            cells += [summary(test(model, setting, method), 3) for method in peers]
            best_cell = f"{best} {summary(test(model, setting, best), 3)}" if best else "-"
            lines.append(f"| {model} | {setting} | {ce} | {best_cell} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Every loss alone (mean clean test accuracy over seeds):",
        "",
        "| model | setting | " + " | ".join(singles) + " |",
        "|---|---|" + "---|" * len(singles),
    ]
    for model in args.models:
        for setting in args.settings:
            lines.append(
                f"| {model} | {setting} | "
                + " | ".join(f"{statistics.fmean(test(model, setting, m)):.3f}" for m in singles)
                + " |"
            )
    markdown = "\n".join(lines)
    print()
    print(markdown)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "noisy_labels.md").write_text(markdown + "\n")
    scores = {
        model: {setting: {method: test(model, setting, method) for method in args.methods} for setting in args.settings}
        for model in args.models
    }
    final_val = {
        model: {
            setting: {method: [run["val_acc"][-1] for run in runs[model][setting][method]] for method in args.methods}
            for setting in args.settings
        }
        for model in args.models
    }
    weights = {
        model: {
            setting: {
                method: [
                    statistics.fmean(column)
                    for column in zip(*(run["mean_weights"] for run in runs[model][setting][method]))
                ]
                for method in slf
            }
            for setting in args.settings
        }
        for model in args.models
    }
    (args.out / "noisy_labels.json").write_text(
        json.dumps(
            {
                "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                "test_acc": scores,
                "val_acc": final_val,
                "candidates": list(SLF_CANDIDATES),
                "mean_weights": weights,
                # Each method's time per step in its own runs (read-back runs keep the load of their sitting).
                "ms_per_step": {
                    model: {
                        setting: {
                            method: 1e3
                            * statistics.fmean(run["time_per_step_s"] for run in runs[model][setting][method])
                            for method in args.methods
                        }
                        for setting in args.settings
                    }
                    for model in args.models
                },
                "minutes": minutes,
            },
            indent=1,
        )
    )
    plots = []
    for model in args.models:
        for setting in args.settings:
            for method in slf:
                rows = runs[model][setting][method]
                plots.append(
                    plot_selection_weights(
                        {"runs": rows},
                        None,
                        args.out / f"selection_weights_{model}_{setting}_{method}.png",
                        title=f"{method}, {model}, {setting}: mean weights over {len(rows)} seeds",
                    )
                )
    for setting in args.settings:
        if slf:
            plots.append(
                plot_selection_weight_grid(
                    {
                        f"{model}, {method}": {"runs": runs[model][setting][method]}
                        for model in args.models
                        for method in slf
                    },
                    args.out / f"selection_weights_{setting}.png",
                    columns=len(slf),
                    title=f"MNIST-5k, {setting}: SLF selection weights over training (mean +- std over seeds)",
                )
            )
    if "slf-align" in slf:  # the default recipe in every model and setting, one figure for the report
        plots.append(
            plot_selection_weight_grid(
                {
                    f"{model}, {setting}": {"runs": runs[model][setting]["slf-align"]}
                    for model in args.models
                    for setting in args.settings
                },
                args.out / "noisy_labels_default_weights.png",
                columns=len(args.settings),
                title="MNIST-5k label noise: SLF default recipe (align), weights over training "
                "(mean +- std over seeds)",
            )
        )
    print(
        f"\nwrote {args.out / 'noisy_labels.md'}, {args.out / 'noisy_labels.json'} and {len(plots)} plots "
        f"({minutes:.1f} min)"
    )


if __name__ == "__main__":
    main()
