"""SLF's default recipe in Hugging Face's own ``Trainer`` loop: ``SLFTrainer`` training a small ViT, built
from its config (no download), on scikit-learn's real 8x8 digits."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from torch.utils.data import Dataset
from transformers import TrainingArguments, ViTConfig, ViTForImageClassification

from slf import StochasticLoss
from slf.data import load_dataset
from slf_transformers import SLFTrainer, labelled_rows

pytestmark = pytest.mark.transformers


class Digits(Dataset):
    """A split of the digits as ``transformers`` batches: ``pixel_values`` and ``labels``."""

    def __init__(self, split) -> None:
        self.images, self.labels = split.tensors

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict:
        return {"pixel_values": self.images[index], "labels": self.labels[index]}


def vit() -> ViTForImageClassification:
    torch.manual_seed(0)
    return ViTForImageClassification(
        ViTConfig(
            image_size=8,
            patch_size=2,
            num_channels=1,
            hidden_size=48,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=96,
            num_labels=10,
        )
    )


def arguments(tmp_path, epochs: int = 8) -> TrainingArguments:
    return TrainingArguments(
        output_dir=str(tmp_path),
        num_train_epochs=epochs,
        per_device_train_batch_size=32,
        per_device_eval_batch_size=64,
        learning_rate=2e-3,
        logging_steps=10,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
        dataloader_num_workers=0,
    )


@pytest.fixture(scope="module")
def digits():
    splits = load_dataset("digits", seed=0)
    return Digits(splits.train), Digits(splits.val), splits.test.tensors


def test_the_default_recipe_trains_a_vit_with_held_out_batches_from_the_eval_dataset(tmp_path, digits):
    train, val, (test_x, test_y) = digits
    loss = StochasticLoss(["ce", "mse", "mae", "hinge", "cosine", "bce"])
    model = vit()
    trainer = SLFTrainer(model=model, args=arguments(tmp_path), train_dataset=train, eval_dataset=val, slf_loss=loss)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*no held-out data.*")
        trainer.train()
    assert loss.held_out is not None and loss.stats()["held_out_reference"] == 1.0
    model.eval()
    with torch.no_grad():
        accuracy = float((model(pixel_values=test_x).logits.argmax(1) == test_y).float().mean())
    assert accuracy > 0.8, accuracy  # chance is 0.1
    logged = [entry for entry in trainer.state.log_history if "slf/weight/ce" in entry]
    assert len(logged) >= 5 and all(
        abs(sum(e[f"slf/weight/{n}"] for n in loss.candidate_names) - 1) < 1e-4 for e in logged
    )
    assert (tmp_path / "slf_selection_weights.png").stat().st_size > 5_000
    json.dumps(trainer.state.log_history)  # the weights are plain numbers for every report_to backend


def test_without_an_eval_dataset_it_warns_and_learned_modes_must_be_in_the_model(tmp_path, digits):
    train, _, _ = digits
    loss = StochasticLoss(["ce", "mae"])
    trainer = SLFTrainer(model=vit(), args=arguments(tmp_path, epochs=1), train_dataset=train, slf_loss=loss)
    with pytest.warns(UserWarning, match="no eval_dataset"):
        trainer.train()
    assert loss.stats()["held_out_reference"] == 0.0
    with pytest.raises(ValueError, match="make it a submodule of the model"):
        SLFTrainer(
            model=vit(),
            args=arguments(tmp_path),
            train_dataset=train,
            slf_loss=StochasticLoss(["ce", "mae"], mode="joint"),
        )
    with pytest.raises(ValueError, match="pass no compute_loss_func"):
        SLFTrainer(model=vit(), args=arguments(tmp_path), slf_loss=loss, compute_loss_func=lambda *a, **k: 0)


def test_unlabelled_positions_are_left_out_and_shapes_must_match():
    rows, labels = labelled_rows(torch.randn(2, 4, 3), torch.tensor([[0, 1, -100, 2], [-100, -100, 1, 0]]))
    assert rows.shape == (5, 3) and labels.tolist() == [0, 1, 2, 1, 0]
    with pytest.raises(ValueError, match="do not match logits"):
        labelled_rows(torch.randn(2, 3), torch.tensor([[0, 1]]))
