"""Clustering data of slf_dac: every image standardised, labels for evaluation, imbalanced subsets."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from slf_dac.cluster_data import (
    CLUSTER_DATA_CHOICES,
    ClusterData,
    imbalanced_subset,
    load_cluster_data,
    parse_cluster_spec,
    read_image_folder,
)

CIFAR_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def _assert_standardised(images: torch.Tensor) -> None:
    for channel in range(images.shape[1]):
        plane = images[:, channel].double()
        assert abs(float(plane.mean())) < 1e-4
        assert abs(float(plane.std(correction=0)) - 1.0) < 1e-4


@pytest.fixture(scope="module")
def mnist5k() -> ClusterData:
    return load_cluster_data("mnist5k")


def test_mnist5k_all_images_standardised(mnist5k):
    assert mnist5k.name == "mnist5k"
    assert mnist5k.images.shape == (5000, 1, 28, 28) and mnist5k.images.dtype == torch.float32
    assert mnist5k.input_shape == (1, 28, 28) and len(mnist5k) == 5000
    assert mnist5k.labels.dtype == torch.int64
    assert np.bincount(mnist5k.labels.numpy()).tolist() == [500] * 10
    assert mnist5k.num_clusters == 10 and mnist5k.class_names == [str(d) for d in range(10)]
    _assert_standardised(mnist5k.images)


def test_digits_all_images_standardised():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    data = load_cluster_data("digits")
    assert data.images.shape == (1797, 1, 8, 8) and data.input_shape == (1, 8, 8)
    assert data.labels.tolist() == bunch.target.tolist()
    assert np.bincount(data.labels.numpy()).tolist() == np.bincount(bunch.target).tolist()
    assert data.num_clusters == 10
    _assert_standardised(data.images)
    # Standardisation is affine: the pixel order of the raw images survives.
    raw = torch.as_tensor(bunch.images[0], dtype=torch.float32)
    assert torch.equal(
        torch.argsort(data.images[0, 0].flatten(), stable=True), torch.argsort(raw.flatten(), stable=True)
    )


def test_parse_cluster_spec():
    assert parse_cluster_spec("digits") == ("digits", None)
    assert parse_cluster_spec("cifar10:/data/c") == ("cifar10", "/data/c")
    assert parse_cluster_spec("ImageNet_Dog:/d") == ("imagenet_dog", "/d")
    with pytest.raises(ValueError, match="unknown clustering data set 'stl10'") as info:
        parse_cluster_spec("stl10")
    for choice in CLUSTER_DATA_CHOICES:
        assert choice in str(info.value)
    with pytest.raises(ValueError, match="needs a path.*cifar10:PATH"):
        parse_cluster_spec("cifar10")
    with pytest.raises(ValueError, match="needs a path"):
        parse_cluster_spec("imagenet10:")
    with pytest.raises(ValueError, match="takes no path.*mnist5k:/x"):
        parse_cluster_spec("mnist5k:/x")


def test_image_size_only_for_image_folders(tmp_path):
    with pytest.raises(ValueError, match="image_size applies only to the image-folder"):
        load_cluster_data("mnist5k", image_size=32)
    with pytest.raises(ValueError, match="'cifar10' has images of a fixed size"):
        load_cluster_data(f"cifar10:{tmp_path}", image_size=32)


# --- CIFAR-10 -------------------------------------------------------------------------


def _write_cifar10(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Six official-format pickles with 1..6 random images each; the first red pixel encodes (file, image)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    all_data, all_labels = [], []
    for index, name in enumerate(CIFAR_FILES):
        count = index + 1
        data = rng.integers(0, 256, size=(count, 3072), dtype=np.uint8)
        data[:, 0] = 10 * index + np.arange(count)
        labels = [(index + i) % 10 for i in range(count)]
        with open(folder / name, "wb") as handle:
            pickle.dump({b"batch_label": name.encode(), b"data": data, b"labels": labels}, handle, protocol=2)
        all_data.append(data)
        all_labels.extend(labels)
    return np.concatenate(all_data).reshape(-1, 3, 32, 32), np.asarray(all_labels)


@pytest.mark.parametrize("given", ["batches_folder", "parent"])
def test_cifar10_reads_all_six_files(tmp_path, given):
    raw, labels = _write_cifar10(tmp_path / "cifar-10-batches-py")
    root = tmp_path / "cifar-10-batches-py" if given == "batches_folder" else tmp_path
    data = load_cluster_data(f"cifar10:{root}")
    assert len(data) == sum(range(1, 7)) == 21
    assert data.images.shape == (21, 3, 32, 32) and data.input_shape == (3, 32, 32)
    assert data.labels.tolist() == labels.tolist()
    assert data.num_clusters == 10 and data.class_names[0] == "airplane" and data.class_names[9] == "truck"
    _assert_standardised(data.images)
    # Undo the red channel's standardisation: the encoded (file, image) pixels, in file order.
    red = data.images[:, 0]
    mean = raw[:, 0].astype(np.float64).mean()
    std = raw[:, 0].astype(np.float64).std()
    restored = (red[:, 0, 0].double() * std + mean).round().long()
    assert restored.tolist() == raw[:, 0, 0, 0].tolist()
    assert restored.tolist()[:3] == [0, 10, 11]


def test_cifar10_missing_file(tmp_path):
    _write_cifar10(tmp_path / "cifar-10-batches-py")
    (tmp_path / "cifar-10-batches-py" / "test_batch").unlink()
    with pytest.raises(FileNotFoundError, match="test_batch"):
        load_cluster_data(f"cifar10:{tmp_path}")
    with pytest.raises(FileNotFoundError):
        load_cluster_data(f"cifar10:{tmp_path / 'nowhere'}")


# --- image folders --------------------------------------------------------------------

SIZES = [(40, 30), (25, 50), (64, 64)]


def _colour(label: int, index: int) -> tuple[int, int, int]:
    return (20 * label + index, 250 - 20 * label, 7 * index + 3)


def _write_image_folder(root: Path, num_classes: int) -> list[str]:
    """``num_classes`` folders x 3 solid-colour images (2 PNG, 1 JPEG), created out of name order."""
    names = [f"n{9000 - 37 * k:05d}" for k in range(num_classes)]  # descending on purpose
    for name in names:
        folder = root / name
        folder.mkdir(parents=True)
        label = sorted(names).index(name)
        for index, size in enumerate(SIZES):
            suffix = ".JPG" if index == 2 else ".png"
            Image.new("RGB", size, _colour(label, index)).save(folder / f"img_{index}{suffix}")
        (folder / "notes.txt").write_text("not an image")
        (folder / ".hidden.png").write_bytes(b"macOS resource fork, not an image")
    (root / "README").write_text("a file next to the class folders is ignored")
    return sorted(names)


def test_read_image_folder(tmp_path):
    names = _write_image_folder(tmp_path / "imagenet10", 10)
    images, labels, class_names = read_image_folder(tmp_path / "imagenet10", 12, expected_classes=10)
    assert images.shape == (30, 3, 12, 12) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and labels.tolist() == np.repeat(np.arange(10), 3).tolist()
    assert class_names == names
    for position in range(30):
        label, index = divmod(position, 3)
        expected = np.asarray(_colour(label, index))
        pixels = images[position].reshape(3, -1).astype(int)
        tolerance = 0 if index < 2 else 8  # JPEG is lossy
        assert np.abs(pixels - expected[:, None]).max() <= tolerance, (position, pixels[:, 0], expected)


def test_load_imagenet10_standardised(tmp_path):
    names = _write_image_folder(tmp_path / "imagenet10", 10)
    data = load_cluster_data(f"imagenet10:{tmp_path / 'imagenet10'}", image_size=16)
    assert data.name == "imagenet10" and data.images.shape == (30, 3, 16, 16)
    assert data.num_clusters == 10 and data.class_names == names
    _assert_standardised(data.images)


def test_image_folder_default_size_and_grayscale(tmp_path):
    root = tmp_path / "dogs"
    for k in range(15):
        (root / f"class{k:02d}").mkdir(parents=True)
        Image.new("L", (20, 10), 10 * k).save(root / f"class{k:02d}" / "a.png")
    data = load_cluster_data(f"imagenet_dog:{root}")
    assert data.images.shape == (15, 3, 96, 96) and data.num_clusters == 15
    assert data.labels.tolist() == list(range(15))


def test_image_folder_wrong_class_count(tmp_path):
    _write_image_folder(tmp_path / "three", 3)
    with pytest.raises(ValueError, match=r"expected 10 class folders, found 3") as info:
        load_cluster_data(f"imagenet10:{tmp_path / 'three'}", image_size=8)
    assert str(tmp_path / "three") in str(info.value) and "n08926" in str(info.value)
    with pytest.raises(ValueError, match=r"expected 15 class folders, found 3"):
        load_cluster_data(f"imagenet_dog:{tmp_path / 'three'}", image_size=8)


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        load_cluster_data(f"imagenet10:{tmp_path / 'missing'}")
    with pytest.raises(ValueError, match="no class folders"):
        read_image_folder(tmp_path, 8)
    with pytest.raises(ValueError, match="image_size must be a positive integer"):
        read_image_folder(tmp_path, 0)

    _write_image_folder(tmp_path / "empty_class", 2)
    for path in (tmp_path / "empty_class" / "n08963").iterdir():
        if path.suffix.lower() in (".png", ".jpg"):
            path.unlink()
    with pytest.raises(ValueError, match="n08963 holds no images"):
        read_image_folder(tmp_path / "empty_class", 8)

    _write_image_folder(tmp_path / "corrupt", 2)
    bad = tmp_path / "corrupt" / "n09000" / "broken.jpeg"
    bad.write_bytes(b"this is not a JPEG")
    with pytest.raises(ValueError, match="cannot read image .*broken.jpeg"):
        read_image_folder(tmp_path / "corrupt", 8)


# --- imbalanced subsets and ClusterData.subset ----------------------------------------


def test_imbalanced_subset_full_retention_keeps_all(mnist5k):
    kept = imbalanced_subset(mnist5k.labels, 1.0, seed=3)
    assert kept.dtype == np.int64 and kept.tolist() == list(range(5000))


def test_imbalanced_subset_linear_retention(mnist5k):
    labels = mnist5k.labels.numpy()
    kept = imbalanced_subset(labels, 0.1, seed=0)
    assert np.all(np.diff(kept) > 0)
    fractions = np.bincount(labels[kept], minlength=10) / np.bincount(labels)
    expected = 0.1 + 0.9 * np.arange(10) / 9
    assert fractions[9] == 1.0
    # 500 images per class: within 3.5 binomial standard deviations (at most 0.08).
    tolerance = 3.5 * np.sqrt(expected * (1 - expected) / 500) + 1e-12
    assert np.all(np.abs(fractions - expected) <= tolerance), fractions
    assert abs(fractions[0] - 0.1) < 0.05
    assert np.polyfit(np.arange(10), fractions, 1)[0] == pytest.approx(0.1, abs=0.01)

    assert np.array_equal(imbalanced_subset(labels, 0.1, seed=0), kept)
    assert not np.array_equal(imbalanced_subset(labels, 0.1, seed=1), kept)


@pytest.mark.parametrize("retention", [0.0, -0.5, 1.5, float("nan")])
def test_imbalanced_subset_bad_retention(retention):
    with pytest.raises(ValueError, match="min_retention"):
        imbalanced_subset(np.arange(10) % 3, retention, seed=0)


def test_imbalanced_subset_bad_labels():
    for labels in (np.array([], dtype=np.int64), np.zeros((2, 3), dtype=np.int64), np.array([0.0, 1.0])):
        with pytest.raises(ValueError, match="labels"):
            imbalanced_subset(labels, 0.5, seed=0)


def test_cluster_data_subset(mnist5k):
    indices = imbalanced_subset(mnist5k.labels, 0.3, seed=0)
    small = mnist5k.subset(indices)
    assert small.name == "mnist5k" and small.num_clusters == 10 and small.class_names == mnist5k.class_names
    assert len(small) == len(indices) and small.input_shape == (1, 28, 28)
    assert torch.equal(small.images, mnist5k.images[torch.from_numpy(indices)])
    assert torch.equal(small.labels, mnist5k.labels[torch.from_numpy(indices)])
    # Not re-standardised: the subset is imbalanced, its pixels keep the full set's scale.
    assert torch.equal(small.images[0], mnist5k.images[indices[0]])

    by_mask = mnist5k.subset(mnist5k.labels == 7)
    assert len(by_mask) == 500 and set(by_mask.labels.tolist()) == {7}
    assert len(mnist5k.subset([])) == 0
