"""CIFAR-10 and CIFAR-100 from the official *python pickle* files, for users who have them.

Download ``cifar-10-python.tar.gz`` / ``cifar-100-python.tar.gz`` from
https://www.cs.toronto.edu/~kriz/cifar.html, unpack, and pass the folder
(``cifar-10-batches-py`` / ``cifar-100-python``, or the folder that holds it).
Nothing is downloaded here.
"""
from __future__ import annotations

import importlib
import pickle
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import torch

from .splits import DatasetSplits, make_splits, split_indices

CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_FILE = "test_batch"
CIFAR100_TRAIN_FILE = "train"
CIFAR100_TEST_FILE = "test"
CIFAR_VAL_SIZE = 5000

# The only globals a CIFAR batch needs: numpy array reconstruction and bytes decoding.
_ALLOWED_GLOBALS = {
    ("_codecs", "encode"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles plain data and numpy arrays only: a pickle can run arbitrary code."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name} from a CIFAR file: "
                "a CIFAR batch holds only arrays, lists and bytes"
            )
        return getattr(importlib.import_module(module), name)


def read_cifar_batch(path: Union[str, Path], label_key: bytes) -> Tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR pickle file.

    Args:
        path: the file, e.g. ``.../cifar-10-batches-py/data_batch_1``.
        label_key: ``b'labels'`` (CIFAR-10) or ``b'fine_labels'`` (CIFAR-100).

    Returns:
        images ``(N, 3, 32, 32)`` uint8 and labels ``(N,)`` int64.

    Example:
        >>> images, labels = read_cifar_batch("cifar-10-batches-py/test_batch", b"labels")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR file not found: {path}")
    with path.open("rb") as handle:
        batch: Dict = _CifarUnpickler(handle, encoding="bytes").load()
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: expected a pickled dict, got {type(batch).__name__}")
    # Files written by Python 3 may use str keys; the official ones use bytes.
    batch = {key.encode() if isinstance(key, str) else key: value for key, value in batch.items()}
    for key in (b"data", label_key):
        if key not in batch:
            raise KeyError(f"{path}: missing key {key!r}; keys present: {sorted(batch)}")
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise ValueError(
            f"{path}: expected data (N, 3072) and N labels, got data {data.shape} "
            f"and {len(labels)} labels"
        )
    return data.reshape(-1, 3, 32, 32), labels


def resolve_cifar_folder(root: Union[str, Path], subdir: str, required: List[str]) -> Path:
    """The folder holding the CIFAR files ``required``: ``root`` itself or ``root/subdir``.

    Raises:
        FileNotFoundError: ``root`` is missing, or neither folder holds every file (the message names the missing ones).

    Example:
        >>> resolve_cifar_folder("/nonexistent", "cifar-10-batches-py", ["test_batch"])
        Traceback (most recent call last):
        ...
        FileNotFoundError: CIFAR folder not found: /nonexistent
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"CIFAR folder not found: {root}")
    for folder in (root, root / subdir):
        if all((folder / name).is_file() for name in required):
            return folder
    folder = root / subdir if (root / subdir).is_dir() else root
    missing = [name for name in required if not (folder / name).is_file()]
    raise FileNotFoundError(
        f"CIFAR folder {folder} lacks {', '.join(missing)} (expected the python-pickle "
        f"files {', '.join(required)})"
    )


def _load(
    name: str,
    train_files: List[Path],
    test_file: Path,
    label_key: bytes,
    num_classes: int,
    seed: int,
    val_size: int,
    test_size: Optional[int],
    train_size: Optional[int],
) -> DatasetSplits:
    parts = [read_cifar_batch(path, label_key) for path in train_files]
    train_images = np.concatenate([images for images, _ in parts])
    train_labels = np.concatenate([labels for _, labels in parts])
    test_images, test_labels = read_cifar_batch(test_file, label_key)
    for labels, what in ((train_labels, "training"), (test_labels, "test")):
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"{name}: {what} labels outside [0, {num_classes})")
    val_idx, train_idx = split_indices(train_labels, [val_size, train_size], seed)
    if test_size is None:
        test_idx = np.arange(len(test_labels))
    else:
        (test_idx,) = split_indices(test_labels, [min(test_size, len(test_labels))], seed)
    return make_splits(
        name,
        torch.from_numpy(train_images).float().div_(255.0),
        torch.from_numpy(train_labels),
        (train_idx, val_idx, test_idx),
        num_classes=num_classes,
        test_images=torch.from_numpy(test_images).float().div_(255.0),
        test_labels=torch.from_numpy(test_labels),
    )


def load_cifar10(
    root: Union[str, Path],
    seed: int,
    val_size: int = CIFAR_VAL_SIZE,
    test_size: Optional[int] = None,
    train_size: Optional[int] = None,
) -> DatasetSplits:
    """CIFAR-10: the official test set as test, a stratified validation split carved from train.

    Args:
        root: ``cifar-10-batches-py`` (``data_batch_1`` .. ``data_batch_5``, ``test_batch``)
            or the folder holding it.
        seed: fixes the validation split (and a test subset, if ``test_size`` is given).
        val_size: validation samples taken from the 50,000 training images.
        test_size: ``None`` for the whole official test set, else a stratified subset.
        train_size: cap on training samples (default: all the rest).

    Example:
        >>> splits = load_cifar10("data/cifar-10-batches-py", seed=0)  # doctest: +SKIP
        >>> splits.sizes()  # doctest: +SKIP
        (45000, 5000, 10000)
    """
    folder = resolve_cifar_folder(root, "cifar-10-batches-py", [*CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE])
    return _load(
        "cifar10", [folder / f for f in CIFAR10_TRAIN_FILES], folder / CIFAR10_TEST_FILE,
        b"labels", 10, seed, val_size, test_size, train_size,
    )


def load_cifar100(
    root: Union[str, Path],
    seed: int,
    val_size: int = CIFAR_VAL_SIZE,
    test_size: Optional[int] = None,
    train_size: Optional[int] = None,
) -> DatasetSplits:
    """CIFAR-100 (fine labels): official test set as test, validation carved from train.

    Args:
        root: ``cifar-100-python`` (files ``train`` and ``test``) or the folder holding it.
        seed: fixes the validation split (and a test subset, if ``test_size`` is given).
        val_size: validation samples taken from the 50,000 training images.
        test_size: ``None`` for the whole official test set, else a stratified subset.
        train_size: cap on training samples (default: all the rest).

    Example:
        >>> splits = load_cifar100("data/cifar-100-python", seed=0)  # doctest: +SKIP
        >>> splits.num_classes  # doctest: +SKIP
        100
    """
    folder = resolve_cifar_folder(root, "cifar-100-python", [CIFAR100_TRAIN_FILE, CIFAR100_TEST_FILE])
    return _load(
        "cifar100", [folder / CIFAR100_TRAIN_FILE], folder / CIFAR100_TEST_FILE,
        b"fine_labels", 100, seed, val_size, test_size, train_size,
    )
