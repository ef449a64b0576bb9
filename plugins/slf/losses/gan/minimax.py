"""The minimax GAN loss of Goodfellow et al. (2014) (registry: ``gan_minimax``, task ``gan``)."""

from __future__ import annotations

from typing import Optional

import torch  # noqa: F401  (used by the doctests)
import torch.nn.functional as F
from torch import Tensor

from ..registry import register
from ..shared_docs import shared_sections
from ._base import GANLoss


def _minimax_discriminator(fake: Tensor, real: Tensor) -> Tensor:
    # -log sigmoid(r) = softplus(-r) and -log(1 - sigmoid(f)) = softplus(f): finite for any finite logit
    return F.softplus(-real) + F.softplus(fake)


def _minimax_generator(fake: Tensor) -> Tensor:
    return -F.softplus(fake)  # log(1 - sigmoid(f))


@shared_sections
def gan_minimax_loss(
    fake_scores: Tensor,
    real_scores: Optional[Tensor] = None,
    role: str = "discriminator",
    reduction: str = "mean",
) -> Tensor:
    r"""Minimax GAN loss (Goodfellow et al. 2014) from discriminator logits.

    With :math:`D = \sigma(\ell)` the discriminator's probability that a sample is real,
    :math:`\ell_r` the logit of a real sample :math:`x` and :math:`\ell_f` that of a
    generated one :math:`G(z)`:

    .. math::

        \ell_D = -\log D(x) - \log\bigl(1 - D(G(z))\bigr)
               = \operatorname{softplus}(-\ell_r) + \operatorname{softplus}(\ell_f),
        \qquad
        \ell_G = \log\bigl(1 - D(G(z))\bigr) = -\operatorname{softplus}(\ell_f)

    The discriminator loss is the binary cross-entropy with real = 1, fake = 0; it is
    :math:`2 \log 2` per sample at :math:`D = 1/2`. The generator loss is the saturating
    one of the original game: its gradient :math:`-\sigma(\ell_f)` vanishes when the
    discriminator rejects the samples confidently (:math:`D(G(z)) \to 0`), which is why
    :func:`gan_non_saturating_loss` is used in practice. It is unbounded below.

    Args:
        fake_scores: discriminator logits of generated samples.
        real_scores: discriminator logits of real samples (discriminator role only;
            ``None`` for the generator).
        role: ``'discriminator'`` or ``'generator'``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {GAN_SHAPE}

    Example:
        >>> fake, real = torch.tensor([-1.0, 0.0, 2.0]), torch.tensor([1.5, 0.0, -0.5])
        >>> gan_minimax_loss(fake, real, reduction="none")  # 2 log 2 at D = 1/2
        tensor([0.5147, 1.3863, 3.1010])
        >>> gan_minimax_loss(fake, role="generator", reduction="none")
        tensor([-0.3133, -0.6931, -2.1269])
    """
    return MinimaxGANLoss(role, reduction)(fake_scores, real_scores)


@shared_sections
@register("gan_minimax", "gan")
class MinimaxGANLoss(GANLoss):
    r"""Minimax GAN loss with the saturating generator loss; see :func:`gan_minimax_loss`.

    Args:
        role: ``'discriminator'`` (:math:`-\log D(x) - \log(1 - D(G(z)))`) or
            ``'generator'`` (:math:`\log(1 - D(G(z)))`).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    {GAN_LOGITS_MODULE_SHAPE}

    Example:
        >>> d_loss = MinimaxGANLoss(role="discriminator")
        >>> d_loss(torch.zeros(4, 1), torch.zeros(4, 1))  # 2 log 2
        tensor(1.3863)
        >>> MinimaxGANLoss(role="generator")(torch.zeros(4))  # log(1/2)
        tensor(-0.6931)
    """

    minimum = None  # the saturating generator loss log(1 - D) is unbounded below; the discriminator's is >= 0

    def discriminator_loss(self, fake: Tensor, real: Tensor) -> Tensor:
        return _minimax_discriminator(fake, real)

    def generator_loss(self, fake: Tensor) -> Tensor:
        return _minimax_generator(fake)
