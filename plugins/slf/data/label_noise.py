"""Synthetic label noise with an exact flip rate: ``corrupt_labels(labels, rate, noise_type, num_classes, seed)``."""
from __future__ import annotations

import numbers
from typing import Sequence, Tuple, Union

import numpy as np
import torch

NOISE_TYPES = ("symmetric", "pairflip")

ArrayLike = Union[np.ndarray, torch.Tensor, Sequence[int]]


def corrupt_labels(
    labels: ArrayLike,
    rate: float,
    noise_type: str,
    num_classes: int,
    seed: int,
) -> Tuple[np.ndarray, np.ndarray]:
    r"""Flip exactly ``round(rate * N)`` labels, chosen uniformly at random without replacement.

    With :math:`N` labels, :math:`m = \operatorname{round}(\text{rate} \cdot N)` distinct
    positions are drawn uniformly at random and each label :math:`y` there is replaced by

    .. math::

        \tilde y = \begin{cases}
            (y + u) \bmod C, \quad u \sim \mathcal{U}\{1, \dots, C - 1\} & \text{symmetric} \\
            (y + 1) \bmod C & \text{pairflip}
        \end{cases}

    so a flipped label never stays itself and the realised flip rate is exactly
    :math:`m / N`, not a random number around ``rate``. ``symmetric`` sends a flipped label
    to each of the :math:`C - 1` other classes with equal probability; ``pairflip`` sends
    class :math:`c` to the next one, :math:`(c + 1) \bmod C`. ``round`` is Python's (half to
    even). The draw comes from ``numpy.random.default_rng(seed)`` alone, so it does not
    touch torch's or numpy's global random state.

    Args:
        labels: integer class labels in ``[0, num_classes)`` (numpy array, CPU tensor or list).
        rate: fraction of labels to flip: in ``[0, 1]`` for ``symmetric`` (1 flips every
            label), in ``[0, 1)`` for ``pairflip`` (at 1 it is only a renaming of the classes).
        noise_type: ``'symmetric'`` or ``'pairflip'``.
        num_classes: :math:`C \ge 2`.
        seed: seed of the generator; the same seed gives the same flips.

    Returns:
        ``(noisy_labels, flipped_mask)``: int64 labels and a boolean mask of the flipped
        positions, both new numpy arrays; ``labels`` is left as it was.

    Shape:
        - labels: :math:`(N,)`.
        - noisy_labels, flipped_mask: :math:`(N,)`.

    Raises:
        ValueError: an unknown ``noise_type`` (the message lists the valid choices), a rate
            out of range, ``num_classes < 2``, labels that are not a 1-D integer array, or
            labels outside ``[0, num_classes)``.

    Example:
        >>> labels = np.array([0, 1, 2, 3, 0, 1, 2, 3, 0, 1])
        >>> noisy, flipped = corrupt_labels(labels, 0.4, "pairflip", num_classes=4, seed=0)
        >>> int(flipped.sum()), bool((noisy[flipped] == (labels[flipped] + 1) % 4).all())
        (4, True)
        >>> bool((noisy[~flipped] == labels[~flipped]).all())
        True
    """
    if noise_type not in NOISE_TYPES:
        raise ValueError(f"noise_type must be one of {list(NOISE_TYPES)}, got {noise_type!r}")
    symmetric = noise_type == "symmetric"
    if not (isinstance(rate, numbers.Real) and 0.0 <= rate and (rate <= 1.0 if symmetric else rate < 1.0)):
        interval = "[0, 1]" if symmetric else "[0, 1)"
        raise ValueError(f"rate must be a number in {interval} for {noise_type!r} noise, got {rate!r}")
    if not isinstance(num_classes, numbers.Integral) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    num_classes = int(num_classes)
    array = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if array.ndim != 1 or not (array.size == 0 or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"labels must be a 1-D array of integers, got shape {array.shape} and dtype {array.dtype}")
    if array.size and (array.min() < 0 or array.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got values from {array.min()} to {array.max()}")

    clean = array.astype(np.int64)
    rng = np.random.default_rng(seed)
    count = int(round(rate * len(clean)))
    chosen = rng.choice(len(clean), size=count, replace=False)
    shift = rng.integers(1, num_classes, size=count) if symmetric else 1
    noisy = clean.copy()
    noisy[chosen] = (clean[chosen] + shift) % num_classes
    flipped = np.zeros(len(clean), dtype=bool)
    flipped[chosen] = True
    return noisy, flipped


__all__ = ["NOISE_TYPES", "corrupt_labels"]
