r"""The learned modes of :class:`slf.StochasticLoss` (``joint``, ``softmax``, ``validation``):
the paper's decision network reads the output and K averaged Gumbel-Softmax samples weigh the
candidates (Eq. 6-10).

.. math::

    \hat{p} = \frac{1}{K}\sum_{k=1}^{K} \operatorname{softmax}\Big(
        \frac{\log h(f(x;w); v) + G_k}{\tau}\Big), \qquad
    H = \sum_{i=1}^{n} \hat{p}_i\, \ell_i(f(x; w), y)

In ``joint`` and ``softmax`` modes v follows H's gradient with the model's; in ``validation``
mode the weights are constants for H's backward and v learns elsewhere
(:mod:`slf.validation_mode`).
"""

from __future__ import annotations

from typing import Any, List, Optional, Union

import torch
from torch import Tensor

from .candidate_set import renormalize_kept
from .decision import GlobalDecision, decision_features, loss_value_features


class LearnedModeMethods:
    """The training call and :meth:`combine` path of a :class:`slf.StochasticLoss` in a learned mode."""

    learner: Any
    mode: str

    def decision_logits(self, features: Tensor) -> Tensor:
        """Log-probabilities over candidates, ``(1, n)`` per batch or ``(N, n)`` per sample."""
        logits = self.decision(features).float()
        if logits.dim() != 2 or logits.shape[1] != len(self.candidates):
            raise ValueError(
                f"the decision network must return logits of shape (N, {len(self.candidates)}), "
                f"got {tuple(logits.shape)}"
            )
        if self.selection == "batch":
            logits = logits.mean(dim=0, keepdim=True)
        return torch.log_softmax(logits, dim=1)

    def selection_weights(
        self, log_probs: Tensor, noise: Optional[Tensor], tau: Optional[Union[float, Tensor]] = None
    ) -> Tensor:
        """Weights p_hat from decision log-probabilities (and Gumbel noise unless softmax mode)."""
        return self.sampler.weights(log_probs, noise, self.tau if tau is None else tau)

    def _draw_noise(self, rows: int) -> Optional[Tensor]:
        return self.sampler.noise(rows, len(self.candidates))

    def _core(
        self, output: Tensor, target: Tensor, noise: Optional[Tensor], tau: Union[float, Tensor]
    ) -> "tuple[Tensor, Tensor, Tensor, Tensor]":
        """Per-sample H, weights, column sums of the raw losses (to test finiteness), features.

        Pure tensor code (plus the running scale's in-place update), so ``compile=True``
        can hand it to ``torch.compile`` whole.
        """
        values = self.candidates.values(output, target)
        self._update_scale(values)
        features = decision_features(output, self.task, self.from_logits)
        if self.decision_reads_losses:
            features = torch.cat([features, loss_value_features(values, self.loss_floor)], dim=1)
        if self.mode == "validation":
            with torch.no_grad():
                weights = self.selection_weights(self.decision_logits(features), noise, tau)
        else:
            weights = self.selection_weights(self.decision_logits(features), noise, tau)
        per_sample = (self.scale_values(values) * weights.to(values.dtype)).sum(dim=1)
        return per_sample, weights, values.detach().sum(dim=0), features

    def _forward_learned(self, output: Tensor, target: Tensor) -> Tensor:
        """Per-sample H of a learned mode."""
        noise = self._draw_noise(1 if self.selection == "batch" else output.shape[0])
        tau = self.tau
        if self.compile:
            if self._compiled_core is None:
                self._compiled_core = torch.compile(self._core, dynamic=False)
            # tau as a tensor, so a decaying temperature does not trigger recompilation.
            per_sample, weights, column_sums, features = self._compiled_core(output, target, noise, torch.tensor(tau))
        else:
            per_sample, weights, column_sums, features = self._core(output, target, noise, tau)
        recorded = weights
        keep = self._finite_candidates(column_sums)
        if keep is not None:
            # Rebuilt from the finite columns alone, so no NaN reaches the graph of H.
            columns = self.candidates.columns(output, target)
            values = self.scale_values(torch.stack([columns[i] for i in keep], dim=1), keep)
            weights, recorded = renormalize_kept(weights, keep)
            per_sample = (values * weights.to(values.dtype)).sum(dim=1)
        if self.training:
            if self.mode == "validation":
                self.learner.save({"features": features, "noise": noise, "tau": tau})
            self._record(recorded.detach())
        return per_sample

    def _combine_learned(
        self, columns: List[Tensor], output: Optional[Tensor], features: Optional[Tensor]
    ) -> "tuple[Tensor, Tensor]":
        """:meth:`slf.StochasticLoss.combine` in a learned mode."""
        rows = columns[0].shape[0]
        if features is None and output is not None:
            features = decision_features(output, self.task, self.from_logits)
        if features is None:
            if not isinstance(self.decision, GlobalDecision):
                raise ValueError("combine() needs the model output for the decision network unless decision='global'")
            features = columns[0].new_zeros((rows, 0))
        elif self.selection == "sample" and features.shape[0] != rows:
            raise ValueError(f"selection='sample' needs one output row per loss row: {features.shape[0]} vs {rows}")
        values = torch.stack(columns, dim=1)
        if self.decision_reads_losses:
            if features.shape[0] != rows:
                raise ValueError(
                    f"decision_reads_losses needs one output row per loss row: {features.shape[0]} vs {rows}"
                )
            features = torch.cat([features, loss_value_features(values, self.loss_floor)], dim=1)
        keep = self._finite_candidates(values.detach().sum(dim=0))
        self._update_scale(values)
        noise = self._draw_noise(1 if self.selection == "batch" else rows)
        if self.mode == "validation":
            with torch.no_grad():
                weights = self.selection_weights(self.decision_logits(features), noise)
        else:
            weights = self.selection_weights(self.decision_logits(features), noise)
        recorded = weights
        if keep is None:
            per_row = (self.scale_values(values) * weights.to(values.dtype)).sum(dim=1)
        else:
            kept_values = self.scale_values(torch.stack([columns[i] for i in keep], dim=1), keep)
            kept, recorded = renormalize_kept(weights, keep)
            per_row = (kept_values * kept.to(kept_values.dtype)).sum(dim=1)
            index = torch.tensor(keep, device=weights.device)
            weights = torch.zeros_like(weights).index_copy(1, index, kept)
        if self.training:
            if self.mode == "validation":
                self.learner.save({"features": features.detach(), "noise": noise, "tau": self.tau})
            self._record(recorded.detach())
        return per_row, weights
