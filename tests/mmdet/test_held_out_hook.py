"""SLFHeldOutHook on a real mmengine Runner: the default recipe takes its reference from the val dataloader."""

from __future__ import annotations

import uuid
import warnings

import pytest
import torch

pytestmark = pytest.mark.mmdet

from digits_data import DigitsDataset  # noqa: E402
from mmengine.evaluator import BaseMetric  # noqa: E402
from mmengine.registry import METRICS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from test_logger_hook import DigitsMLP  # noqa: E402

import slf_mmdet  # noqa: E402,F401
from slf_mmdet import SLFHeldOutHook  # noqa: E402


@METRICS.register_module(force=True)
class DigitsAccuracy(BaseMetric):
    def process(self, data_batch, data_samples) -> None:
        self.results.append(float((data_samples[0].argmax(dim=1) == data_batch["data_samples"]).float().mean()))

    def compute_metrics(self, results) -> dict:
        return dict(accuracy=sum(results) / len(results))


class Digits(DigitsMLP):
    def forward(self, inputs, data_samples=None, mode="tensor"):
        if mode == "predict":
            return [self.net(inputs)]
        return super().forward(inputs, data_samples, mode)


def loader(start: int, stop: int) -> dict:
    dataset = DigitsDataset(stop)
    dataset.x, dataset.y = dataset.x[start:], dataset.y[start:]
    return dict(
        dataset=dataset,
        batch_size=32,
        num_workers=0,
        sampler=dict(type="DefaultSampler", shuffle=True),
        collate_fn=dict(type="default_collate"),
    )


def runner_for(model, tmp_path, hooks, with_val=True) -> Runner:
    return Runner(
        model=model,
        work_dir=str(tmp_path),
        experiment_name=f"held_out_{uuid.uuid4().hex}",
        train_dataloader=loader(0, 256),
        train_cfg=dict(by_epoch=True, max_epochs=2),
        val_dataloader=loader(256, 384) if with_val else None,
        val_cfg=dict() if with_val else None,
        val_evaluator=dict(type="DigitsAccuracy") if with_val else None,
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.1)),
        default_hooks=dict(checkpoint=None),
        custom_hooks=hooks,
    )


def test_the_hook_gives_every_default_recipe_loss_its_held_out_reference(tmp_path) -> None:
    torch.manual_seed(0)
    model = Digits()  # type='StochasticLoss' with no mode: the default recipe
    slf = model.loss_cls.slf
    assert slf.mode == "align"
    drawn = []
    original = slf.learner.set_reference

    def counting(loss, source="host", value=None):
        drawn.append(float(loss.detach()))
        original(loss, source, value)

    slf.learner.set_reference = counting
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # held-out data: the previous-batch fallback never runs
        runner_for(model, tmp_path, [dict(type="SLFHeldOutHook", interval=2), dict(type="SLFLoggerHook")]).train()
    assert len(drawn) == 8  # 16 iterations, a held-out batch every 2nd
    # One step per iteration, scored when the next begins.
    assert slf.reference_source == "host" and slf.step == 16 and int(slf.decision.observations) == 15
    weights = slf.weights
    assert abs(float(weights.sum()) - 1) < 1e-5 and not torch.allclose(weights, weights.mean())


def test_without_a_val_dataloader_the_hook_draws_a_second_pass_over_the_training_set(tmp_path) -> None:
    torch.manual_seed(0)
    model = Digits()
    runner_for(model, tmp_path, [dict(type="SLFHeldOutHook")], with_val=False).train()
    assert model.loss_cls.slf.reference_source == "host" and int(model.loss_cls.slf.decision.observations) == 15


def test_bad_hook_options_name_the_problem() -> None:
    with pytest.raises(ValueError, match="interval must be an integer >= 1"):
        SLFHeldOutHook(interval=0)
    with pytest.raises(ValueError, match="source must be 'val' or 'train'"):
        SLFHeldOutHook(source="test")


def test_boxes_of_a_test_pipeline_are_brought_to_the_resized_image() -> None:
    """mmdet's test pipelines load the boxes after resizing: the hook rescales them, the train pipeline's not."""
    from types import SimpleNamespace

    from mmdet.structures.bbox import HorizontalBoxes
    from mmengine.dataset import Compose
    from mmengine.registry import DefaultScope

    from slf_mmdet.held_out_hook import _scaled, boxes_loaded_after_resize

    with DefaultScope.overwrite_default_scope("mmdet"):
        test = Compose(
            [
                dict(type="LoadImageFromFile"),
                dict(type="Resize", scale=(320, 320), keep_ratio=True),
                dict(type="LoadAnnotations", with_bbox=True),
            ]
        )
        train = Compose(
            [
                dict(type="LoadImageFromFile"),
                dict(type="LoadAnnotations", with_bbox=True),
                dict(type="Resize", scale=(320, 320), keep_ratio=True),
            ]
        )
    assert boxes_loaded_after_resize(SimpleNamespace(pipeline=test))
    assert not boxes_loaded_after_resize(SimpleNamespace(pipeline=train))
    assert boxes_loaded_after_resize(SimpleNamespace(dataset=SimpleNamespace(pipeline=test)))  # wrapped datasets
    assert not boxes_loaded_after_resize(None)
    boxes = torch.tensor([[10.0, 20.0, 30.0, 40.0]])
    assert torch.equal(_scaled(boxes, (0.5, 2.0)), torch.tensor([[5.0, 40.0, 15.0, 80.0]]))
    scaled = _scaled(HorizontalBoxes(boxes.clone()), (0.5, 2.0)).tensor
    assert torch.equal(scaled, torch.tensor([[5.0, 40.0, 15.0, 80.0]]))
