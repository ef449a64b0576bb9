"""``SLFCallback``: SLF's default recipe inside a PyTorch Lightning ``Trainer``, held-out step included.

A LightningModule that trains with a :class:`slf.StochasticLoss` (``self.loss_fn =
StochasticLoss([...])``, called in ``training_step``) gets, from this callback:

- **held-out batches**: at the start of training every default-recipe loss of the module
  (``mode='align'``) takes a :class:`slf.HeldOut` over the trainer's validation dataloader
  (the first one, cycled), so it compares each candidate's gradient with the stock loss's
  on data the model does not train on. Without a validation dataloader it warns and the
  losses use the previous training batch, as they do anywhere without held-out data;
- **logged weights**: after every training batch, ``slf/<module path>/weight/<candidate>``
  (and ``lambda/<part>`` for a weighting of a loss's parts,
  :class:`slf.LossPartWeighting` or a peer's) through ``LightningModule.log``,
  so they reach whichever logger the trainer has (TensorBoard, CSV, ...);
- **a plot**: at the end of training, the weights over training to
  ``<trainer.log_dir>/slf_<module path>.png``.

Example::

    trainer = lightning.Trainer(max_epochs=5, callbacks=[SLFCallback()])
    trainer.fit(module, train_loader, val_loader)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple

import lightning.pytorch as pl
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn

from slf import HeldOut
from slf.model_losses import SLFModule, default_recipe_losses, slf_modules, slf_scalars
from slf.part_weighting_base import PartWeighting
from slf.plots import plot_selection_weights

Forward = Callable[[nn.Module, Any], Tuple[Tensor, Tensor]]


class SLFCallback(pl.Callback):
    """Held-out batches for the module's default-recipe SLF losses, their weights logged and plotted.

    Args:
        forward: ``forward(module, batch) -> (output, target)`` for validation batches that are
            not ``(inputs, targets)`` pairs (a dict, a graph batch); the default moves a pair to
            the module's device and returns ``(module(inputs), targets)``.
        log_weights: log every SLF module's weights after each training batch.
        plot: draw their history to ``<trainer.log_dir>/slf_<path>.png`` when training ends.
    """

    def __init__(self, forward: Optional[Forward] = None, log_weights: bool = True, plot: bool = True) -> None:
        super().__init__()
        if forward is not None and not callable(forward):
            raise TypeError(f"forward must be callable as forward(module, batch) -> (output, target), got {forward!r}")
        self.forward = forward
        self.log_weights = log_weights
        self.plot = plot
        self.modules: List[Tuple[str, SLFModule]] = []

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.modules = list(slf_modules(pl_module))
        if not self.modules:
            rank_zero_warn(
                "SLFCallback: the LightningModule has no StochasticLoss or weighting of loss parts; nothing to do"
            )
            return
        losses = default_recipe_losses(pl_module)
        if not losses:
            return
        loader = self._validation_loader(trainer)
        if loader is None:
            rank_zero_warn(
                "SLFCallback: the trainer has no validation dataloader, so the default recipe compares "
                "with the previous training batch; pass val_dataloaders to trainer.fit for held-out data"
            )
            return
        held_out = HeldOut(pl_module, loader, self.forward)
        for loss in losses:
            loss.use_held_out(held_out)

    @staticmethod
    def _validation_loader(trainer: pl.Trainer) -> Any:
        if trainer.val_dataloaders is None and trainer.limit_val_batches != 0:
            # Lightning loads the validation data at the first validation run; the recipe needs it now.
            try:
                trainer.fit_loop.epoch_loop.val_loop.setup_data()
            except MisconfigurationException:  # a validation_step without validation data
                return None
        loaders = trainer.val_dataloaders
        if isinstance(loaders, (list, tuple)):
            return loaders[0] if loaders else None
        if isinstance(loaders, dict):
            return next(iter(loaders.values()), None)
        return loaders

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if not self.log_weights:
            return
        for path, module in self.modules:
            pl_module.log_dict(
                {f"slf/{path}/{name}": value for name, value in slf_scalars(module).items()},
                on_step=True,
                on_epoch=False,
            )

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.plot or not trainer.is_global_zero:
            return
        folder = Path(trainer.log_dir or trainer.default_root_dir)
        for path, module in self.modules:
            if not module.history:
                continue
            names = module.part_names if isinstance(module, PartWeighting) else module.candidate_names
            plot_selection_weights(
                module.history, names, folder / f"slf_{path}.png", title=f"{path}: selection weight over training"
            )
