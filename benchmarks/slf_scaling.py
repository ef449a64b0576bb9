"""How SLF's step overhead grows: SLF / cross-entropy step-time ratio against batch size and candidates.

The MNIST MLP (28x28 inputs, 10 classes), SGD, CPU; each ratio is the median over
interleaved rounds (a CE step, then each SLF step) so all variants see the same machine
state. Two sweeps:

- batch size 32 ... 4096 with the paper's six candidates, SLF joint (the default fused
  block) and SLF validation (one-step look-ahead on a held-out batch of the same size);
- number of candidates 2 ... 16 at batch 128, SLF joint: every classification loss of the
  registry that reads logits (15), then focal loss at a second gamma (0.5) as the 16th.

Prints both tables and writes ``--out/slf_scaling.json`` and ``--out/slf_scaling.png``.

    python benchmarks/slf_scaling.py --threads 2 --rounds 30
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Dict, List, Sequence, Tuple, Union

import torch
from torch import nn
from tqdm import tqdm

from slf import StochasticLoss, losses
from slf.models import build_model

from _timing import interleaved_times, median_ratio, timed_training_step

PAPER = ("ce", "mse", "mae", "hinge", "cosine", "bce")


def logit_candidates() -> List[str]:
    """Every classification loss that reads logits, the paper's six first."""
    others = [name for name in losses.available("classification")
              if getattr(losses.resolve(name, "classification"), "input_kind", "logits") == "logits"
              and name not in PAPER]
    return [*PAPER, *others]


def candidate_pool() -> Tuple[List[Union[str, nn.Module]], List[str]]:
    """The candidates of the count sweep and their labels: the registry's logit losses, then focal at gamma 0.5."""
    names = logit_candidates()
    second_focal = losses.build("focal", gamma=0.5, reduction="none")
    second_focal.registry_name = "focal(gamma=0.5)"  # StochasticLoss names a module candidate by this
    return [*names, second_focal], [*names, second_focal.registry_name]


def ratios(batch_size: int, candidates: Sequence[Union[str, nn.Module]], modes: Sequence[str], rounds: int, warmup: int
           ) -> Dict[str, float]:
    torch.manual_seed(0)
    model = build_model("mlp", (1, 28, 28), 10)
    x, y = torch.randn(batch_size, 1, 28, 28), torch.randint(0, 10, (batch_size,))
    held = (torch.randn(batch_size, 1, 28, 28), torch.randint(0, 10, (batch_size,)))
    steps = {"ce": timed_training_step(model, nn.CrossEntropyLoss(), x, y)}
    for mode in modes:
        crit = StochasticLoss(list(candidates), mode=mode, seed=0)
        steps[mode] = timed_training_step(model, crit, x, y, held if mode == "validation" else ())
    times = interleaved_times(steps, rounds, warmup)
    return {mode: median_ratio(times[mode], times["ce"]) for mode in modes} | {
        "ce_ms": 1000 * sorted(times["ce"])[len(times["ce"]) // 2]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128, 512, 2048, 4096])
    parser.add_argument("--candidate-counts", type=int, nargs="+", default=[2, 4, 6, 8, 12, 16])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("runs/slf_scaling"))
    args = parser.parse_args()
    pool, names = candidate_pool()
    too_many = [n for n in args.candidate_counts if not 1 <= n <= len(pool)]
    if too_many:
        parser.error(f"--candidate-counts {too_many}: choose from 1 to {len(pool)} ({', '.join(names)})")
    torch.set_num_threads(args.threads)

    by_batch = {b: ratios(b, PAPER, ("joint", "validation"), args.rounds, args.warmup)
                for b in tqdm(args.batch_sizes, desc="batch sizes", unit="size")}
    by_count = {n: ratios(128, pool[:n], ("joint",), args.rounds, args.warmup)
                for n in tqdm(args.candidate_counts, desc="candidate counts", unit="count")}

    print(f"\nMLP, CPU, {args.threads} threads, median of {args.rounds} interleaved rounds\n")
    print("| batch | CE step (ms) | SLF joint / CE | SLF validation / CE |\n|---|---|---|---|")
    for b, r in by_batch.items():
        print(f"| {b} | {r['ce_ms']:.2f} | {r['joint']:.3f} | {r['validation']:.3f} |")
    print("\n| candidates (batch 128) | SLF joint / CE |\n|---|---|")
    for n, r in by_count.items():
        print(f"| {n} ({', '.join(names[:n]) if n <= 6 else '+ ' + ', '.join(names[6:n])}) | {r['joint']:.3f} |")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    sizes = list(by_batch)
    left.plot(sizes, [by_batch[b]["joint"] for b in sizes], "o-", label="SLF joint")
    left.plot(sizes, [by_batch[b]["validation"] for b in sizes], "s-", label="SLF validation")
    left.set_xscale("log", base=2)
    left.set_xlabel("batch size (6 candidates)")
    left.set_ylabel("step time / cross-entropy step")
    left.axhline(1.0, color="grey", lw=0.8)
    left.legend()
    counts = list(by_count)
    right.plot(counts, [by_count[n]["joint"] for n in counts], "o-", label="SLF joint (batch 128)")
    right.set_xlabel("number of candidate losses")
    right.axhline(1.0, color="grey", lw=0.8)
    right.legend()
    fig.suptitle("SLF step-time overhead, MLP on CPU")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "slf_scaling.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    (args.out / "slf_scaling.json").write_text(json.dumps(
        {"threads": args.threads, "rounds": args.rounds, "candidates": names, "by_batch": by_batch,
         "by_count": by_count}, indent=1))
    print(f"\nwrote {path}, {args.out / 'slf_scaling.json'}")


if __name__ == "__main__":
    main()
