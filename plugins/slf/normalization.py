"""Scale normalisation of candidate losses, so that no candidate wins by its offset or scale.

.. math::

    \\tilde\\ell_i = \\frac{\\ell_i - m_i}{s_i}, \\qquad
    s_i \\leftarrow \\mu\\, s_i + (1 - \\mu)\\, \\overline{|\\ell_i - m_i|}

with :math:`m_i` the candidate's lower bound (its ``minimum``, e.g. -1 for cosine proximity)
and the mean taken over the batch (and over ranks).
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import torch
from torch import Tensor, nn

from . import distributed

NORMALIZATIONS = (None, "mean")


class ScaleNormalization(nn.Module):
    """Running-scale normalisation of the candidate losses (``kind='mean'``) or none (``None``).

    Args:
        floors: each candidate's lower bound :math:`m_i` (``None`` counts as 0).
        kind: ``None`` (values pass through) or ``'mean'`` (the formula above).
        momentum: :math:`\\mu`, in [0, 1).

    The floors are kept either way: the decision network can read losses measured from them.

    Example:
        >>> norm = ScaleNormalization([0.0, -1.0], kind="mean", momentum=0.0)
        >>> norm.update(torch.tensor([[2.0, 0.0], [4.0, -0.5]]))
        >>> norm.scale(torch.tensor([[3.0, -0.25]])).tolist()
        [[1.0, 1.0]]
    """

    def __init__(self, floors: Sequence[Optional[float]], kind: Optional[str] = None, momentum: float = 0.99) -> None:
        super().__init__()
        if kind not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {list(NORMALIZATIONS)}, got {kind!r}")
        if not 0 <= momentum < 1:
            raise ValueError(f"normalize_momentum must be in [0, 1), got {momentum}")
        self.kind = kind
        self.momentum = momentum
        self.register_buffer("loss_floor", torch.tensor([0.0 if f is None else float(f) for f in floors]))
        self.register_buffer("loss_scale", torch.ones(len(floors)))
        self.register_buffer("scale_initialized", torch.zeros((), dtype=torch.bool))

    @property
    def enabled(self) -> bool:
        """Whether values are normalised (``kind`` is not None)."""
        return self.kind is not None

    def scale(self, values: Tensor, keep: Optional[List[int]] = None) -> Tensor:
        """Divide candidate losses (columns ``keep``, default all) by their running scale."""
        if self.kind is None:
            return values
        floor = self.loss_floor if keep is None else self.loss_floor[keep]
        scale = self.loss_scale if keep is None else self.loss_scale[keep]
        return (values - floor.to(values.dtype)) / scale.to(values.dtype)

    def update(self, values: Tensor) -> None:
        """Blend the batch ``(N, n)`` into the running scales; a non-finite column keeps its scale."""
        with torch.no_grad():
            batch = (values.detach() - self.loss_floor.to(values.dtype)).abs().mean(dim=0).to(self.loss_scale)
            if distributed.world_size() > 1:  # the mean over the ranks' finite batch means
                finite = torch.isfinite(batch)
                summed = distributed.all_reduce_sum(
                    torch.cat([torch.where(finite, batch, torch.zeros_like(batch)), finite.to(batch.dtype)])
                )
                total, count = summed.split(len(batch))
                batch = torch.where(count > 0, total / count.clamp_min(1), torch.full_like(batch, float("nan")))
            batch = torch.where(torch.isfinite(batch), batch.clamp_min(1e-8), self.loss_scale)
            blended = torch.where(
                self.scale_initialized, self.loss_scale * self.momentum + batch * (1 - self.momentum), batch
            )
            self.loss_scale.copy_(blended)
            self.scale_initialized.fill_(True)
