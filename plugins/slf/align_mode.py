"""The ``align`` mode of :class:`slf.StochasticLoss` (the default recipe): its training call,
its :meth:`~AlignModeMethods.combine` for host-computed losses, and how a host gives it its
held-out reference.

The weights come from the loss's :class:`slf.align_learner.AlignmentLearner`; this is the face
the loss shows for it, so that hosts call ``loss.set_reference(...)`` and read
``loss.reference_source`` whatever learner sits behind.
"""

from __future__ import annotations

import math
from typing import Any, Callable, ContextManager, List, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from .align_learner import AlignmentLearner
from .alignment import GradientAlignment
from .held_out import HeldOut
from .part_attribute import part_attribute


class AlignModeMethods:
    """The methods and properties of a :class:`slf.StochasticLoss` that belong to ``align`` mode."""

    learner: Any
    mode: str

    @staticmethod
    def _alignment(
        candidate_names: Sequence[str],
        alignment: Optional[Mapping[str, Any]],
        prior: Optional[Sequence[float]],
        stock: Optional[str],
    ) -> GradientAlignment:
        """The weighing of ``align`` mode, its stock loss the candidate named ``alignment['preferred']``, or
        else the reference loss ``stock`` when it is a candidate."""
        options = dict(alignment or {})
        stock = options.pop("preferred", stock)
        if stock is not None and stock not in candidate_names:
            if "preferred" in dict(alignment or {}):
                raise ValueError(f"alignment['preferred'] must name a candidate {list(candidate_names)}, got {stock!r}")
            stock = None
        return GradientAlignment(
            len(candidate_names),
            prior=prior,
            preferred=None if stock is None else list(candidate_names).index(stock),
            **options,
        )

    @staticmethod
    def _check_align_options(
        decision: Any, selection: str, reads_losses: bool, compile: bool, held_out: Any, alignment: Any
    ) -> None:
        if decision is not None:
            raise ValueError(
                "decision= chooses the network of the learned modes; mode='align' weighs the candidates "
                "by gradient alignment (pass mode='joint', 'softmax' or 'validation' to use a decision "
                "network)"
            )
        if selection != "batch":
            raise ValueError(
                f"mode='align' weighs each batch with one vector; selection={selection!r} applies to the "
                f"learned modes ('joint', 'softmax', 'validation')"
            )
        if reads_losses:
            raise ValueError("decision_reads_losses applies to the learned modes' decision network, not mode='align'")
        if compile:
            raise ValueError("compile=True applies to the learned modes ('joint', 'softmax', 'validation')")
        if held_out is not None and not isinstance(held_out, HeldOut) and held_out != "previous_batch":
            raise ValueError(f"held_out must be a slf.HeldOut(model, batches) or 'previous_batch', got {held_out!r}")
        if alignment is not None and not isinstance(alignment, Mapping):
            raise TypeError(f"alignment must be a dict of GradientAlignment options, got {type(alignment).__name__}")

    def _forward_align(self, output: Tensor, target: Tensor) -> Tensor:
        """Per-sample H of ``align`` mode (or, in a reference pass, the reference loss)."""
        if self.learner.in_reference_pass:
            reference = self.validation_loss(output, target)
            self.learner.set_reference(reference.mean())
            return reference
        if self.holds_stock:
            column = self.candidates.column(self.decision.preferred, output, target)
            mean = column.detach().mean()
            if math.isfinite(float(mean)):
                if not self._stock_is_reference():
                    with torch.no_grad():
                        mean = self.validation_loss(output.detach(), target).mean()
                return self._held_step(column, mean)[0]
        values = self.candidates.values(output, target)
        keep = self._finite_candidates(values.detach().sum(dim=0))
        self._update_scale(values)
        if keep is not None:  # rebuilt from the finite columns alone, so no NaN reaches the graph
            columns = self.candidates.columns(output, target)
            values = torch.stack([columns[i] for i in keep], dim=1)
        train_loss = None
        if self.training and self.decision.preferred is not None:
            with torch.no_grad():
                train_loss = self.validation_loss(output.detach(), target).mean()
        weights, begins = self.learner.weights(
            values.mean(dim=0).unbind(),
            [output],
            keep,
            lambda: self.validation_loss(output, target).mean(),
            len(self.candidates),
            self.step,
            self.training,
            train_loss,
        )
        kept = weights if keep is None else weights[:, keep]
        per_sample = (self.scale_values(values, keep) * kept.to(values.dtype)).sum(dim=1)
        if self.training and begins:
            self._record(weights.detach())
        return per_sample

    def _stock_is_reference(self) -> bool:
        """Whether the stock candidate and the reference loss are one loss (the default: both
        cross-entropy), so that a held step reads the gap's training side off the stock column."""
        if not hasattr(self, "_stock_reference_same"):
            stock, reference = self.candidates[self.decision.preferred], self.validation_loss
            self._stock_reference_same = (
                type(stock) is type(reference)
                and repr(stock) == repr(reference)
                and not any(True for _ in stock.parameters())
            )
        return self._stock_reference_same

    def _held_step(self, column: Tensor, train_loss: Tensor) -> "tuple[Tensor, Tensor]":
        weights = self.learner.held_weights(self.step, train_loss)
        self._record(weights.detach())
        return column, weights

    @property
    def holds_stock(self) -> bool:
        """Whether this training step's weights stay all on the stock loss, where ``align``
        mode's gap has held them for ``gap_patience`` steps in a row (no sign of label noise:
        :attr:`slf.alignment.GradientAlignment.settled`).

        Such a step computes the stock loss alone: no other candidate and no gradient
        comparison, so on clean data the recipe costs about a stock-loss step plus the
        held-out reference. A host that computes the columns itself (:meth:`combine`) may
        then pass ``None`` for every column but the stock loss's. False in the learned modes,
        in evaluation, with ``normalize`` set, and for a host that calls the loss several
        times per iteration (``step_key``).

        Example:
            >>> from slf import StochasticLoss
            >>> StochasticLoss(["ce", "mae"]).holds_stock  # no held-out loss seen yet: no gap to judge
            False
        """
        return (
            isinstance(self.learner, AlignmentLearner)
            and self.training
            and not self.normalization.enabled
            and self.learner.holds_stock()
        )

    def _combine_align(
        self, columns: List[Optional[Tensor]], output: Optional[Tensor], reference: Optional[Tensor]
    ) -> "tuple[Tensor, Tensor]":
        preferred = self.decision.preferred
        if self.holds_stock:
            column = columns[preferred]
            if column is not None and bool(torch.isfinite(column.detach().sum())):
                return self._held_step(column, (reference if reference is not None else column).detach().mean())
        if any(column is None for column in columns):  # held, but the stock loss is not finite this batch
            raise FloatingPointError(
                "the stock loss is NaN/Inf for this batch, and combine() got None for the "
                "other candidates' columns: nothing finite to train with"
            )
        # The stock loss per row, for the gap: the host's reference, else the stock candidate's column.
        stock = reference if reference is not None else None if preferred is None else columns[preferred]
        if reference is None:
            reference = torch.stack(columns, dim=1).mean(dim=1)
        if self.learner.in_reference_pass:
            self.learner.set_reference(reference.sum(), value=None if stock is None else stock.detach().mean())
            return reference, self.decision.probabilities().unsqueeze(0)
        values = torch.stack(columns, dim=1)
        keep = self._finite_candidates(values.detach().sum(dim=0))
        self._update_scale(values)
        if keep is not None:
            values = torch.stack([columns[i] for i in keep], dim=1)
        roots = [output] if output is not None and output.requires_grad else list(values.unbind(dim=1))
        weights, begins = self.learner.weights(
            values.sum(dim=0).unbind(),
            roots,
            keep,
            lambda: reference.sum(),
            len(self.candidates),
            self.step,
            self.training,
            None if stock is None else stock.detach().mean(),
        )
        kept = weights if keep is None else weights[:, keep]
        per_row = (self.scale_values(values, keep) * kept.to(values.dtype)).sum(dim=1)
        if self.training and begins:
            self._record(weights.detach())
        return per_row, weights

    def set_reference(self, loss: Tensor) -> None:
        """Give ``align`` mode its reference: a held-out loss, with its graph, computed by the host.

        The gradient of ``loss`` with respect to the compared layer is blended into the
        reference (:class:`slf.alignment.GradientAlignment`); while a host keeps calling this,
        the loss does not fall back to the previous training batch.

        Example:
            >>> from slf import StochasticLoss
            >>> model = nn.Linear(4, 3)
            >>> crit = StochasticLoss(["ce", "mae"])
            >>> crit.set_reference(nn.functional.cross_entropy(model(torch.randn(8, 4)), torch.randint(0, 3, (8,))))
            >>> crit.reference_source
            'host'
        """
        self._align_learner("set_reference()").set_reference(loss)

    def reference_pass(self) -> ContextManager[None]:
        """Within the block, training calls of this loss set the reference from their inputs
        (the reference loss on them) instead of training: for a host that runs its own
        forward on a held-out batch. The loss returns the reference loss there.

        Example:
            >>> from slf import StochasticLoss
            >>> model = nn.Linear(4, 3)
            >>> crit = StochasticLoss(["ce", "mae"])
            >>> with crit.reference_pass():
            ...     _ = crit(model(torch.randn(8, 4)), torch.randint(0, 3, (8,)))
            >>> crit.reference_source, crit.step
            ('host', 0)
        """
        return self._align_learner("reference_pass()").reference_pass()

    def _align_learner(self, caller: str) -> AlignmentLearner:
        if not isinstance(self.learner, AlignmentLearner):
            raise RuntimeError(f"{caller} belongs to mode='align'; this StochasticLoss has mode={self.mode!r}")
        return self.learner

    @property
    def in_reference_pass(self) -> bool:
        """Whether a :meth:`reference_pass` is active (calls set the reference, train nothing)."""
        return isinstance(self.learner, AlignmentLearner) and self.learner.in_reference_pass

    reference_source = part_attribute(
        "learner.reference_source",
        "Where ``align`` mode's reference came from last: ``'none'``, ``'held_out'``, ``'host'`` or "
        "``'previous_batch'`` (``'none'`` in the learned modes).",
        when=AlignmentLearner,
        otherwise="none",
    )

    held_out = part_attribute(
        "learner.held_out",
        "The held-out batches ``align`` mode draws its reference from, if any.",
        when=AlignmentLearner,
    )

    def use_held_out(self, held_out: HeldOut) -> None:
        """Draw the reference from ``held_out`` from now on: for a host whose loop builds the loss
        before its data (a Lightning callback, a ``transformers`` trainer).

        Raises:
            TypeError: ``held_out`` is not a :class:`slf.HeldOut`.
            ValueError: the loss is not in ``align`` mode, the only one that reads held-out batches.

        Example:
            >>> from slf import StochasticLoss
            >>> model = nn.Linear(4, 3)
            >>> loss = StochasticLoss(["ce", "mae"])
            >>> loss.use_held_out(HeldOut(model, [(torch.randn(8, 4), torch.randint(0, 3, (8,)))]))
            >>> loss.held_out.model is model
            True
        """
        if not isinstance(self.learner, AlignmentLearner):
            raise ValueError(
                f"held-out batches serve mode='align' (the default recipe); this StochasticLoss has mode={self.mode!r}"
            )
        if not isinstance(held_out, HeldOut):
            raise TypeError(f"use_held_out takes a slf.HeldOut(model, batches), got {type(held_out).__name__}")
        self.learner.held_out = held_out

    @property
    def last_layer(self) -> Optional[List[nn.Parameter]]:
        """The parameters whose gradients ``align`` mode compares (None: found from the graph)."""
        return self.learner.last_layer if isinstance(self.learner, AlignmentLearner) else None

    @last_layer.setter
    def last_layer(self, parameters: Optional[Sequence[nn.Parameter]]) -> None:
        self._align_learner("last_layer").last_layer = None if parameters is None else list(parameters)

    @property
    def step_key(self) -> Optional[Callable[[], Any]]:
        """A function returning the host's iteration: calls with one key form one step (``align`` mode;
        a host whose model calls the loss once per feature level sets it)."""
        return self.learner.step_key if isinstance(self.learner, AlignmentLearner) else None

    @step_key.setter
    def step_key(self, key: Optional[Callable[[], Any]]) -> None:
        self._align_learner("step_key").step_key = key
