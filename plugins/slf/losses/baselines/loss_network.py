"""A small network as a loss: one shared MLP over each output's (prediction, target) pair."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SmoothLeakyReLU(nn.Module):
    r"""A leaky ReLU with a smooth corner: :math:`\gamma x + (1 - \gamma)\,\mathrm{softplus}_\beta(x)`.

    Everywhere differentiable, so a loss built from it has the second derivatives that a
    look-ahead hypergradient needs; its slope runs from :math:`\gamma` (x << 0) to 1 (x >> 0).

    Example:
        >>> SmoothLeakyReLU(beta=2.0, gamma=0.25)(torch.tensor([-10.0, 0.0, 10.0]))
        tensor([-2.5000,  0.2599, 10.0000])
    """

    def __init__(self, beta: float = 2.0, gamma: float = 0.25) -> None:
        super().__init__()
        if not beta > 0 or not 0 <= gamma < 1:
            raise ValueError(f"SmoothLeakyReLU: need beta > 0 and 0 <= gamma < 1, got beta={beta}, gamma={gamma}")
        self.beta, self.gamma = beta, gamma

    def forward(self, x: Tensor) -> Tensor:
        return self.gamma * x + (1 - self.gamma) * F.softplus(x, beta=self.beta)


class ElementwiseLossNetwork(nn.Module):
    r"""A learned loss term: :math:`g_\phi(\hat y_{c}, y_{c})` per output c, averaged over the outputs.

    Two hidden layers of ``hidden`` units with :class:`SmoothLeakyReLU`, no biases, one network
    shared by every output (so it does not depend on the number of classes). The last layer
    starts at zero: the term is 0 until the network has learned something.

    Args:
        hidden: units per hidden layer.

    Shape:
        - prediction, target: :math:`(N, C)`.
        - output: :math:`(N,)`, the mean over the C outputs.

    Example:
        >>> network = ElementwiseLossNetwork(hidden=8)
        >>> network(torch.rand(4, 3), torch.eye(3)[[0, 1, 2, 0]])
        tensor([0., 0., 0., 0.], grad_fn=<MeanBackward1>)
    """

    def __init__(self, hidden: int = 50) -> None:
        super().__init__()
        if hidden < 1:
            raise ValueError(f"ElementwiseLossNetwork: hidden must be >= 1, got {hidden}")
        self.layers = nn.Sequential(
            nn.Linear(2, hidden, bias=False),
            SmoothLeakyReLU(),
            nn.Linear(hidden, hidden, bias=False),
            SmoothLeakyReLU(),
            nn.Linear(hidden, 1, bias=False),
        )
        nn.init.zeros_(self.layers[-1].weight)

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        pairs = torch.stack((prediction, target.to(prediction.dtype)), dim=-1)  # (N, C, 2)
        return self.layers(pairs).squeeze(-1).mean(dim=1)
