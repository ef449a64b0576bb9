"""DeepForest tree-crown tiles: box clipping, tile geometry, and the real data via mmdet.

The real-data tests download the ``deepforest==2.1.0`` wheel once into the default
cache (``~/.cache/stochastic-loss/deepforest``) and tile it into a pytest temp folder.
The expected tiles and boxes are recomputed here from the wheel's own XML with plain
integer arithmetic, independently of the module's numpy code, and compared with what
mmdet's ``VOCDataset`` reads back.
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.mmdet

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import slf_mmdet.deepforest_tiles as dft  # noqa: E402
from slf_mmdet.deepforest_tiles import (  # noqa: E402
    CLASSES,
    STAMP,
    SUB_ROOT,
    TRAIN_ANN_FILE,
    VAL_ANN_FILE,
    prepare_deepforest_voc,
    tile_boxes,
    tile_origins,
    tile_windows,
)

TILE = 400
HELD_OUT = "2019_YELL_2_541000_4977000_image_crop"


# ----------------------------------------------------------------------------- unit


@pytest.mark.parametrize("size", [1, 2, 399, 400, 401, 799, 800, 801, 1035, 1249, 2299, 2472])
def test_tile_origins_cover_without_padding(size):
    origins = tile_origins(size, TILE)
    assert origins == sorted(set(origins)) and origins[0] == 0
    assert len(origins) == math.ceil(size / TILE)
    assert origins[-1] == max(size - TILE, 0)  # the last tile is flush with the border
    assert all(b - a <= TILE for a, b in itertools.pairwise(origins))  # no gaps
    assert origins[:-1] == list(range(0, TILE * (len(origins) - 1), TILE))


def test_tile_origins_rejects_nonpositive():
    with pytest.raises(ValueError):
        tile_origins(0, TILE)
    with pytest.raises(ValueError):
        tile_origins(10, 0)


def test_tile_windows_small_image_is_one_unpadded_tile():
    assert tile_windows(250, 120, TILE) == [(0, 0, 250, 120)]
    assert tile_windows(900, 500, TILE) == [
        (0, 0, 400, 400),
        (400, 0, 800, 400),
        (500, 0, 900, 400),
        (0, 100, 400, 500),
        (400, 100, 800, 500),
        (500, 100, 900, 500),
    ]


def test_tile_boxes_clip_flag_and_drop():
    boxes = np.array(
        [
            [10, 10, 30, 30],  # inside: unchanged, normal
            [90, 0, 110, 20],  # exactly half inside: normal (>= min_visible)
            [91, 0, 111, 20],  # 9/20 inside: difficult
            [95, 95, 115, 115],  # a quarter inside: difficult
            [98, 40, 120, 60],  # 2 px inside: kept (difficult)
            [99, 40, 120, 60],  # 1 px inside: dropped
            [100, 40, 120, 60],  # touches the border only: dropped
            [150, 150, 170, 170],  # outside: dropped
            [-20, -20, 10, 10],  # sticks out at the origin
        ],
        dtype=float,
    )
    local, difficult = tile_boxes(boxes, (0, 0, 100, 100))
    assert local.tolist() == [
        [10, 10, 30, 30],
        [90, 0, 100, 20],
        [91, 0, 100, 20],
        [95, 95, 100, 100],
        [98, 40, 100, 60],
        [0, 0, 10, 10],
    ]
    assert difficult.tolist() == [False, False, True, True, True, True]


def test_tile_boxes_is_tile_local_and_respects_min_visible():
    boxes = np.array([[340, 420, 440, 480]], dtype=float)  # 100 x 60, cut 60 / 40 at x=400
    local, difficult = tile_boxes(boxes, (0, 400, 400, 800))
    assert local.tolist() == [[340, 20, 400, 80]] and difficult.tolist() == [False]
    _, difficult = tile_boxes(boxes, (0, 400, 400, 800), min_visible=0.7)
    assert difficult.tolist() == [True]
    local, difficult = tile_boxes(boxes, (400, 400, 800, 800))
    assert local.tolist() == [[0, 20, 40, 80]] and difficult.tolist() == [True]


def test_tile_boxes_empty_degenerate_and_bad_threshold():
    local, difficult = tile_boxes(np.zeros((0, 4)), (0, 0, 10, 10))
    assert local.shape == (0, 4) and difficult.shape == (0,)
    local, _ = tile_boxes(np.array([[5.0, 5.0, 5.0, 9.0]]), (0, 0, 10, 10))
    assert local.shape == (0, 4)
    with pytest.raises(ValueError):
        tile_boxes(np.zeros((1, 4)), (0, 0, 10, 10), min_visible=0.0)


def test_download_failure_says_what_to_run(tmp_path, monkeypatch):
    def failing_run(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 1, stdout="", stderr="ERROR: no network")

    monkeypatch.setattr(dft.subprocess, "run", failing_run)
    with pytest.raises(RuntimeError, match=r"pip download --no-deps deepforest==2\.1\.0") as err:
        dft.fetch_deepforest_wheel(tmp_path / "cache")
    assert "no network" in str(err.value)


# ------------------------------------------------------------------------ real data


def _reference(wheel: Path) -> dict[str, tuple[int, int, list[tuple[int, int, int, int]]]]:
    """stem -> (width, height, boxes) parsed straight from the wheel's XML files."""
    ref = {}
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for name in sorted(names):
            if not (name.startswith("deepforest/data/") and name.endswith(".xml")):
                continue
            stem = name[len("deepforest/data/") : -4]
            if not any(f"deepforest/data/{stem}{s}" in names for s in (".png", ".jpg", ".tif")):
                continue
            root = ET.fromstring(zf.read(name))
            boxes = [
                tuple(int(o.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax"))
                for o in root.iter("object")
            ]
            ref[stem] = (int(root.findtext("size/width")), int(root.findtext("size/height")), boxes)
    return ref


def _expected_tiles(ref):
    """tile id -> Counter of (x1, y1, x2, y2, difficult) in tile coordinates, and, per
    (stem, box index), the number of tiles the box appears in. Plain integer arithmetic:
    origins min(i * TILE, size - TILE), a box is kept when its part in the tile is at
    least 2 x 2 px and is difficult when that part is less than half of its area."""
    tiles, seen = {}, Counter()
    for stem, (w, h, boxes) in ref.items():
        xs = [max(min(i * TILE, w - TILE), 0) for i in range(math.ceil(w / TILE))]
        ys = [max(min(j * TILE, h - TILE), 0) for j in range(math.ceil(h / TILE))]
        for y0 in ys:
            for x0 in xs:
                got = Counter()
                for k, (a, b, c, d) in enumerate(boxes):
                    iw = min(c, x0 + TILE) - max(a, x0)
                    ih = min(d, y0 + TILE) - max(b, y0)
                    if iw >= 2 and ih >= 2:
                        difficult = 2 * iw * ih < (c - a) * (d - b)
                        got[
                            (
                                max(a, x0) - x0,
                                max(b, y0) - y0,
                                min(c, x0 + TILE) - x0,
                                min(d, y0 + TILE) - y0,
                                difficult,
                            )
                        ] += 1
                        seen[(stem, k)] += 1
                tiles[f"{stem}_{x0}_{y0}"] = got
    return tiles, seen


@pytest.fixture(scope="module")
def prepared(deepforest_root):
    root = deepforest_root
    ref = _reference(dft.fetch_deepforest_wheel())  # cached by the call above
    return root, ref


@pytest.fixture(scope="module")
def loaded(prepared):
    from mmdet.datasets import VOCDataset

    root, _ = prepared
    out = {}
    for split, ann_file in (("train", TRAIN_ANN_FILE), ("val", VAL_ANN_FILE)):
        ds = VOCDataset(
            data_root=str(root),
            ann_file=ann_file,
            data_prefix={"sub_data_root": SUB_ROOT},
            metainfo={"classes": CLASSES},
            pipeline=[],
            test_mode=False,
        )
        out[split] = [ds.get_data_info(i) for i in range(len(ds))]
    return out


def test_real_data_source(prepared):
    _, ref = prepared
    assert {s: (w, h, len(b)) for s, (w, h, b) in ref.items()} == {
        "2019_YELL_2_528000_4978000_image_crop2": (2299, 2472, 574),
        "2019_YELL_2_541000_4977000_image_crop": (1249, 1035, 279),
        "OSBS_029": (400, 400, 61),
        "SOAP_061": (400, 400, 37),
    }


def test_tile_count_follows_geometry(prepared, loaded):
    _, ref = prepared
    expected = sum(math.ceil(w / TILE) * math.ceil(h / TILE) for w, h, _ in ref.values())
    assert expected == 6 * 7 + 4 * 3 + 1 + 1
    assert len(loaded["train"]) + len(loaded["val"]) == expected


def test_mmdet_reads_every_tile_with_boxes_inside(loaded):
    for infos in loaded.values():
        for info in infos:
            assert (info["width"], info["height"]) == (TILE, TILE)
            image = cv2.imread(info["img_path"])
            assert image is not None and image.shape == (TILE, TILE, 3), info["img_path"]
            for inst in info["instances"]:
                x1, y1, x2, y2 = inst["bbox"]
                assert 0 <= x1 < x2 <= TILE and 0 <= y1 < y2 <= TILE, (info["img_id"], inst)
                assert x2 - x1 >= 2 and y2 - y1 >= 2
                assert inst["bbox_label"] == 0 and inst["ignore_flag"] in (0, 1)


def test_boxes_match_an_independent_tiling_of_the_source(prepared, loaded):
    root, ref = prepared
    expected, seen = _expected_tiles(ref)
    got = {
        info["img_id"]: Counter((*inst["bbox"], bool(inst["ignore_flag"])) for inst in info["instances"])
        for infos in loaded.values()
        for info in infos
    }
    assert got == expected

    # Each of the 951 source boxes shows up, clipped or not, in at least one tile; a box
    # lying wholly inside a tile appears there unchanged and not difficult.
    assert len(seen) == sum(len(b) for _, _, b in ref.values()) == 951
    for stem, (w, h, boxes) in ref.items():
        for a, b, c, d in boxes:
            for x0 in tile_origins(w, TILE):
                for y0 in tile_origins(h, TILE):
                    if x0 <= a and c <= x0 + TILE and y0 <= b and d <= y0 + TILE:
                        assert (a - x0, b - y0, c - x0, d - y0, False) in got[f"{stem}_{x0}_{y0}"]

    # The stamp's counts agree with what mmdet reads.
    counts = json.loads((root / SUB_ROOT / STAMP).read_text())["counts"]
    for split, infos in loaded.items():
        flags = [inst["ignore_flag"] for info in infos for inst in info["instances"]]
        assert counts[split]["tiles"] == len(infos)
        assert counts[split]["boxes"] == len(flags)
        assert counts[split]["difficult"] == sum(flags)


def test_splits_are_disjoint_and_val_is_the_held_out_image(prepared, loaded):
    root, ref = prepared
    train = {i["img_id"] for i in loaded["train"]}
    val = {i["img_id"] for i in loaded["val"]}
    on_disk = {p.stem for p in (root / SUB_ROOT / "JPEGImages").glob("*.jpg")}
    assert train.isdisjoint(val) and train | val == on_disk
    assert val and all(i.rsplit("_", 2)[0] == HELD_OUT for i in val)
    assert all(i.rsplit("_", 2)[0] != HELD_OUT for i in train)
    assert {i.rsplit("_", 2)[0] for i in train} == set(ref) - {HELD_OUT}


def test_second_call_is_a_no_op(prepared, monkeypatch):
    root, _ = prepared
    files = sorted(p for p in (root / SUB_ROOT).rglob("*") if p.is_file())
    before = [(p, p.stat().st_mtime_ns, p.stat().st_size) for p in files]

    def no_fetch(*args, **kwargs):
        raise AssertionError("a matching stamp must not touch the wheel")

    monkeypatch.setattr(dft, "fetch_deepforest_wheel", no_fetch)
    assert prepare_deepforest_voc(root, tile=TILE) == root
    after = sorted(p for p in (root / SUB_ROOT).rglob("*") if p.is_file())
    assert [(p, p.stat().st_mtime_ns, p.stat().st_size) for p in after] == before


def test_other_parameters_rebuild(prepared, tmp_path):
    _, ref = prepared
    for tile in (800, 1000):
        root = prepare_deepforest_voc(tmp_path, tile=tile)
        sub = root / SUB_ROOT
        ids = set()
        for split in ("train", "val"):
            ids |= set((sub / "ImageSets" / "Main" / f"{split}.txt").read_text().split())
        # no tiles of the previous build are left behind
        assert {p.stem for p in (sub / "JPEGImages").glob("*.jpg")} == ids
        assert {p.stem for p in (sub / "Annotations").glob("*.xml")} == ids
        assert len(ids) == sum(math.ceil(w / tile) * math.ceil(h / tile) for w, h, _ in ref.values())
