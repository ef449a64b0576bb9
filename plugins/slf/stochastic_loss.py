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
  Known to collapse onto the numerically smallest candidate (see README); scale
  normalisation (``normalize='mean'``) softens but does not remove this.
- ``softmax``: the paper's SLF-Softmax ablation, :math:`\\hat p = h(p; v)` with no noise,
  learned jointly like ``joint``.
- ``validation``: H trains w only (the weights are constants for w's backward); v is
  learned to reduce a held-out loss after a one-step look-ahead of w, see
  :mod:`slf.lookahead`. Call :meth:`StochasticLoss.validation_step` once per step.
"""
from __future__ import annotations

import io
from typing import Any, Callable, ContextManager, Dict, List, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from . import distributed
from .align_learner import AlignmentLearner
from .alignment import GradientAlignment
from .candidate_set import Candidate, CandidateSet, build_candidate, registry_name, renormalize_kept
from .decision import DecisionMLP, GlobalDecision, decision_features, feature_size, loss_value_features
from .held_out import HeldOut
from .lookahead import coefficients_from_derivatives, decision_hypergradient
from .lookahead_learner import LookaheadLearner, check_lookahead_options
from .loss_options import route_options
from .losses.base import SLF_TASKS, check_classification_inputs, check_same_shape_inputs, reduce_loss
from .normalization import ScaleNormalization
from .sampler import GumbelSampler
from .selection_record import SelectionRecord

MODES = ("align", "joint", "softmax", "validation")
DEFAULT_MODE = "align"
SELECTIONS = ("batch", "sample")
PAPER_CANDIDATES = ("ce", "mse", "mae", "hinge", "cosine", "bce")
DEFAULT_VALIDATION_LOSS = {"classification": "ce", "binary": "bce", "regression": "mse"}


# Where each buffer of a version-1 checkpoint lives now.
_BUFFERS_BEFORE_PARTS = {
    "loss_floor": "normalization.loss_floor",
    "loss_scale": "normalization.loss_scale",
    "scale_initialized": "normalization.scale_initialized",
    "weight_sum": "record.weight_sum",
    "selection_counts": "record.selection_counts",
    "nonfinite_counts": "candidates.nonfinite_counts",
}


class StochasticLoss(nn.Module):
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
            ``momentum``, ``reference_momentum``, ``interval``, ``margin``, and ``preferred``, the
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
            raise TypeError(f"normalization must be None, 'mean' or a dict of kind and momentum, got "
                            f"{type(normalization).__name__}")
        if learner is not None and not isinstance(learner, Mapping):
            raise TypeError(f"learner must be a dict of the mode's options, got {type(learner).__name__}")
        parts, loss_options = route_options(options, {
            "sampler": sampler if isinstance(sampler, Mapping) else None, "decision": decision_options,
            "normalization": {"kind": normalization} if isinstance(normalization, str) else normalization,
            "learner": learner})
        if isinstance(sampler, GumbelSampler) and parts["sampler"]:
            raise TypeError(f"sampler options {sorted(parts['sampler'])} were given beside a GumbelSampler object; "
                            "set them on the object")
        if sampler is not None and not isinstance(sampler, (GumbelSampler, Mapping)):
            raise TypeError(f"sampler must be a GumbelSampler or a dict of its options, got {type(sampler).__name__}")
        selection = parts["decision"].get("selection", "batch")
        decision_reads_losses = parts["decision"].get("reads_losses", False)
        prior = parts["decision"].get("prior")
        held_out, alignment, last_layer = (parts["learner"].get(name) for name in ("held_out", "alignment",
                                                                                    "last_layer"))
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
        self.candidates = CandidateSet(candidates, task, from_logits, candidate_kwargs,
                                       fused=loss_options.get("fused", True) and not compile)
        self.candidate_names: List[str] = self.candidates.names
        num = len(self.candidates)

        if mode == "align":
            self._check_align_options(decision, selection, decision_reads_losses, compile, held_out, alignment)
            options = dict(alignment or {})
            stock = options.pop("preferred", registry_name(validation_loss or DEFAULT_VALIDATION_LOSS[task]))
            if stock is not None and stock not in self.candidate_names:
                if "preferred" in dict(alignment or {}):
                    raise ValueError(f"alignment['preferred'] must name a candidate {self.candidate_names}, "
                                     f"got {stock!r}")
                stock = None
            self.decision = GradientAlignment(num, prior=prior, preferred=None if stock is None else
                                              self.candidate_names.index(stock), **options)
        elif held_out is not None or alignment is not None or last_layer is not None:
            raise ValueError(f"held_out, alignment and last_layer belong to mode='align'; this StochasticLoss has "
                             f"mode={mode!r}")
        elif isinstance(decision, nn.Module):
            self.decision = decision
        elif decision in (None, "mlp"):
            self.decision = DecisionMLP(feature_size(task) + (num if decision_reads_losses else 0), num,
                                        parts["decision"].get("hidden", 32))
        elif decision == "global":
            self.decision = GlobalDecision(num, prior)
        else:
            raise ValueError(f"decision must be 'mlp', 'global' or an nn.Module, got {decision!r}")
        if decision_reads_losses and isinstance(self.decision, GlobalDecision):
            raise ValueError("decision_reads_losses needs a decision network that reads inputs ('mlp' or a module); "
                             "decision='global' reads none")
        self.decision_reads_losses = decision_reads_losses
        if prior is not None and decision != "global" and mode != "align":
            raise ValueError("prior applies to decision='global' and to mode='align' only")

        self.validation_loss: Optional[nn.Module] = None
        if mode in ("validation", "align"):
            self.validation_loss = build_candidate(validation_loss or DEFAULT_VALIDATION_LOSS[task], task,
                                                   from_logits)[1]
        self.learner: Union[AlignmentLearner, LookaheadLearner, None] = None
        if mode == "align":
            # 'previous_batch' says there is no held-out data by design: the fallback, without a warning.
            self.learner = AlignmentLearner(self.decision, self.validation_loss,
                                            held_out if isinstance(held_out, HeldOut) else None, last_layer,
                                            expects_held_out=held_out != "previous_batch")
        if mode == "validation":
            self.learner = LookaheadLearner(self.decision, parts["learner"].get("decision_lr", 1e-2),
                                            validation_interval, lookahead,
                                            parts["learner"].get("lookahead_lr", 0.1), hypergradient)

        self.normalization = ScaleNormalization(self.candidates.floors, **parts["normalization"])
        self.record = SelectionRecord(num, loss_options.get("history_interval", 10))
        # Drawn after the decision network's initialisation, so a seeded run draws as before.
        self.sampler = sampler if isinstance(sampler, GumbelSampler) else GumbelSampler.from_options(
            parts["sampler"], noise=mode != "softmax")
        if self.sampler.uses_noise != (mode != "softmax"):
            raise ValueError(f"mode={mode!r} needs a GumbelSampler with noise={mode != 'softmax'}")
        self._checked_inputs = False
        self._ranks_synchronized = False

    # ------------------------------------------------------------------ construction
    @staticmethod
    def _check_align_options(decision: Any, selection: str, reads_losses: bool, compile: bool,
                             held_out: Any, alignment: Any) -> None:
        if decision is not None:
            raise ValueError("decision= chooses the network of the learned modes; mode='align' weighs the candidates "
                             "by gradient alignment (pass mode='joint', 'softmax' or 'validation' to use a decision "
                             "network)")
        if selection != "batch":
            raise ValueError(f"mode='align' weighs each batch with one vector; selection={selection!r} applies to the "
                             f"learned modes ('joint', 'softmax', 'validation')")
        if reads_losses:
            raise ValueError("decision_reads_losses applies to the learned modes' decision network, not mode='align'")
        if compile:
            raise ValueError("compile=True applies to the learned modes ('joint', 'softmax', 'validation')")
        if held_out is not None and not isinstance(held_out, HeldOut) and held_out != "previous_batch":
            raise ValueError(f"held_out must be a slf.HeldOut(model, batches) or 'previous_batch', got {held_out!r}")
        if alignment is not None and not isinstance(alignment, Mapping):
            raise TypeError(f"alignment must be a dict of GradientAlignment options, got {type(alignment).__name__}")

    # ------------------------------------------------------------------ public state
    @property
    def step(self) -> int:
        """Training steps recorded so far."""
        return self.record.step

    @property
    def tau(self) -> float:
        """The temperature at the current step."""
        return self.sampler.schedule(self.step)

    @property
    def fused(self) -> bool:
        """Whether the paper's classification candidates are evaluated in one autograd node."""
        return self.candidates.fused

    @property
    def num_samples(self) -> int:
        """K, the Gumbel-Softmax samples averaged per weight vector."""
        return self.sampler.num_samples

    @property
    def normalize(self) -> Optional[str]:
        """The scale normalisation of the candidate losses (``None`` or ``'mean'``)."""
        return self.normalization.kind

    @property
    def loss_floor(self) -> Tensor:
        """Each candidate's lower bound :math:`m_i`, shape ``(n,)``."""
        return self.normalization.loss_floor

    @property
    def loss_scale(self) -> Tensor:
        """The running scale of each candidate (``normalize='mean'``), shape ``(n,)``."""
        return self.normalization.loss_scale

    @property
    def history(self) -> List[Dict[str, Any]]:
        """Rows ``{'step', 'weights', 'tau'}``: the mean weights every ``history_interval`` steps."""
        return self.record.history

    @property
    def weights(self) -> Tensor:
        """Mean selection weight per candidate in the last forward pass, shape ``(n,)``."""
        return self.record.last_weights

    @property
    def mean_weights(self) -> Tensor:
        """Mean selection weight per candidate over all training steps so far."""
        return self.record.mean_weights

    @property
    def selection_frequency(self) -> Tensor:
        """How often each candidate had the largest weight (per batch or per sample)."""
        return self.record.selection_frequency

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

    def selection_weights(self, log_probs: Tensor, noise: Optional[Tensor],
                          tau: Optional[Union[float, Tensor]] = None) -> Tensor:
        """Weights p_hat from decision log-probabilities (and Gumbel noise unless softmax mode)."""
        return self.sampler.weights(log_probs, noise, self.tau if tau is None else tau)

    def _draw_noise(self, rows: int) -> Optional[Tensor]:
        return self.sampler.noise(rows, len(self.candidates))

    def scale_values(self, values: Tensor, keep: Optional[List[int]] = None) -> Tensor:
        """Divide candidate losses (columns ``keep``, default all) by their running scale."""
        return self.normalization.scale(values, keep)

    def _update_scale(self, values: Tensor) -> None:
        if self.normalization.enabled and self.training:
            self.normalization.update(values)

    def _core(self, output: Tensor, target: Tensor, noise: Optional[Tensor], tau: Union[float, Tensor]
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
        if self.mode == "align":
            return self._forward_align(output, target)
        noise = self._draw_noise(1 if self.selection == "batch" else output.shape[0])
        tau = self.tau
        if self.compile:
            if self._compiled_core is None:
                self._compiled_core = torch.compile(self._core, dynamic=False)
            # tau as a tensor, so a decaying temperature does not trigger recompilation.
            per_sample, weights, column_sums, features = self._compiled_core(output, target, noise,
                                                                            torch.tensor(tau))
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
        return reduce_loss(per_sample, self.reduction)

    def _forward_align(self, output: Tensor, target: Tensor) -> Tensor:
        if self.learner.in_reference_pass:
            reference = self.validation_loss(output, target)
            self.learner.set_reference(reference.mean())
            return reduce_loss(reference, self.reduction)
        values = self.candidates.values(output, target)
        keep = self._finite_candidates(values.detach().sum(dim=0))
        self._update_scale(values)
        if keep is not None:  # rebuilt from the finite columns alone, so no NaN reaches the graph
            columns = self.candidates.columns(output, target)
            values = torch.stack([columns[i] for i in keep], dim=1)
        weights, begins = self.learner.weights(values.mean(dim=0).unbind(), [output], keep,
                                               lambda: self.validation_loss(output, target).mean(),
                                               len(self.candidates), self.step, self.training)
        kept = weights if keep is None else weights[:, keep]
        per_sample = (self.scale_values(values, keep) * kept.to(values.dtype)).sum(dim=1)
        if self.training and begins:
            self._record(weights.detach())
        return reduce_loss(per_sample, self.reduction)

    def combine(self, columns: Sequence[Tensor], output: Optional[Tensor] = None,
                features: Optional[Tensor] = None, reference: Optional[Tensor] = None) -> "tuple[Tensor, Tensor]":
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
            columns: one tensor ``(R,)`` per candidate, in candidate order.
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
        if len(columns) != len(self.candidates):
            raise ValueError(f"combine() got {len(columns)} columns for {len(self.candidates)} candidates "
                             f"{self.candidate_names}")
        rows = columns[0].shape[0] if columns[0].dim() == 1 else -1
        for name, column in zip(self.candidate_names, columns):
            if column.dim() != 1 or column.shape[0] != rows:
                raise ValueError(f"combine(): candidate {name!r} column has shape {tuple(column.shape)}; every "
                                 f"column must be 1-D with the same length ({tuple(columns[0].shape)})")
        if self.mode == "align":
            return self._combine_align(list(columns), output, reference)
        if features is None and output is not None:
            features = decision_features(output, self.task, self.from_logits)
        if features is None:
            if not isinstance(self.decision, GlobalDecision):
                raise ValueError("combine() needs the model output for the decision network unless decision='global'")
            features = columns[0].new_zeros((rows, 0))
        elif self.selection == "sample" and features.shape[0] != rows:
            raise ValueError(f"selection='sample' needs one output row per loss row: {features.shape[0]} vs {rows}")
        values = torch.stack(list(columns), dim=1)
        if self.decision_reads_losses:
            if features.shape[0] != rows:
                raise ValueError(f"decision_reads_losses needs one output row per loss row: {features.shape[0]} "
                                 f"vs {rows}")
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

    def _combine_align(self, columns: List[Tensor], output: Optional[Tensor], reference: Optional[Tensor]
                       ) -> "tuple[Tensor, Tensor]":
        if reference is None:
            reference = torch.stack(columns, dim=1).mean(dim=1)
        if self.learner.in_reference_pass:
            self.learner.set_reference(reference.sum())
            return reference, self.decision.probabilities().unsqueeze(0)
        values = torch.stack(columns, dim=1)
        keep = self._finite_candidates(values.detach().sum(dim=0))
        self._update_scale(values)
        if keep is not None:
            values = torch.stack([columns[i] for i in keep], dim=1)
        roots = [output] if output is not None and output.requires_grad else list(values.unbind(dim=1))
        weights, begins = self.learner.weights(values.sum(dim=0).unbind(), roots, keep, lambda: reference.sum(),
                                               len(self.candidates), self.step, self.training)
        kept = weights if keep is None else weights[:, keep]
        per_row = (self.scale_values(values, keep) * kept.to(values.dtype)).sum(dim=1)
        if self.training and begins:
            self._record(weights.detach())
        return per_row, weights

    def _finite_candidates(self, column_sums: Tensor) -> Optional[List[int]]:
        """Indices of the candidates with finite losses this batch, or None when all are."""
        return self.candidates.finite(column_sums, stacklevel=4)

    def _record(self, weights: Tensor) -> None:
        self.record.add(weights, self.tau)

    # ------------------------------------------------------------------ align mode
    def set_reference(self, loss: Tensor) -> None:
        """Give ``align`` mode its reference: a held-out loss, with its graph, computed by the host.

        The gradient of ``loss`` with respect to the compared layer is blended into the
        reference (:class:`slf.alignment.GradientAlignment`); while a host keeps calling this,
        the loss does not fall back to the previous training batch.

        Example:
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

    @property
    def reference_source(self) -> str:
        """Where ``align`` mode's reference came from last: ``'none'``, ``'held_out'``, ``'host'`` or
        ``'previous_batch'`` (``'none'`` in the learned modes)."""
        return self.learner.reference_source if isinstance(self.learner, AlignmentLearner) else "none"

    @property
    def held_out(self) -> Optional[HeldOut]:
        """The held-out batches ``align`` mode draws its reference from, if any."""
        return self.learner.held_out if isinstance(self.learner, AlignmentLearner) else None

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

    # ------------------------------------------------------------------ validation mode
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
        coefficients, val_loss = decision_hypergradient(self, model, inputs, targets, val_inputs, val_targets,
                                                        saved)
        return {"validation_loss": float(val_loss), "hypergradient_norm": self._descend(coefficients, saved)}

    @property
    def validation_due(self) -> bool:
        """Whether the last training forward's step updates v (``validation_interval``), in validation mode."""
        return (isinstance(self.learner, LookaheadLearner) and self.learner.has_saved
                and self.learner.due(self.step))

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
            >>> crit = StochasticLoss(["mse", "mae"], task="regression", decision="global", mode="validation",
            ...                       seed=0)
            >>> _ = crit.combine([torch.ones(4), torch.full((4,), 3.0)])
            >>> sorted(crit.validation_update(torch.tensor([[1.0, -1.0]]).repeat(4, 1)))
            ['hypergradient_norm']
        """
        learner = self._lookahead_learner("validation_update")
        if learner.hypergradient != "inner":
            raise ValueError(f"validation_update() takes inner products; hypergradient={learner.hypergradient!r} "
                             "needs the model's parameter gradients, so use validation_step()")
        if derivatives.dim() != 2 or derivatives.shape[1] != len(self.candidates):
            raise ValueError(f"validation_update() needs derivatives shaped (rows, {len(self.candidates)}), "
                             f"got {tuple(derivatives.shape)}")
        saved = learner.take_saved("validation_update")
        if not learner.due(self.step):
            return {}
        if self.selection == "sample" and derivatives.shape[0] != saved["features"].shape[0]:
            raise ValueError(f"selection='sample' needs one derivative row per weighted row: "
                             f"{derivatives.shape[0]} vs {saved['features'].shape[0]}")
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
        return self.learner.descend(coefficients, lambda: self.selection_weights(
            self.decision_logits(saved["features"]), saved["noise"], saved["tau"]))

    @property
    def decision_optimizer(self) -> torch.optim.Optimizer:
        """Validation mode: the decision network's own optimizer."""
        return self._lookahead_learner("decision_optimizer").optimizer

    @property
    def lookahead(self) -> Optional[str]:
        """Validation mode: ``'first_order'`` or ``'exact'`` (None in the other modes)."""
        return self.learner.lookahead if isinstance(self.learner, LookaheadLearner) else None

    @property
    def lookahead_lr(self) -> Optional[float]:
        """Validation mode: the look-ahead step size (None in the other modes)."""
        return self.learner.lookahead_lr if isinstance(self.learner, LookaheadLearner) else None

    @property
    def hypergradient(self) -> Optional[str]:
        """Validation mode: ``'inner'`` or ``'cosine'`` (None in the other modes)."""
        return self.learner.hypergradient if isinstance(self.learner, LookaheadLearner) else None

    @property
    def validation_interval(self) -> Optional[int]:
        """Validation mode: v is updated every this many steps (None in the other modes)."""
        return self.learner.interval if isinstance(self.learner, LookaheadLearner) else None

    # ------------------------------------------------------------------ checkpoints
    def get_extra_state(self) -> Tensor:
        """The state outside parameters and buffers (step, history, Gumbel generator, v's
        optimizer), serialised into one byte tensor, so the ``state_dict`` holds tensors only
        (mmengine broadcasts every entry at distributed start-up). :meth:`read_extra_state`
        decodes it."""
        buffer = io.BytesIO()
        torch.save(self._plain_extra_state(), buffer)
        return torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8)

    @staticmethod
    def read_extra_state(state: Union[Tensor, Mapping[str, Any]]) -> Dict[str, Any]:
        """The plain dict (``step``, ``history``, ...) of a checkpoint's ``<prefix>._extra_state``.

        Example:
            >>> crit = StochasticLoss(["ce", "mse"], seed=0)
            >>> StochasticLoss.read_extra_state(crit.state_dict()["_extra_state"])["step"]
            0
        """
        if isinstance(state, Mapping):  # written before the state was serialised
            return dict(state)
        return torch.load(io.BytesIO(state.cpu().numpy().tobytes()), weights_only=True)

    def _plain_extra_state(self) -> Dict[str, Any]:
        state: Dict[str, Any] = {
            **self.record.extra_state(),
            "generator": self.sampler.generator.get_state(),
            "checked_inputs": self._checked_inputs,
            "reference_source": self.reference_source,
        }
        if isinstance(self.learner, LookaheadLearner):
            state["decision_optimizer"] = self.learner.optimizer.state_dict()
        return state

    def _load_from_state_dict(self, state_dict: Dict[str, Any], prefix: str, local_metadata: Dict[str, Any],
                              *args: Any, **kwargs: Any) -> None:
        if (local_metadata.get("version") or 1) < 2:
            # Before version 2 the parts' buffers sat on the loss itself.
            for old, new in _BUFFERS_BEFORE_PARTS.items():
                if prefix + old in state_dict:
                    state_dict[prefix + new] = state_dict.pop(prefix + old)
        # A checkpoint of the other kind (a learned decision network, or align mode's scores)
        # would otherwise fail on a list of key names; say what to build instead.
        decision_keys = [key[len(prefix):] for key in state_dict if key.startswith(prefix + "decision.")]
        written_by_align = any(key == "decision.scores" for key in decision_keys)
        if decision_keys and written_by_align != (self.mode == "align"):
            written = "mode='align' (the default recipe)" if written_by_align else \
                "a learned decision network (mode='joint', 'softmax' or 'validation'; before version 0.2 the " \
                "default mode was 'joint')"
            build = "StochasticLoss(..., mode='align')" if written_by_align else \
                "StochasticLoss(..., mode='joint') (or the mode it was trained with), with the same options,"
            raise RuntimeError(f"this StochasticLoss checkpoint was written by {written}; this loss has "
                               f"mode={self.mode!r}. Build {build} to load it.")
        super()._load_from_state_dict(state_dict, prefix, local_metadata, *args, **kwargs)

    def set_extra_state(self, state: Union[Tensor, Mapping[str, Any]]) -> None:
        state = self.read_extra_state(state)
        self.record.load_extra_state(state)
        self.sampler.generator.set_state(state["generator"])
        self._checked_inputs = bool(state.get("checked_inputs", False))
        if isinstance(self.learner, AlignmentLearner):
            self.learner.reference_source = str(state.get("reference_source", "none"))
        if isinstance(self.learner, LookaheadLearner) and "decision_optimizer" in state:
            self.learner.optimizer.load_state_dict(state["decision_optimizer"])

    def extra_repr(self) -> str:
        return (f"candidates={self.candidate_names}, task={self.task!r}, mode={self.mode!r}, K={self.num_samples}, "
                f"tau={self.sampler.schedule.initial}, selection={self.selection!r}, normalize={self.normalize!r}")
