"""How an SLF turns decision log-probabilities into weights: K averaged Gumbel-Softmax samples,
or the plain softmax of the paper's ablation.

.. math::

    \\hat p = \\frac{1}{K}\\sum_{k=1}^{K}\\operatorname{softmax}\\Big(\\frac{\\log p + G_k}{\\tau(t)}\\Big)
    \\quad\\text{(Gumbel)}, \\qquad \\hat p = p \\quad\\text{(softmax)}

with :math:`G_k` standard Gumbel noise from the sampler's own generator and :math:`\\tau(t)`
its :class:`slf.schedules.TauSchedule`.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Union

import torch
from torch import Tensor

from .gumbel import multiple_gumbel_softmax, sample_gumbel
from .schedules import TauSchedule


class GumbelSampler:
    """K averaged Gumbel-Softmax samples (SLF paper, Eq. 6-10), or their noise-free softmax.

    Args:
        num_samples: K (>= 1).
        schedule: the temperature over steps.
        hard: straight-through one-hot samples.
        seed: seed of the noise generator (default: drawn from torch's global generator).
        noise: False for the paper's SLF-Softmax ablation: :math:`\\hat p = p`, no draws.

    Example:
        >>> sampler = GumbelSampler(3, TauSchedule(1.0), seed=0)
        >>> noise = sampler.noise(rows=1, candidates=2)
        >>> sampler.weights(torch.log(torch.tensor([[0.5, 0.5]])), noise, tau=1.0).sum().item()
        1.0
    """

    def __init__(
        self,
        num_samples: int,
        schedule: TauSchedule,
        hard: bool = False,
        seed: Optional[int] = None,
        noise: bool = True,
    ) -> None:
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f"num_samples (K) must be an integer >= 1, got {num_samples!r}")
        self.num_samples = num_samples
        self.schedule = schedule
        self.hard = hard
        self.uses_noise = noise
        if seed is None:
            seed = int(torch.randint(0, 2**62, (1,)).item())
        self.generator = torch.Generator().manual_seed(seed)

    @classmethod
    def from_options(cls, options: Mapping[str, Any], noise: bool = True) -> "GumbelSampler":
        """A sampler from flat options: ``num_samples`` (3), ``tau`` (1.0), ``tau_schedule``
        (``'constant'``), ``tau_decay`` (0.999), ``tau_min`` (0.1), ``hard`` (False), ``seed``.

        Example:
            >>> GumbelSampler.from_options({"num_samples": 5, "tau": 0.5}).num_samples
            5
        """
        schedule = TauSchedule(
            options.get("tau", 1.0),
            options.get("tau_schedule", "constant"),
            options.get("tau_decay", 0.999),
            options.get("tau_min", 0.1),
        )
        return cls(options.get("num_samples", 3), schedule, options.get("hard", False), options.get("seed"), noise)

    def noise(self, rows: int, candidates: int) -> Optional[Tensor]:
        """Gumbel noise ``(K, rows, candidates)``, or None without noise."""
        if not self.uses_noise:
            return None
        return sample_gumbel((self.num_samples, rows, candidates), self.generator)

    def weights(self, log_probs: Tensor, noise: Optional[Tensor], tau: Union[float, Tensor]) -> Tensor:
        """Weights ``(rows, n)`` from log-probabilities ``(rows, n)`` and :meth:`noise`'s draw."""
        if not self.uses_noise:
            return log_probs.exp()
        return multiple_gumbel_softmax(log_probs, noise.to(log_probs.device), tau, self.hard)
