"""``--criterion l2t_dlf``: L2T-DLF (Wu et al., NeurIPS 2018) on fairseq's criterion API, the peer
that SLF's paper runs beside it in its translation table.

Per real target token t, with log-probabilities :math:`\\log p_t` over the vocabulary V, the
student's loss is the core's :class:`slf.losses.baselines.l2t_dlf.L2TDLFLoss` with
``coefficients='diagonal'`` (a :math:`V \\times V` matrix would outweigh the model):

.. math::

    \\mathcal{L} = -\\sum_t \\sigma\\big((w_{y_t} + h\\,w_{2,y_t}) \\log p_{t,y_t}
        + (u + h\\,u_2)\\,\\overline{\\log p_t} + b_{y_t}\\big),

h the teacher's reading of the student's state (its step and its token error on the batch).
Until update ``--l2t-pretrain-steps`` the student trains with fairseq's
``label_smoothed_cross_entropy`` (``--label-smoothing``), as the authors' demo pretrains with its
stock loss; the teacher waits. Then, before each training step, the teacher takes one Adam step
(``--l2t-meta-lr``) on the smoothed token error of a held-out batch
(``--l2t-validation-subset``, default ``valid``, batches of ``--l2t-validation-max-tokens``)
after a one-step look-ahead of the model on the training batch (SGD, ``--l2t-lookahead-lr``),
reverse mode through that one update (:class:`slf.unrolled_step.OnlineLookahead`); the look-ahead
runs in eval mode (no dropout). It costs about two training steps; ``--l2t-interval k`` updates
the teacher on every k-th update only. What of this is the authors' and what is ours: docs/losses.md.

The teacher's parameters are the criterion's but stay out of fairseq's optimiser (it optimises
every criterion parameter that requires a gradient; these require one only inside the
teacher's own update). They and the teacher's step count are saved in fairseq's checkpoints;
the teacher's Adam moments are not, and restart on ``--restore-file``. The teacher learns in one
process: distributed training is refused.

**Logging.** ``loss``, ``nll_loss`` and ``ppl`` as ``label_smoothed_cross_entropy`` logs them
(``loss`` is the teacher's loss once it teaches), plus ``l2t_h`` (the teacher's signal, while
it teaches) and ``l2t_meta_loss`` (the held-out smoothed error after the look-ahead).
"""

# No `from __future__ import annotations`: fairseq reads the config dataclass's field types at runtime.
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Tuple

import torch
from fairseq.criterions import register_criterion
from fairseq.criterions.label_smoothed_cross_entropy import (
    LabelSmoothedCrossEntropyCriterion,
    LabelSmoothedCrossEntropyCriterionConfig,
)
from fairseq.logging import metrics
from torch import Tensor, nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from slf import distributed
from slf.losses.baselines.l2t_dlf import L2TDLFLoss

from .held_out_batches import HeldOutBatches


@dataclass
class L2TDLFCriterionConfig(LabelSmoothedCrossEntropyCriterionConfig):
    l2t_meta_lr: float = field(default=1e-3, metadata={"help": "Adam learning rate of the teacher"})
    l2t_lookahead_lr: float = field(default=1e-3, metadata={"help": "SGD step size of the look-ahead"})
    l2t_pretrain_steps: int = field(
        default=100, metadata={"help": "the teacher's loss takes over at this update, label smoothing before it"}
    )
    l2t_interval: int = field(default=1, metadata={"help": "the teacher updates on every this many updates"})
    l2t_step_scale: float = field(default=1000.0, metadata={"help": "the teacher reads the step as step / this"})
    l2t_sharpness: float = field(default=50.0, metadata={"help": "k of the teacher's smoothed held-out error"})
    l2t_validation_subset: str = field(default="valid", metadata={"help": "the split of the held-out batches"})
    l2t_validation_max_tokens: int = field(default=2048, metadata={"help": "tokens per held-out batch"})
    l2t_seed: int = field(default=1, metadata={"help": "seed of the held-out batches' order"})


class RealTokenLogProbs(nn.Module):
    """A fairseq model as a module of a batch: the log-probabilities of its real (not padding)
    target tokens, ``(T_real, V)``, as the look-ahead calls it with substituted parameters."""

    def __init__(self, model: nn.Module, criterion: "L2TDLFCriterion") -> None:
        super().__init__()
        self.model = model
        self._real_tokens = criterion.real_tokens  # a bound method, not a submodule

    def forward(self, sample: Dict[str, Any]) -> Tensor:
        return self._real_tokens(self.model, self.model(**sample["net_input"]), sample)[0]


@register_criterion("l2t_dlf", dataclass=L2TDLFCriterionConfig)
class L2TDLFCriterion(LabelSmoothedCrossEntropyCriterion):
    """L2T-DLF's student loss and online teacher over a translation model's tokens; see the module docs.

    Example:
        >>> from types import SimpleNamespace
        >>> from fairseq.data import Dictionary
        >>> crit = L2TDLFCriterion(SimpleNamespace(target_dictionary=Dictionary()), False, 0.1)
        >>> crit.teacher.coefficients, crit.teacher.num_classes  # fairseq's four special symbols
        ('diagonal', 4)
        >>> any(p.requires_grad for p in crit.parameters())  # out of fairseq's optimiser
        False
    """

    def __init__(
        self,
        task: Any,
        sentence_avg: bool,
        label_smoothing: float,
        ignore_prefix_size: int = 0,
        report_accuracy: bool = False,
        l2t_meta_lr: float = 1e-3,
        l2t_lookahead_lr: float = 1e-3,
        l2t_pretrain_steps: int = 100,
        l2t_interval: int = 1,
        l2t_step_scale: float = 1000.0,
        l2t_sharpness: float = 50.0,
        l2t_validation_subset: str = "valid",
        l2t_validation_max_tokens: int = 2048,
        l2t_seed: int = 1,
    ) -> None:
        super().__init__(task, sentence_avg, label_smoothing, ignore_prefix_size, report_accuracy)
        self.teacher = L2TDLFLoss(
            num_classes=len(task.target_dictionary),
            meta_lr=l2t_meta_lr,
            lookahead_lr=l2t_lookahead_lr,
            pretrain_steps=l2t_pretrain_steps,
            sharpness=l2t_sharpness,
            step_scale=l2t_step_scale,
            coefficients="diagonal",
            reduction="sum",
            interval=l2t_interval,
        )
        self.teacher.requires_grad_(False)
        self.register_buffer("teacher_steps", torch.zeros((), dtype=torch.long))
        self.held_out = HeldOutBatches(
            task, l2t_validation_subset, l2t_validation_max_tokens, l2t_seed, option="--l2t-validation-subset"
        )

    def half(self) -> "L2TDLFCriterion":
        # fairseq casts the criterion with --fp16; the teacher and its loss stay float32.
        return self

    def bfloat16(self) -> "L2TDLFCriterion":
        return self

    def real_tokens(self, model: nn.Module, net_output: Any, sample: Dict[str, Any]) -> Tuple[Tensor, Tensor]:
        """The real target tokens' log-probabilities ``(T_real, V)`` (float32 under ``--fp16``) and targets."""
        lprobs, target = self.get_lprobs_and_target(model, net_output, sample)
        tokens = target.ne(self.padding_idx)
        if lprobs.dtype in (torch.float16, torch.bfloat16):
            lprobs = lprobs.float()
        return lprobs[tokens], target[tokens]

    def forward(self, model: nn.Module, sample: Dict[str, Any], reduce: bool = True) -> Tuple[Tensor, int, Dict]:
        if not reduce:
            raise ValueError("the l2t_dlf criterion returns summed losses only (reduce=False is not supported)")
        if self.training and distributed.world_size() > 1:
            raise ValueError(
                "the l2t_dlf criterion's teacher learns in one process; run it without --distributed-world-size"
            )
        meta_loss = self.teacher_step(model, sample) if self.training and model.training else None
        if not self.teacher.teaching:
            loss, sample_size, logging_output = super().forward(model, sample, reduce)
        else:
            net_output = model(**sample["net_input"])
            lprobs, target = self.real_tokens(model, net_output, sample)
            loss = self.teacher(lprobs, target)
            sample_size = sample["target"].size(0) if self.sentence_avg else sample["ntokens"]
            logging_output = {
                "loss": loss.data,
                "nll_loss": -lprobs.detach().gather(1, target.unsqueeze(1)).sum(),
                "ntokens": sample["ntokens"],
                "nsentences": sample["target"].size(0),
                "sample_size": sample_size,
            }
            if self.training:
                logging_output["l2t_h"] = float(self.teacher.last_signal)
                logging_output["l2t_steps"] = 1
            if self.report_accuracy:
                n_correct, total = self.compute_accuracy(model, net_output, sample)
                logging_output["n_correct"], logging_output["total"] = n_correct.item(), total.item()
        if meta_loss is not None:
            logging_output["l2t_meta_loss"] = meta_loss
            logging_output["l2t_meta_updates"] = 1
        return loss, sample_size, logging_output

    def teacher_step(self, model: nn.Module, sample: Dict[str, Any]) -> Any:
        """The teacher's update before the student's step (a look-ahead on ``sample``, judged on a held-out
        batch), once the student has pretrained; the step count advances. Returns the held-out
        smoothed error after the look-ahead, or None while the student pretrains.

        The model's parameters and gradients are left as they were.
        """
        teacher = self.teacher
        held_out = self.held_out.next(model)
        was_training = model.training
        model.eval()  # deterministic passes, as --criterion slf's look-ahead
        teacher.requires_grad_(True)
        try:
            # Reverse mode through the look-ahead differentiates attention twice: torch's fused CPU
            # attention kernels have no second derivative, its reference implementation has.
            with sdpa_kernel(SDPBackend.MATH):
                info = teacher.meta_step(
                    RealTokenLogProbs(model, self),
                    sample,
                    self._real_targets(sample),
                    held_out,
                    self._real_targets(held_out),
                )
        finally:
            teacher.requires_grad_(False)
            teacher.zero_grad(set_to_none=True)
            model.train(was_training)
        self.teacher_steps.fill_(teacher.steps)
        return info.get("meta_loss")

    def _real_targets(self, sample: Dict[str, Any]) -> Tensor:
        target = sample["target"][:, self.ignore_prefix_size :] if self.ignore_prefix_size > 0 else sample["target"]
        target = target.reshape(-1)
        return target[target.ne(self.padding_idx)]

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False) -> Any:
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self.teacher.steps = int(self.teacher_steps)
        return result

    @classmethod
    def reduce_metrics(cls, logging_outputs: List[Dict[str, Any]]) -> None:
        """fairseq's loss / nll_loss / ppl (and accuracy), plus the teacher's ``l2t_h`` and ``l2t_meta_loss``."""
        super().reduce_metrics(logging_outputs)
        for key, count in (("l2t_h", "l2t_steps"), ("l2t_meta_loss", "l2t_meta_updates")):
            n = sum(log.get(count, 0) for log in logging_outputs)
            if n > 0:
                metrics.log_scalar(key, sum(log.get(key, 0.0) for log in logging_outputs) / n, n, round=4)
