"""SLF's default recipe in PyTorch Lightning's own loop: ``SLFCallback`` on scikit-learn's real digits."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader

from slf import StochasticLoss
from slf.data import load_dataset
from slf.models import build_model
from slf_lightning import SLFCallback

pytestmark = pytest.mark.lightning


class DigitClassifier(pl.LightningModule):
    def __init__(self, loss_fn: torch.nn.Module) -> None:
        super().__init__()
        self.net = build_model("mlp", (1, 8, 8), 10)
        self.loss_fn = loss_fn

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return self.loss_fn(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self(x).argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


@pytest.fixture(scope="module")
def digits():
    splits = load_dataset("digits", seed=0)
    return (
        DataLoader(splits.train, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0)),
        DataLoader(splits.val, batch_size=64),
        splits.test.tensors,
    )


def fit(tmp_path: Path, loss_fn, train, val=None, epochs=4):
    torch.manual_seed(0)
    module = DigitClassifier(loss_fn)
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        logger=CSVLogger(tmp_path),
        log_every_n_steps=5,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        callbacks=[SLFCallback()],
    )
    trainer.fit(module, train, val)
    return trainer, module


def test_the_default_recipe_draws_its_held_out_batches_from_the_validation_dataloader(tmp_path, digits):
    train, val, (test_x, test_y) = digits
    loss_fn = StochasticLoss(["ce", "mse", "mae", "hinge", "cosine", "bce"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # "no held-out data" would be a UserWarning
        warnings.filterwarnings("ignore", message=".*(num_workers|does not have many workers).*")
        trainer, module = fit(tmp_path, loss_fn, train, val)
    assert loss_fn.held_out is not None and loss_fn.held_out.model is module
    assert loss_fn.stats()["held_out_reference"] == 1.0
    accuracy = float((module(test_x).argmax(1) == test_y).float().mean())
    assert accuracy > 0.85, accuracy  # chance is 0.1
    with open(Path(trainer.log_dir) / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    logged = [float(row["slf/loss_fn/weight/ce"]) for row in rows if row.get("slf/loss_fn/weight/ce")]
    assert len(logged) >= 5 and all(0.0 <= w <= 1.0 for w in logged)
    assert (Path(trainer.log_dir) / "slf_loss_fn.png").stat().st_size > 5_000


def test_without_validation_data_it_says_so_and_the_recipe_uses_the_previous_batch(tmp_path, digits):
    train, _, _ = digits
    loss_fn = StochasticLoss(["ce", "mae"])
    with pytest.warns(UserWarning, match="no validation dataloader"):
        fit(tmp_path, loss_fn, train, epochs=1)
    assert loss_fn.held_out is None and loss_fn.stats()["held_out_reference"] == 0.0


def test_a_bad_forward_is_refused():
    with pytest.raises(TypeError, match="forward must be callable"):
        SLFCallback(forward="pair")
