"""SLF-learned weights for the parts of a multi-part loss (YOLO's lambda_coord, lambda_obj, ...).

The SLF paper's detection experiment lets the decision network weigh the parts of
YOLO's loss instead of fixing lambda_coord, lambda_pred, lambda_obj and lambda_noobj by
hand. Here the parts keep the weights a config gives them as the starting point and
the weights keep their total:

.. math::

    L = \\sum_i \\lambda_i \\frac{P_i}{w_i},\\qquad \\lambda = S\\,\\hat p,\\qquad
    S = \\sum_i w_i,\\qquad \\hat p = \\frac{1}{K}\\sum_{k=1}^{K}
        \\operatorname{softmax}\\Big(\\frac{v + G_k}{\\tau}\\Big),\\qquad v^{(0)} = \\log\\frac{w}{S}

where :math:`P_i` is part i as the host computes it with its configured weight
:math:`w_i` (so :math:`P_i / w_i` is the unweighted part) and v are the decision
logits (:class:`slf.decision.GlobalDecision`). In softmax mode (no noise) the loss
starts equal to the host's; v is learned in the same backward pass as the model.

Learned jointly as Algorithm 1 states, v follows :math:`\\partial L / \\partial \\lambda_i =
P_i / w_i` and drifts onto the part with the smallest unweighted value (measured on
YOLOv3: all the weight on wh, see the docs' results). With ``normalize='mean'`` v reads each
part relative to its running mean :math:`m_i` instead, while the model still gets L:

.. math::

    L' = \\sum_i \\operatorname{sg}(\\lambda_i) \\frac{P_i}{w_i}
        + \\sum_i \\big(\\lambda_i - \\operatorname{sg}(\\lambda_i)\\big)
          \\operatorname{sg}\\Big(\\frac{P_i}{w_i m_i}\\Big)

(sg: stop-gradient), equal to L in value and in its gradient for the model.

The default, ``mode='align'`` (:mod:`slf.alignment`), learns nothing by gradient: each
step it compares every part's gradient at the head's output layers with the gradient of
the host's own total loss :math:`\\sum_i P_i` on held-out data (or, without any, on the
previous batch), and sets :math:`\\lambda = S\\,\\operatorname{softmax}(\\log(w / S) + a / T)`
with :math:`a` the smoothed cosines. Every part is needed, so the temperature is mild
(``PART_TEMPERATURE``: a cosine 0.1 higher than another's multiplies that part's weight
by about 1.1 relative to it): the weights start at the configured ones and move by the
evidence, never onto one part.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from .loss_options import PART_OPTIONS
from .part_weighting_base import PartWeighting
from .stochastic_loss import DEFAULT_MODE, StochasticLoss

PART_TEMPERATURE = 1.0
PART_MODES = ("align", "joint", "softmax")
# The flat options a part weighting passes on: its sampler's, its normalisation's, its alignment's.
PART_WEIGHTING_OPTIONS = (
    *PART_OPTIONS["sampler"],
    *PART_OPTIONS["normalization"],
    "alignment",
    "last_layer",
    "history_interval",
)


class _HostPart(nn.Module):
    """A named loss part whose values the host computes (see :meth:`StochasticLoss.combine`)."""

    reduction = "none"
    input_kind = "logits"

    def __init__(self, name: str) -> None:
        super().__init__()
        self.registry_name = name

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        raise RuntimeError(f"loss part {self.registry_name!r} is computed by the host; use LossPartWeighting")


class LossPartWeighting(PartWeighting):
    r"""Learned, scale-keeping weights :math:`\lambda` for the named parts of a loss.

    Args:
        parts: part names, e.g. ``('cls', 'obj', 'noobj', 'xy', 'wh')``.
        prior_weights: the configured weight :math:`w_i > 0` of each part; the start of
            :math:`\lambda` and its total :math:`S`.
        mode: ``'align'`` (the default recipe: weights from each part's gradient alignment
            with the host's total loss, see the module docs), ``'joint'`` (the paper's
            Algorithm 1) or ``'softmax'`` (no noise: weights :math:`\lambda = S\,\mathrm{softmax}(v)`).
        sampler: the learned modes' Gumbel-Softmax sampler, as in :class:`StochasticLoss`
            (``num_samples``, ``tau``, ``tau_schedule``, ``tau_decay``, ``tau_min``, ``hard``, ``seed``).
        normalization: ``None`` (v learns from the unweighted parts) or ``'mean'`` (from each
            part divided by its running mean; see the module docs), as in :class:`StochasticLoss`.
        learner: ``align`` mode: ``alignment`` (options of :class:`slf.GradientAlignment`,
            default temperature ``PART_TEMPERATURE``) and ``last_layer`` (the parameters whose
            gradients are compared, e.g. the head's output convolutions; default found from
            the parts' autograd graphs).
        **options: those parts' options by their flat names (``num_samples=3``,
            ``normalize='mean'``, ``alignment=...``, ``last_layer=...``) and ``history_interval``
            (steps between rows of ``history``).

    Shape:
        - parts: scalars (or equal-length 1-D tensors), one per part name.
        - result: the same keys, each part times :math:`\lambda_i / w_i`; their sum is the loss.

    Example:
        >>> weighting = LossPartWeighting(["cls", "xy"], [1.0, 2.0], mode="softmax")
        >>> out = weighting({"cls": torch.tensor(4.0), "xy": torch.tensor(6.0)})
        >>> round(float(sum(out.values())), 4)  # starts equal to 4 + 6
        10.0
        >>> [round(x, 3) for x in weighting.lambdas.tolist()]
        [1.0, 2.0]
    """

    def __init__(
        self,
        parts: Sequence[str],
        prior_weights: Sequence[float],
        mode: str = DEFAULT_MODE,
        *,
        sampler: Optional[Mapping[str, Any]] = None,
        normalization: Union[str, Mapping[str, Any], None] = None,
        learner: Optional[Mapping[str, Any]] = None,
        **options: Any,
    ) -> None:
        super().__init__(parts, prior_weights)
        if mode not in PART_MODES:
            raise ValueError(f"mode must be one of {list(PART_MODES)}, got {mode!r}")
        unsupported = sorted(set(options) - set(PART_WEIGHTING_OPTIONS))
        if unsupported:
            raise TypeError(
                f"LossPartWeighting got unexpected option(s) {unsupported}; valid: sampler, normalization, "
                f"learner, {', '.join(PART_WEIGHTING_OPTIONS)}"
            )
        learner = dict(learner or {})
        for name in ("alignment", "last_layer"):
            if name in options and name in learner:
                raise TypeError(f"{name!r} was given twice: as {name}= and inside learner=; keep one")
            if name in options:
                learner[name] = options.pop(name)
        if mode == "align":
            rule: Dict[str, Any] = dict(
                learner=dict(
                    learner, alignment=dict({"temperature": PART_TEMPERATURE}, **dict(learner.get("alignment") or {}))
                )
            )
        elif any(value is not None for value in learner.values()):
            raise ValueError(f"alignment and last_layer belong to mode='align'; this weighting has mode={mode!r}")
        else:
            rule = dict(decision="global")
        self.selection = StochasticLoss(
            candidates=[_HostPart(name) for name in parts],
            task="regression",
            mode=mode,
            sampler=sampler,
            normalization=normalization,
            prior=[float(w) for w in prior_weights],
            fused=False,
            **rule,
            **options,
        )

    @property
    def lambdas(self) -> Tensor:
        r"""The part weights :math:`\lambda = S \hat p` of the last training step, shape ``(n,)``.

        Before the first training step: the noise-free start :math:`S\,\mathrm{softmax}(v)`.
        """
        if self.selection.step == 0:
            with torch.no_grad():
                if self.selection.mode == "align":
                    return self.selection.decision.probabilities().float().cpu() * self.total
                return torch.softmax(self.selection.decision.logits.float().cpu(), dim=0) * self.total
        return self.selection.weights * self.total

    @property
    def history(self) -> List[Dict[str, Any]]:
        """Rows ``{'step', 'weights' (normalised, summing to 1), 'tau'}`` every ``history_interval`` steps."""
        return self.selection.history

    def forward(self, parts: Mapping[str, Tensor]) -> Dict[str, Tensor]:
        unweighted = self.unweighted(parts)
        values = [parts[name].reshape(-1) for name in self.part_names]
        if self.selection.mode == "align":
            # The host's own loss (the configured weights) is the reference.
            _, weights = self.selection.combine(unweighted, reference=sum(values))
        else:
            _, weights = self.selection.combine(unweighted)
        lambdas = weights[0].to(values[0].dtype) * self.total
        # combine() gave a non-finite part weight 0; 0 * NaN would still be NaN, so drop its graph.
        finite = torch.stack([torch.isfinite(value).all() for value in unweighted]).tolist()
        if self.selection.normalize is None:
            weighted = [lambdas[i] * unweighted[i] for i in range(len(unweighted))]
        else:
            signal = self.selection.scale_values(torch.stack([u.detach().sum() for u in unweighted]).unsqueeze(0))[0]
            fixed = lambdas.detach()
            weighted = [fixed[i] * unweighted[i] + (lambdas[i] - fixed[i]) * signal[i] for i in range(len(unweighted))]
        return {
            name: weighted[i].reshape(parts[name].shape) if finite[i] else parts[name].new_zeros(parts[name].shape)
            for i, name in enumerate(self.part_names)
        }

    @property
    def mean_lambdas(self) -> Tensor:
        r""":math:`\lambda` averaged over the training steps so far, shape ``(n,)``."""
        return self.selection.mean_weights * self.total

    def stats(self) -> Dict[str, float]:
        """Scalars for a logger: ``lambda/<part>`` (last step), ``mean_lambda/<part>`` and ``tau``."""
        return {"tau": self.selection.tau, **super().stats()}
