"""Median step-time ratio of an SLF training step to a cross-entropy step.

LeNet on 28x28 inputs, batch 128, CPU, interleaved runs (CE step, SLF step, CE step, ...)
so that both see the same machine state. Goal: <= 1.03.

    python benchmarks/step_overhead.py --steps 200 --threads 2
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from slf import StochasticLoss
from slf.models import build_model


def make_step(model: nn.Module, criterion: nn.Module, inputs: torch.Tensor, targets: torch.Tensor):
    params = list(model.parameters())
    if isinstance(criterion, StochasticLoss):
        params += list(criterion.parameters_for_model_optimizer())
    optimizer = torch.optim.SGD(params, lr=0.01, momentum=0.9)

    def step() -> float:
        start = time.perf_counter()
        loss = criterion(model(inputs), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return time.perf_counter() - start

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default="lenet")
    parser.add_argument("--samples", type=int, default=3, help="K")
    parser.add_argument("--candidates", default="ce,mse,mae,hinge,cosine,bce")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    inputs = torch.randn(args.batch_size, 1, 28, 28)
    targets = torch.randint(0, 10, (args.batch_size,))
    baseline = make_step(build_model(args.model, (1, 28, 28), 10), nn.CrossEntropyLoss(), inputs, targets)
    crit = StochasticLoss(args.candidates.split(","), num_samples=args.samples, mode="joint", seed=0)
    slf_step = make_step(build_model(args.model, (1, 28, 28), 10), crit, inputs, targets)
    for _ in range(args.warmup):
        baseline(), slf_step()
    ratios, ce_times, slf_times = [], [], []
    for _ in range(args.steps):
        ce_time, slf_time = baseline(), slf_step()
        ce_times.append(ce_time)
        slf_times.append(slf_time)
        ratios.append(slf_time / ce_time)
    print(f"model={args.model} batch={args.batch_size} threads={args.threads} K={args.samples} "
          f"candidates={len(crit.candidate_names)} steps={args.steps}")
    print(f"cross-entropy step: median {statistics.median(ce_times) * 1e3:.2f} ms")
    print(f"SLF (joint) step:   median {statistics.median(slf_times) * 1e3:.2f} ms")
    print(f"median ratio SLF / CE (interleaved pairs): {statistics.median(ratios):.3f}  (goal <= 1.03)")


if __name__ == "__main__":
    main()
