"""Base class that fixes the order of work for every loss in the suite.

validate inputs -> compute per-sample losses (shape ``(N,)``) -> reduce.
Subclasses write only :meth:`BaseLoss.per_sample` (the maths) and, where their
inputs differ from the task's usual shapes, :meth:`BaseLoss.validate`.

Each loss comes as a function and a module, as in kornia; the function is the module applied
once (``mae_classification_loss(x, y, reduction)`` is ``MAEClassificationLoss(reduction=reduction)(x, y)``),
so the checks of the options and inputs, and the maths, are written once, in the module.
"""

from __future__ import annotations

from typing import ClassVar, Optional

import torch
from torch import Tensor, nn

REDUCTIONS = ("none", "mean", "sum")
# The tasks whose inputs StochasticLoss reads (a decision network over the model's output):
# "binary" covers pairwise problems too (DAC): probabilities or logits against 0/1 targets.
SLF_TASKS = ("classification", "binary", "regression")
# Every task of the registry: the SLF tasks, then the advanced losses' own input kinds
# (segmentation maps, detection boxes with their IoUs, images through a feature network,
# discriminator outputs of a GAN).
TASKS = SLF_TASKS + ("segmentation", "detection", "image", "gan")


def reduce_loss(per_sample: Tensor, reduction: str) -> Tensor:
    """Reduce per-sample losses of shape ``(N,)``.

    Args:
        per_sample: losses, one per sample.
        reduction: ``'none'`` (return as is), ``'mean'`` or ``'sum'``.

    Example:
        >>> reduce_loss(torch.tensor([1.0, 3.0]), "mean")
        tensor(2.)
    """
    if reduction == "none":
        return per_sample
    if reduction == "mean":
        # mean of an empty batch is NaN in torch; an empty batch contributes nothing.
        return per_sample.sum() / max(per_sample.numel(), 1)
    if reduction == "sum":
        return per_sample.sum()
    raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def check_classification_inputs(logits: Tensor, target: Tensor, name: str) -> None:
    """Logits ``(N, C)`` floating point, target ``(N,)`` integer class indices in ``[0, C)``."""
    if not torch.is_tensor(logits) or not logits.is_floating_point():
        raise TypeError(f"{name}: logits must be a floating point tensor, got {_describe(logits)}")
    if logits.dim() != 2:
        raise ValueError(f"{name}: logits must have shape (N, C), got {tuple(logits.shape)}")
    if not torch.is_tensor(target) or target.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
        raise TypeError(f"{name}: target must be an integer tensor of class indices (N,), got {_describe(target)}")
    if target.dim() != 1 or target.shape[0] != logits.shape[0]:
        raise ValueError(
            f"{name}: target must have shape ({logits.shape[0]},) to match logits "
            f"{tuple(logits.shape)}, got {tuple(target.shape)}"
        )
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= logits.shape[1]):
        raise ValueError(
            f"{name}: target holds class indices outside [0, {logits.shape[1]}): "
            f"min {int(target.min())}, max {int(target.max())}"
        )


def check_same_shape_inputs(pred: Tensor, target: Tensor, name: str) -> None:
    """Prediction and target of the same shape ``(N, *)``, both floating point."""
    if not torch.is_tensor(pred) or not pred.is_floating_point():
        raise TypeError(f"{name}: prediction must be a floating point tensor, got {_describe(pred)}")
    if not torch.is_tensor(target) or not target.is_floating_point():
        raise TypeError(
            f"{name}: target must be a floating point tensor of the prediction's shape, got {_describe(target)}"
        )
    if pred.dim() < 1 or pred.shape != target.shape:
        raise ValueError(
            f"{name}: prediction and target must have the same shape (N, *), "
            f"got {tuple(pred.shape)} and {tuple(target.shape)}"
        )


def check_feature_matrix(features: Tensor, in_features: int, name: str) -> None:
    """Features ``(N, in_features)``, floating point (for a feature loss's ``logits``)."""
    if (
        not torch.is_tensor(features)
        or not features.is_floating_point()
        or features.dim() != 2
        or features.shape[1] != in_features
    ):
        raise ValueError(
            f"{name}: features must be a floating point tensor of shape (N, {in_features}), got {_describe(features)}"
        )


def per_sample_mean(values: Tensor) -> Tensor:
    """Average every dimension but the first: ``(N, *) -> (N,)``."""
    # flatten(1), not reshape(N, -1): the latter is ambiguous (and raises) for N == 0.
    return values.flatten(1).mean(dim=1) if values.dim() > 1 else values


def _describe(value: object) -> str:
    if torch.is_tensor(value):
        return f"tensor of dtype {value.dtype} and shape {tuple(value.shape)}"
    return type(value).__name__


class BaseLoss(nn.Module):
    """A loss with per-sample values and a reduction.

    Subclasses set ``task`` and implement :meth:`per_sample`. ``forward`` validates
    the inputs, computes one loss per sample and reduces them.

    Attributes:
        task: the kind of inputs the loss reads, one of ``TASKS``.
        input_kind: ``'logits'`` for losses over the model's output, ``'features'``
            for losses that own the last layer and read penultimate features.
        minimum: the loss's lower bound (``None`` when it has none, e.g. a negative
            log-likelihood); SLF's scale normalisation measures each candidate from it.
    """

    task: ClassVar[str] = "classification"
    input_kind: ClassVar[str] = "logits"
    minimum: ClassVar[Optional[float]] = 0.0

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_reduction(reduction)

    @property
    def name(self) -> str:
        return getattr(type(self), "registry_name", type(self).__name__)

    def validate(self, input: Tensor, target: Tensor) -> None:
        if self.task == "classification":
            check_classification_inputs(input, target, self.name)
        else:
            check_same_shape_inputs(input, target, self.name)

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, input: Tensor, target: Tensor, reduction: Optional[str] = None) -> Tensor:
        self.validate(input, target)
        values = self.per_sample(input, target)
        return reduce_loss(values, check_reduction(reduction) if reduction else self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"
