"""Step-time ratio of a MILS training step to a primary-only (cross-entropy) step.

LeNet on random 28x28 inputs, batch 128, CPU, SGD with momentum, interleaved rounds
(plain step, MILS r=0.01 step, MILS r=0.1 step, plain step, ...) so that every variant
sees the same machine state. MILS uses ce + multi_margin with an observation set of one
batch (128 samples). Prints the median of the per-round ratios (the cost of an ordinary
step; goal <= 1.02 at r = 0.01) and the ratio of mean step times (which also counts the
occasional auxiliary attempt: snapshot, two observation passes, maybe a restore).

    python benchmarks/mils_overhead.py --steps 300 --threads 2

Writes the figures to ``--out/mils_overhead.json``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Callable, Dict, List

import torch

from slf import MILS, losses
from slf.models import build_model

from _timing import add_step_timing_options, interleaved_times, median_ratio, synthetic_mnist_batch, write_timing_json


def make_plain(inputs: torch.Tensor, targets: torch.Tensor, model_name: str) -> Callable[[], float]:
    torch.manual_seed(0)
    model = build_model(model_name, (1, 28, 28), 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    criterion = losses.build("ce")  # the same primary loss module MILS uses

    def step() -> float:
        start = time.perf_counter()
        optimizer.zero_grad()
        criterion(model(inputs), targets).backward()
        optimizer.step()
        return time.perf_counter() - start

    return step


def make_mils(
    inputs: torch.Tensor, targets: torch.Tensor, model_name: str, rate: float, aux: List[str]
) -> Callable[[], float]:
    torch.manual_seed(0)
    model = build_model(model_name, (1, 28, 28), 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    g = torch.Generator().manual_seed(1)
    x_obs, y_obs = torch.randn(128, 1, 28, 28, generator=g), torch.randint(0, 10, (128,), generator=g)
    mils = MILS(model, optimizer, "ce", aux, rate=rate, observation=(x_obs, y_obs), seed=0)

    def step() -> float:
        start = time.perf_counter()
        mils.step(inputs, targets)
        return time.perf_counter() - start

    step.mils = mils  # type: ignore[attr-defined]
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_step_timing_options(parser, rounds=300)
    parser.add_argument("--aux", default="multi_margin", help="comma-separated auxiliary losses")
    parser.add_argument("--rates", default="0.01,0.1")
    parser.add_argument("--out", type=Path, default=Path("runs/mils_overhead"))
    args = parser.parse_args()
    inputs, targets = synthetic_mnist_batch(args)
    aux = args.aux.split(",")
    steps: Dict[str, Callable[[], float]] = {"primary only": make_plain(inputs, targets, args.model)}
    for rate in (float(r) for r in args.rates.split(",")):
        steps[f"MILS r={rate:g}"] = make_mils(inputs, targets, args.model, rate, aux)
    times = interleaved_times(steps, args.steps, args.warmup)
    base = times["primary only"]
    print(
        f"model={args.model} batch={args.batch_size} threads={args.threads} aux={aux} rounds={args.steps} "
        f"observation=128 samples"
    )
    figures = {}
    for label, values in times.items():
        ratio = median_ratio(values, base)
        mean_ratio = statistics.fmean(values) / statistics.fmean(base)
        figures[label] = {"median_ms": statistics.median(values) * 1e3, "median_ratio": ratio, "mean_ratio": mean_ratio}
        line = (
            f"{label:14s} median step {statistics.median(values) * 1e3:7.2f} ms  "
            f"median ratio {ratio:.3f}  mean ratio {mean_ratio:.3f}"
        )
        mils = getattr(steps[label], "mils", None)
        if mils is not None:
            stats = mils.stats()
            line += (
                f"  attempts {stats['attempted_total']} accepted {stats['accepted_total']} "
                f"MILS seconds {stats['seconds']:.3f}"
            )
            figures[label].update(attempted=stats["attempted_total"], accepted=stats["accepted_total"])
        print(line)
    print("goal: median ratio <= 1.02 at r = 0.01")
    write_timing_json(args, "mils_overhead", figures)


if __name__ == "__main__":
    main()
