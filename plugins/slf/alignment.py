r"""Gradient alignment: the default way StochasticLoss chooses its candidates.

At every training step each candidate's gradient on the training batch is compared with
the gradient of a *reference* loss on held-out data (cross-entropy for classification,
the host's stock loss elsewhere), both taken with respect to the model's last layer
:math:`\theta`:

.. math::

    g_i = \nabla_\theta \frac{1}{N}\sum_{b} \ell_i(f(x_b), y_b),\qquad
    u \leftarrow \rho\, u + (1 - \rho)\, \nabla_\theta L_{ref}(f(x^{val}), y^{val}),\qquad
    s_i = \cos(g_i, u) = \frac{\langle g_i, u\rangle}{\lVert g_i\rVert\,\lVert u\rVert}

(the reference u is itself averaged over held-out batches: one batch's gradient is noisy).

A candidate whose step would also lower the held-out loss has a large :math:`s_i`; one
that fits what does not carry over (a mislabelled sample, a loss that rewards its own
offset) has a small or negative one. The scores are smoothed over steps and turned into
weights by a sharp softmax,

.. math::

    a_i \leftarrow \beta a_i + (1 - \beta) s_i,\qquad
    \hat p = \operatorname{softmax}\big(\log \pi + (a + m\, e_{r}) / T\big),

with :math:`\pi` a prior (uniform unless given) and a head start :math:`m` (the
``margin``) for the candidate :math:`r` that is the host's stock loss, when it is one of
them: the weights leave the stock loss only for a candidate whose alignment is clearly
better, by more than :math:`m`, so where no candidate is, the recipe trains with the stock
loss. And the weights stay on the stock loss altogether while its training loss, averaged over
steps like the reference (:math:`\rho`), is at most ``gap`` times its held-out loss,
:math:`\bar L_{train} \le \gamma \bar L_{held-out}`: the training labels are fitted no worse
than held-out ones, so there is no sign of label noise to leave the stock loss for (on clean
data the cosines of the candidates lie close together and their lead changes from step to
step, and a switch to a bounded loss slows learning); under label noise the training loss
lies above the held-out one from the first steps and the comparison of the gradients decides.
"Above" means by more than ``gap_z`` standard errors of the two averages' difference: before a
model has learned anything its two losses are equal, and such a tie is no sign of label noise.
Once it has lain above for ``gap_patience`` steps in a row, label noise is taken as seen for
the rest of the run: memorising the wrong labels later brings the training loss down to the
held-out one, and that must not send the weights back to the stock loss.
Nothing here is learned by gradient
descent, so nothing saturates: :math:`\hat p` follows the current alignment and moves back
when it changes (a run under label noise typically starts on cross-entropy and moves to a
bounded loss once cross-entropy starts to fit the wrong labels). The cosine judges
direction only, so no candidate wins by its scale or its offset (the literal update's
failure, which drifts onto the numerically smallest loss).

Only the last layer is differentiated, so each step costs one small backward through
that layer, vectorised over the candidates (:func:`~slf.layer_gradients.candidate_gradients`), plus the
reference's held-out forward every ``interval`` steps. Once the weights have been held on the
stock loss for ``gap_patience`` steps in a row (clean data), a step costs less: the stock loss
alone is computed (the owner asks :attr:`GradientAlignment.settled` first), no candidate
gradient is taken and the scores keep their average, and a held-out batch is drawn every
``held_interval`` steps only.
The last layer is found from the output's autograd graph
(:func:`~slf.layer_gradients.last_layer_parameters`): the parameters closest to the output.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor, nn

from . import distributed
from .alignment_options import checked_alignment_options
from .layer_gradients import LayerKey

DEFAULT_TEMPERATURE = 1e-3
DEFAULT_MOMENTUM = 0.9
DEFAULT_REFERENCE_MOMENTUM = 0.95
DEFAULT_MARGIN = 0.03
DEFAULT_GAP = 1.0
DEFAULT_GAP_PATIENCE = 50
# The training loss counts as above the gap by more than this many standard errors only (docs/recipe.md).
DEFAULT_GAP_Z = 2.0
DEFAULT_HELD_INTERVAL = 4
# Score the candidates, and draw a held-out batch, every this many steps while weighing.
DEFAULT_INTERVAL = 1


def _gate_value(name: str, doc: str) -> property:
    """A read-only view of one of the gate's values, kept in a plain dict (set every step)."""
    return property(lambda self: self._gate[name], doc=doc)


def _loss_average(name: str, doc: str) -> property:
    """A read-only view of one of the gate's loss averages, as a tensor (None before the first value)."""

    def read(self: "GradientAlignment") -> Optional[Tensor]:
        value = self._loss_averages[name]
        return None if value is None else torch.tensor(value)

    return property(read, doc=doc)


class GradientAlignment(nn.Module):
    r"""The state and the arithmetic of selection by gradient alignment (module docs).

    Gradients and references are kept per set of parameters (a *layer*, keyed by
    :func:`~slf.layer_gradients.layer_key`): a loss called once per output layer (mmdet's YOLOv3 calls its
    ``loss_cls`` once per feature level) compares each call's gradients with that layer's
    reference, and the cosine of a step is taken over all its layers together,
    :math:`s_i = \sum_l \langle g_i^l, u^l \rangle / \sqrt{\sum_l \lVert g_i^l \rVert^2
    \sum_l \lVert u^l \rVert^2}`.

    Args:
        num_candidates: n.
        temperature: T of :math:`\operatorname{softmax}(\log\pi + a / T)`; cosines differ by
            about 0.01-0.3 between candidates, so the default 1e-3 is close to picking the
            best-aligned candidate while two of nearly equal score share the weight.
        momentum: :math:`\beta` of the scores' moving average (0: the last step only).
        reference_momentum: :math:`\rho` of the reference gradient's moving average over
            held-out batches (0: the last batch only).
        interval: k: draw a new held-out batch for the reference, and score the candidates, on
            every k-th step only (:meth:`reference_due`); the steps between train with the
            weights as they stand, so a weighing step costs about a settled one on k - 1 of
            every k steps. Each reference draw and each score then stands for k steps:
            :math:`\rho^k` and :math:`\beta^k` in the moving averages, so that they span as
            many steps as with k = 1. A pair (k, j) scores on every k-th step and draws a held-out
            batch on every j-th of those only, scoring against the reference as it stands between
            (a draw weighs :math:`\rho^{kj}`). Neither is the default: both lost validation
            accuracy under label noise (docs/recipe.md).
        held_interval: the same once the weights have been held on the stock loss for
            ``gap_patience`` steps in a row (:attr:`settled`), where the gap needs only the
            held-out loss's level; its average counts the steps between draws
            (:math:`\rho^k` after k steps). LeNet, batch 128: a settled step costs 1.14x a
            cross-entropy step at 4, 1.49x at 1 (the held-out forward is most of it).
        prior: positive weights :math:`\pi` (normalised; default uniform), the start and
            the tie-breaker.
        margin: the head start :math:`m` (in cosine) of candidate ``preferred``.
        preferred: index of the candidate that is the host's stock loss (``None``: none is).
        gap: :math:`\gamma`: while the stock loss's training loss is at most ``gap`` times its
            held-out loss (both averaged with ``reference_momentum``, given through
            :meth:`track_losses`), all the weight stays on ``preferred``; ``None``: the scores
            alone decide. Without held-out losses (no held-out data) the scores decide too.
        gap_patience: after this many steps in a row with the training loss above ``gap``
            times the held-out loss, label noise is taken as seen (:attr:`noise_seen`) and
            the weight no longer returns to the stock loss in this run.
        gap_z: :math:`z`: the training loss counts as above the gap only when its average exceeds
            ``gap`` times the held-out one by more than z standard errors of that difference,
            :math:`\bar L_{train} - \gamma \bar L_{held-out} > z\, \hat\sigma_d \sqrt{\sum_k w_k^2}`,
            with :math:`\hat\sigma_d^2` the moving average (:math:`\rho`) of the squared deviations of
            each step's difference :math:`d_t = L_{train,t} - \gamma L_{held-out,t}` from the averages'
            and :math:`w_k` the averages' weights. Before a model has learned anything its two losses
            are equal, and a tie read as "above" for ``gap_patience`` steps took a fairseq LSTM for
            label noise at step 50 (docs/recipe.md, where 2 was chosen on validation scores);
            0: above as soon as the average is.

    Example:
        >>> alignment = GradientAlignment(2)
        >>> alignment.probabilities()
        tensor([0.5000, 0.5000])
        >>> alignment.set_reference((0,), torch.tensor([1.0, 0.0]))
        >>> alignment.observe({(0,): torch.tensor([[1.0, 0.1], [0.0, 1.0]])}).round(decimals=3)
        tensor([0.9950, 0.0000])
        >>> alignment.probabilities()
        tensor([1., 0.])
    """

    def __init__(
        self,
        num_candidates: int,
        temperature: float = DEFAULT_TEMPERATURE,
        momentum: float = DEFAULT_MOMENTUM,
        reference_momentum: float = DEFAULT_REFERENCE_MOMENTUM,
        interval: Union[int, Sequence[int]] = DEFAULT_INTERVAL,
        prior: Optional[Sequence[float]] = None,
        margin: float = DEFAULT_MARGIN,
        preferred: Optional[int] = None,
        gap: Optional[float] = DEFAULT_GAP,
        gap_patience: int = DEFAULT_GAP_PATIENCE,
        held_interval: int = DEFAULT_HELD_INTERVAL,
        gap_z: float = DEFAULT_GAP_Z,
    ) -> None:
        super().__init__()
        interval, reference_interval, prior = checked_alignment_options(
            num_candidates,
            temperature=temperature,
            momentum=momentum,
            reference_momentum=reference_momentum,
            interval=interval,
            prior=prior,
            margin=margin,
            preferred=preferred,
            gap=gap,
            gap_patience=gap_patience,
            held_interval=held_interval,
            gap_z=gap_z,
        )
        self.temperature = float(temperature)
        self.momentum = float(momentum)
        self.reference_momentum = float(reference_momentum)
        self.interval = interval
        self.reference_interval = reference_interval
        self.held_interval = held_interval
        self.margin = float(margin)
        self.preferred = preferred
        self.gap = None if gap is None else float(gap)
        self.gap_patience = gap_patience
        self.gap_z = float(gap_z)
        total = sum(prior)
        self.register_buffer("log_prior", torch.tensor([math.log(p / total) for p in prior]))
        self.register_buffer("scores", torch.zeros(num_candidates))
        self.register_buffer("observations", torch.zeros((), dtype=torch.long))
        # Recomputed from held-out data as training goes: not part of a checkpoint.
        self.references: Dict[LayerKey, Tensor] = {}
        self.last_cosines = torch.zeros(num_candidates)
        self._pending_gradients: Dict[LayerKey, Tensor] = {}
        self._pending_references: Dict[LayerKey, Tensor] = {}
        # The stock loss's averages on training and held-out batches (the gap's test, float32 scalars), and
        # this step's sums.
        self._loss_averages: Dict[str, Optional[np.float32]] = {"train_loss": None, "held_out_loss": None}
        self._pending_losses: Dict[str, Tensor] = {}
        self._loss_ages = {"train_loss": 0, "held_out_loss": 0}  # steps since each average last moved
        # The gate's counters, set every step: a plain dict, past nn.Module's attribute bookkeeping.
        self._gate: Dict[str, Any] = {
            "steps_above_gap": 0,  # in a row
            "noise_seen": False,  # kept in the loss's checkpoint
            "steps_within_gap": 0,  # in a row, for :attr:`settled`
            # For gap_z: the average squared deviation of a step's difference, and the sum of the squared
            # weights of the averages (the variance of a moving average of independent steps).
            "gap_deviation_square": 0.0,
            "gap_weight_square": 1.0,
        }
        self._all_on_preferred: Optional[tuple] = None  # (its key, the weights while the gate holds), made once

    train_loss = _loss_average("train_loss", "The stock loss's average on training batches (None before one).")
    held_out_loss = _loss_average("held_out_loss", "The stock loss's average on held-out batches (None before one).")
    steps_above_gap = _gate_value("steps_above_gap", "Steps in a row with the training loss above the gap.")
    steps_within_gap = _gate_value("steps_within_gap", "Steps in a row with it within the gap (:attr:`settled`).")
    gap_deviation_square = _gate_value("gap_deviation_square", "``gap_z``'s mean squared deviation of a difference.")
    gap_weight_square = _gate_value("gap_weight_square", "The sum of the averages' squared weights (``gap_z``).")

    @property
    def noise_seen(self) -> bool:
        """Whether the training loss has lain above the gap for ``gap_patience`` steps in a row
        (label noise seen: the weights no longer return to the stock loss in this run)."""
        return self._gate["noise_seen"]

    @noise_seen.setter
    def noise_seen(self, seen: bool) -> None:
        self._gate["noise_seen"] = bool(seen)

    @property
    def has_reference(self) -> bool:
        """Whether a reference gradient has been set for some layer."""
        return bool(self.references)

    def set_reference(self, key: LayerKey, gradient: Tensor) -> None:
        """Blend ``gradient`` (flat) into layer ``key``'s reference :math:`u` (the first is taken as it is)."""
        gradient = gradient.detach().reshape(-1).float()
        previous = self.references.get(key)
        if previous is not None and previous.shape == gradient.shape:
            rho = self.reference_momentum**self.draw_interval  # a draw stands for that many steps
            gradient = previous.to(gradient.device) * rho + gradient * (1 - rho)
        self.references[key] = gradient

    @property
    def draw_interval(self) -> int:
        """Steps between held-out draws while the recipe weighs: k j of ``interval=(k, j)``, else k."""
        return self.interval * self.reference_interval

    def reference_due(self, step: int) -> bool:
        """Whether training step ``step`` (0-based) draws a new held-out batch (every
        :attr:`draw_interval` steps, every ``held_interval`` while the hold has :attr:`settled`)."""
        return step % (self.held_interval if self.settled else self.draw_interval) == 0

    def scores_due(self, step: int) -> bool:
        """Whether training step ``step`` (0-based) scores the candidates: every ``interval`` steps,
        and on every step until a reference is there to score against."""
        return self.interval == 1 or step % self.interval == 0 or not self.references

    def observe(self, gradients: Mapping[LayerKey, Tensor]) -> Tensor:
        """Score the candidates' gradients ``{layer: (n, P_layer)}`` against the references and
        update the average.

        Returns the cosines :math:`s` of this step (zeros, and no update, when no layer has a
        reference). Under torch.distributed the cosines are averaged over ranks, so every
        rank holds the same scores and weights (every rank must call it).
        """
        n = self.scores.numel()
        if not gradients and distributed.world_size() == 1:  # a step held on the stock loss: nothing to score
            return torch.zeros(n)
        dots = torch.zeros(n, dtype=torch.float64)
        squares = torch.zeros(n, dtype=torch.float64)
        reference_square = torch.zeros((), dtype=torch.float64)
        for key, grads in gradients.items():
            reference = self.references.get(key)
            if reference is None:
                continue
            grads = grads.detach().double().to(reference.device)
            if grads.shape != (n, reference.numel()):
                raise ValueError(
                    f"the candidates' gradients have shape {tuple(grads.shape)}, the reference "
                    f"{reference.numel()} entries: they must be taken with respect to the same parameters"
                )
            dots += (grads @ reference.double()).cpu()
            squares += grads.pow(2).sum(dim=1).cpu()
            reference_square += reference.double().pow(2).sum().cpu()
        observed = torch.tensor([1.0 if float(reference_square) > 0 else 0.0], dtype=torch.float64)
        norms = (squares * reference_square).sqrt()
        cosines = torch.where(norms > 0, dots / norms.clamp_min(1e-300), torch.zeros_like(dots))
        # Every rank reduces, whether or not it had a reference: the collectives must match.
        summed = distributed.all_reduce_sum(torch.cat([cosines, observed]))
        if float(summed[-1]) == 0:
            return torch.zeros(n)
        cosines = torch.nan_to_num(summed[:-1] / summed[-1]).float()
        with torch.no_grad():
            cosines = cosines.to(self.scores.device)
            if int(self.observations) == 0:
                self.scores.copy_(cosines)
            else:
                beta = self.momentum**self.interval  # a score stands for `interval` steps
                self.scores.mul_(beta).add_(cosines, alpha=1 - beta)
            self.observations += 1
        self.last_cosines = cosines.detach().cpu()
        return cosines

    def track(self, key: LayerKey, gradients: Tensor, reference: Optional[Tensor] = None) -> None:
        """Add one call's candidate gradients ``(n, P)`` (and a reference gradient from the same
        batch, for :meth:`finish_step` to adopt *after* scoring) to the current step."""
        for store, value in ((self._pending_gradients, gradients), (self._pending_references, reference)):
            if value is None:
                continue
            value = value.detach().float()
            store[key] = store[key] + value if key in store and store[key].shape == value.shape else value

    def track_losses(self, train: Optional[Tensor] = None, held_out: Optional[Tensor] = None) -> None:
        """Add one call's stock loss on its training batch and/or on a held-out batch (per-sample
        means, scalars) to the current step; :meth:`finish_step` averages them over steps."""
        for name, value in (("train_loss", train), ("held_out_loss", held_out)):
            if value is None:
                continue
            value = value.detach().float().reshape(())
            self._pending_losses[name] = self._pending_losses[name] + value if name in self._pending_losses else value

    def _within_gap(self) -> bool:
        train, held_out = self._loss_averages["train_loss"], self._loss_averages["held_out_loss"]
        if self.preferred is None or self.gap is None or train is None or held_out is None:
            return False
        # numpy's float32 scalars here and in _average_losses: the tensors' arithmetic, without dispatching.
        bound = np.float32(self.gap) * held_out
        if self.gap_z:
            gate = self._gate
            bound += np.float32(self.gap_z * math.sqrt(gate["gap_deviation_square"] * gate["gap_weight_square"]))
        return bool(train <= bound)

    @property
    def keeps_preferred(self) -> bool:
        """Whether the weights stay on the stock loss: its average training loss is at most ``gap``
        times its average held-out loss and label noise has not been seen (False without a stock
        candidate, a gap or held-out losses)."""
        return not self.noise_seen and self._within_gap()

    @property
    def settled(self) -> bool:
        """Whether the weights have been held on the stock loss for ``gap_patience`` steps in a
        row: the owner may then compute the stock loss alone, with no candidate gradients (the
        scores keep their average meanwhile). Early in a run the gate may hold for a few steps
        and open again; the scores go on being taken there, so that they are current when it
        opens (scores from the first steps point at a bounded loss that an untrained network
        cannot learn with)."""
        return self.keeps_preferred and self._gate["steps_within_gap"] >= self.gap_patience

    def finish_step(self) -> Tensor:
        """Score the step's tracked gradients (:meth:`observe`; none on a step held on the stock
        loss, whose scores keep their average), then adopt its tracked references and losses."""
        gradients, references, losses = (
            dict(pending) for pending in (self._pending_gradients, self._pending_references, self._pending_losses)
        )
        for pending in (self._pending_gradients, self._pending_references, self._pending_losses):
            pending.clear()
        cosines = self.observe(gradients)
        for key, reference in references.items():
            self.set_reference(key, reference)
        if self.preferred is not None and self.gap is not None:
            self._average_losses(losses)
        return cosines

    def _average_losses(self, losses: Mapping[str, Tensor]) -> None:
        # Under torch.distributed the step's losses are averaged over the ranks that have them, so
        # every rank takes the same gate (every rank calls this, as it calls observe()).
        names = ("train_loss", "held_out_loss")
        sums = [float(losses[name]) if name in losses else 0.0 for name in names] + [float(n in losses) for n in names]
        if distributed.world_size() > 1:
            sums = distributed.all_reduce_sum(torch.tensor(sums, dtype=torch.float64)).tolist()
        averages, gate = self._loss_averages, self._gate
        both = averages["train_loss"] is not None and averages["held_out_loss"] is not None
        if self.gap_z and sums[2] and sums[3] and both:
            self._track_gap_deviation(sums[0] / sums[2] - self.gap * sums[1] / sums[3])
        for i, name in enumerate(names):
            self._loss_ages[name] += 1
            if sums[2 + i] == 0:
                continue
            # After k steps without a value (held-out batches every few steps), the old average
            # decays as over k steps: rho^k.
            momentum, self._loss_ages[name] = self.reference_momentum ** self._loss_ages[name], 0
            value, previous = np.float32(sums[i] / sums[2 + i]), averages[name]
            if previous is not None:
                value = previous * np.float32(momentum) + value * np.float32(1 - momentum)
            averages[name] = np.float32(value)
        if sums[2] + sums[3] > 0 and averages["train_loss"] is not None and averages["held_out_loss"] is not None:
            within = self._within_gap()
            gate["steps_above_gap"] = 0 if within else gate["steps_above_gap"] + 1
            gate["steps_within_gap"] = gate["steps_within_gap"] + 1 if within else 0
            gate["noise_seen"] = gate["noise_seen"] or gate["steps_above_gap"] >= self.gap_patience

    def _track_gap_deviation(self, difference: float) -> None:
        # A step with both losses, before the averages adopt it: its difference's deviation from theirs.
        rho, averages, gate = self.reference_momentum, self._loss_averages, self._gate
        deviation = difference - (float(averages["train_loss"]) - self.gap * float(averages["held_out_loss"]))
        gate["gap_deviation_square"] = rho * gate["gap_deviation_square"] + (1 - rho) * deviation**2
        gate["gap_weight_square"] = rho**2 * gate["gap_weight_square"] + (1 - rho) ** 2

    def probabilities(self, available: Optional[Iterable[int]] = None) -> Tensor:
        """:math:`\\hat p = \\operatorname{softmax}(\\log\\pi + a / T)`, over ``available`` candidates only
        when given (the others get 0); all on the stock loss while :attr:`keeps_preferred`."""
        if self.keeps_preferred and (available is None or self.preferred in list(available)):
            key = (self.preferred, self.scores.device, self.scores.dtype)
            if self._all_on_preferred is None or self._all_on_preferred[0] != key:
                held = torch.nn.functional.one_hot(torch.tensor(self.preferred), self.scores.numel())
                self._all_on_preferred = (key, held.to(self.scores.device, self.scores.dtype))
            return self._all_on_preferred[1].clone()
        scores = self.scores.clone()
        if self.preferred is not None:
            scores[self.preferred] += self.margin
        logits = self.log_prior + scores / self.temperature
        if available is not None:
            mask = torch.full_like(logits, float("-inf"))
            mask[list(available)] = 0.0
            logits = logits + mask
        return torch.softmax(logits, dim=0)

    def extra_repr(self) -> str:
        return (
            f"temperature={self.temperature:g}, momentum={self.momentum:g}, "
            f"reference_momentum={self.reference_momentum:g}, interval={self.interval}, "
            + (f"draws every {self.reference_interval} scores, " if self.reference_interval != 1 else "")
            + f"margin={self.margin:g}, "
            f"preferred={self.preferred}, gap={self.gap}, gap_patience={self.gap_patience}, "
            f"held_interval={self.held_interval}" + (f", gap_z={self.gap_z:g}" if self.gap_z else "")
        )
