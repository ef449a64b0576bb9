"""``SLFHeldOutHook``: held-out batches for every default-recipe SLF loss of an mmdet model.

The default recipe (``mode='align'``, :mod:`slf.alignment`) compares each candidate's
gradient with that of the stock loss on data the step does not train on. Before every
``interval``-th training iteration this hook draws the next batch of the runner's val
dataloader (its pipeline loads the boxes, as mmdet's do for ``CocoMetric`` and
``VOCMetric``; where it loads them after resizing the image, as mmdet's test pipelines do,
the boxes are brought to the resized image with the batch's ``scale_factor``), runs the
model's ``loss`` forward on it in training mode (batch norm's running statistics left as they
were: :func:`slf.held_out.frozen_batch_norm`), and lets every
``StochasticLoss`` and ``SLFYOLOV3Head`` weighting in the model take its reference from
that pass (:meth:`slf.StochasticLoss.reference_pass`): nothing is trained there. Without
a val dataloader it draws from a second iterator over the training set, a batch other
than the one the step trains on. Without the hook the losses compare with the previous
training batch and warn once.

Config::

    custom_hooks = [dict(type='SLFHeldOutHook'), dict(type='SLFLoggerHook')]
"""

from __future__ import annotations

import contextlib
from typing import Any, List, Optional

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from slf import StochasticLoss
from slf.held_out import Cycle, frozen_batch_norm
from slf.model_losses import default_recipe_losses


def boxes_loaded_after_resize(dataset: Any) -> bool:
    """Whether ``dataset``'s pipeline loads the boxes after resizing the image (mmdet's test
    pipelines do: their boxes stay in the original image's coordinates)."""
    while dataset is not None and not hasattr(dataset, "pipeline"):
        dataset = getattr(dataset, "dataset", None)  # through RepeatDataset, ClassBalancedDataset, ...
    names = [type(transform).__name__ for transform in getattr(getattr(dataset, "pipeline", None), "transforms", [])]
    resized = [i for i, name in enumerate(names) if "Resize" in name]
    loaded = [i for i, name in enumerate(names) if name.startswith("LoadAnnotations")]
    return bool(resized and loaded) and loaded[0] > resized[0]


def _scaled(boxes: Any, scale_factor: Any) -> Any:
    """Boxes of the original image on the resized one: x by the width's factor, y by the height's."""
    if hasattr(boxes, "rescale_"):  # mmdet's box structures
        boxes.rescale_(tuple(scale_factor))
        return boxes
    scale = boxes.new_tensor(list(scale_factor) * 2)
    return boxes * scale


@HOOKS.register_module()
class SLFHeldOutHook(Hook):
    """Set every ``align``-mode SLF loss's reference from a held-out batch before training iterations.

    Args:
        interval: every this many iterations (1: every iteration).
        source: ``'val'`` (the runner's val dataloader, falling back to the training set when
            the config has none) or ``'train'`` (a second pass over the training set).
    """

    priority = "NORMAL"

    def __init__(self, interval: int = 1, source: str = "val") -> None:
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f"SLFHeldOutHook: interval must be an integer >= 1, got {interval!r}")
        if source not in ("val", "train"):
            raise ValueError(f"SLFHeldOutHook: source must be 'val' or 'train', got {source!r}")
        self.interval = interval
        self.source = source
        self._losses: List[StochasticLoss] = []
        self._loader: Any = None
        self._batches: Optional[Cycle] = None
        self._rescale_boxes = False

    def before_train(self, runner: Any) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self._losses = default_recipe_losses(model)
        if not self._losses:
            print_log(
                "SLFHeldOutHook: the model has no SLF loss in mode='align'; the hook does nothing", logger="current"
            )
            return
        self._loader = self._held_out_loader(runner)
        self._batches = Cycle(self._loader, "SLFHeldOutHook")
        self._rescale_boxes = boxes_loaded_after_resize(getattr(self._loader, "dataset", None))

    def _held_out_loader(self, runner: Any) -> Any:
        if self.source == "val":
            try:
                loader = runner.val_dataloader
                if loader is not None:
                    return loader
            except (AttributeError, RuntimeError):
                pass
            print_log(
                "SLFHeldOutHook: the config has no val dataloader; the held-out batches come from a "
                "second pass over the training set",
                logger="current",
            )
        return runner.train_dataloader

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        if not self._losses or runner.iter % self.interval:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        batch = next(self._batches)
        # Training mode: batch norm normalises the held-out batch by its own statistics, as it does
        # the training batch; its running statistics stay the training set's.
        with contextlib.ExitStack() as passes, torch.enable_grad():
            passes.enter_context(frozen_batch_norm(model))
            for loss in self._losses:
                passes.enter_context(loss.reference_pass())
            data = model.data_preprocessor(batch, True)
            if self._rescale_boxes:
                for sample in data["data_samples"]:
                    sample.gt_instances.bboxes = _scaled(sample.gt_instances.bboxes, sample.scale_factor)
            model(**data, mode="loss")
