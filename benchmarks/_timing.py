"""Interleaved step timing shared by the overhead benchmarks."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Tuple

import torch
from torch import nn

from slf import StochasticLoss


def add_step_timing_options(parser: argparse.ArgumentParser, rounds: int) -> None:
    """The options of a benchmark that times one model's training steps on a synthetic batch:
    ``--steps`` (interleaved rounds), ``--warmup``, ``--batch-size``, ``--threads``, ``--model``."""
    parser.add_argument("--steps", type=int, default=rounds, help="interleaved rounds")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default="lenet")


def synthetic_mnist_batch(args: argparse.Namespace) -> Tuple[torch.Tensor, torch.Tensor]:
    """Set torch's threads from ``args.threads``, seed it, and draw one MNIST-shaped batch
    (``args.batch_size`` images of 1 x 28 x 28, labels in 0-9)."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    return torch.randn(args.batch_size, 1, 28, 28), torch.randint(0, 10, (args.batch_size,))


def interleaved_times(steps: Mapping[str, Callable[[], float]], rounds: int, warmup: int) -> Dict[str, List[float]]:
    """Run every step once per round, in turn, so all variants see the same machine state.

    Each step returns its own duration in seconds; ``warmup`` rounds (compilation, caches)
    are discarded.
    """
    for _ in range(warmup):
        for step in steps.values():
            step()
    times: Dict[str, List[float]] = {label: [] for label in steps}
    for _ in range(rounds):
        for label, step in steps.items():
            times[label].append(step())
    return times


def median_ratio(values: List[float], base: List[float]) -> float:
    """Median over rounds of the per-round ratio ``value / base``."""
    return statistics.median(v / b for v, b in zip(values, base))


def timed_training_step(
    model: nn.Module, criterion: nn.Module, inputs: torch.Tensor, targets: torch.Tensor
) -> Callable[[], float]:
    """One SGD training step on a fixed batch, returning its duration."""
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


def write_timing_json(args: argparse.Namespace, name: str, figures: Mapping[str, Any]) -> Path:
    """Write ``args.out/<name>.json`` with the command's settings and each variant's figures."""
    args.out.mkdir(parents=True, exist_ok=True)
    settings = {key: (str(value) if isinstance(value, Path) else value) for key, value in vars(args).items()}
    path = args.out / f"{name}.json"
    path.write_text(json.dumps({"settings": settings, "variants": figures}, indent=1))
    return path
