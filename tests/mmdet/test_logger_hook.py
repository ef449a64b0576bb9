"""SLFLoggerHook on a real mmengine Runner: a digits MLP trained with mmdet's StochasticLoss."""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path

import pytest
import torch
from torch import nn

pytestmark = pytest.mark.mmdet

from digits_data import DigitsDataset  # noqa: E402
from mmengine.model import BaseModel  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import slf_mmdet  # noqa: E402,F401
from slf.model_losses import slf_modules  # noqa: E402

KEY = "slf/loss_cls.slf/weight/"


class DigitsMLP(BaseModel):
    def __init__(self, **slf_options) -> None:
        super().__init__()
        from mmdet.registry import MODELS

        self.net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
        with DefaultScope.overwrite_default_scope("mmdet"):
            self.loss_cls = MODELS.build(
                dict(
                    type="StochasticLoss",
                    use_sigmoid=False,
                    seed=0,
                    history_interval=2,
                    candidates=["ce", "categorical_hinge", dict(type="CrossEntropyLoss")],
                    **slf_options,
                )
            )

    def forward(self, inputs, data_samples=None, mode="tensor"):
        logits = self.net(inputs)
        if mode == "loss":
            return dict(loss_cls=self.loss_cls(logits, data_samples))
        return logits


def test_weights_reach_the_log_as_interval_means_and_a_plot(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = DigitsMLP(mode="joint")  # sampled weights: each logged value is an interval mean
    assert [path for path, _ in slf_modules(model)] == ["loss_cls.slf"]
    runner = Runner(
        model=model,
        work_dir=str(tmp_path),
        experiment_name=f"hook_{uuid.uuid4().hex}",
        train_dataloader=dict(
            dataset=DigitsDataset(256),
            batch_size=32,
            num_workers=0,
            sampler=dict(type="DefaultSampler", shuffle=True),
            collate_fn=dict(type="default_collate"),
        ),
        train_cfg=dict(by_epoch=True, max_epochs=2),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.1)),
        default_hooks=dict(logger=dict(type="LoggerHook", interval=4), checkpoint=None),
        custom_hooks=[dict(type="SLFLoggerHook")],
    )
    runner.train()
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    rows = [json.loads(line) for line in (run_dir / "vis_data" / "scalars.json").read_text().splitlines()]
    assert len(rows) == 4  # 16 iterations, logged every 4
    names = ("ce", "categorical_hinge", "CrossEntropyLoss")
    for row in rows:
        assert math.isclose(sum(row[KEY + name] for name in names), 1.0, rel_tol=1e-4)
    # Each logged value is the mean of the interval's sampled weights, not the last draw.
    buffer = runner.message_hub.get_scalar("train/" + KEY + "ce")
    assert math.isclose(rows[-1][KEY + "ce"], buffer.mean(4), rel_tol=1e-4)
    assert not math.isclose(buffer.mean(4), buffer.current(), rel_tol=1e-6)
    assert (tmp_path / "slf_loss_cls.slf.png").stat().st_size > 1000


def test_a_model_without_slf_is_logged_as_such(tmp_path: Path) -> None:
    from mmengine.hooks import Hook

    class Plain(BaseModel):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Linear(64, 10)

        def forward(self, inputs, data_samples=None, mode="tensor"):
            return dict(loss=nn.functional.cross_entropy(self.net(inputs), data_samples))

    runner = Runner(
        model=Plain(),
        work_dir=str(tmp_path),
        experiment_name=f"plain_{uuid.uuid4().hex}",
        train_dataloader=dict(
            dataset=DigitsDataset(256),
            batch_size=64,
            num_workers=0,
            sampler=dict(type="DefaultSampler", shuffle=False),
            collate_fn=dict(type="default_collate"),
        ),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.1)),
        default_hooks=dict(checkpoint=None),
        custom_hooks=[dict(type="SLFLoggerHook")],
    )
    runner.train()
    hook = next(h for h in runner.hooks if type(h).__name__ == "SLFLoggerHook")
    assert isinstance(hook, Hook) and hook.keys == []
    log = next(tmp_path.rglob("*.log")).read_text()
    assert "SLFLoggerHook: the model has no StochasticLoss" in log
