"""The least-squares GAN loss of Mao et al. (2017) (registry: ``gan_least_squares``, task ``gan``)."""

from __future__ import annotations

import math
from typing import Optional

import torch  # noqa: F401  (used by the doctests)
from torch import Tensor

from ..registry import register
from ..shared_docs import shared_sections
from ._base import GANLoss


def _check_target(value: float, what: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name}: {what} must be a finite number, got {value!r}")
    return float(value)


def _least_squares_discriminator(fake: Tensor, real: Tensor, a: float, b: float) -> Tensor:
    return 0.5 * (real - b).square() + 0.5 * (fake - a).square()


def _least_squares_generator(fake: Tensor, c: float) -> Tensor:
    return 0.5 * (fake - c).square()


@shared_sections
def gan_least_squares_loss(
    fake_scores: Tensor,
    real_scores: Optional[Tensor] = None,
    role: str = "discriminator",
    a: float = 0.0,
    b: float = 1.0,
    c: float = 1.0,
    reduction: str = "mean",
) -> Tensor:
    r"""Least-squares GAN loss (LSGAN, Mao et al. 2017) from raw discriminator scores.

    The discriminator regresses its score to :math:`b` on real and :math:`a` on generated
    samples; the generator pushes the score of its samples to :math:`c`:

    .. math::

        \ell_D = \tfrac12 \bigl(D(x) - b\bigr)^2 + \tfrac12 \bigl(D(G(z)) - a\bigr)^2,
        \qquad
        \ell_G = \tfrac12 \bigl(D(G(z)) - c\bigr)^2

    The scores are not squashed by a sigmoid. The defaults :math:`a = 0, b = c = 1` are
    the 0-1 coding of the paper; :math:`a = -1, b = 1, c = 0` (:math:`b - c = 1`,
    :math:`b - a = 2`) is the choice under which the game minimises the Pearson
    :math:`\chi^2` divergence.

    Args:
        fake_scores: discriminator scores of generated samples.
        real_scores: discriminator scores of real samples (discriminator role only;
            ``None`` for the generator).
        role: ``'discriminator'`` or ``'generator'``.
        a: the discriminator's target for generated samples (default 0).
        b: the discriminator's target for real samples (default 1).
        c: the score the generator wants for its samples (default 1).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {GAN_SHAPE}

    Example:
        >>> fake, real = torch.tensor([-1.0, 0.0, 2.0]), torch.tensor([1.5, 0.0, -0.5])
        >>> gan_least_squares_loss(fake, real, reduction="none")
        tensor([0.6250, 0.5000, 3.1250])
        >>> gan_least_squares_loss(fake, role="generator", reduction="none")
        tensor([2.0000, 0.5000, 0.5000])
    """
    return LeastSquaresGANLoss(role, a, b, c, reduction)(fake_scores, real_scores)


@shared_sections
@register("gan_least_squares", "gan")
class LeastSquaresGANLoss(GANLoss):
    r"""Least-squares GAN loss; see :func:`gan_least_squares_loss`.

    Args:
        role: ``'discriminator'`` (:math:`\frac12 (D(x) - b)^2 + \frac12 (D(G(z)) - a)^2`) or
            ``'generator'`` (:math:`\frac12 (D(G(z)) - c)^2`).
        a: the discriminator's target for generated samples (default 0).
        b: the discriminator's target for real samples (default 1).
        c: the score the generator wants for its samples (default 1).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {GAN_SCORES_MODULE_SHAPE}

    Example:
        >>> d_loss = LeastSquaresGANLoss(a=-1.0, b=1.0, c=0.0, reduction="none")
        >>> d_loss(torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 0.0]))
        tensor([0., 1.])
    """

    minimum = 0.0

    def __init__(
        self, role: str = "discriminator", a: float = 0.0, b: float = 1.0, c: float = 1.0, reduction: str = "mean"
    ) -> None:
        super().__init__(role, reduction)
        self.a = _check_target(a, "a", self.name)
        self.b = _check_target(b, "b", self.name)
        self.c = _check_target(c, "c", self.name)

    def discriminator_loss(self, fake: Tensor, real: Tensor) -> Tensor:
        return _least_squares_discriminator(fake, real, self.a, self.b)

    def generator_loss(self, fake: Tensor) -> Tensor:
        return _least_squares_generator(fake, self.c)

    def extra_repr(self) -> str:
        return f"a={self.a}, b={self.b}, c={self.c}, " + super().extra_repr()
