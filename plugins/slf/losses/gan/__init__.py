"""GAN losses over discriminator (critic) outputs, and the WGAN-GP gradient penalty.

One interface for every score loss (registry task ``gan``):

- a module built with ``role='discriminator'`` (also the WGAN critic) or ``role='generator'``,
  called as ``loss(fake_scores, real_scores=None, reduction=None)``;
- a functional form ``gan_<name>_loss(fake_scores, real_scores=None, role='discriminator', ...)``.

``fake_scores`` are the discriminator's outputs on generated samples :math:`D(G(z))`, and
``real_scores`` its outputs on real samples :math:`D(x)`, each of shape ``(N,)`` or ``(N, 1)``.
The discriminator needs both, with the same ``N`` (value ``n`` pairs the ``n``-th real and
generated sample; the mean is the usual sum of the two batch means); the generator reads
``fake_scores`` only, and passing ``real_scores`` to it is an error. ``reduction='none'``
gives per-sample values ``(N,)``. Minimax and non-saturating losses read logits (the
sigmoid is applied inside, stably); least-squares and Wasserstein losses read raw scores.

A training step::

    >>> d_loss, g_loss = NonSaturatingGANLoss("discriminator"), NonSaturatingGANLoss("generator")
    >>> real_scores, fake_scores = torch.tensor([2.0, 1.0]), torch.tensor([-1.0, 0.5])
    >>> d_loss(fake_scores, real_scores)  # fake_scores from D(G(z).detach()) in a real step
    tensor(0.8638)
    >>> g_loss(fake_scores)
    tensor(0.8937)

The gradient penalty reads the critic and the two batches of samples instead:
``GradientPenalty(weight)(critic, real, fake, generator=None)`` or the functional
:func:`gradient_penalty`; add it to the Wasserstein critic loss (WGAN-GP).

Registered names: ``gan_minimax``, ``gan_non_saturating``, ``gan_least_squares``,
``gan_wasserstein``, ``gradient_penalty``.
"""

import torch  # noqa: F401  (used by the doctests)

from ._base import ROLES as GAN_ROLES
from ._base import GANLoss
from .gradient_penalty import GradientPenalty, gradient_penalty
from .least_squares import LeastSquaresGANLoss, gan_least_squares_loss
from .minimax import MinimaxGANLoss, gan_minimax_loss
from .non_saturating import NonSaturatingGANLoss, gan_non_saturating_loss
from .wasserstein import WassersteinGANLoss, gan_wasserstein_loss

__all__ = [
    "GANLoss",
    "GAN_ROLES",
    "GradientPenalty",
    "LeastSquaresGANLoss",
    "MinimaxGANLoss",
    "NonSaturatingGANLoss",
    "WassersteinGANLoss",
    "gan_least_squares_loss",
    "gan_minimax_loss",
    "gan_non_saturating_loss",
    "gan_wasserstein_loss",
    "gradient_penalty",
]
