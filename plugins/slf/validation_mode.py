"""The ``validation`` mode of :class:`slf.StochasticLoss`: the decision network learns from a
held-out loss after a one-step look-ahead of the model (:mod:`slf.lookahead`), with its own
optimizer held by the loss's :class:`slf.lookahead_learner.LookaheadLearner`.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import torch
from torch import Tensor, nn

from .lookahead import coefficients_from_derivatives, decision_hypergradient
from .lookahead_learner import LookaheadLearner
from .part_attribute import part_attribute


def _learner_setting(path: str, what: str) -> property:
    """A setting of the look-ahead learner, read as a property of the loss (None in the other modes)."""
    return part_attribute(path, f"Validation mode: {what} (None in the other modes).", when=LookaheadLearner)


class ValidationModeMethods:
    """The methods and properties of a :class:`slf.StochasticLoss` that belong to ``validation`` mode."""

    learner: Any
    mode: str

    def validation_step(
        self,
        model: nn.Module,
        inputs: Tensor,
        targets: Tensor,
        val_inputs: Tensor,
        val_targets: Tensor,
    ) -> Dict[str, float]:
        """Update the decision network from a held-out batch (validation mode).

        Call once per training step, after ``loss.backward()`` (before or after the
        optimizer's step), with the training batch just used and a held-out batch.

        Args:
            model: the main network f(.; w); its parameters are not changed.
            inputs, targets: the training batch of the last forward.
            val_inputs, val_targets: a held-out batch.

        Returns:
            ``{'validation_loss': ..., 'hypergradient_norm': ...}``, or ``{}`` on the steps
            that ``validation_interval`` skips.
        """
        learner = self._lookahead_learner("validation_step")
        saved = learner.take_saved("validation_step")
        if not learner.due(self.step):
            return {}
        coefficients, val_loss = decision_hypergradient(self, model, inputs, targets, val_inputs, val_targets, saved)
        return {"validation_loss": float(val_loss), "hypergradient_norm": self._descend(coefficients, saved)}

    @property
    def validation_due(self) -> bool:
        """Whether the last training forward's step updates v (``validation_interval``), in validation mode."""
        return isinstance(self.learner, LookaheadLearner) and self.learner.has_saved and self.learner.due(self.step)

    def validation_update(self, derivatives: Tensor, validation_loss: Optional[float] = None) -> Dict[str, float]:
        r"""Update the decision network from derivatives a host computed (validation mode).

        The first-order look-ahead of :mod:`slf.lookahead` for hosts whose models are not
        ``model(inputs)``: the host passes, for the rows of its last :meth:`combine`,

        .. math::

            d_{ri} = \langle \nabla_w L_{val}(w),\ \nabla_w \ell_{ri}(w) \rangle

        (for instance from :func:`slf.lookahead.directional_derivative`), of the losses as
        its optimizer sees them; v descends :math:`\sum_{ri} \hat p_{ri}(v)\, c_{ri}` with
        :math:`c = -\eta\, d` (summed over rows for batch selection). Call it after the
        training forward when :attr:`validation_due` is true.

        Args:
            derivatives: ``(R, n)``, rows as in :meth:`combine`, candidates in order.
            validation_loss: the held-out loss, only reported back.

        Returns:
            ``{'hypergradient_norm': ...}`` (and ``'validation_loss'`` when given), or ``{}``
            on the steps ``validation_interval`` skips.

        Example:
            >>> from slf import StochasticLoss
            >>> crit = StochasticLoss(["mse", "mae"], task="regression", decision="global", mode="validation",
            ...                       seed=0)
            >>> _ = crit.combine([torch.ones(4), torch.full((4,), 3.0)])
            >>> sorted(crit.validation_update(torch.tensor([[1.0, -1.0]]).repeat(4, 1)))
            ['hypergradient_norm']
        """
        learner = self._lookahead_learner("validation_update")
        if learner.hypergradient != "inner":
            raise ValueError(
                f"validation_update() takes inner products; hypergradient={learner.hypergradient!r} "
                "needs the model's parameter gradients, so use validation_step()"
            )
        if derivatives.dim() != 2 or derivatives.shape[1] != len(self.candidates):
            raise ValueError(
                f"validation_update() needs derivatives shaped (rows, {len(self.candidates)}), "
                f"got {tuple(derivatives.shape)}"
            )
        saved = learner.take_saved("validation_update")
        if not learner.due(self.step):
            return {}
        if self.selection == "sample" and derivatives.shape[0] != saved["features"].shape[0]:
            raise ValueError(
                f"selection='sample' needs one derivative row per weighted row: "
                f"{derivatives.shape[0]} vs {saved['features'].shape[0]}"
            )
        result = {"hypergradient_norm": self._descend(coefficients_from_derivatives(self, derivatives), saved)}
        if validation_loss is not None:
            result["validation_loss"] = float(validation_loss)
        return result

    def _lookahead_learner(self, caller: str) -> LookaheadLearner:
        if not isinstance(self.learner, LookaheadLearner):
            raise RuntimeError(f"{caller} needs mode='validation'; this StochasticLoss has mode={self.mode!r}")
        return self.learner

    def _descend(self, coefficients: Tensor, saved: Dict[str, Any]) -> float:
        """One step of v on the surrogate sum(p_hat(v) * coefficients); returns the gradient norm."""
        return self.learner.descend(
            coefficients,
            lambda: self.selection_weights(self.decision_logits(saved["features"]), saved["noise"], saved["tau"]),
        )

    @property
    def decision_optimizer(self) -> torch.optim.Optimizer:
        """Validation mode: the decision network's own optimizer."""
        return self._lookahead_learner("decision_optimizer").optimizer

    lookahead = _learner_setting("learner.lookahead", "``'first_order'`` or ``'exact'``")
    lookahead_lr = _learner_setting("learner.lookahead_lr", "the look-ahead step size")
    hypergradient = _learner_setting("learner.hypergradient", "``'inner'`` or ``'cosine'``")
    validation_interval = _learner_setting("learner.interval", "v is updated every this many steps")
