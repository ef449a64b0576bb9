"""scikit-learn's 1,797 real 8x8 handwritten digits."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from .splits import DatasetSplits, make_splits, split_indices

DIGITS_TEST_SIZE = 500


def load_digits_splits(
    seed: int,
    val_size: int = 500,
    test_size: Optional[int] = None,
    train_size: Optional[int] = None,
) -> DatasetSplits:
    """Stratified, seed-determined splits of ``sklearn.datasets.load_digits``.

    Pixel values 0..16 are scaled to [0, 1], reshaped to ``(N, 1, 8, 8)`` and
    standardised with the training split's mean and std.

    Args:
        seed: fixes the shuffle and the split.
        val_size: validation samples (default 500).
        test_size: test samples (default 500).
        train_size: cap on training samples (default: all the rest, 797).

    Example:
        >>> splits = load_digits_splits(seed=0)
        >>> splits.sizes(), splits.input_shape
        ((797, 500, 500), (1, 8, 8))
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    labels_np = np.asarray(bunch.target, dtype=np.int64)
    test_size = DIGITS_TEST_SIZE if test_size is None else test_size
    test_idx, val_idx, train_idx = split_indices(labels_np, [test_size, val_size, train_size], seed)
    images = torch.as_tensor(bunch.images, dtype=torch.float32).div_(16.0).reshape(-1, 1, 8, 8)
    return make_splits(
        "digits", images, torch.from_numpy(labels_np), (train_idx, val_idx, test_idx), num_classes=10
    )
