"""Shuffled index batches over a tensor data set, for the plain trainers and the held-out draws."""

from __future__ import annotations

from typing import Iterator, Tuple

import torch
from torch import Tensor


def batches(num: int, batch_size: int, generator: torch.Generator) -> Iterator[Tensor]:
    """Index batches over a fresh random permutation of ``range(num)``.

    A final batch of one sample is dropped: BatchNorm cannot train on it.
    """
    order = torch.randperm(num, generator=generator)
    for start in range(0, num, batch_size):
        index = order[start : start + batch_size]
        if len(index) >= 2 or num == 1:
            yield index


def steps_per_epoch(num: int, batch_size: int) -> int:
    full, rest = divmod(num, batch_size)
    return full + (1 if rest >= 2 or (num == 1) else 0)


def cycle_batches(
    inputs: Tensor, targets: Tensor, batch_size: int, generator: torch.Generator
) -> Iterator[Tuple[Tensor, Tensor]]:
    """Endless held-out batches, reshuffled at every pass."""
    while True:
        for index in batches(len(targets), min(batch_size, len(targets)), generator):
            yield inputs[index], targets[index]
