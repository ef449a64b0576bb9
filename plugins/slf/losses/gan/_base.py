"""Common base of the GAN score losses: the ``role`` switch and the checks on discriminator scores."""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from ..base import BaseLoss, _describe, check_reduction, reduce_loss

ROLES = ("discriminator", "generator")


def check_role(role: str, name: str) -> str:
    if role not in ROLES:
        raise ValueError(f"{name}: role must be one of {ROLES} (a WGAN critic is 'discriminator'), got {role!r}")
    return role


def _flat_scores(scores: object, what: str, name: str) -> Tensor:
    if not torch.is_tensor(scores) or not scores.is_floating_point():
        raise TypeError(
            f"{name}: {what} must be a floating point tensor of shape (N,) or (N, 1), got {_describe(scores)}"
        )
    if scores.dim() == 2 and scores.shape[1] == 1:
        return scores.squeeze(1)
    if scores.dim() != 1:
        raise ValueError(
            f"{name}: {what} must hold one score per sample, shape (N,) or (N, 1), got {tuple(scores.shape)}"
        )
    return scores


def check_scores(
    fake_scores: Tensor, real_scores: Optional[Tensor], role: str, name: str
) -> Tuple[Tensor, Optional[Tensor]]:
    """Check the scores for ``role`` and return them flattened to ``(N,)``.

    The discriminator reads both batches, scored sample by sample: ``real_scores`` is
    required and must have as many samples as ``fake_scores``. The generator reads
    ``fake_scores`` only; passing ``real_scores`` is an error rather than silently ignored.
    """
    fake = _flat_scores(fake_scores, "fake_scores", name)
    if role == "generator":
        if real_scores is not None:
            raise ValueError(
                f"{name}: the generator loss reads only fake_scores; pass real_scores=None "
                "(or use role='discriminator')"
            )
        return fake, None
    if real_scores is None:
        raise ValueError(f"{name}: the discriminator loss needs real_scores, the scores of a batch of real samples")
    real = _flat_scores(real_scores, "real_scores", name)
    if real.shape[0] != fake.shape[0]:
        raise ValueError(
            f"{name}: real_scores and fake_scores must have the same number of samples N "
            f"(one real and one generated sample per loss value), got {real.shape[0]} and {fake.shape[0]}"
        )
    return fake, real


class GANLoss(BaseLoss):
    """A GAN loss over discriminator (critic) scores, for one player of the game.

    Subclasses write the maths of each role: :meth:`discriminator_loss` over real and fake
    scores ``(N,)`` and :meth:`generator_loss` over fake scores ``(N,)``.

    Args:
        role: ``'discriminator'`` (also the WGAN critic) or ``'generator'``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
    """

    task = "gan"

    def __init__(self, role: str = "discriminator", reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.role = check_role(role, self.name)

    def validate(self, fake_scores: Tensor, real_scores: Optional[Tensor]) -> None:
        check_scores(fake_scores, real_scores, self.role, self.name)

    def discriminator_loss(self, fake: Tensor, real: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def generator_loss(self, fake: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def per_sample(self, fake_scores: Tensor, real_scores: Optional[Tensor]) -> Tensor:
        fake, real = check_scores(fake_scores, real_scores, self.role, self.name)
        return self.generator_loss(fake) if real is None else self.discriminator_loss(fake, real)

    def forward(  # type: ignore[override]
        self, fake_scores: Tensor, real_scores: Optional[Tensor] = None, reduction: Optional[str] = None
    ) -> Tensor:
        """Loss of ``self.role`` from the discriminator's scores of generated and (for it) real samples."""
        values = self.per_sample(fake_scores, real_scores)
        return reduce_loss(values, check_reduction(reduction) if reduction else self.reduction)

    def extra_repr(self) -> str:
        return f"role={self.role!r}, " + super().extra_repr()
