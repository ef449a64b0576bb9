"""YOLOv3 (MobileNetV2, 320 px) on the real tree-crown tiles: SLF-weighted head against mmdet's stock head.

Two measurements, both on configs/mmdet/yolov3_mobilenetv2{,_slf}_deepforest.py:

1. Iteration time: one training iteration (forward, loss, backward, SGD step) of each
   model on the same real batch, in interleaved rounds; the median per-round ratio
   SLF / stock (goal <= 1.02) for SLF's default recipe (``ratio``; its iteration includes
   ``SLFHeldOutHook``'s held-out pass) and for the literal joint update (``ratio_literal``).
2. Val mAP (mmdet's VOCMetric, IoU 0.5, area) after a fixed CPU budget: the same number
   of epochs for every head, from scratch, over seeds; mean +- std, a paired t-test
   against the stock head and the learned lambdas at the end. Methods: ``stock``,
   ``slf_align`` (the shipped SLF config as it is: the default recipe, with
   ``SLFHeldOutHook``), ``slf`` (the paper's joint update: the shipped config as it was
   before the default recipe, ``LITERAL``), ``slf_normalized`` (the same with
   ``normalize='mean'``) and ``slf_softmax_normalized`` (no Gumbel noise:
   ``mode='softmax'``, normalised); and SLF's peers weighing the same five parts, each from the
   shipped SLF config with ``slf_weighting=dict(type=...)`` and no held-out hook: ``uncertainty``
   (Kendall et al.), ``gradnorm`` (GradNorm, alpha 1.5) and ``dwa`` (DWA, T 2, mmengine's epochs as
   its periods). Writes JSON, a PNG (mAP per method with 95% CI) and
   ``mmdet_default_weights.png`` (the default recipe's lambdas over training) to ``--out``.

    python -m slf_mmdet.deepforest_tiles data/deepforest        # once
    python benchmarks/mmdet_yolo.py --seeds 3 --epochs 20
    python benchmarks/mmdet_yolo.py --seeds 1 --epochs 1 --rounds 5   # a smoke run
    # add a method to an earlier run, reusing its runs of the others (runs are seeded, repeatable):
    python benchmarks/mmdet_yolo.py --methods slf_normalized --skip-timing --reuse runs/mmdet_yolo/mmdet_yolo.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import torch
from tqdm import tqdm

from _comparison import cached_run, paired_t_tests, runs_to_fill, summary
from _timing import interleaved_times, median_ratio

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "stock": ROOT / "configs/mmdet/yolov3_mobilenetv2_deepforest.py",
    "slf_align": ROOT / "configs/mmdet/yolov3_mobilenetv2_slf_deepforest.py",
    "slf": ROOT / "configs/mmdet/yolov3_mobilenetv2_slf_deepforest.py",
    "slf_normalized": ROOT / "configs/mmdet/yolov3_mobilenetv2_slf_deepforest.py",
    "slf_softmax_normalized": ROOT / "configs/mmdet/yolov3_mobilenetv2_slf_deepforest.py",
    "uncertainty": ROOT / "configs/mmdet/yolov3_mobilenetv2_slf_deepforest.py",
    "gradnorm": ROOT / "configs/mmdet/yolov3_mobilenetv2_slf_deepforest.py",
    "dwa": ROOT / "configs/mmdet/yolov3_mobilenetv2_slf_deepforest.py",
}
# SLF's peers for the same five parts (slf.part_weightings): the shipped SLF config with another weighting.
PEERS = ("uncertainty", "gradnorm", "dwa")
OVERRIDES = {
    "slf_normalized": {"model.bbox_head.slf_weighting.normalize": "mean"},
    "slf_softmax_normalized": {
        "model.bbox_head.slf_weighting.normalize": "mean",
        "model.bbox_head.slf_weighting.mode": "softmax",
    },
    **{peer: {"model.bbox_head.slf_weighting": {"type": peer}} for peer in PEERS},
}
# The literal methods: the shipped SLF config as it was when their runs were archived (the paper's joint
# update, no held-out hook, weight decay on the decision logits as on every parameter). Applied on top of
# OVERRIDES by load_config; not part of the cached settings, which were recorded before the shipped config
# changed (the archived runs of these methods ran exactly this).
LITERAL_WEIGHTING = {"num_samples": 3, "tau": 1.0, "mode": "joint", "seed": 0}
LITERAL = ("slf", "slf_normalized", "slf_softmax_normalized")
DEFAULT_METHOD = "slf_align"
LABELS = {
    "stock": "stock",
    "slf_align": "SLF default\n(align)",
    "slf": "SLF joint",
    "slf_normalized": "SLF joint\nnormalised",
    "slf_softmax_normalized": "SLF softmax\nnormalised",
    "uncertainty": "uncertainty\nweighting",
    "gradnorm": "GradNorm",
    "dwa": "DWA",
}


def load_config(method: str, data_root: str, work_dir: Path, epochs: int, seed: int):
    from mmengine.config import Config

    cfg = Config.fromfile(CONFIGS[method])
    if method in LITERAL:
        cfg.merge_from_dict({f"model.bbox_head.slf_weighting.{key}": value for key, value in LITERAL_WEIGHTING.items()})
        cfg.custom_hooks = [hook for hook in cfg.get("custom_hooks", []) if hook["type"] != "SLFHeldOutHook"]
        cfg.optim_wrapper.pop("paramwise_cfg", None)
    cfg.merge_from_dict(OVERRIDES.get(method, {}))
    if method in PEERS:  # no held-out data: the peers learn from the training batches alone
        cfg.custom_hooks = [hook for hook in cfg.get("custom_hooks", []) if hook["type"] != "SLFHeldOutHook"]
    for loader in ("train_dataloader", "val_dataloader"):
        cfg[loader].dataset.data_root = data_root
    cfg.train_cfg.max_epochs = epochs
    cfg.train_cfg.val_interval = epochs
    # Keep the configs' schedule shape: warm-up, then steps at 75% and 90% of the budget.
    cfg.param_scheduler[1].milestones = [int(epochs * 0.75), int(epochs * 0.9)]
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=epochs, max_keep_ckpts=1)
    cfg.default_hooks.logger.interval = 10
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f"{method}_seed{seed}_{int(time.time())}"
    return cfg


class _OneBatchLoader(list):
    """A dataloader of preloaded batches that names its dataset, as a real one does."""

    def __init__(self, batches: List[Any], dataset: Any = None) -> None:
        super().__init__(batches)
        self.dataset = dataset


def iteration_step(
    model, batch, held_out=None, hook_options: Optional[Dict[str, Any]] = None, held_out_dataset: Any = None
) -> Callable[[], float]:
    """One timed training iteration; with ``held_out`` (a batch of ``held_out_dataset``),
    ``SLFHeldOutHook`` (its config options ``hook_options``) first takes its held-out pass, as in
    the default recipe's training loop."""
    from types import SimpleNamespace

    from slf_mmdet import SLFHeldOutHook

    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    # The hook reads its batches from the runner's val (or train) dataloader: here, the one held-out
    # batch, loaded beforehand as the training batch is; its dataset tells the hook how boxes were loaded.
    loader = _OneBatchLoader([held_out], dataset=held_out_dataset)
    runner = SimpleNamespace(model=model, val_dataloader=loader, train_dataloader=loader, iter=0)
    hook = SLFHeldOutHook(**(hook_options or {}))
    if held_out is not None:
        hook.before_train(runner)

    def step() -> float:
        start = time.perf_counter()
        if held_out is not None:
            hook.before_train_iter(runner, runner.iter)
            runner.iter += 1
        data = model.data_preprocessor(batch, True)
        losses = model(**data, mode="loss")
        total, _ = model.parse_losses(losses)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        return time.perf_counter() - start

    return step


def time_iterations(data_root: str, rounds: int, warmup: int, block: int = 1) -> Dict[str, Any]:
    from mmdet.registry import DATASETS, MODELS
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope

    init_default_scope("mmdet")  # the Runner does this from the config; here datasets are built by hand
    from mmengine.logging import MessageHub

    # DWA reads its period from the runner's epoch, as its head does in training: here, one epoch.
    MessageHub.get_current_instance().update_info("epoch", 0)
    models, batch, held_out, hook_options, source = {}, None, None, None, None
    for method in ("stock", DEFAULT_METHOD, "slf", *PEERS):
        cfg = load_config(method, data_root, Path("/tmp"), 1, 0)
        torch.manual_seed(0)
        models[method] = MODELS.build(cfg.model).train()
        if batch is None:
            dataset = DATASETS.build(cfg.train_dataloader.dataset)
            batch = pseudo_collate([dataset[i] for i in range(cfg.train_dataloader.batch_size)])
        if method == DEFAULT_METHOD:
            # SLFHeldOutHook's batch, from the dataloader the shipped config points it at (default: val).
            hook_options = next(
                (
                    {k: v for k, v in hook.items() if k != "type"}
                    for hook in cfg.get("custom_hooks", [])
                    if hook["type"] == "SLFHeldOutHook"
                ),
                None,
            )
            if hook_options is not None:
                loader = cfg.train_dataloader if hook_options.get("source") == "train" else cfg.val_dataloader
                source = DATASETS.build(loader.dataset)
                held_out = pseudo_collate([source[(i + 1) % len(source)] for i in range(loader.batch_size)])
    for method in (DEFAULT_METHOD, "slf", *PEERS):
        models[method].load_state_dict(models["stock"].state_dict(), strict=False)
    steps = {
        method: iteration_step(model, batch, held_out if method == DEFAULT_METHOD else None, hook_options, source)
        for method, model in models.items()
    }
    times = interleaved_times(steps, rounds, warmup, block, shuffle=True)
    # ratio: the default recipe (the shipped config); ratio_literal: the paper's joint update.
    return {
        "stock_s": statistics.median(times["stock"]),
        "slf_s": statistics.median(times[DEFAULT_METHOD]),
        "slf_literal_s": statistics.median(times["slf"]),
        "ratio": median_ratio(times[DEFAULT_METHOD], times["stock"]),
        "ratio_literal": median_ratio(times["slf"], times["stock"]),
        "ratio_peers": {peer: median_ratio(times[peer], times["stock"]) for peer in PEERS},
        "rounds": rounds,
        "batch_size": len(batch["inputs"]),
    }


def train_once(
    method: str, data_root: str, out: Path, epochs: int, seed: int, keep_checkpoint: bool = False
) -> Dict[str, Any]:
    from mmengine.runner import Runner

    work_dir = out / f"{method}_seed{seed}"
    runner = Runner.from_cfg(load_config(method, data_root, work_dir, epochs, seed))
    start = time.perf_counter()
    runner.train()
    if not keep_checkpoint:  # 27 MB a run; the benchmark needs only the scores
        for checkpoint in work_dir.glob("*.pth"):
            checkpoint.unlink()
    result = {
        "mAP": float(runner.message_hub.get_scalar("val/pascal_voc/mAP").current()),
        "train_s": time.perf_counter() - start,
        "iterations": runner.iter,
    }
    weighting = getattr(runner.model.bbox_head, "part_weighting", None)
    if weighting is not None:
        result["lambdas"] = dict(zip(weighting.part_names, weighting.lambdas.tolist()))
        result["mean_lambdas"] = dict(zip(weighting.part_names, weighting.mean_lambdas.tolist()))
        # The lambdas divided by the configured weights' total, every history_interval iterations.
        result["candidates"] = list(weighting.part_names)
        result["weights_history"] = [
            {"step": int(row["step"]), "weights": list(row["weights"])} for row in weighting.history
        ]
    return result


def cache_settings(method: str, epochs: int, seed: int) -> Dict[str, Any]:
    """What a saved run must match to be read back (unchanged since the archived runs: see ``LITERAL``)."""
    return {
        "method": method,
        "config": CONFIGS[method].name,
        "overrides": OVERRIDES.get(method, {}),
        "epochs": epochs,
        "seed": seed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default=str(ROOT / "data/deepforest"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=30, help="timed rounds of the iteration-time ratio")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--methods", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--reuse", help="a previous mmdet_yolo.json whose runs of the other methods are kept")
    parser.add_argument("--keep-checkpoints", action="store_true", help="keep each run's final checkpoint")
    parser.add_argument("--out", default=str(ROOT / "runs/mmdet_yolo"))
    args = parser.parse_args()
    import slf_mmdet  # noqa: F401  (registers the SLF head and hook)
    from slf_mmdet.deepforest_tiles import prepare_deepforest_voc

    if args.threads:
        torch.set_num_threads(args.threads)
    data_root = str(prepare_deepforest_voc(args.data_root)) + "/"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: Dict[str, Any] = {"epochs": args.epochs, "seeds": args.seeds, "threads": torch.get_num_threads()}

    if not args.skip_timing:
        timing = time_iterations(data_root, args.rounds, args.warmup)
        report["timing"] = timing
        print(
            f"iteration time (batch {timing['batch_size']}, median of {timing['rounds']} interleaved rounds): "
            f"stock {timing['stock_s'] * 1e3:.0f} ms, SLF default recipe {timing['slf_s'] * 1e3:.0f} ms, "
            f"SLF literal {timing['slf_literal_s'] * 1e3:.0f} ms; ratio SLF default/stock {timing['ratio']:.4f} "
            f"(goal <= 1.02), literal/stock {timing['ratio_literal']:.4f}; "
            + ", ".join(f"{peer}/stock {ratio:.4f}" for peer, ratio in timing["ratio_peers"].items())
        )

    if not args.skip_training:
        runs = runs_to_fill(args.reuse and Path(args.reuse), args.epochs, args.seeds, args.methods, report)
        jobs = [(method, seed) for seed in range(args.seeds) for method in args.methods]
        for method, seed in tqdm(jobs, desc="training runs"):
            # Runs are seeded and repeat exactly, so a finished one is read back (an interrupted benchmark resumes).
            settings = cache_settings(method, args.epochs, seed)
            runs[method].append(
                cached_run(
                    out / f"{method}_seed{seed}" / "result.json",
                    settings,
                    lambda: {
                        "config": settings,
                        **train_once(method, data_root, out, args.epochs, seed, args.keep_checkpoints),
                    },
                    gap_acts=False,  # the head's parts include no stock loss, so the recipe's gap never acts
                )
            )
        runs = {method: runs[method] for method in CONFIGS if method in runs}
        report["runs"] = runs
        maps = {method: [run["mAP"] for run in method_runs] for method, method_runs in runs.items()}
        iterations = next(iter(runs.values()))[0]["iterations"]
        print(f"\nval mAP@0.5 after {args.epochs} epochs ({iterations} iterations), {args.seeds} seeds:")
        for method, values in maps.items():
            minutes = statistics.fmean(run["train_s"] for run in runs[method]) / 60
            print(
                f"  {method:15s} {summary(values, 4)}   per seed {[round(v, 4) for v in values]}   "
                f"{minutes:.1f} min per run"
            )
        report["paired_t_p"] = paired_t_tests(maps, "stock", "mAP", digits=4)
        for method, method_runs in runs.items():
            if "lambdas" not in method_runs[0]:
                continue
            print(f"  {method}: learned lambdas (start 1, 1, 1, 2, 2)")
            for part in method_runs[0]["lambdas"]:
                final = [run["lambdas"][part] for run in method_runs]
                mean = [run["mean_lambdas"][part] for run in method_runs]
                print(f"    lambda_{part:6s} final {summary(final, 4)}   mean over training {summary(mean, 4)}")
        from slf.plots import plot_method_comparison

        png = plot_method_comparison(
            {LABELS[m]: v for m, v in maps.items()},
            out / "mmdet_yolo_map.png",
            ylabel="val mAP@0.5 (tree crowns)",
            title=f"YOLOv3-MobileNetV2, {args.epochs} epochs from scratch, CPU",
        )
        print(f"plot: {png}")
        default_runs = [run for run in runs.get(DEFAULT_METHOD, []) if run.get("weights_history")]
        if default_runs:
            from slf.plots import plot_selection_weights

            png = plot_selection_weights(
                {"runs": default_runs},
                None,
                out / "mmdet_default_weights.png",
                title="YOLOv3 tree crowns: SLF default recipe (align), share of each loss "
                f"part's weight over training, {len(default_runs)} seeds",
            )
            print(f"plot: {png}")
    (out / "mmdet_yolo.json").write_text(json.dumps(report, indent=2))
    print(f"results: {out / 'mmdet_yolo.json'}")


if __name__ == "__main__":
    main()
