"""MILSEpochBasedTrainLoop on a real mmengine Runner: an MLP on sklearn's digits.

The model's loss is the submodule ``loss_cls``; the auxiliary swaps it for a
multi-margin loss built from mmengine's MODELS registry.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import torch
from torch import nn

pytestmark = pytest.mark.mmdet

from digits_data import DigitsDataset  # noqa: E402
from mmengine.model import BaseModel  # noqa: E402
from mmengine.registry import MODELS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import slf_mmdet  # noqa: E402,F401  (registers MILSEpochBasedTrainLoop)


@MODELS.register_module(name="SLFTestCrossEntropy", force=True)
class _CrossEntropy(nn.CrossEntropyLoss):
    pass


@MODELS.register_module(name="SLFTestMultiMargin", force=True)
class _MultiMargin(nn.MultiMarginLoss):
    pass


class DigitsMLP(BaseModel):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10))
        self.loss_cls = MODELS.build(dict(type="SLFTestCrossEntropy"))

    def forward(self, inputs, data_samples=None, mode="tensor"):
        logits = self.net(inputs)
        if mode == "loss":
            return dict(loss_cls=self.loss_cls(logits, data_samples))
        if mode == "predict":
            return logits.argmax(1)
        return logits


AUX = [dict(name="margin", replace={"loss_cls": dict(type="SLFTestMultiMargin")})]


def make_runner(tmp_path: Path, train_cfg: dict) -> Runner:
    torch.manual_seed(0)
    model = DigitsMLP()
    return Runner(
        model=model,
        work_dir=str(tmp_path / uuid.uuid4().hex[:8]),
        experiment_name=f"mils_{uuid.uuid4().hex}",
        train_dataloader=dict(
            dataset=DigitsDataset(),
            batch_size=64,
            num_workers=0,
            sampler=dict(type="DefaultSampler", shuffle=True),
            collate_fn=dict(type="default_collate"),
        ),
        train_cfg=train_cfg,
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.1, momentum=0.9)),
        default_hooks=dict(logger=dict(type="LoggerHook", interval=1), checkpoint=None),
        randomness=dict(seed=0),
        log_level="INFO",
    )


def train(tmp_path: Path, train_cfg: dict):
    runner = make_runner(tmp_path, train_cfg)
    runner.train()
    params = {k: v.detach().clone() for k, v in runner.model.state_dict().items()}
    return runner, params


def mils_cfg(**kw) -> dict:
    cfg = dict(
        type="MILSEpochBasedTrainLoop",
        max_epochs=2,
        rate=0.5,
        rule="not_worse",
        observation_batches=1,
        seed=0,
        auxiliaries=AUX,
    )
    cfg.update(kw)
    return cfg


ITERS = 2 * 6  # 2 epochs x 384 / 64 batches


@pytest.fixture(scope="module")
def stock(tmp_path_factory):
    return train(tmp_path_factory.mktemp("stock"), dict(type="EpochBasedTrainLoop", max_epochs=2))[1]


def assert_equal_params(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_rate_zero_is_bit_identical_to_stock_loop(tmp_path, stock):
    runner, params = train(tmp_path, mils_cfg(rate=0.0))
    assert_equal_params(params, stock)
    stats = runner.train_loop.mils_stats()
    assert stats["attempted_total"] == 0 and stats["accepted_total"] == 0


def test_always_rejected_attempts_equal_stock_and_always_accepted_differ(tmp_path, stock):
    def never(before, after):
        assert before > 0 and after > 0  # observation losses were measured
        return False

    runner, params = train(tmp_path, mils_cfg(rate=1.0, rule=never))
    assert_equal_params(params, stock)  # BatchNorm statistics and momentum buffers included
    stats = runner.train_loop.mils_stats()
    assert stats["attempted_total"] == ITERS and stats["accepted_total"] == 0
    assert stats["seconds"] > 0

    runner, params = train(tmp_path, mils_cfg(rate=1.0, rule="always"))
    assert any(not torch.equal(params[k], stock[k]) for k in stock)
    stats = runner.train_loop.mils_stats()
    assert stats["attempted"] == {"margin": ITERS} and stats["accepted"] == {"margin": ITERS}


def test_not_worse_rule_mixes_and_stats_reach_message_hub_and_log(tmp_path):
    runner, _ = train(tmp_path, mils_cfg(rate=0.5, rule="not_worse"))
    stats = runner.train_loop.mils_stats()
    attempted, accepted = stats["attempted_total"], stats["accepted_total"]
    assert 0 < attempted < ITERS and 0 <= accepted <= attempted
    hub = runner.message_hub
    assert hub.get_scalar("train/mils_attempted").current() == attempted
    assert hub.get_scalar("train/mils_accepted").current() == accepted
    assert hub.get_scalar("train/mils_seconds").current() == pytest.approx(stats["seconds"])
    logs = list(Path(runner.work_dir).rglob("*.log"))
    assert logs, "mmengine wrote no log file"
    text = "\n".join(p.read_text() for p in logs)
    assert "mils_attempted" in text and "mils_accepted" in text and "mils_seconds" in text


def test_mmdet_focal_loss_as_auxiliary_from_the_mmdet_registry(tmp_path):
    aux = [
        dict(name="focal", replace={"loss_cls": dict(type="mmdet.FocalLoss", use_sigmoid=True)}),
        dict(name="margin", replace={"loss_cls": dict(type="SLFTestMultiMargin")}, weight=1.0),
    ]
    runner, params = train(tmp_path, mils_cfg(max_epochs=1, rate=1.0, rule="better", auxiliaries=aux))
    assert type(runner.train_loop.auxiliaries["focal"]["loss_cls"]).__name__ == "FocalLoss"
    assert type(runner.model.loss_cls).__name__ == "_CrossEntropy"  # the primary loss is back in place
    stats = runner.train_loop.mils_stats()
    assert sum(stats["attempted"].values()) == ITERS // 2
    assert stats["attempted"]["focal"] > 0 and stats["attempted"]["margin"] > 0
    assert runner.message_hub.get_scalar("train/mils_attempted_focal").current() == stats["attempted"]["focal"]
    assert all(torch.isfinite(v).all() for v in params.values() if v.is_floating_point())


@pytest.mark.parametrize(
    "override, message",
    [
        (
            dict(auxiliaries=[dict(name="bad", replace={"head.loss_cls": dict(type="SLFTestMultiMargin")})]),
            r"'head.loss_cls' is not a submodule.*\['loss_cls'\]",
        ),
        (dict(rule="best"), r"unknown rule 'best'"),
        (dict(rate=2.0), r"rate must be a number in \[0, 1\], got 2.0"),
        (dict(auxiliaries=[]), r"auxiliaries must hold at least one entry"),
    ],
)
def test_bad_config_raises_clear_errors(tmp_path, override, message):
    runner = make_runner(tmp_path, mils_cfg(**override))
    with pytest.raises(ValueError, match=message):
        runner.train()
