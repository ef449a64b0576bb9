"""Held-out batches for a criterion that learns on them (``--criterion slf``'s align and validation
modes, ``--criterion l2t_dlf``): one of the task's splits, batched by fairseq's own iterator,
reshuffled each time it runs out."""

from typing import Any, Dict

from fairseq import utils
from torch import nn


class HeldOutBatches:
    """The next batch of ``subset`` on each call, on the model's device.

    Args:
        task: the fairseq task whose split is read (loaded on the first call if the trainer has not).
        subset: the split's name (``valid`` by default in both criteria).
        max_tokens: tokens per batch.
        seed: the iterator's shuffling seed.
        option: the command-line option that names the split, for the error when it is missing.

    Example:
        >>> batches = HeldOutBatches(task=None, subset="valid", max_tokens=2048, seed=1)
        >>> batches.subset, batches.max_tokens
        ('valid', 2048)
    """

    def __init__(
        self, task: Any, subset: str, max_tokens: int, seed: int, option: str = "--slf-validation-subset"
    ) -> None:
        if max_tokens < 1:
            raise ValueError(f"held-out batches need max_tokens >= 1, got {max_tokens}")
        self.task, self.subset, self.max_tokens, self.seed, self.option = task, subset, max_tokens, seed, option
        self._iterator: Any = None
        self._epoch: Any = None

    def next(self, model: nn.Module) -> Dict[str, Any]:
        """The next held-out batch; raises ValueError naming the split when the data has no such split."""
        if self._iterator is None:
            if self.subset not in self.task.datasets:
                try:
                    self.task.load_dataset(self.subset, combine=False, epoch=1)
                except FileNotFoundError as error:
                    raise ValueError(
                        f"{self.option} {self.subset!r}: no such split in the data directory ({error})"
                    ) from error
            self._iterator = self.task.get_batch_iterator(
                dataset=self.task.dataset(self.subset),
                max_tokens=self.max_tokens,
                max_positions=utils.resolve_max_positions(self.task.max_positions(), model.max_positions()),
                ignore_invalid_inputs=True,
                seed=self.seed,
                disable_iterator_cache=True,
            )
        if self._epoch is None or not self._epoch.has_next():
            self._epoch = self._iterator.next_epoch_itr(shuffle=True)
        device = next(model.parameters()).device
        return utils.apply_to_sample(lambda tensor: tensor.to(device), next(self._epoch))
