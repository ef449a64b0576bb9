"""mmdet's own ``tools/train.py``, runnable as ``python -m slf_mmdet.train`` and on CPUs under torchrun.

mmengine's ``--launcher pytorch`` calls ``torch.cuda.set_device`` before it joins the
process group and gives DDP ``device_ids=[LOCAL_RANK]``, which a CPU-only torch cannot
do. When torchrun started this process and there is no GPU, this joins the group with
gloo first (mmengine then uses it as it is) and adds
``--cfg-options model_wrapper_cfg.type=MMDistributedDataParallel model_wrapper_cfg.device_ids=None``
(and the config's ``find_unused_parameters``);
with GPUs it changes nothing. It imports ``slf_mmdet`` first, so a config's
``_base_ = 'slf_mmdet::slf/NAME.py'`` resolves to the configs installed with the package.
Every other argument goes to mmdet's script unchanged::

    torchrun --nproc_per_node 2 -m slf_mmdet.train configs/mmdet/yolov3_mobilenetv2_slf_deepforest.py \\
        --launcher pytorch
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path
from typing import Optional, Sequence

import torch


def mmdet_train_script() -> Path:
    """The path of mmdet's ``tools/train.py``, as installed with the package (``.mim/tools``).

    Example:
        >>> mmdet_train_script().name
        'train.py'
    """
    import mmdet

    script = Path(mmdet.__file__).parent / ".mim" / "tools" / "train.py"
    if not script.is_file():
        raise FileNotFoundError(f"mmdet's tools/train.py is not at {script}; reinstall mmdet with its .mim tools")
    return script


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Run mmdet's train script with ``argv`` (default: this process's arguments)."""
    import slf_mmdet  # noqa: F401  (registers its components and the 'slf_mmdet::' config scope)
    from slf import distributed

    arguments = list(sys.argv[1:] if argv is None else argv)
    if not torch.cuda.is_available() and distributed.init_from_environment("cpu"):
        from mmengine.config import Config

        # With a model_wrapper_cfg mmengine no longer reads the config's find_unused_parameters.
        unused = bool(Config.fromfile(arguments[0]).get("find_unused_parameters", False)) if arguments else False
        # mmengine's DictAction merges a repeated --cfg-options into the earlier ones.
        arguments += [
            "--cfg-options",
            "model_wrapper_cfg.type=MMDistributedDataParallel",
            "model_wrapper_cfg.device_ids=None",
            f"model_wrapper_cfg.find_unused_parameters={unused}",
        ]
    script = mmdet_train_script()
    sys.argv = [str(script), *arguments]
    sys.path.insert(0, str(script.parent))
    runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    main()
