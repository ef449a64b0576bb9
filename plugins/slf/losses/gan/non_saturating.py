"""The non-saturating GAN loss (registry: ``gan_non_saturating``, task ``gan``)."""

from __future__ import annotations

from typing import Optional

import torch  # noqa: F401  (used by the doctests)
import torch.nn.functional as F
from torch import Tensor

from ..registry import register
from ..shared_docs import shared_sections
from ._base import GANLoss
from .minimax import _minimax_discriminator


def _non_saturating_generator(fake: Tensor) -> Tensor:
    return F.softplus(-fake)  # -log sigmoid(f)


@shared_sections
def gan_non_saturating_loss(
    fake_scores: Tensor,
    real_scores: Optional[Tensor] = None,
    role: str = "discriminator",
    reduction: str = "mean",
) -> Tensor:
    r"""Non-saturating GAN loss (Goodfellow et al. 2014, section 3) from discriminator logits.

    The discriminator plays the minimax game (:func:`gan_minimax_loss`); the generator
    maximises :math:`\log D(G(z))` instead of minimising :math:`\log(1 - D(G(z)))`:

    .. math::

        \ell_D = \operatorname{softplus}(-\ell_r) + \operatorname{softplus}(\ell_f),
        \qquad
        \ell_G = -\log D(G(z)) = \operatorname{softplus}(-\ell_f)

    Both generator losses decrease as :math:`D(G(z))` grows and have the same gradient
    :math:`-1/2` per logit at :math:`D = 1/2`, the game's fixed point; but here the gradient
    :math:`-(1 - \sigma(\ell_f))` tends to :math:`-1`, not :math:`0`, as the discriminator
    rejects the samples (:math:`D(G(z)) \to 0`), so the generator still learns early on.

    Args:
        fake_scores: discriminator logits of generated samples.
        real_scores: discriminator logits of real samples (discriminator role only;
            ``None`` for the generator).
        role: ``'discriminator'`` or ``'generator'``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {GAN_SHAPE}

    Example:
        >>> fake = torch.tensor([-1.0, 0.0, 2.0])
        >>> gan_non_saturating_loss(fake, role="generator", reduction="none")
        tensor([1.3133, 0.6931, 0.1269])
        >>> gan_non_saturating_loss(fake, torch.tensor([1.5, 0.0, -0.5]), reduction="none")  # as minimax
        tensor([0.5147, 1.3863, 3.1010])
    """
    return NonSaturatingGANLoss(role, reduction)(fake_scores, real_scores)


@shared_sections
@register("gan_non_saturating", "gan")
class NonSaturatingGANLoss(GANLoss):
    r"""Non-saturating GAN loss; see :func:`gan_non_saturating_loss`.

    Args:
        role: ``'discriminator'`` (:math:`-\log D(x) - \log(1 - D(G(z)))`) or
            ``'generator'`` (:math:`-\log D(G(z))`).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {GAN_LOGITS_MODULE_SHAPE}

    Example:
        >>> g_loss = NonSaturatingGANLoss(role="generator", reduction="none")
        >>> g_loss(torch.tensor([[-1.0], [2.0]]))
        tensor([1.3133, 0.1269])
    """

    minimum = 0.0

    def discriminator_loss(self, fake: Tensor, real: Tensor) -> Tensor:
        return _minimax_discriminator(fake, real)

    def generator_loss(self, fake: Tensor) -> Tensor:
        return _non_saturating_generator(fake)
