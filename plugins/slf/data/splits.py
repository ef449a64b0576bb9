"""Seed-determined stratified splits and the :class:`DatasetSplits` container."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import TensorDataset


@dataclass
class DatasetSplits:
    """Train, validation and test splits of one classification data set.

    Each split is a ``TensorDataset(inputs, labels)`` with float32 images of shape
    ``(N, *input_shape)`` (or feature vectors, ``input_shape == (F,)``), standardised with
    the training split's per-channel (per-feature) mean and std, and int64 labels.

    Attributes:
        train: the training split.
        val: the validation split (for model selection and SLF's validation mode).
        test: the test split.
        num_classes: number of classes.
        input_shape: ``(channels, height, width)`` of one image, or ``(features,)``.
        name: the data set's name, e.g. ``'mnist5k'``.
        mean: per-channel mean used to standardise (training split, pixels in [0, 1]).
        std: per-channel std used to standardise.
        classes: the class names in index order, where the data has them (a CSV's labels).
        feature_names: a table's feature columns, in input order.

    Example:
        >>> from slf.data import load_dataset
        >>> splits = load_dataset("digits", seed=0)
        >>> splits.train.tensors[0].shape[1:], splits.num_classes
        (torch.Size([1, 8, 8]), 10)
    """

    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    num_classes: int
    input_shape: Tuple[int, ...]
    name: str
    mean: Tuple[float, ...] = field(default_factory=tuple)
    std: Tuple[float, ...] = field(default_factory=tuple)
    classes: Tuple[str, ...] = field(default_factory=tuple)
    feature_names: Tuple[str, ...] = field(default_factory=tuple)

    def sizes(self) -> Tuple[int, int, int]:
        """Number of samples in (train, val, test)."""
        return len(self.train), len(self.val), len(self.test)


def stratified_order(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random order of ``labels``' indices in which every prefix is stratified.

    Samples are shuffled, then ranked by their position within their own class
    relative to the class size, so that any prefix of length ``m`` holds each class in
    proportion to its frequency (to within one sample). Cutting this order into
    consecutive pieces gives disjoint stratified splits of exact sizes.

    Args:
        labels: integer labels, shape ``(N,)``.
        rng: the random generator that fixes the order.

    Example:
        >>> order = stratified_order(np.repeat(np.arange(3), 4), np.random.default_rng(0))
        >>> sorted(np.repeat(np.arange(3), 4)[order[:3]].tolist())
        [0, 1, 2]
    """
    labels = np.asarray(labels)
    shuffled = rng.permutation(len(labels))
    shuffled_labels = labels[shuffled]
    rank_in_class = np.empty(len(labels), dtype=np.float64)
    for label in np.unique(labels):
        members = np.flatnonzero(shuffled_labels == label)
        rank_in_class[members] = (np.arange(len(members)) + 0.5) / len(members)
    # Stable sort keeps the random order among samples that share a relative rank.
    return shuffled[np.argsort(rank_in_class, kind="stable")]


def split_indices(
    labels: np.ndarray, sizes: Sequence[Optional[int]], seed: int
) -> Tuple[np.ndarray, ...]:
    """Disjoint, stratified, shuffled index sets of the requested sizes.

    Args:
        labels: integer labels, shape ``(N,)``.
        sizes: one size per split; the last may be ``None`` for "all the rest".
        seed: fixes the split.

    Returns:
        one index array per size, each in random order.

    Example:
        >>> test, rest = split_indices(np.repeat(np.arange(2), 5), [4, None], seed=0)
        >>> len(test), len(rest), np.bincount(np.repeat(np.arange(2), 5)[test]).tolist()
        (4, 6, [2, 2])
    """
    rng = np.random.default_rng(seed)
    fixed = [s for s in sizes if s is not None]
    if any(s < 0 for s in fixed):
        raise ValueError(f"split sizes must be non-negative, got {list(sizes)}")
    if sum(fixed) > len(labels):
        raise ValueError(
            f"split sizes {list(sizes)} ask for {sum(fixed)} samples but only {len(labels)} exist"
        )
    order = stratified_order(labels, rng)
    pieces, start = [], 0
    for size in sizes:
        stop = len(order) if size is None else start + size
        # The stratified order is interleaved by class; shuffle each piece so that no
        # split keeps a visible pattern.
        pieces.append(rng.permutation(order[start:stop]))
        start = stop
    return tuple(pieces)


def channel_stats(images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of ``(N, C, H, W)`` images, or per-feature of ``(N, F)``
    vectors (std floored at 1e-6)."""
    dims = (0,) if images.dim() == 2 else (0, 2, 3)
    mean = images.mean(dim=dims)
    std = images.std(dim=dims).clamp_min(1e-6)
    return mean, std


def make_splits(
    name: str,
    images: torch.Tensor,
    labels: torch.Tensor,
    index_sets: Tuple[np.ndarray, np.ndarray, np.ndarray],
    num_classes: int,
    test_images: Optional[torch.Tensor] = None,
    test_labels: Optional[torch.Tensor] = None,
) -> DatasetSplits:
    """Standardise with training statistics and wrap each split in a ``TensorDataset``.

    Args:
        name: the data set's name.
        images: float images in [0, 1], shape ``(N, C, H, W)``, or feature vectors ``(N, F)``.
        labels: int64 labels, shape ``(N,)``.
        index_sets: (train, val, test) indices into ``images``; the test indices index
            ``test_images`` instead when it is given.
        num_classes: number of classes.
        test_images: a separate test pool (e.g. CIFAR's official test set).
        test_labels: its labels.
    """
    train_idx, val_idx, test_idx = (torch.as_tensor(i, dtype=torch.long) for i in index_sets)
    train_images = images[train_idx]
    mean, std = channel_stats(train_images)

    shape = (1, -1) if images.dim() == 2 else (1, -1, 1, 1)

    def standardise(x: torch.Tensor) -> torch.Tensor:
        return ((x - mean.view(shape)) / std.view(shape)).contiguous()

    pool_images = images if test_images is None else test_images
    pool_labels = labels if test_labels is None else test_labels
    return DatasetSplits(
        train=TensorDataset(standardise(train_images), labels[train_idx].clone()),
        val=TensorDataset(standardise(images[val_idx]), labels[val_idx].clone()),
        test=TensorDataset(standardise(pool_images[test_idx]), pool_labels[test_idx].clone()),
        num_classes=num_classes,
        input_shape=tuple(int(s) for s in images.shape[1:]),
        name=name,
        mean=tuple(float(m) for m in mean),
        std=tuple(float(s) for s in std),
    )
