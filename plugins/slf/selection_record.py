"""What an SLF chose, step by step: the statistics and history kept apart from the choosing.

For weights :math:`\\hat p_t \\in \\Delta^{n-1}` recorded at training steps :math:`t = 0, 1, \\dots`:

.. math::

    \\bar p = \\frac{1}{T}\\sum_{t<T} \\hat p_t, \\qquad
    f_i = \\frac{|\\{t : \\arg\\max \\hat p_t = i\\}|}{T}

and every ``interval`` steps a history row holds the mean of the weights since the previous row.
"""

from __future__ import annotations

from typing import Any, Dict, List

import torch
from torch import Tensor, nn

from . import distributed


class SelectionRecord(nn.Module):
    """Mean weights, selection frequency and a thinned history of an SLF's weights.

    Args:
        num_candidates: n, the length of each weight vector.
        history_interval: a history row every this many recorded steps (>= 1).

    The step counter and history travel in the owner's extra state (:meth:`extra_state`);
    the sums are buffers, so they follow the owner across devices.

    Example:
        >>> record = SelectionRecord(2, history_interval=2)
        >>> for _ in range(3):
        ...     record.add(torch.tensor([[0.25, 0.75]]), tau=1.0)
        >>> record.step, record.mean_weights.tolist(), [row["step"] for row in record.history]
        (3, [0.25, 0.75], [0, 2])
    """

    def __init__(self, num_candidates: int, history_interval: int = 10) -> None:
        super().__init__()
        if history_interval < 1:
            raise ValueError(f"history_interval must be >= 1, got {history_interval}")
        self.history_interval = history_interval
        self.register_buffer("weight_sum", torch.zeros(num_candidates, dtype=torch.float64))
        self.register_buffer("selection_counts", torch.zeros(num_candidates, dtype=torch.long))
        self.step = 0
        self.history: List[Dict[str, Any]] = []
        self.last_weights = torch.full((num_candidates,), 1.0 / num_candidates)
        self._interval_sum = torch.zeros(num_candidates, dtype=torch.float64)
        self._interval_count = 0

    @property
    def mean_weights(self) -> Tensor:
        """Mean weight per candidate over all recorded steps."""
        return (self.weight_sum / max(self.step, 1)).float()

    @property
    def selection_frequency(self) -> Tensor:
        """How often each candidate had the largest weight (per batch or per sample)."""
        total = self.selection_counts.sum().clamp_min(1)
        return self.selection_counts.float() / total

    def add(self, weights: Tensor, tau: float) -> None:
        """Count one training step's weights ``(rows, n)`` (averaged over all ranks)."""
        with torch.no_grad():
            if weights.shape[0] == 1 and distributed.world_size() == 1:  # one vector a step: no reduction
                mean = weights[0].float().cpu().clone()
                self.selection_counts[int(mean.argmax())].add_(1)
            else:
                mean = weights.float().mean(dim=0).cpu()
                counts = torch.bincount(weights.argmax(dim=1).cpu(), minlength=len(self.weight_sum))
                if distributed.world_size() > 1:  # every rank records the same, all ranks' statistics
                    summed = distributed.all_reduce_sum(torch.cat([mean.double(), counts.double()]))
                    mean = (summed[: len(mean)] / distributed.world_size()).float()
                    counts = summed[len(mean) :].round().long()
                self.selection_counts += counts.to(self.selection_counts.device)
            self.last_weights = mean
            self.weight_sum.add_(mean.to(self.weight_sum.device))  # in float64, the sum's type
        self._interval_sum.add_(mean)
        self._interval_count += 1
        if self.step % self.history_interval == 0:
            # Each row holds the mean weights since the previous row, not one noisy draw.
            interval_mean = (self._interval_sum / self._interval_count).float()
            self.history.append({"step": self.step, "weights": interval_mean.tolist(), "tau": tau})
            self._interval_sum.zero_()
            self._interval_count = 0
        self.step += 1

    def extra_state(self) -> Dict[str, Any]:
        """The state outside buffers, as plain values."""
        return {
            "step": self.step,
            "history": [dict(row) for row in self.history],
            "last_weights": self.last_weights.clone(),
            "interval_sum": self._interval_sum.clone(),
            "interval_count": self._interval_count,
        }

    def load_extra_state(self, state: Dict[str, Any]) -> None:
        """Restore what :meth:`extra_state` returned."""
        self.step = int(state["step"])
        self.history = [dict(row) for row in state["history"]]
        self.last_weights = state["last_weights"].clone()
        self._interval_sum = state["interval_sum"].clone()
        self._interval_count = int(state["interval_count"])
