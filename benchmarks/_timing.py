"""Interleaved step timing shared by the overhead benchmarks."""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Sequence, Tuple

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


def interleaved_times(
    steps: Mapping[str, Callable[[], float]],
    rounds: int,
    warmup: int,
    block: int = 1,
    shuffle: bool = False,
    seed: int = 0,
) -> Dict[str, List[float]]:
    """Run every step in turn, round after round, so all variants see the same machine state.

    Each step returns its own figure (its duration in seconds, or seconds per word); ``warmup``
    rounds (compilation, caches) are discarded. With ``block`` 1 and no ``shuffle`` a round runs
    each step once, in the order given. A step's time depends on what ran just before it
    (caches, the allocator's pools), so a fixed order charges each variant for its neighbour;
    with ``shuffle`` the variants take their turns in a new order each round (seeded by
    ``seed``), and with ``block`` > 1 each turn runs ``block`` steps in a row, as training does,
    and records the mean of its steps after the first (the one that pays for the switch). Make
    ``block - 1`` a multiple of any period in a variant's work (a held-out batch every 4th
    step): the mean over whole periods is its cost per step, where a median over single steps
    would leave the periodic step out.

    Example:
        >>> ticks = {"a": lambda: 1.0, "b": lambda: 2.0}
        >>> interleaved_times(ticks, rounds=2, warmup=1, block=3, shuffle=True)
        {'a': [1.0, 1.0], 'b': [2.0, 2.0]}
    """
    if block < 1:
        raise ValueError(f"block must be at least 1 step, got {block}")
    order = random.Random(seed)
    labels = list(steps)
    for _ in range(warmup):
        for step in steps.values():
            for _ in range(block):
                step()
    times: Dict[str, List[float]] = {label: [] for label in steps}
    for _ in range(rounds):
        if shuffle:
            order.shuffle(labels)
        for label in labels:
            figures = [steps[label]() for _ in range(block)]
            times[label].append(statistics.fmean(figures[1:]) if block > 1 else figures[0])
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


def dac_training_steps(
    configs: Mapping[str, Any], batches: Sequence[torch.Tensor], num_clusters: int
) -> Dict[str, Callable[[], float]]:
    """One DAC training step (augmentation aside) per configuration of ``configs`` (label -> ``DACConfig``), each
    on its own copy of DAC's network with ``num_clusters`` outputs, cycling through ``batches``; each step returns
    its seconds. A loss that learns online (AdaLFL) takes its look-ahead update first, as ``train_dac`` does."""
    from slf.train.criteria import check_online_loss_world
    from slf_dac.model import DACNet
    from slf_dac.train_dac import build_optimizer, build_pairwise_criterion, dac_pair_loss, online_loss_step

    steps = {}
    for label, cfg in configs.items():
        schedule = cfg.thresholds()
        upper, lower = schedule.upper(0), schedule.lower(0)
        torch.manual_seed(0)
        channels, height, width = batches[0].shape[1:]
        model = DACNet(channels, num_clusters, max(height, width), cfg.width)
        criterion = build_pairwise_criterion(cfg)
        learns_online = check_online_loss_world(criterion, cfg.loss, 1)
        optimizer = build_optimizer(cfg, [*model.parameters(), *criterion.parameters()])
        position = {"i": 0}

        def step(model=model, criterion=criterion, optimizer=optimizer, position=position, online=learns_online):
            images = batches[position["i"] % len(batches)]  # a new batch each step: the previous one is held out
            position["i"] += 1
            start = time.perf_counter()
            features = torch.softmax(model(images), dim=1)
            if online:
                online_loss_step(criterion, model, images, features, upper, lower)
            loss, _ = dac_pair_loss(criterion, features, upper, lower)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            return time.perf_counter() - start

        steps[label] = step
    return steps
