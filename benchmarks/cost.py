"""What SLF costs against its stock loss: every step-time, throughput and memory ratio, in one run.

Each part times SLF's steps beside the stock loss's, interleaved round after round so that all
see the same machine state: each round runs every variant for ``--block`` steps in a row, as
training does, the variants in a new (seeded) order each round, and keeps the median of each
block's steps after its first (``_timing.interleaved_times``: a step costs more right after
another model's, so a fixed order would charge each variant for its neighbour); a ratio is the
median over rounds of the per-round ratio. The default recipe (``align``) is timed in its two states:
*settled* on the stock loss (clean data: the stock loss's column alone and a held-out batch
every ``held_interval`` steps; forced by a gap no loss exceeds) and *weighing* the candidates
(label noise seen, and the first ``gap_patience`` steps of any run: every candidate, their
last-layer gradients and a held-out batch each step; forced by a gap every loss exceeds). The
literal update is ``mode='joint'`` (K = 3).

Parts (``--parts``; each is optional):

- ``lenet``: LeNet at batch 128 on MNIST-shaped inputs, SGD (the step of the goals), with the
  variants that show where the time goes (a held-out batch every step, one backward per
  candidate, the unfused candidates, ``torch.compile``).
- ``batch``: the MNIST MLP at batch 32 ... 4096, six candidates.
- ``candidates``: the MLP at batch 128 with 2 ... 16 candidates (the registry's losses that read
  logits, then focal at gamma 0.5); the cost of each added candidate is the least-squares slope.
- ``model``: the MLP at batch 128 with hidden widths (w, w/2), w = 64 ... 4096.
- ``memory``: the peak resident memory (VmHWM) of LeNet's training at batch 128, each variant in
  a fresh process (the peak reset after set-up), against cross-entropy's.
- ``dac``: one DAC step (its network at the report's width 16, the pair loss of the first round's
  thresholds, RMSprop) on a real MNIST batch of 128, SLF (``held_out='previous_batch'``) against BCE,
  and the SLF paper's other DAC baselines (``DAC_PEERS``: L4, Smooth, ARLF, curriculum) against BCE.
- ``mmdet``: one YOLOv3 training iteration (``benchmarks/mmdet_yolo.py``'s timing, the shipped
  configs, ``SLFHeldOutHook`` included).
- ``fairseq``: words per second of ``--criterion slf`` against ``label_smoothed_cross_entropy``
  (``benchmarks/fairseq_slf.py``'s timing).

Writes ``--out/cost.json`` (every ratio, with the issue's goal and whether it is met, under
``checks``; each part's figures under ``parts``) and ``--out/cost.png`` (the overhead against
batch size, candidates and model size). ``python benchmarks/run_all.py --only cost`` archives it
in ``benchmarks/results/cost/`` and renders RESULTS.md's and the docs' cost tables from it.

    python benchmarks/cost.py --threads 2 --rounds 30 --host-rounds 16
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import statistics
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from slf import HeldOut, StochasticLoss, losses
from slf.models import build_model
from slf.models.mlp import MLP

from _timing import dac_training_steps, interleaved_times, median_ratio, timed_training_step

ROOT = Path(__file__).resolve().parents[1]
PAPER = ("ce", "mse", "mae", "hinge", "cosine", "bce")
PARTS = ("lenet", "batch", "candidates", "model", "memory", "dac", "mmdet", "fairseq")
# The default recipe's two states, forced: a gap no loss exceeds settles it from the first step,
# a gap every loss exceeds keeps it weighing.
SETTLED = {"gap": 1e9, "gap_patience": 1}
WEIGHING = {"gap": 1e-9, "gap_patience": 1}
DEFAULT_SETTLED, DEFAULT_WEIGHING, JOINT = "SLF default, settled", "SLF default, weighing", "SLF joint"
# Not the default: the recipe scoring the candidates and drawing a held-out batch every 4th step while it weighs
# (GradientAlignment's interval), the lever that amortises the weighing step's work.
WEIGHING_EVERY_4 = "SLF default, weighing, scoring every 4th step (interval=4)"
# Not the default either: scoring every step, a held-out batch on every 4th only (GradientAlignment's
# interval=(1, 4)), since the held-out forward is most of the weighing step's work.
WEIGHING_DRAW_EVERY_4 = "SLF default, weighing, a held-out batch every 4th step (interval=(1, 4))"


def logit_candidates() -> List[str]:
    """Every classification loss that can be an SLF candidate (``losses.candidate_names``), the paper's six first."""
    return [*PAPER, *(name for name in losses.candidate_names("classification") if name not in PAPER)]


def candidate_pool() -> Tuple[List[Union[str, nn.Module]], List[str]]:
    """The candidates of the count sweep and their labels: the registry's logit losses, then focal at gamma 0.5."""
    names = logit_candidates()
    second_focal = losses.build("focal", gamma=0.5, reduction="none")
    second_focal.registry_name = "focal(gamma=0.5)"  # StochasticLoss names a module candidate by this
    return [*names, second_focal], [*names, second_focal.registry_name]


def mnist_batch(batch_size: int, seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    """A synthetic MNIST-shaped batch: ``batch_size`` images of 1 x 28 x 28 and labels in 0-9."""
    generator = torch.Generator().manual_seed(seed)
    return (
        torch.randn(batch_size, 1, 28, 28, generator=generator),
        torch.randint(0, 10, (batch_size,), generator=generator),
    )


def slf_criterion(
    label: str, candidates: Sequence[Union[str, nn.Module]], model: nn.Module, held_out: Tuple[torch.Tensor, ...]
) -> nn.Module:
    """The SLF variant ``label``: the default recipe settled or weighing (held-out batches from
    ``held_out``), or the literal update."""
    if label == JOINT:
        return StochasticLoss(list(candidates), mode="joint", num_samples=3, seed=0)
    state = {
        DEFAULT_SETTLED: SETTLED,
        DEFAULT_WEIGHING: WEIGHING,
        WEIGHING_EVERY_4: {**WEIGHING, "interval": 4},
        WEIGHING_DRAW_EVERY_4: {**WEIGHING, "interval": (1, 4)},
    }[label]
    return StochasticLoss(list(candidates), held_out=HeldOut(model, [held_out]), alignment=state)


def step_ratios(
    build_model_fn: Callable[[], nn.Module],
    candidates: Sequence[Union[str, nn.Module]],
    batch_size: int,
    rounds: int,
    warmup: int,
    variants: Sequence[str] = (DEFAULT_SETTLED, DEFAULT_WEIGHING, JOINT),
    block: int = 1,
) -> Dict[str, float]:
    """Each SLF variant's median step-time ratio to cross-entropy, one model per variant, interleaved."""
    inputs, targets = mnist_batch(batch_size)
    held_out = mnist_batch(batch_size, seed=1)
    steps = {}
    for label in ("cross-entropy", *variants):
        torch.manual_seed(0)
        model = build_model_fn()
        criterion = (
            nn.CrossEntropyLoss() if label == "cross-entropy" else slf_criterion(label, candidates, model, held_out)
        )
        steps[label] = timed_training_step(model, criterion, inputs, targets)
    times = interleaved_times(steps, rounds, warmup, block, shuffle=True)
    return {
        "ce_ms": 1e3 * statistics.median(times["cross-entropy"]),
        **{label: median_ratio(times[label], times["cross-entropy"]) for label in variants},
    }


def lenet_part(rounds: int, warmup: int, compile_too: bool, block: int = 1) -> Dict[str, Dict[str, float]]:
    """LeNet, batch 128: the variants of the goals and the ones that show where the time goes."""
    inputs, targets = mnist_batch(128)
    held_out = mnist_batch(128, seed=1)

    def per_candidate_backward(criterion: StochasticLoss) -> StochasticLoss:
        criterion.learner.batched_gradients = False
        return criterion

    variants: Dict[str, Callable[[nn.Module], nn.Module]] = {
        "cross-entropy": lambda model: nn.CrossEntropyLoss(),
        DEFAULT_SETTLED: lambda model: slf_criterion(DEFAULT_SETTLED, PAPER, model, held_out),
        "SLF default, settled, held-out every step": lambda model: StochasticLoss(
            list(PAPER), held_out=HeldOut(model, [held_out]), alignment={**SETTLED, "held_interval": 1}
        ),
        DEFAULT_WEIGHING: lambda model: slf_criterion(DEFAULT_WEIGHING, PAPER, model, held_out),
        "SLF default, weighing, one backward per candidate": lambda model: per_candidate_backward(
            slf_criterion(DEFAULT_WEIGHING, PAPER, model, held_out)
        ),
        WEIGHING_EVERY_4: lambda model: slf_criterion(WEIGHING_EVERY_4, PAPER, model, held_out),
        WEIGHING_DRAW_EVERY_4: lambda model: slf_criterion(WEIGHING_DRAW_EVERY_4, PAPER, model, held_out),
        JOINT: lambda model: slf_criterion(JOINT, PAPER, model, held_out),
        "SLF joint, unfused candidates": lambda model: StochasticLoss(
            list(PAPER), mode="joint", num_samples=3, seed=0, fused=False
        ),
    }
    if compile_too:
        variants["SLF joint, compile=True"] = lambda model: StochasticLoss(
            list(PAPER), mode="joint", num_samples=3, seed=0, compile=True
        )
    steps = {}
    for label, build in variants.items():
        torch.manual_seed(0)
        model = build_model("lenet", (1, 28, 28), 10)
        steps[label] = timed_training_step(model, build(model), inputs, targets)
    times = interleaved_times(steps, rounds, warmup, block, shuffle=True)  # the warm-up includes compilation
    return {
        label: {"median_ms": 1e3 * statistics.median(values), "ratio": median_ratio(values, times["cross-entropy"])}
        for label, values in times.items()
    }


def _memory_child(label: str, steps: int, threads: int, queue: Any) -> None:
    torch.set_num_threads(threads)
    inputs, targets = mnist_batch(128)
    held_out = mnist_batch(128, seed=1)
    torch.manual_seed(0)
    model = build_model("lenet", (1, 28, 28), 10)
    criterion = nn.CrossEntropyLoss() if label == "cross-entropy" else slf_criterion(label, PAPER, model, held_out)
    step = timed_training_step(model, criterion, inputs, targets)
    step()  # the first step's lazy set-up (autograd, the allocator's pools) belongs to both
    baseline = _resident_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current resident size
    for _ in range(steps):
        step()
    queue.put((label, baseline, _resident_kib("VmHWM")))


def _resident_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def memory_part(steps: int, threads: int) -> Dict[str, Dict[str, float]]:
    """Peak resident memory of LeNet's training (batch 128), each variant in a fresh process."""
    if not Path("/proc/self/clear_refs").exists():
        raise RuntimeError(
            "the memory part reads /proc/self/status and resets it through /proc/self/clear_refs "
            "(Linux); leave 'memory' out of --parts here"
        )
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    peaks = {}
    for label in ("cross-entropy", DEFAULT_SETTLED, DEFAULT_WEIGHING, JOINT):
        child = context.Process(target=_memory_child, args=(label, steps, threads, queue))
        child.start()
        _, baseline, peak = queue.get(timeout=600)
        child.join()
        peaks[label] = {"before_kib": baseline, "peak_kib": peak}
    ce = peaks["cross-entropy"]
    for row in peaks.values():
        row["ratio"] = row["peak_kib"] / ce["peak_kib"]
        row["step_ratio"] = (row["peak_kib"] - row["before_kib"]) / max(ce["peak_kib"] - ce["before_kib"], 1)
    return peaks


# The SLF paper's other DAC baselines as the report's DAC section trains them (benchmarks/dac_seeds.py); the
# curriculum's growth over the run's first half does not change a step's work (a k-th value per batch).
DAC_PEERS: Dict[str, Dict[str, Any]] = {
    "DAC + L4": dict(loss="l4"),
    "DAC + Smooth": dict(loss="smooth01"),
    "DAC + ARLF": dict(loss="adaptive_robust"),
    "DAC + curriculum": dict(loss="self_paced", loss_options={"base": "bce", "start_fraction": 0.5}),
}


def dac_part(rounds: int, warmup: int, block: int = 1) -> Dict[str, float]:
    """One DAC training step (augmentation aside) of SLF against BCE on a real MNIST batch."""
    from slf_dac.cluster_data import load_cluster_data
    from slf_dac.train_dac import DACConfig

    data = load_cluster_data("mnist5k")
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(data), generator=generator)
    batches = [data.images[order[i * 128 : (i + 1) * 128]] for i in range(4)]
    width = 16  # the network of the report's DAC section (benchmarks/dac_seeds.py --width)
    configs = {
        "BCE": DACConfig(width=width),
        DEFAULT_SETTLED: DACConfig(width=width, loss="slf", slf_options={"alignment": SETTLED}),
        DEFAULT_WEIGHING: DACConfig(width=width, loss="slf", slf_options={"alignment": WEIGHING}),
        JOINT: DACConfig(width=width, loss="slf", slf_mode="joint"),
        **{label: DACConfig(width=width, **options) for label, options in DAC_PEERS.items()},
    }
    steps = dac_training_steps(configs, batches, data.num_clusters)
    times = interleaved_times(steps, rounds, warmup, block, shuffle=True)
    return {
        "bce_ms": 1e3 * statistics.median(times["BCE"]),
        **{label: median_ratio(times[label], times["BCE"]) for label in configs if label != "BCE"},
    }


def mmdet_part(rounds: int, warmup: int, block: int = 1) -> Dict[str, Any]:
    """``benchmarks/mmdet_yolo.py``'s iteration timing on the DeepForest tiles (the shipped configs)."""
    from mmdet_yolo import time_iterations

    import slf_mmdet  # noqa: F401  (registers the SLF head and hook)
    from slf_mmdet.deepforest_tiles import prepare_deepforest_voc

    return time_iterations(str(prepare_deepforest_voc(ROOT / "data/deepforest")) + "/", rounds, warmup, block)


def fairseq_part(rounds: int, warmup: int, block: int = 1) -> Dict[str, Any]:
    """``benchmarks/fairseq_slf.py``'s words-per-second timing on the Ding corpus."""
    from fairseq_slf import words_per_second

    from slf_fairseq.ding_prepare import prepare_ding

    return words_per_second(prepare_ding(ROOT / "data/ding"), rounds, warmup, block)


def per_candidate_slopes(by_count: Mapping[str, Mapping[str, float]]) -> Dict[str, float]:
    """The least-squares slope of each variant's ratio against the number of candidates."""
    counts = [int(n) for n in by_count]
    if len(counts) < 2:
        return {}
    variants = [key for key in next(iter(by_count.values())) if key != "ce_ms"]
    return {
        variant: float(np.polyfit(counts, [row[variant] for row in by_count.values()], 1)[0]) for variant in variants
    }


def _check(
    name: str, recipe: str, ratio: Optional[float], goal: Optional[float], higher_is_better: bool = False
) -> Optional[Dict[str, Any]]:
    """One row of ``checks``; ``goal`` None: measured beside the others, the issue sets no goal for it."""
    if ratio is None:
        return None
    if goal is None:
        return {"name": name, "recipe": recipe, "ratio": ratio, "goal": None, "met": None}
    met = ratio >= goal if higher_is_better else ratio <= goal
    return {
        "name": name,
        "recipe": recipe,
        "ratio": ratio,
        "goal": f"{'>=' if higher_is_better else '<='} {goal:g}",
        "met": bool(met),
    }


def checks(parts: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """Every ratio of the cost issue's goals that the run measured, with its goal and whether it is met."""
    rows: List[Optional[Dict[str, Any]]] = []
    lenet, batch = parts.get("lenet", {}), parts.get("batch", {})
    for state, label in (("settled", DEFAULT_SETTLED), ("weighing", DEFAULT_WEIGHING)):
        rows.append(_check(f"LeNet batch 128 step / CE, {state}", "default", lenet.get(label, {}).get("ratio"), 1.2))
        for size in ("32", "128"):
            rows.append(_check(f"MLP batch {size} step / CE, {state}", "default", batch.get(size, {}).get(label), 1.5))
        rows.append(_check(f"DAC step / BCE, {state}", "default", parts.get("dac", {}).get(label), 1.3))
    if "mmdet" in parts:
        rows.append(
            _check("YOLOv3 iteration / stock (weighs its parts throughout)", "default", parts["mmdet"]["ratio"], 1.02)
        )
    if "fairseq" in parts:
        rows.append(
            _check(
                "fairseq words/s / label smoothing, settled",
                "default",
                parts["fairseq"]["ratio_held"],
                0.95,
                higher_is_better=True,
            )
        )
        rows.append(
            _check(
                "fairseq words/s / label smoothing, weighing",
                "default",
                parts["fairseq"]["ratio"],
                0.95,
                higher_is_better=True,
            )
        )
    rows.append(_check("LeNet batch 128 step / CE", "joint", lenet.get(JOINT, {}).get("ratio"), 1.03))
    rows.append(_check("MLP batch 32 step / CE", "joint", batch.get("32", {}).get(JOINT), 1.3))
    large = [row[JOINT] for size, row in batch.items() if int(size) >= 512]
    if large:
        rows.append(_check("MLP step / CE, the largest over batches >= 512", "joint", max(large), 1.05))
    if "dac" in parts:
        rows.append(_check("DAC step / BCE", "joint", parts["dac"][JOINT], None))
    if "mmdet" in parts:
        rows.append(_check("YOLOv3 iteration / stock", "joint", parts["mmdet"]["ratio_literal"], None))
    if "fairseq" in parts:
        rows.append(_check("fairseq words/s / label smoothing", "joint", parts["fairseq"]["ratio_joint"], None))
    for variant, slope in parts.get("per_candidate", {}).items():
        recipe = "joint" if variant == JOINT else "default"
        state = "" if variant == JOINT else ", " + variant.split(", ")[1]
        rows.append(_check(f"each added candidate (MLP batch 128){state}", recipe, slope, 0.02))
    for label, row in parts.get("memory", {}).items():
        if label != "cross-entropy":
            recipe = "joint" if label == JOINT else "default"
            state = "" if label == JOINT else ", " + label.split(", ")[1]
            rows.append(_check(f"peak resident memory / CE (LeNet batch 128){state}", recipe, row["ratio"], 1.1))
    return [row for row in rows if row is not None]


def plot(parts: Mapping[str, Any], path: Path) -> Optional[Path]:
    """The overhead against batch size, number of candidates and model size, one panel each."""
    panels = [
        (key, title)
        for key, title in (
            ("batch", "batch size (MLP, 6 candidates)"),
            ("candidates", "candidates (MLP, batch 128)"),
            ("model", "parameters (MLP, batch 128)"),
        )
        if parts.get(key)
    ]
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), squeeze=False)
    for axis, (key, title) in zip(axes[0], panels):
        rows = parts[key]
        xs = [row["parameters"] for row in rows.values()] if key == "model" else [int(x) for x in rows]
        for label, marker in ((DEFAULT_SETTLED, "o-"), (DEFAULT_WEIGHING, "s-"), (JOINT, "^-")):
            axis.plot(xs, [row[label] for row in rows.values()], marker, label=label)
        if key != "candidates":
            axis.set_xscale("log", base=2 if key == "batch" else 10)
        axis.axhline(1.0, color="grey", lw=0.8)
        axis.set_xlabel(title)
        axis.set_ylabel("step time / cross-entropy step")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("SLF's step-time overhead on CPU (median of interleaved rounds)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--rounds", type=int, default=100, help="interleaved rounds of the CPU parts")
    parser.add_argument("--host-rounds", type=int, default=40, help="interleaved rounds of mmdet and fairseq")
    parser.add_argument(
        "--block",
        type=int,
        default=9,
        help="steps in a row per variant and round in the CPU parts (the mean of all but the first is kept; "
        "8 hold whole periods of the held-out batch every 4th step)",
    )
    parser.add_argument(
        "--host-block", type=int, default=5, help="steps in a row per variant and round in mmdet and fairseq"
    )
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128, 512, 2048, 4096])
    parser.add_argument("--candidate-counts", type=int, nargs="+", default=[2, 4, 6, 8, 12, 16])
    parser.add_argument(
        "--widths",
        type=int,
        nargs="+",
        default=[64, 256, 1024, 4096],
        help="first hidden width of the model-size sweep's MLP (the second is half)",
    )
    parser.add_argument("--memory-steps", type=int, default=20)
    parser.add_argument("--no-compile", action="store_true", help="skip LeNet's torch.compile variant")
    parser.add_argument("--out", type=Path, default=ROOT / "runs/cost")
    args = parser.parse_args()
    pool, names = candidate_pool()
    wrong = [n for n in args.candidate_counts if not 1 <= n <= len(pool)]
    if wrong:
        parser.error(f"--candidate-counts {wrong}: choose from 1 to {len(pool)} ({', '.join(names)})")
    for option in ("rounds", "host_rounds", "block", "host_block", "memory_steps", "threads"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1, got {getattr(args, option)}")
    if min(args.batch_sizes + args.widths) < 2:
        parser.error("--batch-sizes and --widths must be at least 2")
    torch.set_num_threads(args.threads)

    parts: Dict[str, Any] = {}
    bar = tqdm(args.parts, desc="cost parts", unit="part")
    for part in bar:
        bar.set_postfix(part=part)
        if part == "lenet":
            parts["lenet"] = lenet_part(args.rounds, args.warmup, not args.no_compile, args.block)
        elif part == "batch":
            parts["batch"] = {
                str(b): step_ratios(
                    lambda: build_model("mlp", (1, 28, 28), 10),
                    PAPER,
                    b,
                    args.rounds,
                    args.warmup,
                    (DEFAULT_SETTLED, DEFAULT_WEIGHING, WEIGHING_EVERY_4, WEIGHING_DRAW_EVERY_4, JOINT),
                    args.block,
                )
                for b in args.batch_sizes
            }
        elif part == "candidates":
            parts["candidates"] = {
                str(n): step_ratios(
                    lambda: build_model("mlp", (1, 28, 28), 10),
                    pool[:n],
                    128,
                    args.rounds,
                    args.warmup,
                    block=args.block,
                )
                for n in args.candidate_counts
            }
            parts["per_candidate"] = per_candidate_slopes(parts["candidates"])
        elif part == "model":
            parts["model"] = {}
            for width in args.widths:
                hidden = (width, width // 2)
                row = step_ratios(
                    lambda: MLP((1, 28, 28), 10, hidden), PAPER, 128, args.rounds, args.warmup, block=args.block
                )
                row["parameters"] = sum(p.numel() for p in MLP((1, 28, 28), 10, hidden).parameters())
                parts["model"][str(width)] = row
        elif part == "memory":
            parts["memory"] = memory_part(args.memory_steps, args.threads)
        elif part == "dac":
            parts["dac"] = dac_part(args.rounds, args.warmup, args.block)
        elif part == "mmdet":
            parts["mmdet"] = mmdet_part(args.host_rounds, 3, args.host_block)
            torch.set_num_threads(args.threads)
        elif part == "fairseq":
            parts["fairseq"] = fairseq_part(args.host_rounds, 3, args.host_block)
            torch.set_num_threads(args.threads)
    report = {
        "settings": {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()},
        "machine": f"{platform.machine()}, {multiprocessing.cpu_count()} cores, torch {torch.__version__}",
        "candidate_pool": names,
        "checks": checks(parts),
        "parts": parts,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cost.json").write_text(json.dumps(report, indent=1))
    figure = plot(parts, args.out / "cost.png")
    from _report import cost_table

    print("\n" + cost_table(report))
    print(f"\nwrote {args.out / 'cost.json'}" + (f", {figure}" if figure else ""))


if __name__ == "__main__":
    main()
