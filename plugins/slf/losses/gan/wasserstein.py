"""The Wasserstein GAN loss of Arjovsky et al. (2017) (registry: ``gan_wasserstein``, task ``gan``)."""

from __future__ import annotations

from typing import Optional

import torch  # noqa: F401  (used by the doctests)
from torch import Tensor

from ..registry import register
from ..shared_docs import shared_sections
from ._base import GANLoss


def _wasserstein_critic(fake: Tensor, real: Tensor) -> Tensor:
    return fake - real


def _wasserstein_generator(fake: Tensor) -> Tensor:
    return -fake


@shared_sections
def gan_wasserstein_loss(
    fake_scores: Tensor,
    real_scores: Optional[Tensor] = None,
    role: str = "discriminator",
    reduction: str = "mean",
) -> Tensor:
    r"""Wasserstein GAN loss (Arjovsky et al. 2017) from raw critic scores.

    .. math::

        \ell_D = D(G(z)) - D(x), \qquad \ell_G = -D(G(z))

    Minimising the batch mean of :math:`\ell_D` maximises
    :math:`\mathbb{E}[D(x)] - \mathbb{E}[D(G(z))]`, which over 1-Lipschitz critics is the
    Wasserstein-1 distance (Kantorovich-Rubinstein duality). The loss itself does not
    keep the critic Lipschitz: clip its weights (the paper) or add
    :func:`gradient_penalty` (WGAN-GP). Both losses are unbounded below.

    Args:
        fake_scores: critic scores of generated samples.
        real_scores: critic scores of real samples (discriminator/critic role only;
            ``None`` for the generator).
        role: ``'discriminator'`` (the critic) or ``'generator'``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {GAN_SHAPE}

    Example:
        >>> fake, real = torch.tensor([-1.0, 0.0, 2.0]), torch.tensor([1.5, 0.0, -0.5])
        >>> gan_wasserstein_loss(fake, real, reduction="none")
        tensor([-2.5000,  0.0000,  2.5000])
        >>> gan_wasserstein_loss(fake, role="generator")
        tensor(-0.3333)
    """
    return WassersteinGANLoss(role, reduction)(fake_scores, real_scores)


@shared_sections
@register("gan_wasserstein", "gan")
class WassersteinGANLoss(GANLoss):
    r"""Wasserstein GAN loss; see :func:`gan_wasserstein_loss` (pair it with :class:`GradientPenalty`).

    Args:
        role: ``'discriminator'`` (the critic, :math:`D(G(z)) - D(x)`) or
            ``'generator'`` (:math:`-D(G(z))`).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {GAN_SCORES_MODULE_SHAPE}

    Example:
        >>> critic_loss = WassersteinGANLoss(role="discriminator")
        >>> critic_loss(torch.tensor([[0.5], [1.0]]), torch.tensor([[2.0], [3.0]]))  # E D(G(z)) - E D(x)
        tensor(-1.7500)
    """

    minimum = None

    def discriminator_loss(self, fake: Tensor, real: Tensor) -> Tensor:
        return _wasserstein_critic(fake, real)

    def generator_loss(self, fake: Tensor) -> Tensor:
        return _wasserstein_generator(fake)
