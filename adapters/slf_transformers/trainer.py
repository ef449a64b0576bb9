"""``SLFTrainer``: SLF's default recipe in Hugging Face's ``transformers.Trainer``, held-out step included.

The trainer's loss is a :class:`slf.StochasticLoss` over the model's logits and the batch's
``labels``, through ``Trainer``'s own ``compute_loss_func`` hook (the labels are taken out of
the inputs, so the model computes no loss of its own). Before training, a default-recipe loss
(``mode='align'``) takes a :class:`slf.HeldOut` over ``trainer.get_eval_dataloader()``: each
update compares every candidate's gradient with the stock loss's on a batch of the
``eval_dataset``, which the model does not train on. Without an ``eval_dataset`` it warns and
the loss compares with the previous training batch. The weights join the trainer's logs
(``slf/weight/<candidate>``, so ``report_to`` sends them to TensorBoard and the rest) and are
drawn to ``<output_dir>/slf_selection_weights.png`` when training ends.

Labels equal to ``-100`` (the ``transformers`` convention for "no label": padding, the
tokens a token classifier skips) are left out, and logits of any leading shape are read as
rows of classes, so sequence, token and image classifiers all work.

Example::

    trainer = SLFTrainer(model=model, args=TrainingArguments("runs/vit", num_train_epochs=5),
                         train_dataset=train, eval_dataset=val,
                         slf_loss=StochasticLoss(["ce", "mse", "mae", "hinge", "cosine", "bce"]))
    trainer.train()
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

import torch  # noqa: F401  (the examples use it)
from torch import Tensor, nn
from transformers import Trainer

from slf import HeldOut, StochasticLoss
from slf.model_losses import slf_scalars
from slf.plots import plot_selection_weights

IGNORE_INDEX = -100  # transformers' label for "not a target"


def logits_of(outputs: Any) -> Tensor:
    """The logits of a ``transformers`` model output (a ``ModelOutput``, a dict or a tuple)."""
    if isinstance(outputs, Mapping):
        return outputs["logits"]
    if hasattr(outputs, "logits"):
        return outputs.logits
    return outputs[0]


def labelled_rows(logits: Tensor, labels: Tensor) -> Tuple[Tensor, Tensor]:
    """``(N, C)`` logits and ``(N,)`` labels of the positions that have a label (not ``-100``).

    Example:
        >>> rows, targets = labelled_rows(torch.zeros(2, 3, 5), torch.tensor([[1, -100, 2], [0, 4, -100]]))
        >>> rows.shape, targets.tolist()
        (torch.Size([4, 5]), [1, 2, 0, 4])
    """
    if logits.shape[:-1] != labels.shape:
        raise ValueError(
            f"labels of shape {tuple(labels.shape)} do not match logits of shape {tuple(logits.shape)}: "
            "SLFTrainer reads classification logits (..., classes) and class-index labels (...)"
        )
    rows, targets = logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)
    keep = targets != IGNORE_INDEX
    return rows[keep], targets[keep].long()


def held_out_forward(model: nn.Module, batch: Mapping[str, Any]) -> Tuple[Tensor, Tensor]:
    """A ``transformers`` batch (a dict with ``labels``) through the model: the labelled logits and labels."""
    device = next(model.parameters()).device
    inputs = {key: value.to(device) if isinstance(value, Tensor) else value for key, value in batch.items()}
    labels = inputs.pop("labels")
    return labelled_rows(logits_of(model(**inputs)), labels)


class SLFTrainer(Trainer):
    """``transformers.Trainer`` whose loss is ``slf_loss``, with the default recipe's held-out batches
    drawn from its ``eval_dataset``.

    Args:
        *args: ``Trainer``'s positional arguments (``model``, ``args``, ...).
        slf_loss: the :class:`slf.StochasticLoss` to train with. Its learned modes own a decision
            network: make it a submodule of the model (``model.slf_loss = slf_loss``) so that the
            trainer's optimizer holds it.
        **kwargs: ``Trainer``'s keyword arguments, except ``compute_loss_func``, which this sets.
    """

    def __init__(self, *args: Any, slf_loss: StochasticLoss, **kwargs: Any) -> None:
        if not isinstance(slf_loss, StochasticLoss):
            raise TypeError(f"slf_loss must be a slf.StochasticLoss, got {type(slf_loss).__name__}")
        if "compute_loss_func" in kwargs:
            raise ValueError("SLFTrainer computes the loss with slf_loss; pass no compute_loss_func")
        super().__init__(*args, compute_loss_func=self._slf_loss, **kwargs)
        owned = {id(parameter) for parameter in self.model.parameters()}
        if any(parameter.requires_grad and id(parameter) not in owned for parameter in slf_loss.parameters()):
            raise ValueError(
                f"slf_loss (mode={slf_loss.mode!r}) has parameters the trainer's optimizer would not "
                "see: make it a submodule of the model (model.slf_loss = slf_loss)"
            )
        self.slf_loss = slf_loss

    def _slf_loss(self, outputs: Any, labels: Optional[Tensor], num_items_in_batch: Any = None) -> Tensor:
        if labels is None:
            raise ValueError("SLFTrainer needs 'labels' in every training batch")
        logits, targets = labelled_rows(logits_of(outputs), labels)
        return self.slf_loss(logits, targets)

    def train(self, *args: Any, **kwargs: Any) -> Any:
        """``Trainer.train``, the held-out batches given to a default-recipe loss first, its weights
        plotted after."""
        if self.slf_loss.mode == "align" and self.slf_loss.held_out is None:
            if self.eval_dataset is None:
                warnings.warn(
                    "SLFTrainer: no eval_dataset, so the default recipe compares with the previous "
                    "training batch; pass eval_dataset for held-out data",
                    UserWarning,
                    stacklevel=2,
                )
            else:
                self.slf_loss.use_held_out(HeldOut(self.model, self.get_eval_dataloader(), held_out_forward))
        result = super().train(*args, **kwargs)
        if self.is_world_process_zero() and self.slf_loss.history:
            plot_selection_weights(
                self.slf_loss.history,
                self.slf_loss.candidate_names,
                Path(self.args.output_dir) / "slf_selection_weights.png",
                title="SLF selection weights over training",
            )
        return result

    def log(self, logs: Dict[str, float], *args: Any, **kwargs: Any) -> None:
        """``Trainer.log``, with the loss's weights beside each training loss."""
        if "loss" in logs:
            logs = {**logs, **{f"slf/{name}": value for name, value in slf_scalars(self.slf_loss).items()}}
        super().log(logs, *args, **kwargs)
