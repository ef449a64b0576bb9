"""Multiple Gumbel-Softmax (SLF paper, Eq. 6-10).

.. math::

    \\hat{L}_k = \\operatorname{softmax}\\big((\\log p + G_k) / \\tau\\big),\\qquad
    G_k \\sim \\mathrm{Gumbel}(0, 1),\\qquad
    \\hat{p} = \\frac{1}{K} \\sum_{k=1}^{K} \\hat{L}_k .

K = 1 picks one candidate per draw; as K grows, :math:`\\hat p` tends to the
Gumbel-softmax mean (for small tau: to the decision probabilities p themselves).
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor


def sample_gumbel(
    shape: Sequence[int], generator: Optional[torch.Generator] = None, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Standard Gumbel noise ``-log(E)``, ``E ~ Exp(1)``, drawn on the generator's device.

    Example:
        >>> g = sample_gumbel((4, 3), torch.Generator().manual_seed(0))
        >>> g.shape
        torch.Size([4, 3])
    """
    device = generator.device if generator is not None else torch.device("cpu")
    return -torch.empty(tuple(shape), dtype=dtype, device=device).exponential_(generator=generator).log()


def multiple_gumbel_softmax(log_probs: Tensor, noise: Tensor, tau: float, hard: bool = False) -> Tensor:
    """Average of K Gumbel-Softmax samples of one categorical distribution.

    Args:
        log_probs: log-probabilities (or logits) over candidates, shape ``(B, n)``.
        noise: Gumbel noise, shape ``(K, B, n)``.
        tau: temperature, > 0.
        hard: straight-through samples: exact one-hot vectors in the forward pass,
            the soft sample's gradient in the backward pass.

    Returns:
        ``(B, n)`` weights, each row sums to 1.

    Shape:
        - log_probs: :math:`(B, n)`; noise: :math:`(K, B, n)`; output: :math:`(B, n)`.

    Example:
        >>> logits = torch.zeros(1, 3)
        >>> noise = sample_gumbel((1, 1, 3), torch.Generator().manual_seed(0))
        >>> multiple_gumbel_softmax(logits, noise, tau=1.0, hard=True).sum().item()
        1.0
    """
    soft = torch.softmax((log_probs.unsqueeze(0) + noise) / tau, dim=-1)
    if hard:
        one_hot = torch.zeros_like(soft).scatter_(-1, soft.argmax(dim=-1, keepdim=True), 1.0)
        # one_hot + (soft - soft.detach()) is exactly one-hot in value (the bracket is 0).
        soft = one_hot + (soft - soft.detach())
    return soft.mean(dim=0)
