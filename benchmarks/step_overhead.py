"""Median step-time ratio of an SLF training step to a cross-entropy step.

LeNet on 28x28 inputs, batch 128, CPU, interleaved runs (CE step, SLF step, CE step, ...)
so that both see the same machine state: SLF's default recipe while it holds cross-entropy
(clean data) and while it weighs the candidates (label noise), and the literal joint update.
Goal: <= 1.03 (joint), 1.2 (the default recipe).

    python benchmarks/step_overhead.py --steps 200 --threads 2

Writes the figures to ``--out/step_overhead.json``.
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch
from torch import nn

from slf import HeldOut, StochasticLoss
from slf.models import build_model

from _timing import (add_step_timing_options, interleaved_times, median_ratio, synthetic_mnist_batch,
                     timed_training_step, write_timing_json)


def per_candidate_backward(criterion: StochasticLoss) -> StochasticLoss:
    criterion.learner.batched_gradients = False
    return criterion


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_step_timing_options(parser, rounds=200)
    parser.add_argument("--samples", type=int, default=3, help="K")
    parser.add_argument("--candidates", default="ce,mse,mae,hinge,cosine,bce")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    parser.add_argument("--out", type=Path, default=Path("runs/step_overhead"))
    args = parser.parse_args()
    inputs, targets = synthetic_mnist_batch(args)
    names = args.candidates.split(",")
    held_out = [(torch.randn(args.batch_size, 1, 28, 28), torch.randint(0, 10, (args.batch_size,)))]
    # The default recipe in its two states, as the plain trainers run it (held-out batches from
    # HeldOut): holding cross-entropy, settled (clean data: the training loss at most the
    # held-out one for gap_patience steps; forced here by a gap no loss exceeds, settled from the
    # first step) and weighing the candidates (label noise seen; forced by a gap every loss exceeds).
    holding, weighing = {"gap": 1e9, "gap_patience": 1}, {"gap": 1e-9, "gap_patience": 1}
    variants = {
        "cross-entropy": lambda model: nn.CrossEntropyLoss(),
        "SLF default, holding CE (clean)": lambda model: StochasticLoss(
            names, held_out=HeldOut(model, held_out), alignment=holding),
        "SLF default, holding, held-out each step": lambda model: StochasticLoss(
            names, held_out=HeldOut(model, held_out), alignment={**holding, "held_interval": 1}),
        "SLF default, weighing (noise)": lambda model: StochasticLoss(
            names, held_out=HeldOut(model, held_out), alignment=weighing),
        # The same with one backward per candidate for their gradients, as before the vectorised one.
        "SLF default, weighing, per-cand.": lambda model: per_candidate_backward(
            StochasticLoss(names, held_out=HeldOut(model, held_out), alignment=weighing)),
        "SLF joint, unfused": lambda model: StochasticLoss(names, mode="joint", num_samples=args.samples, seed=0,
                                                           fused=False),
        "SLF joint, fused": lambda model: StochasticLoss(names, mode="joint", num_samples=args.samples, seed=0),
    }
    if not args.no_compile:
        variants["SLF joint, compile=True"] = lambda model: StochasticLoss(names, mode="joint", num_samples=args.samples,
                                                                          seed=0, compile=True)
    steps = {}
    for label, build in variants.items():
        torch.manual_seed(0)
        model = build_model(args.model, (1, 28, 28), 10)
        steps[label] = timed_training_step(model, build(model), inputs, targets)
    times = interleaved_times(steps, args.steps, args.warmup)  # warm-up includes compilation
    base = times["cross-entropy"]
    print(f"model={args.model} batch={args.batch_size} threads={args.threads} K={args.samples} "
          f"candidates={len(names)} rounds={args.steps}")
    figures = {}
    for label, values in times.items():
        ratio = median_ratio(values, base)
        figures[label] = {"median_ms": statistics.median(values) * 1e3, "ratio": ratio}
        print(f"{label:32s} median step {figures[label]['median_ms']:7.2f} ms   "
              f"median ratio to cross-entropy {ratio:.3f}")
    print("goal: ratio <= 1.03")
    write_timing_json(args, "step_overhead", figures)


if __name__ == "__main__":
    main()
