"""``--criterion slf``: SLF over token-level candidate losses, on fairseq's own criterion API.

Per target token t (padding removed) with log-probabilities :math:`\\log p_t` over the
vocabulary, the criterion is the core :class:`slf.StochasticLoss`,

.. math::

    \\mathcal{L} = \\sum_t \\sum_i \\hat p_{i}\\, \\ell_i(\\log p_t, y_t),\\qquad
    \\hat p = \\frac{1}{K}\\sum_{k=1}^{K}\\operatorname{softmax}\\Big(\\frac{\\log h(\\phi) + G_k}{\\tau}\\Big)

with candidates :math:`\\ell_i` from ``--slf-candidates``:

- ``nll`` and ``label_smoothed_nll`` (fairseq's ``label_smoothed_nll_loss`` formula, with
  ``--label-smoothing``);
- ``focal`` (``--slf-focal-gamma``), ``poly1`` (``--slf-poly1-epsilon``), ``mse`` and
  ``mae`` (Brier-style squared / absolute error of the probabilities, averaged over the
  vocabulary), computed from the target's log-probability
  (:mod:`slf_fairseq.token_losses`: no extra pass over the vocabulary per candidate);
- any other core classification loss that reads the output
  (``slf.losses.available('classification')``), applied to the log-probabilities.

**Decision features.** A vocabulary-sized output is too large for the decision network,
so it reads three per-token summaries: the target's probability, the largest
probability and the normalised entropy
(:func:`slf_fairseq.token_losses.token_decision_features`). With ``--slf-selection
batch`` the decision logits are averaged over the batch's tokens (one weight vector per
batch); with ``sample`` each token gets its own. They do not depend on which word is
which, nor on the vocabulary size.

**Modes** (``--slf-mode``, as in the core). ``align`` (the default recipe,
:mod:`slf.alignment`): every training step compares each candidate's gradient at the
output layer with the gradient of the held-out NLL on a batch of ``--slf-validation-subset``
(default ``valid``; batches of ``--slf-validation-max-tokens``, cycled; in eval mode) and
weighs the candidates by a sharp softmax of the smoothed cosines, with the margin's head
start for ``label_smoothed_nll`` (fairseq's stock criterion) when it is a candidate, and all of
them on it while its training NLL lies no more than ``--slf-gap-z`` standard errors above the
held-out NLL (the recipe's gate, docs/recipe.md). With the decoder's
input and output embeddings shared, the compared layer is the one before the output
projection (the shared matrix's gradient would run through the whole decoder). Without a
validation split the reference is the previous training batch's NLL, with a warning.
``joint`` (Algorithm 1: the decision network descends the same loss as the model, and
drifts onto the candidate with the smallest values), ``softmax`` (no Gumbel noise) and
``validation``: the loss does not train the
decision network; after each training forward (every ``--slf-validation-interval``) it
takes a first-order look-ahead step on a held-out batch from ``--slf-validation-subset``
(default ``valid``; batches of ``--slf-validation-max-tokens``, cycled):

.. math::

    c_i = -\\eta\\, \\langle \\nabla_w \\mathrm{NLL}_{val}(w),\\ \\nabla_w \\ell_i(w) \\rangle,

with the inner product taken as a central difference of the training batch's candidate
losses along the held-out gradient (:func:`slf.lookahead.directional_derivative`: one
forward and backward on the held-out batch, two forward passes on the training batch,
all in eval mode), then one Adam step (``--slf-decision-lr``) of the decision network on
:math:`\\sum_i \\hat p_i c_i` (:meth:`slf.StochasticLoss.validation_update`). The
held-out NLL is logged as ``slf_val_nll``.

**Logging.** ``loss``, ``nll_loss`` and ``ppl`` as ``label_smoothed_cross_entropy``
logs them, plus ``w_<candidate>``: the mean selection weight, averaged over tokens.
They go to fairseq's progress bar, JSON log and ``--tensorboard-logdir``; the
logging outputs are sums, so ``logging_outputs_can_be_summed`` holds.

**Precision.** Under ``--fp16``/``--bf16`` fairseq calls ``criterion.half()``; this
criterion keeps its decision network in float32 and computes the candidates and the
Gumbel sampling on float32 log-probabilities.
"""

# No `from __future__ import annotations`: fairseq reads the config dataclass's field types at runtime.
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import torch
from fairseq.criterions import register_criterion
from fairseq.criterions.label_smoothed_cross_entropy import (
    LabelSmoothedCrossEntropyCriterion,
    LabelSmoothedCrossEntropyCriterionConfig,
)
from fairseq.logging import metrics
from torch import Tensor, nn

from slf import DecisionMLP, GlobalDecision, StochasticLoss, distributed, losses
from slf.alignment import DEFAULT_GAP_Z
from slf.layer_gradients import last_layer_parameters
from slf.lookahead import directional_derivative
from slf.stochastic_loss import DEFAULT_MODE, MODES

from .held_out_batches import HeldOutBatches
from .token_losses import TOKEN_FEATURES, TOKEN_LOSSES, TokenLoss, token_decision_features, token_statistics

WEIGHT_PREFIX = "slf_weight_"
FEATURE_TOKENS = 512


def valid_candidates() -> List[str]:
    """Names ``--slf-candidates`` accepts: the token losses and the other core losses that read the output."""
    core = [name for name in losses.candidate_names("classification") if name not in TOKEN_LOSSES]
    return list(TOKEN_LOSSES) + core


@dataclass
class SLFCriterionConfig(LabelSmoothedCrossEntropyCriterionConfig):
    slf_candidates: str = field(
        default="label_smoothed_nll,focal,poly1,mae",
        metadata={
            "help": "comma-separated candidate losses: nll, label_smoothed_nll or a core classification "
            "loss (focal, poly1, mse, mae, ce, hinge, ...)"
        },
    )
    slf_samples: int = field(default=3, metadata={"help": "K, Gumbel-Softmax samples averaged"})
    slf_tau: float = field(default=1.0, metadata={"help": "Gumbel-Softmax temperature"})
    slf_tau_schedule: str = field(default="constant", metadata={"help": "constant or exponential"})
    slf_tau_decay: float = field(default=0.999, metadata={"help": "per-step decay of an exponential schedule"})
    slf_tau_min: float = field(default=0.1, metadata={"help": "floor of the exponential schedule"})
    slf_mode: str = field(
        default=DEFAULT_MODE,
        metadata={
            "help": "align (the default recipe: gradient alignment with "
            "the held-out NLL), joint (Algorithm 1, collapses), "
            "softmax (no noise) or validation (held-out "
            "look-ahead)"
        },
    )
    slf_normalize: str = field(
        default="none", metadata={"help": "none or mean (divide each candidate by its running mean)"}
    )
    slf_selection: str = field(default="batch", metadata={"help": "batch (one weight vector) or sample (per token)"})
    slf_decision: str = field(default="mlp", metadata={"help": "mlp (reads per-token features) or global"})
    slf_hard: bool = field(default=False, metadata={"help": "straight-through one-hot samples"})
    slf_focal_gamma: float = field(default=2.0, metadata={"help": "gamma of the focal candidate"})
    slf_poly1_epsilon: float = field(default=1.0, metadata={"help": "epsilon of the poly1 candidate"})
    slf_seed: int = field(default=1, metadata={"help": "seed of the Gumbel noise generator"})
    slf_validation_subset: str = field(
        default="valid", metadata={"help": "align and validation modes: the split that gives the held-out batches"}
    )
    slf_validation_max_tokens: int = field(
        default=2048, metadata={"help": "align and validation modes: tokens per held-out batch"}
    )
    slf_validation_interval: int = field(
        default=1, metadata={"help": "validation mode: update the decision network every this many steps"}
    )
    slf_decision_lr: float = field(
        default=1e-2, metadata={"help": "validation mode: Adam learning rate of the decision network"}
    )
    slf_gap_z: float = field(
        default=DEFAULT_GAP_Z,
        metadata={
            "help": "align mode: the training NLL is a sign of label noise only when it lies above the "
            "held-out NLL by more than this many standard errors"
        },
    )


@register_criterion("slf", dataclass=SLFCriterionConfig)
class SLFCriterion(LabelSmoothedCrossEntropyCriterion):
    """Stochastic Loss Function over token-level losses; see the module docs.

    Example:
        >>> from types import SimpleNamespace
        >>> from fairseq.data import Dictionary
        >>> vocab = Dictionary()
        >>> for word in "ein kleiner Test".split():
        ...     _ = vocab.add_symbol(word)
        >>> task = SimpleNamespace(target_dictionary=vocab)
        >>> crit = SLFCriterion(task, sentence_avg=False, label_smoothing=0.1, slf_candidates="nll,label_smoothed_nll")
        >>> crit.slf.candidate_names
        ['nll', 'label_smoothed_nll']
    """

    def __init__(
        self,
        task: Any,
        sentence_avg: bool,
        label_smoothing: float,
        ignore_prefix_size: int = 0,
        report_accuracy: bool = False,
        slf_candidates: str = "label_smoothed_nll,focal,poly1,mae",
        slf_samples: int = 3,
        slf_tau: float = 1.0,
        slf_tau_schedule: str = "constant",
        slf_tau_decay: float = 0.999,
        slf_tau_min: float = 0.1,
        slf_mode: str = DEFAULT_MODE,
        slf_normalize: str = "none",
        slf_selection: str = "batch",
        slf_decision: str = "mlp",
        slf_hard: bool = False,
        slf_focal_gamma: float = 2.0,
        slf_poly1_epsilon: float = 1.0,
        slf_seed: int = 1,
        slf_validation_subset: str = "valid",
        slf_validation_max_tokens: int = 2048,
        slf_validation_interval: int = 1,
        slf_decision_lr: float = 1e-2,
        slf_gap_z: float = DEFAULT_GAP_Z,
    ) -> None:
        super().__init__(task, sentence_avg, label_smoothing, ignore_prefix_size, report_accuracy)
        if slf_mode not in MODES:
            raise ValueError(f"--slf-mode must be one of {list(MODES)}, got {slf_mode!r}")
        if slf_validation_max_tokens < 1:
            raise ValueError(f"--slf-validation-max-tokens must be >= 1, got {slf_validation_max_tokens}")
        if not slf_gap_z >= 0:
            raise ValueError(f"--slf-gap-z must be a number >= 0 (standard errors), got {slf_gap_z!r}")
        if slf_normalize not in ("none", "mean"):
            raise ValueError(f"--slf-normalize must be 'none' or 'mean', got {slf_normalize!r}")
        names = [name.strip() for name in slf_candidates.split(",") if name.strip()]
        valid = valid_candidates()
        unknown = [name for name in names if name not in valid]
        if unknown or not names:
            raise ValueError(f"--slf-candidates: unknown {unknown or 'empty list'}; valid names: {valid}")
        epsilon = {"label_smoothed_nll": label_smoothing, "poly1": slf_poly1_epsilon}
        candidates = [
            TokenLoss(name, epsilon=epsilon.get(name, 0.0), gamma=slf_focal_gamma) if name in TOKEN_LOSSES else name
            for name in names
        ]
        # The recipe leaves the stock criterion's loss only for a clearly better aligned candidate.
        stock = next((name for name in ("label_smoothed_nll", "nll") if name in names), None)
        learned = (
            dict(alignment={"preferred": stock, "gap_z": slf_gap_z})
            if slf_mode == "align"
            else dict(
                selection=slf_selection,
                decision_lr=slf_decision_lr,
                validation_interval=slf_validation_interval,
                decision=DecisionMLP(TOKEN_FEATURES, len(candidates)) if slf_decision == "mlp" else slf_decision,
            )
        )
        self.slf = StochasticLoss(
            candidates,
            task="classification",
            num_samples=slf_samples,
            tau=slf_tau,
            tau_schedule=slf_tau_schedule,
            tau_decay=slf_tau_decay,
            tau_min=slf_tau_min,
            hard=slf_hard,
            mode=slf_mode,
            normalize=None if slf_normalize == "none" else slf_normalize,
            reduction="sum",
            seed=slf_seed,
            **learned,
        )
        self._no_held_out = False
        self._reference_step: Optional[int] = None
        self.held_out = HeldOutBatches(task, slf_validation_subset, slf_validation_max_tokens, slf_seed)

    def _align_reference(self, model: nn.Module, lprobs: Tensor) -> None:
        """``align`` mode: find the compared layer once; on a step that is due, the held-out NLL's
        gradient becomes the reference (eval mode: no dropout; in training mode the gate opened
        all the same, and the noisier reference moved more weight to MAE: validation NLL 6.17-6.30
        against 6.06-6.17 on seeds 1-4)."""
        slf = self.slf
        if slf.last_layer is None:
            # A shared input/output embedding is reached again at the decoder's input: its gradient
            # would run through the whole decoder, so the layer before the projection is compared.
            shared = [
                module.weight
                for name, module in model.named_modules()
                if name.endswith("embed_tokens") and isinstance(getattr(module, "weight", None), Tensor)
            ]
            slf.last_layer = last_layer_parameters([lprobs], exclude=shared)
        if self._no_held_out or not slf.decision.reference_due(slf.step) or slf.step == self._reference_step:
            return
        try:
            held_out = self._held_out_sample(model)
        except ValueError:
            self._no_held_out = True  # the loss falls back to the previous batch, and says so once
            return
        self._reference_step = slf.step
        was_training = model.training
        model.eval()
        try:
            with torch.enable_grad():
                slf.set_reference(self._mean_nll(model, held_out))
        finally:
            model.train(was_training)

    def _features(self, lprobs: Tensor, log_p: Tensor, tokens: Tensor) -> Optional[Tensor]:
        """Decision features of the real tokens; with one weight vector per batch, of at most
        ``FEATURE_TOKENS`` of them, evenly spaced (the mean of the decision logits over a
        sample of tokens estimates their batch mean, at a fraction of the passes over V)."""
        if isinstance(self.slf.decision, GlobalDecision):
            return None
        rows = tokens.nonzero().squeeze(1)
        if self.slf.selection == "batch" and len(rows) > FEATURE_TOKENS:
            rows = rows[torch.linspace(0, len(rows) - 1, FEATURE_TOKENS, device=rows.device).long()]
        return token_decision_features(lprobs.index_select(0, rows), log_p.index_select(0, rows))

    def half(self) -> "SLFCriterion":
        # fairseq casts the criterion with --fp16; the decision network and sampling stay float32.
        return self

    def bfloat16(self) -> "SLFCriterion":
        return self

    def _candidate_columns(
        self, lprobs: Tensor, target: Tensor, tokens: Tensor, only: Optional[int] = None
    ) -> Tuple[List[Optional[Tensor]], Dict[str, Tensor]]:
        """Each candidate's loss per real token ``(T_real,)`` (candidate ``only`` alone when given,
        None for the others), and the token statistics."""
        # Per-token losses on all rows, then the real tokens picked from the (T,) columns:
        # picking rows of the (T, V) log-probabilities would copy them, and scatter their gradient back.
        chosen = [candidate if only is None or i == only else None for i, candidate in enumerate(self.slf.candidates)]
        needs = sorted({need for c in chosen if isinstance(c, TokenLoss) for need in c.needs})
        stats = token_statistics(lprobs, target, needs)
        columns = [
            None
            if candidate is None
            else (candidate(stats) if isinstance(candidate, TokenLoss) else candidate(lprobs, target))[tokens]
            for candidate in chosen
        ]
        return columns, stats

    def _lprobs_and_target(self, model: nn.Module, sample: Dict[str, Any]) -> Tuple[Tensor, Tensor, Any]:
        net_output = model(**sample["net_input"])
        lprobs, target = self.get_lprobs_and_target(model, net_output, sample)
        return lprobs.float(), target, net_output

    def forward(self, model: nn.Module, sample: Dict[str, Any], reduce: bool = True) -> Tuple[Tensor, int, Dict]:
        if not reduce:
            raise ValueError("the slf criterion returns summed losses only (reduce=False is not supported)")
        lprobs, target, net_output = self._lprobs_and_target(model, sample)
        tokens = target.ne(self.padding_idx)
        if self.slf.mode == "align" and self.training:
            self._align_reference(model, lprobs)
        # While the recipe holds the stock loss (clean data so far), the other candidates are not needed.
        columns, stats = self._candidate_columns(
            lprobs, target, tokens, self.slf.decision.preferred if self.slf.holds_stock else None
        )
        if self.slf.mode == "align":
            loss = self.slf.combine(columns, reference=-stats["log_p"][tokens])[0].sum()
        else:
            loss = self.slf.combine(columns, features=self._features(lprobs, stats["log_p"], tokens))[0].sum()
        nll_loss = -stats["log_p"].detach()[tokens].sum()
        sample_size = sample["target"].size(0) if self.sentence_avg else sample["ntokens"]
        logging_output = {
            "loss": loss.data,
            "nll_loss": nll_loss.data,
            "ntokens": sample["ntokens"],
            "nsentences": sample["target"].size(0),
            "sample_size": sample_size,
        }
        if self.training:
            for name, weight in zip(self.slf.candidate_names, self.slf.weights.tolist()):
                logging_output[WEIGHT_PREFIX + name] = weight * sample["ntokens"]
            if distributed.world_size() > 1:  # 0.0 while every rank's decision network is the same
                logging_output["slf_rank_gap"] = distributed.parameter_rank_difference(self.slf.decision)
            if self.slf.validation_due:
                held_out_nll = self.validation_update(model, sample, sample_size)
                logging_output["slf_val_nll"] = held_out_nll
                logging_output["slf_val_updates"] = 1
        if self.report_accuracy:
            n_correct, total = self.compute_accuracy(model, net_output, sample)
            logging_output["n_correct"] = n_correct.item()
            logging_output["total"] = total.item()
        return loss, sample_size, logging_output

    def validation_update(self, model: nn.Module, sample: Dict[str, Any], sample_size: int) -> float:
        """Validation mode: one look-ahead step of the decision network (module docs); returns the held-out NLL.

        The model's parameters come back bit for bit, and the graph of the training forward
        stays valid for the trainer's backward.
        """
        held_out = self._held_out_sample(model)
        params = {name: p for name, p in model.named_parameters() if p.requires_grad}
        was_training = model.training
        model.eval()  # deterministic passes: a central difference under two dropout masks is noise
        try:
            with torch.enable_grad():
                held_out_nll = self._mean_nll(model, held_out)
                grads = torch.autograd.grad(held_out_nll, list(params.values()), allow_unused=True)
            direction = {name: g for name, g in zip(params, grads) if g is not None}

            def training_columns() -> Tensor:
                lprobs, target, _ = self._lprobs_and_target(model, sample)
                return torch.stack(self._candidate_columns(lprobs, target, target.ne(self.padding_idx))[0], dim=1)

            derivatives = directional_derivative(model, direction, training_columns)
        finally:
            model.train(was_training)
        # The trainer divides the summed loss by sample_size before the optimizer sees it.
        self.slf.validation_update(derivatives / max(float(sample_size), 1.0))
        return float(held_out_nll.detach())

    def _mean_nll(self, model: nn.Module, sample: Dict[str, Any]) -> Tensor:
        lprobs, target, _ = self._lprobs_and_target(model, sample)
        tokens = target.ne(self.padding_idx)
        log_p = lprobs.gather(1, target.unsqueeze(1)).squeeze(1)
        return -log_p[tokens].sum() / tokens.sum().clamp_min(1)

    def _held_out_sample(self, model: nn.Module) -> Dict[str, Any]:
        """The next held-out batch, on the model's device; the split is reshuffled each time it runs out."""
        return self.held_out.next(model)

    @classmethod
    def reduce_metrics(cls, logging_outputs: List[Dict[str, Any]]) -> None:
        """fairseq's loss / nll_loss / ppl (and accuracy), plus ``w_<candidate>`` averaged over tokens."""
        super().reduce_metrics(logging_outputs)
        ntokens = sum(log.get("ntokens", 0) for log in logging_outputs)
        names = sorted(
            {key[len(WEIGHT_PREFIX) :] for log in logging_outputs for key in log if key.startswith(WEIGHT_PREFIX)}
        )
        for name in names:
            total = sum(log.get(WEIGHT_PREFIX + name, 0) for log in logging_outputs)
            if ntokens > 0:
                metrics.log_scalar(f"w_{name}", total / ntokens, ntokens, round=3)
        gaps = [log["slf_rank_gap"] for log in logging_outputs if "slf_rank_gap" in log]
        if gaps:
            metrics.log_scalar("slf_rank_gap", max(float(gap) for gap in gaps), 1, round=6)
        updates = sum(log.get("slf_val_updates", 0) for log in logging_outputs)
        if updates > 0:
            held_out_nll = sum(log.get("slf_val_nll", 0.0) for log in logging_outputs) / updates
            metrics.log_scalar("slf_val_nll", held_out_nll, updates, round=3)
