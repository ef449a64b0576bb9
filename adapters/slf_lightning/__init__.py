"""slf_lightning: SLF's default recipe in PyTorch Lightning's loop (:class:`SLFCallback`).

::

    from slf import StochasticLoss
    from slf_lightning import SLFCallback

    class Classifier(lightning.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = ...
            self.loss_fn = StochasticLoss(["ce", "mse", "mae", "hinge", "cosine", "bce"])

        def training_step(self, batch, batch_idx):
            x, y = batch
            return self.loss_fn(self.net(x), y)

    lightning.Trainer(callbacks=[SLFCallback()]).fit(Classifier(), train_loader, val_loader)

The core package ``slf`` never imports Lightning; only this package does.
"""

from .callback import SLFCallback

__all__ = ["SLFCallback"]
