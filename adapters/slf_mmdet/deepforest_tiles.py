"""DeepForest tree crowns as a small, offline, VOC-style detection data set for mmdet.

The ``deepforest==2.1.0`` wheel ships aerial RGB images of tree crowns with Pascal VOC
XML boxes in its ``deepforest/data/`` folder (four annotated images, 951 boxes, one
class). Only that data is used: the wheel is fetched with ``pip download --no-deps``
into a cache folder and its members are read straight from the zip, so deepforest and
its dependencies are never installed.

The images are cut into ``tile`` x ``tile`` tiles (default 400 px, CPU-sized) and
written in the layout mmdet's ``VOCDataset`` reads::

    <root>/trees/JPEGImages/<id>.jpg
    <root>/trees/Annotations/<id>.xml
    <root>/trees/ImageSets/Main/train.txt, val.txt

so a config uses::

    from slf_mmdet.deepforest_tiles import (CLASSES, SUB_ROOT, TRAIN_ANN_FILE,
                                            prepare_deepforest_voc)
    data_root = str(prepare_deepforest_voc('data/deepforest'))
    dataset = dict(type='VOCDataset', data_root=data_root,
                   ann_file=TRAIN_ANN_FILE,  # 'trees/ImageSets/Main/train.txt'
                   data_prefix=dict(sub_data_root=SUB_ROOT),
                   metainfo=dict(classes=CLASSES), ...)

(mmdet joins ``ann_file`` to ``data_root`` but the image and XML folders to
``data_root + sub_data_root``, so the split files are named with the sub-folder, as in
mmdet's own VOC configs: ``ann_file='VOC2007/ImageSets/Main/trainval.txt'``.)

Tiles of the images named in ``val_images`` form the validation split (a held-out
image, so no spatial leakage between splits); the other images' tiles form the
training split. A box cut by a tile border is kept clipped; if less than
``min_visible`` of its area is in the tile it is marked ``difficult`` (ignored by VOC
evaluation and, through ``ignore_flag``, by mmdet's assigners).

From the command line::

    python -m slf_mmdet.deepforest_tiles OUT [--tile 400]
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

__all__ = [
    "CLASSES",
    "STAMP",
    "SUB_ROOT",
    "TRAIN_ANN_FILE",
    "VAL_ANN_FILE",
    "WHEEL_REQUIREMENT",
    "SourceImage",
    "default_cache_dir",
    "fetch_deepforest_wheel",
    "main",
    "prepare_deepforest_voc",
    "read_deepforest_images",
    "tile_boxes",
    "tile_origins",
    "tile_windows",
]

CLASSES: tuple[str, ...] = ("Tree",)
# Sub-folder of the data root; pass as ``data_prefix=dict(sub_data_root=SUB_ROOT)``.
# It must not contain 'VOC2007'/'VOC2012': mmdet's VOCDataset would then tag the set as
# PASCAL VOC and VOCMetric would report with the 20 VOC class names.
SUB_ROOT: str = "trees/"
# Split files relative to the data root, for mmdet's ``ann_file``.
TRAIN_ANN_FILE: str = SUB_ROOT + "ImageSets/Main/train.txt"
VAL_ANN_FILE: str = SUB_ROOT + "ImageSets/Main/val.txt"
STAMP: str = "done.json"
WHEEL_REQUIREMENT: str = "deepforest==2.1.0"

_WHEEL_GLOB = "deepforest-2.1.0-*.whl"
_DATA_PREFIX = "deepforest/data/"
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
_JPEG_QUALITY = 95
_MIN_SIDE = 2.0  # clipped boxes narrower or lower than this (px) are dropped

PathLike = str | Path


@dataclass(frozen=True)
class SourceImage:
    """One annotated image of the wheel.

    Attributes:
        stem: File name without suffix, e.g. ``'OSBS_029'``.
        image: ``(H, W, 3)`` uint8 BGR array (cv2 order).
        boxes: ``(N, 4)`` float array of 0-based pixel-edge coordinates
            ``(x1, y1, x2, y2)``, with ``0 <= x1 < x2 <= W`` and ``0 <= y1 < y2 <= H``.
    """

    stem: str
    image: np.ndarray
    boxes: np.ndarray


def tile_origins(size: int, tile: int = 400) -> list[int]:
    """Start offsets of the tiles covering ``[0, size)`` along one axis, no padding.

    Tiles start at ``0, tile, 2 * tile, ...``; the last one starts at ``size - tile``,
    flush with the border (so it may overlap its neighbour). A side not longer than
    ``tile`` gives the single origin 0 (that tile is then only ``size`` long).

    Args:
        size: Image side length in pixels (> 0).
        tile: Tile side length in pixels (> 0).

    Returns:
        Sorted, distinct origins.

    Example:
        >>> tile_origins(400)
        [0]
        >>> tile_origins(1035)
        [0, 400, 635]
        >>> tile_origins(800)
        [0, 400]
        >>> tile_origins(250)
        [0]
    """
    if size <= 0 or tile <= 0:
        raise ValueError(f"size and tile must be positive, got size={size}, tile={tile}")
    if size <= tile:
        return [0]
    return list(range(0, size - tile, tile)) + [size - tile]


def tile_windows(width: int, height: int, tile: int = 400) -> list[tuple[int, int, int, int]]:
    """Tile windows ``(x0, y0, x1, y1)`` covering a ``width`` x ``height`` image.

    Rows of :func:`tile_origins` along y, each row left to right along x.

    Args:
        width: Image width in pixels.
        height: Image height in pixels.
        tile: Tile side length in pixels.

    Returns:
        Windows with exclusive ends ``x1 = x0 + min(tile, width)`` (same for y).

    Example:
        >>> tile_windows(700, 400, tile=400)
        [(0, 0, 400, 400), (300, 0, 700, 400)]
    """
    tw, th = min(tile, width), min(tile, height)
    return [(x0, y0, x0 + tw, y0 + th) for y0 in tile_origins(height, tile) for x0 in tile_origins(width, tile)]


def tile_boxes(boxes: np.ndarray, window: Sequence[float], min_visible: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Clip boxes to a tile window and express them in tile coordinates.

    A box keeps its normal status if at least ``min_visible`` of its area lies in the
    window; if only a smaller positive fraction does, it is kept clipped but flagged
    ``difficult`` (VOC semantics: ignored in evaluation). Boxes outside the window, and
    boxes whose clipped part is less than 2 px wide or high, are dropped.

    Args:
        boxes: ``(N, 4)`` array of ``(x1, y1, x2, y2)`` image coordinates.
        window: ``(x0, y0, x1, y1)`` of the tile in the same coordinates.
        min_visible: Visible area fraction, in ``(0, 1]``, needed to stay non-difficult.

    Returns:
        ``(local, difficult)``: ``(K, 4)`` float64 boxes relative to the window origin
        (within ``[0, x1 - x0] x [0, y1 - y0]``) and a ``(K,)`` bool array, ``K <= N``,
        in the input order.

    Example:
        >>> b = np.array([[10, 10, 50, 50],     # inside
        ...               [80, 10, 120, 50],    # half inside -> kept, normal
        ...               [90, 60, 130, 100],   # a quarter inside -> difficult
        ...               [99, 10, 140, 50],    # 1 px inside -> dropped
        ...               [200, 0, 250, 40]])   # outside -> dropped
        >>> local, difficult = tile_boxes(b, (0, 0, 100, 100))
        >>> local.astype(int).tolist()
        [[10, 10, 50, 50], [80, 10, 100, 50], [90, 60, 100, 100]]
        >>> difficult.tolist()
        [False, False, True]
        >>> tile_boxes(b, (100, 0, 200, 100))[0].astype(int).tolist()
        [[0, 10, 20, 50], [0, 60, 30, 100], [0, 10, 40, 50]]
    """
    if not 0.0 < min_visible <= 1.0:
        raise ValueError(f"min_visible must be in (0, 1], got {min_visible}")
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x0, y0, x1, y1 = (float(v) for v in window)
    clipped = np.stack(
        [
            np.clip(b[:, 0], x0, x1),
            np.clip(b[:, 1], y0, y1),
            np.clip(b[:, 2], x0, x1),
            np.clip(b[:, 3], y0, y1),
        ],
        axis=1,
    )
    cw = clipped[:, 2] - clipped[:, 0]
    ch = clipped[:, 3] - clipped[:, 1]
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    keep = (cw >= _MIN_SIDE) & (ch >= _MIN_SIDE) & (area > 0)
    visible = np.divide(cw * ch, area, out=np.zeros_like(area), where=area > 0)
    local = clipped[keep] - np.array([x0, y0, x0, y0])
    return local, visible[keep] < min_visible


def default_cache_dir() -> Path:
    """Default folder for the downloaded wheel: ``~/.cache/stochastic-loss/deepforest``.

    Returns:
        The path (not created).

    Example:
        >>> default_cache_dir().parts[-2:]
        ('stochastic-loss', 'deepforest')
    """
    return Path.home() / ".cache" / "stochastic-loss" / "deepforest"


def _pip_download_command(cache_dir: Path) -> list[str]:
    return [sys.executable, "-m", "pip", "download", "--no-deps", WHEEL_REQUIREMENT, "-d", str(cache_dir)]


def fetch_deepforest_wheel(cache_dir: PathLike | None = None) -> Path:
    """Return the cached ``deepforest-2.1.0`` wheel, downloading it (21 MB) if absent.

    Args:
        cache_dir: Folder holding the wheel; defaults to :func:`default_cache_dir`.

    Returns:
        Path of the wheel file.

    Raises:
        RuntimeError: If ``pip download`` fails or leaves no wheel; the message gives
            the command to run by hand.
    """
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    found = sorted(cache.glob(_WHEEL_GLOB))
    if found:
        return found[0]
    cache.mkdir(parents=True, exist_ok=True)
    cmd = _pip_download_command(cache)
    hint = (
        f"Run by hand (with network access): {shlex.join(cmd)}  "
        f"-- or copy {WHEEL_REQUIREMENT.replace('==', '-')}-py3-none-any.whl into {cache}"
    )
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise RuntimeError(f"could not run pip to download {WHEEL_REQUIREMENT}: {exc}. {hint}") from exc
    found = sorted(cache.glob(_WHEEL_GLOB))
    if proc.returncode != 0 or not found:
        tail = "\n".join((proc.stderr or proc.stdout or "").strip().splitlines()[-5:])
        raise RuntimeError(f"downloading {WHEEL_REQUIREMENT} failed (pip exit code {proc.returncode}):\n{tail}\n{hint}")
    return found[0]


def _parse_voc_boxes(xml_bytes: bytes) -> tuple[int, int, np.ndarray]:
    root = ET.fromstring(xml_bytes)
    width = int(root.findtext("size/width"))
    height = int(root.findtext("size/height"))
    boxes = [
        [float(obj.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")] for obj in root.iter("object")
    ]
    # Names ('Tree', or 'Alive'/'Dead' in SOAP_061) are all mapped to the single class.
    return width, height, np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def read_deepforest_images(wheel: PathLike) -> list[SourceImage]:
    """Read the annotated images of ``deepforest/data/`` straight from the wheel.

    Every XML file is paired with the image of the same stem (PNG preferred: the XML's
    own ``filename`` field is not reliable, e.g. ``OSBS_029.xml`` names a ``.tif``);
    images without an XML are ignored. The coordinates are taken as 0-based pixel edges:
    box maxima reach the image width/height (so they are not 1-based inclusive indices);
    the minima are never below 1, which is the annotation tool's clamp, not an offset.
    They are checked against the image size.

    Args:
        wheel: Path of the deepforest wheel.

    Returns:
        The images, sorted by stem.

    Raises:
        RuntimeError: If the wheel is not a valid zip file.
        ValueError: If an image's size disagrees with its XML or a box leaves the image.
    """
    try:
        zf = zipfile.ZipFile(wheel)
    except zipfile.BadZipFile as exc:
        raise RuntimeError(f"{wheel} is not a valid wheel; delete it to download it again") from exc
    with zf:
        members = {
            n[len(_DATA_PREFIX) :]: n
            for n in zf.namelist()
            if n.startswith(_DATA_PREFIX) and "/" not in n[len(_DATA_PREFIX) :]
        }
        out = []
        for name in sorted(members):
            stem, suffix = name.rsplit(".", 1) if "." in name else (name, "")
            if suffix.lower() != "xml":
                continue
            image_name = next((stem + s for s in _IMAGE_SUFFIXES if stem + s in members), None)
            if image_name is None:
                continue
            width, height, boxes = _parse_voc_boxes(zf.read(members[name]))
            data = np.frombuffer(zf.read(members[image_name]), dtype=np.uint8)
            image = cv2.imdecode(data, cv2.IMREAD_COLOR)
            if image is None:
                raise ValueError(f"cannot decode {image_name} from {wheel}")
            if image.shape[:2] != (height, width):
                raise ValueError(
                    f"{image_name}: image is {image.shape[1]}x{image.shape[0]}, its XML says {width}x{height}"
                )
            bad = (
                (boxes[:, 0] < 0)
                | (boxes[:, 1] < 0)
                | (boxes[:, 2] > width)
                | (boxes[:, 3] > height)
                | (boxes[:, 2] <= boxes[:, 0])
                | (boxes[:, 3] <= boxes[:, 1])
            )
            if bad.any():
                raise ValueError(
                    f"{name}: {int(bad.sum())} boxes are empty or leave the "
                    f"{width}x{height} image, e.g. {boxes[bad][0].tolist()}"
                )
            out.append(SourceImage(stem=stem, image=image, boxes=boxes))
    return out


def _voc_xml(filename: str, width: int, height: int, boxes: np.ndarray, difficult: np.ndarray) -> bytes:
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = SUB_ROOT.strip("/")
    ET.SubElement(root, "filename").text = filename
    ET.SubElement(ET.SubElement(root, "source"), "database").text = WHEEL_REQUIREMENT
    size = ET.SubElement(root, "size")
    for key, value in (("width", width), ("height", height), ("depth", 3)):
        ET.SubElement(size, key).text = str(value)
    ET.SubElement(root, "segmented").text = "0"
    for box, diff in zip(boxes, difficult):
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = CLASSES[0]
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "difficult").text = str(int(diff))
        bndbox = ET.SubElement(obj, "bndbox")
        # VOC files are 1-based: mmdet's XMLDataset subtracts 1 when reading.
        for key, value in zip(("xmin", "ymin", "xmax", "ymax"), box):
            ET.SubElement(bndbox, key).text = str(round(float(value)) + 1)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=False) + b"\n"


def _read_stamp(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def prepare_deepforest_voc(
    root: PathLike,
    tile: int = 400,
    val_images: Iterable[str] = ("2019_YELL_2_541000_4977000_image_crop",),
    cache_dir: PathLike | None = None,
    min_visible: float = 0.5,
) -> Path:
    """Tile the DeepForest images into an mmdet ``VOCDataset`` layout under ``root``.

    Writes ``root/SUB_ROOT`` with ``JPEGImages/<id>.jpg`` (JPEG quality 95),
    ``Annotations/<id>.xml`` (class ``'Tree'``, ``difficult`` 0/1, 1-based VOC
    ``bndbox``) and ``ImageSets/Main/{train,val}.txt``; tile ids are
    ``<image stem>_<x0>_<y0>``. Tiles of ``val_images`` go to ``val.txt``, all others
    to ``train.txt`` (:data:`TRAIN_ANN_FILE` and :data:`VAL_ANN_FILE` relative to
    ``root``). Every tile is listed, including tiles without boxes.

    A ``done.json`` stamp records the parameters and the per-split counts; a call whose
    parameters match it returns at once, other parameters rebuild the folder (the
    previous ``JPEGImages``, ``Annotations`` and ``ImageSets`` are removed first).

    Args:
        root: Data root to create (pass it as mmdet's ``data_root``).
        tile: Tile side in pixels (see :func:`tile_origins`).
        val_images: Stems of the images held out for validation.
        cache_dir: Wheel cache folder; defaults to :func:`default_cache_dir`.
        min_visible: Visible area fraction below which a clipped box is ``difficult``.

    Returns:
        ``root`` as a :class:`~pathlib.Path` (the data root; images live under
        ``root / SUB_ROOT``).

    Raises:
        RuntimeError: If the wheel cannot be downloaded (the message says what to run).
        ValueError: If a name in ``val_images`` is not an annotated image of the wheel.

    Example::

        root = prepare_deepforest_voc('data/deepforest')
        json.loads((root / SUB_ROOT / STAMP).read_text())['counts']
    """
    if tile <= 0:
        raise ValueError(f"tile must be positive, got {tile}")
    if not 0.0 < min_visible <= 1.0:
        raise ValueError(f"min_visible must be in (0, 1], got {min_visible}")
    if isinstance(val_images, str):
        val_images = (val_images,)
    root = Path(root)
    out = root / SUB_ROOT
    params = {
        "source": WHEEL_REQUIREMENT,
        "tile": int(tile),
        "val_images": sorted(set(val_images)),
        "min_visible": float(min_visible),
    }
    stamp_path = out / STAMP
    stamp = _read_stamp(stamp_path)
    if stamp is not None and stamp.get("params") == params:
        return root

    images = read_deepforest_images(fetch_deepforest_wheel(cache_dir))
    unknown = set(params["val_images"]) - {im.stem for im in images}
    if unknown:
        raise ValueError(f"val_images not in the wheel: {sorted(unknown)}; known: {[im.stem for im in images]}")

    stamp_path.unlink(missing_ok=True)
    for sub in ("JPEGImages", "Annotations", "ImageSets"):
        shutil.rmtree(out / sub, ignore_errors=True)
    img_dir, ann_dir, set_dir = out / "JPEGImages", out / "Annotations", out / "ImageSets" / "Main"
    for d in (img_dir, ann_dir, set_dir):
        d.mkdir(parents=True, exist_ok=True)

    splits: dict[str, list[str]] = {"train": [], "val": []}
    counts = {s: {"images": 0, "tiles": 0, "boxes": 0, "difficult": 0} for s in splits}
    jobs = [(im, w) for im in images for w in tile_windows(im.image.shape[1], im.image.shape[0], tile)]
    for im in images:
        counts["val" if im.stem in params["val_images"] else "train"]["images"] += 1
    for im, (x0, y0, x1, y1) in tqdm(jobs, desc="deepforest tiles", unit="tile"):
        split = "val" if im.stem in params["val_images"] else "train"
        tile_id = f"{im.stem}_{x0}_{y0}"
        boxes, difficult = tile_boxes(im.boxes, (x0, y0, x1, y1), min_visible)
        crop = np.ascontiguousarray(im.image[y0:y1, x0:x1])
        if not cv2.imwrite(str(img_dir / f"{tile_id}.jpg"), crop, [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY]):
            raise OSError(f"cv2.imwrite failed for {img_dir / tile_id}.jpg")
        (ann_dir / f"{tile_id}.xml").write_bytes(_voc_xml(f"{tile_id}.jpg", x1 - x0, y1 - y0, boxes, difficult))
        splits[split].append(tile_id)
        counts[split]["tiles"] += 1
        counts[split]["boxes"] += len(boxes)
        counts[split]["difficult"] += int(difficult.sum())
    for split, ids in splits.items():
        (set_dir / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))

    # The stamp is written last (atomically), so an interrupted build is redone.
    tmp = stamp_path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"params": params, "counts": counts}, indent=2) + "\n")
    tmp.replace(stamp_path)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m slf_mmdet.deepforest_tiles OUT [--tile 400]``.

    Args:
        argv: Arguments (defaults to ``sys.argv[1:]``).

    Returns:
        Exit status 0; the per-split counts are printed as JSON.
    """
    parser = argparse.ArgumentParser(
        prog="python -m slf_mmdet.deepforest_tiles",
        description="Tile the DeepForest tree-crown images into an mmdet VOCDataset layout.",
    )
    parser.add_argument("out", type=Path, help="data root to create (mmdet data_root)")
    parser.add_argument("--tile", type=int, default=400, help="tile side in px (default 400)")
    parser.add_argument(
        "--min-visible", type=float, default=0.5, help="visible area fraction below which a cut box is difficult"
    )
    parser.add_argument(
        "--val-image",
        action="append",
        dest="val_images",
        metavar="STEM",
        help="held-out image stem (repeatable; default 2019_YELL_2_541000_4977000_image_crop)",
    )
    parser.add_argument("--cache-dir", type=Path, default=None, help=f"wheel cache (default {default_cache_dir()})")
    args = parser.parse_args(argv)
    kwargs = {} if args.val_images is None else {"val_images": args.val_images}
    root = prepare_deepforest_voc(
        args.out, tile=args.tile, cache_dir=args.cache_dir, min_visible=args.min_visible, **kwargs
    )
    stamp = json.loads((root / SUB_ROOT / STAMP).read_text())
    print(f"data_root={root}  sub_data_root={SUB_ROOT}")
    print(json.dumps(stamp["counts"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
