"""slf_transformers: SLF's default recipe in Hugging Face's ``Trainer`` (:class:`SLFTrainer`).

::

    from slf import StochasticLoss
    from slf_transformers import SLFTrainer

    trainer = SLFTrainer(model=model, args=training_args, train_dataset=train, eval_dataset=val,
                         slf_loss=StochasticLoss(["ce", "mse", "mae", "hinge", "cosine", "bce"]))
    trainer.train()

The core package ``slf`` never imports ``transformers``; only this package does.
"""

from .trainer import SLFTrainer, held_out_forward, labelled_rows, logits_of

__all__ = ["SLFTrainer", "held_out_forward", "labelled_rows", "logits_of"]
