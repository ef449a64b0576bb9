"""Validation mode's learner: the decision network v descends a held-out loss after a one-step
look-ahead of the model (:mod:`slf.lookahead`), with its own optimizer.

Each update takes the training forward's saved decision inputs and Gumbel draw and descends the
surrogate

.. math::

    \\mathcal{S}(v) = \\sum_{r,i} \\hat p_{ri}(v)\\, c_{ri}, \\qquad
    c_{ri} = -\\eta\\, \\langle \\nabla_w L_{val}, \\nabla_w \\ell_{ri} \\rangle

(or the cosine, ``hypergradient='cosine'``), whose gradient in v is the look-ahead's.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Optional

import torch
from torch import Tensor, nn

from . import distributed

LOOKAHEADS = ("first_order", "exact")
HYPERGRADIENTS = ("inner", "cosine")


def check_lookahead_options(interval: int, lookahead: str, hypergradient: str) -> None:
    """Raise ``ValueError`` naming the valid choices for a bad validation-mode option.

    Example:
        >>> check_lookahead_options(1, "exact", "cosine")
        Traceback (most recent call last):
        ...
        ValueError: hypergradient='cosine' needs lookahead='first_order' (the exact look-ahead differentiates ...
    """
    if lookahead not in LOOKAHEADS:
        raise ValueError(f"lookahead must be 'first_order' or 'exact', got {lookahead!r}")
    if hypergradient not in HYPERGRADIENTS:
        raise ValueError(f"hypergradient must be one of {list(HYPERGRADIENTS)}, got {hypergradient!r}")
    if hypergradient == "cosine" and lookahead != "first_order":
        raise ValueError(
            "hypergradient='cosine' needs lookahead='first_order' (the exact look-ahead "
            "differentiates through the step itself, which has no direction-only form)"
        )
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise ValueError(f"validation_interval must be an integer >= 1, got {interval!r}")


class LookaheadLearner:
    """The decision network's own optimizer and schedule in validation mode.

    Args:
        decision: the decision network v (registered as a module by the loss that owns it).
        lr: Adam's learning rate for v.
        interval: update v on every this many training steps.
        lookahead: ``'first_order'`` or ``'exact'``.
        lookahead_lr: the look-ahead step size :math:`\\eta`.
        hypergradient: ``'inner'`` or ``'cosine'`` (first order only).

    Example:
        >>> learner = LookaheadLearner(nn.Linear(2, 3), interval=2)
        >>> learner.save({"features": torch.zeros(1, 2)})
        >>> learner.due(step=1), learner.due(step=2)
        (True, False)
    """

    def __init__(
        self,
        decision: nn.Module,
        lr: float = 1e-2,
        interval: int = 1,
        lookahead: str = "first_order",
        lookahead_lr: float = 0.1,
        hypergradient: str = "inner",
    ) -> None:
        check_lookahead_options(interval, lookahead, hypergradient)
        self.decision = decision
        self.interval = interval
        self.lookahead = lookahead
        self.lookahead_lr = lookahead_lr
        self.hypergradient = hypergradient
        # v has its own optimizer: H must not move it, the validation signal does.
        self.optimizer = torch.optim.Adam(decision.parameters(), lr=lr)
        self._saved: Optional[Dict[str, Any]] = None

    def save(self, inputs: Dict[str, Any]) -> None:
        """Keep a training forward's decision inputs (``features``, ``noise``, ``tau``) for the update."""
        self._saved = inputs

    @property
    def saved(self) -> Optional[Dict[str, Any]]:
        """The training forward's inputs waiting for the update (None when none wait)."""
        return self._saved

    @property
    def has_saved(self) -> bool:
        """Whether a training forward's inputs wait for an update."""
        return self._saved is not None

    def take_saved(self, caller: str) -> Dict[str, Any]:
        """The saved inputs, once (a second call raises: the update must follow a training forward)."""
        if self._saved is None:
            raise RuntimeError(f"{caller} must follow a training-mode forward pass of this loss")
        saved, self._saved = self._saved, None
        return saved

    def due(self, step: int) -> bool:
        """Whether the training step that recorded ``step`` updates v (``step`` already counts it)."""
        return (step - 1) % self.interval == 0

    def descend(self, coefficients: Tensor, weights: Callable[[], Tensor]) -> float:
        """One step of v on ``sum(weights() * coefficients)``; returns the gradient norm."""
        self.optimizer.zero_grad(set_to_none=True)
        current = weights()
        surrogate = (current * coefficients.to(current.dtype)).sum()
        surrogate.backward()
        distributed.average_gradients(self.decision.parameters())  # no host DDP covers this step
        grad_norm = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in self.decision.parameters() if p.grad is not None))
        self.optimizer.step()
        # A host optimizer that also holds v (fairseq's, over criterion.parameters()) must not step it again.
        self.optimizer.zero_grad(set_to_none=True)
        return grad_norm
