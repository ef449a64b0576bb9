"""Every config in configs/mmdet loads, builds its model, and finds its data where it says.

PASCAL VOC cannot be downloaded here, so the VOC configs read a small VOCdevkit written
in the real layout (JPEG images, VOC XML annotations, ImageSets split files).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

pytestmark = [pytest.mark.mmdet, pytest.mark.usefixtures("mmdet_scope")]

from mmdet.registry import DATASETS, MODELS  # noqa: E402
from mmengine.config import Config  # noqa: E402

import slf_mmdet  # noqa: E402,F401

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "mmdet"
ALL = sorted(p.name for p in CONFIGS.glob("*.py"))
VOC_OBJECTS = {
    "2007_000001": [("dog", 10, 20, 120, 140, 0)],
    "2007_000002": [("person", 30, 5, 90, 150, 0), ("car", 100, 100, 160, 150, 1)],
    "2012_000001": [("cat", 5, 5, 60, 60, 0)],
    "2012_000002": [("bus", 40, 30, 150, 120, 0)],
}


def test_every_config_is_here() -> None:
    assert {
        "yolov3_mobilenetv2_deepforest.py",
        "yolov3_mobilenetv2_slf_deepforest.py",
        "yolov3_d53_voc0712.py",
        "yolov3_d53_slf_voc0712.py",
        "yolov3_mobilenetv2_voc0712.py",
        "yolov3_mobilenetv2_slf_voc0712.py",
    } <= set(ALL)


def expected_head(name: str) -> str:
    if name.startswith("retinanet_") and "_iou_balanced_" in name:
        return "IoUBalancedRetinaHead"
    return "SLFYOLOV3Head" if "_slf_" in name else "YOLOV3Head"


@pytest.mark.parametrize("name", ALL)
def test_config_loads_and_builds(name: str) -> None:
    cfg = Config.fromfile(CONFIGS / name)
    cfg.model.backbone.init_cfg = None  # pretrained weights are not reachable offline
    model = MODELS.build(cfg.model)
    slf = "_slf_" in name
    assert type(model.bbox_head).__name__ == expected_head(name)
    assert model.bbox_head.num_classes == (1 if "deepforest" in name else 20)
    if slf:
        assert {"type": "SLFLoggerHook"} in cfg.custom_hooks
        # The learned weights start at the stock config's weights (1, 1, 1, 2, 2).
        assert [round(x, 4) for x in model.bbox_head.part_weighting.lambdas.tolist()] == [1.0, 1.0, 1.0, 2.0, 2.0]


@pytest.mark.parametrize("name", ALL)
def test_a_config_of_yours_builds_on_each_one_through_the_package_scope(name: str, tmp_path: Path) -> None:
    """``_base_ = 'slf_mmdet::slf/NAME'`` (mmengine's scope mechanism) resolves to the same config."""
    (tmp_path / "mine.py").write_text(f"_base_ = 'slf_mmdet::slf/{name}'\ntrain_cfg = dict(max_epochs=3)\n")
    mine, theirs = Config.fromfile(tmp_path / "mine.py"), Config.fromfile(CONFIGS / name)
    assert mine.train_cfg.max_epochs == 3
    assert mine.model.bbox_head.type == theirs.model.bbox_head.type == expected_head(name)
    hooks = [[hook.type for hook in cfg.get("custom_hooks", [])] for cfg in (mine, theirs)]
    assert hooks[0] == hooks[1]


def write_voc_image(root: Path, year: str, image_id: str, objects) -> None:
    sub = root / f"VOC{year}"
    for folder in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (sub / folder).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(image_id) + int(image_id[-1]))
    cv2.imwrite(str(sub / "JPEGImages" / f"{image_id}.jpg"), rng.integers(0, 255, (180, 200, 3), dtype=np.uint8))
    body = "".join(
        f"<object><name>{name}</name><difficult>{difficult}</difficult><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin>"
        f"<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"
        for name, x1, y1, x2, y2, difficult in objects
    )
    (sub / "Annotations" / f"{image_id}.xml").write_text(
        f"<annotation><filename>{image_id}.jpg</filename><size><width>200</width><height>180</height>"
        f"<depth>3</depth></size>{body}</annotation>"
    )


@pytest.mark.parametrize("name", ["yolov3_d53_slf_voc0712.py", "yolov3_mobilenetv2_voc0712.py"])
def test_voc_configs_read_a_vocdevkit(name: str, tmp_path: Path) -> None:
    for image_id, objects in VOC_OBJECTS.items():
        write_voc_image(tmp_path, image_id[:4], image_id, objects)
    for year, split in (("2007", "trainval"), ("2012", "trainval"), ("2007", "test")):
        ids = [i for i in VOC_OBJECTS if i.startswith(year)]
        (tmp_path / f"VOC{year}" / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(ids) + "\n")
    cfg = Config.fromfile(CONFIGS / name)
    for part in cfg.train_dataloader.dataset.datasets:
        part.data_root = str(tmp_path) + "/"
    cfg.val_dataloader.dataset.data_root = str(tmp_path) + "/"
    train = DATASETS.build(cfg.train_dataloader.dataset)
    val = DATASETS.build(cfg.val_dataloader.dataset)
    assert len(train) == 4 and len(val) == 2
    # 07+12 trainval for training, 2007 test for evaluation; difficult objects are flagged, not dropped.
    sample = val[1]
    assert sample["data_samples"].gt_instances.bboxes.shape[0] == 1
    assert sample["data_samples"].ignored_instances.bboxes.shape[0] == 1
    assert train.metainfo["classes"][train[0]["data_samples"].gt_instances.labels[0]] in {"dog", "person", "cat", "bus"}
