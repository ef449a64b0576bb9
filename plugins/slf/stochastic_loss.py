"""The Stochastic Loss Function (Liu & Lai, AAAI 2020) with three ways to learn it.

.. math::

    H(\\mathcal{L}, w, v) = \\sum_{i=1}^{n} \\hat{p}_i\\, \\ell_i(f(x; w), y),\\qquad
    \\hat{p} = \\frac{1}{K}\\sum_{k=1}^{K} \\operatorname{softmax}\\Big(
        \\frac{\\log h(f(x;w); v) + G_k}{\\tau}\\Big)

How the weights are chosen (``mode``):

- ``align`` (the default recipe, :mod:`slf.alignment`): no decision network is trained; the
  weights are a sharp softmax of each candidate's gradient alignment with a reference loss
  on held-out data, smoothed over steps. It does not collapse onto the numerically
  smallest candidate and follows the data when the best loss changes during training.
  Held-out data comes from ``held_out=HeldOut(model, batches)``, from a host that calls
  :meth:`StochasticLoss.set_reference`, or (with a warning) from the previous training batch.

The learned modes keep the paper's decision network v:

- ``joint``: Algorithm 1 as written: w and v both minimise H in one backward pass.
  Known to collapse onto the numerically smallest candidate (see the docs' results); scale
  normalisation (``normalize='mean'``) softens but does not remove this.
- ``softmax``: the paper's SLF-Softmax ablation, :math:`\\hat p = h(p; v)` with no noise,
  learned jointly like ``joint``.
- ``validation``: H trains w only (the weights are constants for w's backward); v is
  learned to reduce a held-out loss after a one-step look-ahead of w, see
  :mod:`slf.lookahead`. Call :meth:`StochasticLoss.validation_step` once per step.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from . import distributed
from .align_learner import AlignmentLearner
from .align_mode import AlignModeMethods
from .candidate_set import Candidate, CandidateSet, build_candidate, registry_name
from .checkpoint_state import CheckpointStateMethods
from .decision import build_decision
from .held_out import HeldOut
from .learned_mode import LearnedModeMethods
from .lookahead_learner import LookaheadLearner, check_lookahead_options
from .loss_options import route_options
from .losses.base import SLF_TASKS, check_classification_inputs, check_same_shape_inputs, reduce_loss
from .normalization import ScaleNormalization
from .part_attribute import part_attribute
from .sampler import GumbelSampler
from .selection_record import SelectionRecord
from .validation_mode import ValidationModeMethods

MODES = ("align", "joint", "softmax", "validation")
DEFAULT_MODE = "align"
SELECTIONS = ("batch", "sample")
PAPER_CANDIDATES = ("ce", "mse", "mae", "hinge", "cosine", "bce")
DEFAULT_VALIDATION_LOSS = {"classification": "ce", "binary": "bce", "regression": "mse"}


class StochasticLoss(AlignModeMethods, LearnedModeMethods, ValidationModeMethods, CheckpointStateMethods, nn.Module):
    r"""Learned selection and weighting of candidate losses by multiple Gumbel-Softmax.

    Args:
        candidates: registry names (``slf.losses.available(task)``) or modules that map
            ``(output, target)`` to per-sample losses ``(N,)``.
        task: ``'classification'`` (logits ``(N, C)``, class indices ``(N,)``),
            ``'binary'`` (``(N, *)`` logits or probabilities, 0/1 targets) or ``'regression'``.
        mode: ``'align'`` (the default recipe), ``'joint'`` (the paper's literal Algorithm 1),
            ``'softmax'`` or ``'validation'`` (see the module docs).
        sampler: the learned modes' :class:`slf.sampler.GumbelSampler`, or a dict of
            ``num_samples`` (K >= 1, default 3), ``tau`` (1.0), ``tau_schedule`` (``'constant'``
            or ``'exponential'``: ``tau * tau_decay**step`` floored at ``tau_min``; 0.999, 0.1),
            ``hard`` (straight-through one-hot samples) and ``seed`` (of its own noise
            generator; default drawn from torch's global one, so ``torch.manual_seed`` repeats runs).
        decision: the learned modes' network: ``'mlp'`` (their default), ``'global'``
            (input-free logits), a module mapping decision features ``(N, F)`` to logits
            ``(N, n)``, or a dict with that ``type`` and ``hidden`` (32), ``reads_losses``
            (also read each candidate's value on the sample,
            :func:`slf.decision.loss_value_features`), ``selection`` (``'batch'``: one weight
            vector per batch from the mean logits; ``'sample'``: one per sample) and ``prior``
            (initial weights of ``'global'``, or the prior :math:`\pi` of ``align`` mode).
            In ``align`` mode there is no network: only ``prior`` applies.
        normalization: ``None`` or ``'mean'``, or ``dict(kind='mean', momentum=0.99)``: measure
            each candidate from its lower bound (``minimum``, e.g. -1 for cosine proximity) and
            divide by the running mean of that, :math:`\tilde\ell_i = (\ell_i - m_i) /
            \overline{(\ell_i - m_i)}`, so no candidate wins by its offset or scale alone.
        learner: the mode's options. ``align``: ``held_out`` (a :class:`slf.HeldOut` the reference
            batch comes from, or ``'previous_batch'`` where no held-out data exists; without it,
            and without a host calling :meth:`set_reference`, the previous batch with a warning),
            ``alignment`` (:class:`slf.alignment.GradientAlignment`'s ``temperature``,
            ``momentum``, ``reference_momentum``, ``interval``, ``margin``, ``gap`` and ``preferred``, the
            candidate with the margin's head start, default the reference loss) and ``last_layer``
            (the compared parameters; default found from the output's autograd graph).
            ``validation``: ``decision_lr`` (the decision network's own Adam, 1e-2),
            ``lookahead`` (``'first_order'``, a JVP, or ``'exact'``), ``lookahead_lr`` (eta, 0.1),
            ``hypergradient`` (``'inner'``: descend :math:`-\eta \langle \nabla_w L_{val},
            \nabla_w \ell_i \rangle`; ``'cosine'``: its direction only, for Adam-trained models)
            and ``validation_interval`` (update v every this many steps).
        validation_loss: the held-out objective of validation mode and the reference loss
            of ``align`` mode (registry name or module; default ``ce`` / ``bce`` / ``mse`` by task).
        candidate_kwargs: extra arguments per candidate name, e.g. ``{'huber': {'delta': 2}}``.
        from_logits: binary task: the output holds logits (True) or probabilities.
        reduction: ``'mean'``, ``'sum'`` or ``'none'`` over samples.
        **options: each part option by its flat name (:mod:`slf.loss_options`: ``num_samples``,
            ``tau``, ``tau_schedule``, ``tau_decay``, ``tau_min``, ``hard``, ``seed``;
            ``decision_hidden``, ``decision_reads_losses``, ``selection``, ``prior``;
            ``normalize``, ``normalize_momentum``; ``held_out``, ``alignment``, ``last_layer``,
            ``decision_lr``, ``lookahead``, ``lookahead_lr``, ``hypergradient``,
            ``validation_interval``), as configs write them, and the loss's own: ``fused``
            (the paper's classification candidates in one autograd node, :mod:`slf.fused`;
            default True), ``compile`` (the learned modes' tensor work through
            ``torch.compile``: about a minute to compile on CPU, then ~1% step overhead on
            small models) and ``history_interval`` (a ``history`` row every this many steps, 10).

    Shape:
        - output: :math:`(N, C)` (classification) or :math:`(N, *)`.
        - target: :math:`(N,)` class indices or the output's shape.
        - result: scalar, or :math:`(N,)` with ``reduction='none'``.

    Example:
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> model = nn.Linear(20, 10)
        >>> held_out = HeldOut(model, [(torch.randn(16, 20), torch.randint(0, 10, (16,)))])
        >>> crit = StochasticLoss(["ce", "mse", "hinge"], held_out=held_out)
        >>> loss = crit(model(torch.randn(8, 20)), torch.randint(0, 10, (8,)))
        >>> loss.backward()
        >>> crit.weights.shape, crit.mode
        (torch.Size([3]), 'align')
        >>> literal = StochasticLoss(["ce", "mse", "hinge"], mode="joint", sampler=dict(num_samples=3))
    """

    _version = 2  # 2: the buffers live in the parts (candidates, normalization, record)

    def __init__(
        self,
        candidates: Sequence[Candidate] = PAPER_CANDIDATES,
        task: str = "classification",
        *,
        mode: str = DEFAULT_MODE,
        sampler: Union[GumbelSampler, Mapping[str, Any], None] = None,
        decision: Union[str, nn.Module, Mapping[str, Any], None] = None,
        normalization: Union[str, Mapping[str, Any], None] = None,
        learner: Optional[Mapping[str, Any]] = None,
        validation_loss: Optional[Candidate] = None,
        candidate_kwargs: Optional[Mapping[str, Mapping[str, Any]]] = None,
        from_logits: bool = True,
        reduction: str = "mean",
        **options: Any,
    ) -> None:
        super().__init__()
        decision_options = dict(decision) if isinstance(decision, Mapping) else {}
        decision = decision_options.pop("type", None) if isinstance(decision, Mapping) else decision
        if normalization is not None and not isinstance(normalization, (str, Mapping)):
            raise TypeError(
                f"normalization must be None, 'mean' or a dict of kind and momentum, got {type(normalization).__name__}"
            )
        if learner is not None and not isinstance(learner, Mapping):
            raise TypeError(f"learner must be a dict of the mode's options, got {type(learner).__name__}")
        parts, loss_options = route_options(
            options,
            {
                "sampler": sampler if isinstance(sampler, Mapping) else None,
                "decision": decision_options,
                "normalization": {"kind": normalization} if isinstance(normalization, str) else normalization,
                "learner": learner,
            },
        )
        if isinstance(sampler, GumbelSampler) and parts["sampler"]:
            raise TypeError(
                f"sampler options {sorted(parts['sampler'])} were given beside a GumbelSampler object; "
                "set them on the object"
            )
        if sampler is not None and not isinstance(sampler, (GumbelSampler, Mapping)):
            raise TypeError(f"sampler must be a GumbelSampler or a dict of its options, got {type(sampler).__name__}")
        selection = parts["decision"].get("selection", "batch")
        decision_reads_losses = parts["decision"].get("reads_losses", False)
        prior = parts["decision"].get("prior")
        held_out, alignment, last_layer = (
            parts["learner"].get(name) for name in ("held_out", "alignment", "last_layer")
        )
        validation_interval = parts["learner"].get("validation_interval", 1)
        lookahead = parts["learner"].get("lookahead", "first_order")
        hypergradient = parts["learner"].get("hypergradient", "inner")
        compile = loss_options.get("compile", False)
        if task not in SLF_TASKS:
            raise ValueError(f"task must be one of {list(SLF_TASKS)}, got {task!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
        if selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {list(SELECTIONS)}, got {selection!r}")
        # Validation mode's options are checked in every mode, so a typo never waits for a mode switch.
        check_lookahead_options(validation_interval, lookahead, hypergradient)
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be one of ['mean', 'sum', 'none'], got {reduction!r}")
        self.task = task
        self.selection = selection
        self.mode = mode
        self.from_logits = from_logits
        self.reduction = reduction
        self.compile = compile
        self._compiled_core: Optional[Callable] = None

        # torch.compile traces the plain candidates and fuses them itself.
        self.candidates = CandidateSet(
            candidates, task, from_logits, candidate_kwargs, fused=loss_options.get("fused", True) and not compile
        )
        self.candidate_names: List[str] = self.candidates.names
        num = len(self.candidates)

        if mode == "align":
            self._check_align_options(decision, selection, decision_reads_losses, compile, held_out, alignment)
            self.decision = self._alignment(
                self.candidate_names, alignment, prior, registry_name(validation_loss or DEFAULT_VALIDATION_LOSS[task])
            )
        elif held_out is not None or alignment is not None or last_layer is not None:
            raise ValueError(
                f"held_out, alignment and last_layer belong to mode='align'; this StochasticLoss has mode={mode!r}"
            )
        else:
            self.decision = build_decision(
                decision, task, num, decision_reads_losses, parts["decision"].get("hidden", 32), prior
            )
        self.decision_reads_losses = decision_reads_losses
        if prior is not None and decision != "global" and mode != "align":
            raise ValueError("prior applies to decision='global' and to mode='align' only")

        self.validation_loss: Optional[nn.Module] = None
        if mode in ("validation", "align"):
            self.validation_loss = build_candidate(validation_loss or DEFAULT_VALIDATION_LOSS[task], task, from_logits)[
                1
            ]
        self.learner: Union[AlignmentLearner, LookaheadLearner, None] = None
        if mode == "align":
            # 'previous_batch' says there is no held-out data by design: the fallback, without a warning.
            self.learner = AlignmentLearner(
                self.decision,
                self.validation_loss,
                held_out if isinstance(held_out, HeldOut) else None,
                last_layer,
                expects_held_out=held_out != "previous_batch",
            )
        if mode == "validation":
            self.learner = LookaheadLearner(
                self.decision,
                parts["learner"].get("decision_lr", 1e-2),
                validation_interval,
                lookahead,
                parts["learner"].get("lookahead_lr", 0.1),
                hypergradient,
            )

        self.normalization = ScaleNormalization(self.candidates.floors, **parts["normalization"])
        self.record = SelectionRecord(num, loss_options.get("history_interval", 10))
        # Drawn after the decision network's initialisation, so a seeded run draws as before.
        self.sampler = (
            sampler
            if isinstance(sampler, GumbelSampler)
            else GumbelSampler.from_options(parts["sampler"], noise=mode != "softmax")
        )
        if self.sampler.uses_noise != (mode != "softmax"):
            raise ValueError(f"mode={mode!r} needs a GumbelSampler with noise={mode != 'softmax'}")
        self._checked_inputs = False
        self._ranks_synchronized = False

    # ------------------------------------------------------------------ public state
    @property
    def step(self) -> int:
        """Training steps recorded so far."""
        return self.record.step

    @property
    def tau(self) -> float:
        """The temperature at the current step."""
        return self.sampler.schedule(self.step)

    fused = part_attribute(
        "candidates.fused", "Whether the paper's classification candidates are evaluated in one autograd node."
    )
    num_samples = part_attribute("sampler.num_samples", "K, the Gumbel-Softmax samples averaged per weight vector.")
    normalize = part_attribute(
        "normalization.kind", "The scale normalisation of the candidate losses (``None`` or ``'mean'``)."
    )
    loss_floor = part_attribute("normalization.loss_floor", "Each candidate's lower bound :math:`m_i`, shape ``(n,)``.")
    loss_scale = part_attribute(
        "normalization.loss_scale", "The running scale of each candidate (``normalize='mean'``), shape ``(n,)``."
    )
    history = part_attribute(
        "record.history", "Rows ``{'step', 'weights', 'tau'}``: the mean weights every ``history_interval`` steps."
    )
    weights = part_attribute(
        "record.last_weights", "Mean selection weight per candidate in the last forward pass, shape ``(n,)``."
    )
    mean_weights = part_attribute(
        "record.mean_weights", "Mean selection weight per candidate over all training steps so far."
    )
    selection_frequency = part_attribute(
        "record.selection_frequency", "How often each candidate had the largest weight (per batch or per sample)."
    )

    def trainable_with_model(self) -> bool:
        """Whether this loss's parameters belong in the model's optimizer.

        True in ``joint``/``softmax`` modes (v follows H's gradient) and for candidates
        with parameters; in ``validation`` mode the decision network has its own optimizer.
        """
        return any(True for _ in self.parameters_for_model_optimizer())

    def parameters_for_model_optimizer(self) -> Iterator[nn.Parameter]:
        """Parameters the model's optimizer should update (see :meth:`trainable_with_model`)."""
        if self.mode != "validation":
            yield from self.decision.parameters()
        for module in self.candidates:
            yield from module.parameters()

    def stats(self) -> Dict[str, float]:
        """Scalars for a logger: current and mean weight, selection frequency per candidate; in
        ``align`` mode also each candidate's smoothed alignment score and whether the reference
        comes from held-out data (1.0) or from the previous training batch (0.0)."""
        out: Dict[str, float] = {"tau": self.tau, "step": float(self.step)}
        frequency = self.selection_frequency
        mean = self.mean_weights
        for i, name in enumerate(self.candidate_names):
            out[f"weight/{name}"] = float(self.weights[i])
            out[f"mean_weight/{name}"] = float(mean[i])
            out[f"selected/{name}"] = float(frequency[i])
            out[f"nonfinite/{name}"] = float(self.candidates.nonfinite_counts[i])
            if self.mode == "align":
                out[f"alignment/{name}"] = float(self.decision.scores[i])
        if self.mode == "align":
            out["held_out_reference"] = float(self.reference_source in ("held_out", "host"))
        return out

    # ------------------------------------------------------------------ forward
    def candidate_losses(self, output: Tensor, target: Tensor) -> Tensor:
        """Per-sample loss of every candidate, shape ``(N, n)`` (before normalisation)."""
        return torch.stack(self.candidates.columns(output, target), dim=1)

    def _check_inputs(self, output: Tensor, target: Tensor) -> None:
        if self.task == "classification":
            check_classification_inputs(output, target, "StochasticLoss")
        else:
            check_same_shape_inputs(output, target, "StochasticLoss")
        self._checked_inputs = True

    def scale_values(self, values: Tensor, keep: Optional[List[int]] = None) -> Tensor:
        """Divide candidate losses (columns ``keep``, default all) by their running scale."""
        return self.normalization.scale(values, keep)

    def _update_scale(self, values: Tensor) -> None:
        if self.normalization.enabled and self.training:
            self.normalization.update(values)

    def _synchronize_ranks_once(self) -> None:
        # Rank 0's decision network, so that identically averaged steps keep it identical.
        if not self._ranks_synchronized and self.training and distributed.world_size() > 1:
            distributed.broadcast_parameters(self.decision)
            self._ranks_synchronized = True

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        self._synchronize_ranks_once()
        if not self._checked_inputs:
            self._check_inputs(output, target)
        elif output.shape[0] != target.shape[0]:
            raise ValueError(f"output and target disagree on the batch size: {output.shape[0]} vs {target.shape[0]}")
        per_sample = (self._forward_align if self.mode == "align" else self._forward_learned)(output, target)
        return reduce_loss(per_sample, self.reduction)

    def combine(
        self,
        columns: Sequence[Tensor],
        output: Optional[Tensor] = None,
        features: Optional[Tensor] = None,
        reference: Optional[Tensor] = None,
    ) -> "tuple[Tensor, Tensor]":
        r"""Weigh candidate losses that the caller computed itself (a host's own losses).

        .. math::

            H_r = \sum_{i=1}^{n} \hat p_{r,i}\, \tilde\ell_{r,i}

        for rows r, where column i holds :math:`\ell_{\cdot,i}` in candidate order and
        :math:`\tilde\ell` is the normalised value when ``normalize`` is set. A host that
        needs its own reduction (mmdet's ``weight`` and ``avg_factor``) or whose parts are
        not functions of one output (YOLO's loss parts) computes the columns and calls
        this instead of :meth:`forward`; the decision, sampling, NaN masking, statistics
        and checkpoint state are the same. In validation mode H does not train the decision
        network; follow with :meth:`validation_update`.

        Args:
            columns: one tensor ``(R,)`` per candidate, in candidate order; while
                :attr:`holds_stock`, ``None`` in place of each column but the stock loss's.
            output: the model output whose rows feed the decision network (``(M, ...)``;
                M must equal R with ``selection='sample'``); ``None`` with ``decision='global'``.
            features: the decision features ``(M, F)`` (:func:`slf.decision.decision_features`)
                when the caller has them, in place of ``output``.
            reference: ``align`` mode: the host's stock loss on the same rows ``(R,)``, with its
                graph: the reference when no held-out data reaches the loss (the previous
                batch's), and what a :meth:`reference_pass` returns. Default: the columns' mean.

        Returns:
            ``(H, weights)``: H per row ``(R,)`` and the selection weights ``(1, n)`` or
            ``(R, n)`` with their graph (a masked non-finite candidate has weight 0).

        Example:
            >>> crit = StochasticLoss(["mse", "mae"], task="regression", mode="joint", decision="global", seed=0)
            >>> rows, weights = crit.combine([torch.ones(4), torch.full((4,), 3.0)])
            >>> rows.shape, weights.shape
            (torch.Size([4]), torch.Size([1, 2]))
        """
        self._synchronize_ranks_once()
        self.candidates.check_columns(columns, self.decision.preferred if self.holds_stock else None)
        if self.mode == "align":
            return self._combine_align(list(columns), output, reference)
        return self._combine_learned(list(columns), output, features)

    def _finite_candidates(self, column_sums: Tensor) -> Optional[List[int]]:
        """Indices of the candidates with finite losses this batch, or None when all are."""
        return self.candidates.finite(column_sums, stacklevel=4)

    def _record(self, weights: Tensor) -> None:
        self.record.add(weights, self.tau)

    def extra_repr(self) -> str:
        return (
            f"candidates={self.candidate_names}, task={self.task!r}, mode={self.mode!r}, K={self.num_samples}, "
            f"tau={self.sampler.schedule.initial}, selection={self.selection!r}, normalize={self.normalize!r}"
        )
