"""WRN-28-10 and DenseNet-BC-100 train through the classify trainer on a CIFAR-10 folder in the official
format, written from scikit-learn's real handwritten digits (8x8, grey) as 32x32 colour images."""

import pickle

import numpy as np
import pytest
from sklearn.datasets import load_digits

from slf.train import ClassifyConfig, train_classifier

pytestmark = pytest.mark.usefixtures("single_thread")


def _write_batch(path, images, labels):
    batch = {b"labels": [int(v) for v in labels], b"data": images.reshape(len(images), -1)}
    with open(path, "wb") as handle:
        pickle.dump(batch, handle, protocol=2)  # the official files are Python 2 pickles


@pytest.fixture(scope="module")
def digits_cifar(tmp_path_factory):
    """cifar-10-batches-py with 5 x 36 training and 40 test images: each digit's 8x8 grey levels (0-16)
    scaled to 0-255, each pixel repeated 4x4 and over the three colour planes (CIFAR's row layout: R, G, B)."""
    digits = load_digits()
    images = np.kron(digits.images, np.ones((4, 4))) * (255.0 / 16.0)
    images = np.repeat(images[:, None], 3, axis=1).round().astype(np.uint8)  # (N, 3, 32, 32)
    folder = tmp_path_factory.mktemp("digits") / "cifar-10-batches-py"
    folder.mkdir()
    for index in range(5):
        rows = slice(36 * index, 36 * (index + 1))
        _write_batch(folder / f"data_batch_{index + 1}", images[rows], digits.target[rows])
    _write_batch(folder / "test_batch", images[180:220], digits.target[180:220])
    return folder


def test_densenet_bc_learns_the_digits_from_a_cifar_folder(digits_cifar):
    cfg = ClassifyConfig(
        data=f"cifar10:{digits_cifar}",
        model="densenet_bc100",
        epochs=2,
        batch_size=30,
        val_size=30,
        max_train_samples=90,
        num_threads=1,
    )
    result = train_classifier(cfg, progress=False)
    assert len(result["train_loss"]) == 2 and result["train_loss"][-1] < result["train_loss"][0]
    assert 0.0 <= result["final_test_acc"] <= 1.0 and result["time_per_step_s"] > 0


def test_wide_resnet_trains_a_step_from_a_cifar_folder(digits_cifar):
    cfg = ClassifyConfig(
        data=f"cifar10:{digits_cifar}",
        model="wrn28_10",
        epochs=1,
        batch_size=32,
        val_size=20,
        max_train_samples=32,
        eval_batch_size=20,
        num_threads=1,
    )
    result = train_classifier(cfg, progress=False)
    assert np.isfinite(result["train_loss"][0]) and len(result["test_acc"]) == 1
