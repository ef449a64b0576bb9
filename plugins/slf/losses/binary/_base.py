"""Common base of the binary / pairwise losses: the ``from_logits`` switch and input checks."""

from __future__ import annotations

from torch import Tensor

from .._utils import check_binary_inputs
from ..base import BaseLoss


class BinaryLoss(BaseLoss):
    """A loss over predictions ``(N, *)`` and 0/1 targets of the same shape.

    Args:
        from_logits: ``True`` (default): the input holds logits and a sigmoid is applied;
            ``False``: the input already holds probabilities in ``[0, 1]``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
    """

    task = "binary"

    def __init__(self, from_logits: bool = True, reduction: str = "mean") -> None:
        super().__init__(reduction)
        if not isinstance(from_logits, bool):
            raise TypeError(f"{self.name}: from_logits must be True or False, got {from_logits!r}")
        self.from_logits = from_logits

    def validate(self, input: Tensor, target: Tensor) -> None:
        check_binary_inputs(input, target, self.from_logits, self.name)

    def extra_repr(self) -> str:
        return f"from_logits={self.from_logits}, " + super().extra_repr()
