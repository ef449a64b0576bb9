r"""DAC's data augmentation as batched random affine warps (no torchvision needed).

Each image is rotated by :math:`\theta \sim U(-\theta_{max}, \theta_{max})`, scaled by
:math:`s \sim U(s_{min}, s_{max})` and shifted by :math:`t \sim U(-t_{max}, t_{max})^2`
(in fractions of the image side), as the DAC authors' Keras generator does for MNIST
(10 degrees, 10 % shifts, zoom 0.95-1.05). Pixels outside the image repeat the border.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["random_affine"]


def random_affine(
    images: Tensor,
    rotation: float = 10.0,
    shift: float = 0.1,
    zoom: Tuple[float, float] = (0.95, 1.05),
    generator: Optional[torch.Generator] = None,
) -> Tensor:
    r"""Randomly rotated, scaled and shifted copies of ``images`` ``(N, C, H, W)``.

    The sampling grid maps output coordinates :math:`\mathbf p` (in :math:`[-1, 1]^2`) to
    input coordinates :math:`R(\theta)\,\mathbf p / s + 2\mathbf t`.

    Args:
        images: a float batch.
        rotation: largest rotation in degrees.
        shift: largest shift, as a fraction of the image side.
        zoom: range of the scale factor s.
        generator: torch generator for the random draws.

    Example:
        >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
        >>> torch.allclose(random_affine(x, rotation=0, shift=0, zoom=(1, 1)), x, atol=1e-5)
        True
    """
    if images.dim() != 4:
        raise ValueError(f"random_affine expects (N, C, H, W) images, got shape {tuple(images.shape)}")
    n = images.shape[0]

    def uniform(low: float, high: float) -> Tensor:
        return low + (high - low) * torch.rand(n, generator=generator)

    angle = uniform(-rotation, rotation) * (math.pi / 180.0)
    scale = uniform(*zoom)
    shift_x, shift_y = uniform(-shift, shift) * 2.0, uniform(-shift, shift) * 2.0
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift_x], dim=1), torch.stack([sin, cos, shift_y], dim=1)], dim=1)
    theta = theta.to(device=images.device, dtype=images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
