"""``SLFLoggerHook``: learned loss weights into mmengine's log, its visualizer backends and a PNG.

Every training iteration the hook reads each SLF module in the model,
:class:`slf.StochasticLoss` (``weight/<candidate>``, e.g. inside an mmdet
``type='StochasticLoss'`` loss) and each weighting of a loss's parts, SLF's
:class:`slf.LossPartWeighting` or a peer's (``lambda/<part>``, e.g. ``SLFYOLOV3Head``), and
writes the values to the message hub under ``train/slf/<module path>/...``. mmengine's
``LoggerHook`` then prints them every logging interval (as the mean over that interval) and
hands them to the visualizer, so they reach TensorBoard when ``visualizer.vis_backends`` has ``TensorboardVisBackend``.
After each training epoch the weight history is drawn to ``<work_dir>/slf_<path>.png``.

Config::

    custom_hooks = [dict(type='SLFLoggerHook')]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional, Tuple

from mmengine.hooks import Hook, LoggerHook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from slf.model_losses import SLFModule, slf_modules, slf_scalars
from slf.part_weighting_base import PartWeighting


@HOOKS.register_module()
class SLFLoggerHook(Hook):
    """Log the learned loss weights of every SLF module in the model; plot their history.

    Args:
        window: iterations averaged in each logged value (default: the ``LoggerHook``'s interval).
        plot: draw the weight history to a PNG in the work dir after every training epoch.
    """

    priority = "NORMAL"  # before LoggerHook (BELOW_NORMAL), so its line holds this iteration's values

    def __init__(self, window: Optional[int] = None, plot: bool = True) -> None:
        if window is not None and window < 1:
            raise ValueError(f"window must be >= 1 or None, got {window}")
        self.window = window
        self.plot = plot
        self.keys: List[str] = []
        self.modules: List[Tuple[str, SLFModule]] = []

    def before_train(self, runner) -> None:
        window = self.window or next((hook.interval for hook in runner.hooks if isinstance(hook, LoggerHook)), 10)
        # Found once: walking a detector's modules every iteration would cost more than logging.
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self.modules = list(slf_modules(model))
        self.keys = [f"slf/{path}/{name}" for path, module in self.modules for name in slf_scalars(module)]
        if not self.keys:
            runner.logger.warning("SLFLoggerHook: the model has no StochasticLoss or SLF-weighted head; nothing to log")
        known = {cfg["data_src"] for cfg in runner.log_processor.custom_cfg}
        # Non-loss scalars are logged at their last value; the weights are sampled, so log the interval's mean.
        runner.log_processor.custom_cfg.extend(
            dict(data_src=key, method_name="mean", window_size=window) for key in self.keys if key not in known
        )

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        for path, module in self.modules:
            for name, value in slf_scalars(module).items():
                runner.message_hub.update_scalar(f"train/slf/{path}/{name}", value)

    def after_train(self, runner) -> None:
        """Under torch.distributed, check that every rank ended with the same SLF parameters:
        ``<work_dir>/slf_ranks.json`` (rank 0) holds, per module, how far apart the ranks'
        model and SLF parameters are (0.0: identical)."""
        from slf import distributed

        if distributed.world_size() == 1 or not self.modules:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        record = {path: distributed.rank_agreement(model, module) for path, module in self.modules}
        if runner.rank == 0:
            Path(runner.work_dir, "slf_ranks.json").write_text(json.dumps(record, indent=1))
            runner.logger.info(f"SLFLoggerHook: rank agreement {record}")

    def after_train_epoch(self, runner) -> None:
        if not self.plot or runner.rank != 0:
            return
        from slf.plots import plot_selection_weights

        for path, module in self.modules:
            if not module.history:
                continue
            names = module.part_names if isinstance(module, PartWeighting) else module.candidate_names
            what = "lambda / sum of configured weights" if isinstance(module, PartWeighting) else "selection weight"
            plot_selection_weights(
                module.history,
                names,
                Path(runner.work_dir) / f"slf_{path}.png",
                title=f"{path}: {what} (epoch {runner.epoch + 1})",
            )
