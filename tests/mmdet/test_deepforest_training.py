"""The CPU config trains on real tree-crown tiles: the learned weights move, are logged, and resume.

A few iterations of configs/mmdet/yolov3_mobilenetv2_slf_deepforest.py through mmengine's
own Runner (the loop mmdet's tools/train.py runs), with mmdet's VOCDataset and VOCMetric.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

pytestmark = [pytest.mark.mmdet, pytest.mark.slow]

from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import slf_mmdet  # noqa: E402,F401
from slf import StochasticLoss  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "mmdet"
KEY = "slf/bbox_head.part_weighting/lambda/"
PARTS = ("cls", "obj", "noobj", "xy", "wh")


def small_config(
    data_root: Path, work_dir: Path, epochs: int = 2, name: str = "yolov3_mobilenetv2_slf_deepforest.py"
) -> Config:
    """A shipped config, on 8 training and 4 validation tiles, 2 iterations per epoch."""
    cfg = Config.fromfile(CONFIGS / name)
    for loader, tiles in (("train_dataloader", 8), ("val_dataloader", 4)):
        cfg[loader].dataset.data_root = str(data_root)
        cfg[loader].dataset.indices = tiles
        cfg[loader].num_workers = 0
    cfg.train_cfg.max_epochs = epochs
    cfg.train_cfg.val_interval = epochs
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 1
    cfg.work_dir = str(work_dir)
    cfg.randomness = dict(seed=0)
    return cfg


def part_weighting(runner: Runner):
    return runner.model.bbox_head.part_weighting


def test_cpu_config_trains_logs_and_resumes(deepforest_root: Path, tmp_path: Path, monkeypatch) -> None:
    runner = Runner.from_cfg(small_config(deepforest_root, tmp_path / "run"))
    runner.train()
    weighting = part_weighting(runner)
    assert weighting.selection.mode == "align" and weighting.selection.step == 4
    # SLFHeldOutHook gave the reference from the val tiles (boxes brought to the resized images).
    assert weighting.selection.reference_source == "host" and int(weighting.selection.decision.observations) == 4
    assert math.isclose(float(weighting.lambdas.sum()), 7.0, rel_tol=1e-5)
    assert not torch.allclose(weighting.lambdas, torch.tensor([1.0, 1, 1, 2, 2]), atol=1e-4)
    assert 0.0 <= runner.message_hub.get_scalar("val/pascal_voc/mAP").current() <= 1.0

    # mmengine's log (one line per iteration) holds the five lambdas, as does TensorBoard.
    run_dir = next(p for p in (tmp_path / "run").iterdir() if p.is_dir())
    rows = [json.loads(line) for line in (run_dir / "vis_data" / "scalars.json").read_text().splitlines()]
    train_rows = [row for row in rows if KEY + "cls" in row]
    assert len(train_rows) == 4
    assert all(math.isclose(sum(row[KEY + p] for p in PARTS), 7.0, rel_tol=1e-4) for row in train_rows)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "vis_data"))
    events.Reload()
    assert {KEY + p for p in PARTS} <= set(events.Tags()["scalars"])
    assert len(events.Scalars(KEY + "noobj")) == 4
    assert (tmp_path / "run" / "slf_bbox_head.part_weighting.png").stat().st_size > 1000

    # Resume from the first epoch's checkpoint: the learned weights, the sampler's state and the
    # history come back, and training goes on from there. (mmengine's checkpoints pickle its
    # HistoryBuffer's methods, which torch >= 2.6 refuses by default; these are our own files.)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    checkpoint = torch.load(tmp_path / "run" / "epoch_1.pth", map_location="cpu", weights_only=False)
    saved = checkpoint["state_dict"]
    cfg = small_config(deepforest_root, tmp_path / "resumed")
    cfg.resume = True
    cfg.load_from = str(tmp_path / "run" / "epoch_1.pth")
    resumed = Runner.from_cfg(cfg)
    resumed.load_or_resume()
    restored = part_weighting(resumed)
    assert torch.equal(restored.selection.decision.scores, saved["bbox_head.part_weighting.selection.decision.scores"])
    extra = StochasticLoss.read_extra_state(saved["bbox_head.part_weighting.selection._extra_state"])
    assert restored.selection.step == extra["step"] == 2
    assert restored.history == extra["history"] == weighting.history[: len(extra["history"])]
    resumed.train()
    assert restored.selection.step == 4 and resumed.epoch == 2


@pytest.mark.parametrize("kind", ["uncertainty", "gradnorm", "dwa"])
def test_each_peer_weighting_trains_through_mmengines_runner(deepforest_root: Path, tmp_path: Path, kind) -> None:
    """Three epochs of two iterations on real tiles: the peer's lambdas move (DWA from the third epoch,
    mmengine's epochs as its periods) and SLFLoggerHook logs them every iteration."""
    cfg = small_config(deepforest_root, tmp_path / kind, epochs=3)
    cfg.model.bbox_head.slf_weighting = dict(type=kind)
    cfg.custom_hooks = [hook for hook in cfg.custom_hooks if hook["type"] != "SLFHeldOutHook"]
    cfg.visualizer.name = f"visualizer_{kind}"  # mmengine reuses a visualizer of the same name, and its folder
    runner = Runner.from_cfg(cfg)
    runner.train()
    weighting = part_weighting(runner)
    assert type(weighting).__name__ == {"uncertainty": "UncertaintyWeighting", "gradnorm": "GradNormWeighting"}.get(
        kind, "DynamicWeightAverage"
    )
    assert weighting.step == 6 and weighting.history
    assert not torch.allclose(weighting.lambdas, torch.tensor([1.0, 1, 1, 2, 2]), atol=1e-5)
    if kind == "dwa":
        assert weighting.finished_means and len(weighting.finished_means) == 2
        assert weighting.period_index == 2
    run_dir = next(p for p in (tmp_path / kind).iterdir() if p.is_dir())
    logged = [json.loads(line) for line in (run_dir / "vis_data" / "scalars.json").read_text().splitlines()]
    train_rows = [row for row in logged if KEY + "cls" in row]
    assert len(train_rows) == 6
    last = {p: train_rows[-1][KEY + p] for p in PARTS}
    assert all(math.isfinite(v) and v > 0 for v in last.values())


def test_mils_loop_on_the_yolo_detector(deepforest_root: Path, tmp_path: Path) -> None:
    """MILS as the train loop of the stock YOLOv3 config: focal-loss steps, tested and kept or undone."""
    cfg = small_config(deepforest_root, tmp_path, epochs=1, name="yolov3_mobilenetv2_deepforest.py")
    cfg.train_cfg = dict(
        type="MILSEpochBasedTrainLoop",
        max_epochs=1,
        val_interval=1,
        rate=1.0,
        seed=0,
        auxiliaries=[
            dict(
                name="focal", replace={"bbox_head.loss_cls": dict(type="FocalLoss", use_sigmoid=True, reduction="sum")}
            )
        ],
    )
    runner = Runner.from_cfg(cfg)
    runner.train()
    stats = runner.train_loop.mils_stats()
    # Rate 1: both steps of the epoch try the auxiliary. (The observation copy must not add a
    # batch: mmdet's AspectRatioBatchSampler keeps what a partial pass left over.)
    assert runner.iter == 2 and stats["attempted"] == {"focal": 2}
    assert 0 <= stats["accepted"]["focal"] <= 2
    # Whatever was decided, the primary loss is back in place and the model is finite.
    assert type(runner.model.bbox_head.loss_cls).__name__ == "CrossEntropyLoss"
    assert all(torch.isfinite(p).all() for p in runner.model.parameters())
    assert 0.0 <= runner.message_hub.get_scalar("val/pascal_voc/mAP").current() <= 1.0


def test_two_cpu_processes_through_mmdets_train_script_keep_the_slf_weights_identical(
    deepforest_root: Path, tmp_path: Path
) -> None:
    """torchrun + mmdet's tools/train.py (--launcher pytorch, gloo via slf_mmdet.train), 8 tiles, 2 epochs."""
    import subprocess
    import sys

    work_dir = tmp_path / "ddp"
    options = [
        f"train_dataloader.dataset.data_root={deepforest_root}",
        f"val_dataloader.dataset.data_root={deepforest_root}",
        "train_dataloader.dataset.indices=8",
        "val_dataloader.dataset.indices=4",
        "train_dataloader.num_workers=0",
        "val_dataloader.num_workers=0",
        "train_cfg.max_epochs=2",
        "train_cfg.val_interval=2",
        "default_hooks.logger.interval=1",
        "randomness.seed=0",
    ]
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "slf_mmdet.train",
        str(CONFIGS / "yolov3_mobilenetv2_slf_deepforest.py"),
        "--launcher",
        "pytorch",
        "--work-dir",
        str(work_dir),
        "--cfg-options",
        *options,
    ]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-3000:]
    ranks = json.loads((work_dir / "slf_ranks.json").read_text())
    assert ranks == {
        "bbox_head.part_weighting": {
            "world_size": 2,
            "backend": "gloo",
            "model_max_rank_difference": 0.0,
            "decision_max_rank_difference": 0.0,
        }
    }
    checkpoint = torch.load(work_dir / "epoch_2.pth", map_location="cpu", weights_only=False)
    state = StochasticLoss.read_extra_state(checkpoint["state_dict"]["bbox_head.part_weighting.selection._extra_state"])
    assert state["step"] == 2  # 8 tiles, 4 per process and iteration: one iteration per epoch
