"""GradNorm (Chen, Badrinarayanan, Lee and Rabinovich, ICML 2018) for the parts of a multi-part loss.

The weights are learned so that every part's gradient at a shared layer W has a size in
proportion to how far that part is behind in its training:

.. math::

    G_i = \\lambda_i \\lVert \\nabla_W u_i \\rVert, \\qquad \\bar G = \\frac{1}{n}\\sum_j G_j, \\qquad
    \\tilde L_i = \\frac{u_i}{u_i^{(0)}}, \\qquad r_i = \\frac{\\tilde L_i}{\\frac{1}{n}\\sum_j \\tilde L_j},

.. math::

    L_{grad} = \\sum_i \\big| G_i - \\operatorname{sg}(\\bar G\\, r_i^{\\alpha}) \\big|, \\qquad
    \\lambda = S\\,\\operatorname{softmax}(v),\\quad v^{(0)} = \\log\\frac{w}{S},

with :math:`u_i = P_i / w_i` the unweighted part, :math:`u^{(0)}` its mean over the first
``warmup_steps`` steps, sg the stop-gradient and :math:`\\alpha` the restoring force (1.5, as
LibMTL). The model learns from :math:`\\sum_i \\operatorname{sg}(\\lambda_i) u_i`; v learns from
:math:`L_{grad}` alone. The paper renormalises the weights to their total after each step;
the softmax keeps the total by construction, as LibMTL's ``GradNorm``. Both reach the
optimizer through one loss: each returned part is :math:`\\operatorname{sg}(\\lambda_i) u_i
+ (L_{grad} - \\operatorname{sg}(L_{grad})) / n`, equal in value to the weighted part, whose
gradient is the model's for the model and :math:`\\partial L_{grad}/\\partial v` for v.

Choices the paper leaves open: W is the layer nearest the parts in their autograd graph (a
head's output layer, as :mod:`slf.alignment` finds it) unless ``shared_parameters`` names
another; during the warm-up :math:`\\lambda = w` (LibMTL balances from its second epoch on).
Each step costs one backward per part down to W.
"""

from __future__ import annotations

import math
from typing import Dict, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from ..layer_gradients import last_layer_parameters
from ..part_weighting_base import RecordedPartWeighting


class GradNormWeighting(RecordedPartWeighting):
    r"""GradNorm's weights :math:`\lambda = S\,\mathrm{softmax}(v)`, v learned from the gradient-norm loss.

    Args:
        parts: part names, e.g. ``('cls', 'obj', 'noobj', 'xy', 'wh')``.
        prior_weights: the configured weight :math:`w_i > 0` of each part.
        alpha: the restoring force :math:`\alpha \ge 0` (0: equal gradient sizes).
        warmup_steps: training steps whose mean losses are :math:`u^{(0)}`; the weights stay
            at the configured ones until they are over (>= 1).
        shared_parameters: W, the parameters whose gradient sizes are balanced (default: the
            layer nearest the parts, found on the first step).
        history_interval: steps between rows of :attr:`history`.

    v (``logits``) is an ``nn.Parameter``: the model's optimizer takes it with the model.

    Example:
        >>> layer = nn.Linear(3, 2)
        >>> weighting = GradNormWeighting(["a", "b"], [1.0, 1.0], shared_parameters=list(layer.parameters()))
        >>> for _ in range(2):  # the first step sets u0; the second balances
        ...     out = layer(torch.ones(1, 3))[0]
        ...     loss = sum(weighting({"a": out[0] ** 2, "b": 10 * out[1] ** 2}).values())
        ...     loss.backward()
        >>> bool(weighting.logits.grad[1] > 0)  # b's gradient is the larger: its weight is pushed down
        True
    """

    def __init__(
        self,
        parts: Sequence[str],
        prior_weights: Sequence[float],
        alpha: float = 1.5,
        warmup_steps: int = 1,
        shared_parameters: Optional[Sequence[nn.Parameter]] = None,
        history_interval: int = 10,
    ) -> None:
        super().__init__(parts, prior_weights, history_interval)
        if not (math.isfinite(alpha) and alpha >= 0):
            raise ValueError(f"alpha must be a finite number >= 0, got {alpha}")
        if warmup_steps < 1:
            raise ValueError(f"warmup_steps must be >= 1, got {warmup_steps}")
        self.alpha = float(alpha)
        self.warmup_steps = int(warmup_steps)
        # Kept out of the module tree: W belongs to the model, not to the weighting.
        self._shared = list(shared_parameters) if shared_parameters is not None else None
        if self._shared is not None and not self._shared:
            raise ValueError(
                "shared_parameters is empty; give W's parameters, or None to find the layer nearest the parts"
            )
        self.logits = nn.Parameter(torch.log(self.prior_weights / self.total))
        self.register_buffer("initial_losses", torch.zeros(len(self.part_names), dtype=torch.float64))

    def start_lambdas(self) -> Tensor:
        return (self.total * torch.softmax(self.logits.detach().float(), dim=0)).cpu()

    def gradient_norms(self, unweighted: Sequence[Tensor]) -> Tensor:
        r""":math:`\lVert \nabla_W u_i \rVert` for every part (0 for a part that does not reach W)."""
        if self._shared is None:
            self._shared = last_layer_parameters(list(unweighted))
            if not self._shared:
                raise ValueError("GradNormWeighting found no trainable layer under the parts; pass shared_parameters")
        norms = []
        for value in unweighted:
            grads = torch.autograd.grad(value.sum(), self._shared, retain_graph=True, allow_unused=True)
            squares = [g.detach().double().pow(2).sum() for g in grads if g is not None]
            norms.append(torch.stack(squares).sum().sqrt() if squares else torch.zeros((), dtype=torch.float64))
        return torch.stack(norms).to(self.logits.device)

    def gradnorm_loss(self, unweighted: Sequence[Tensor]) -> Tensor:
        r""":math:`L_{grad}` at this step, a function of v only."""
        norms = self.gradient_norms(unweighted).to(self.logits.dtype)
        lambdas = self.total * torch.softmax(self.logits, dim=0)
        sizes = lambdas * norms
        values = torch.stack([u.detach().sum() for u in unweighted]).double().to(self.logits.device)
        relative = values / self.initial_losses.clamp_min(torch.finfo(torch.float64).tiny)
        rates = relative / relative.mean()
        targets = (sizes.detach().mean() * rates.to(sizes.dtype) ** self.alpha).detach()
        return (sizes - targets).abs().sum()

    def forward(self, parts: Mapping[str, Tensor]) -> Dict[str, Tensor]:
        unweighted = self.unweighted(parts, scalars=True)
        lambdas = self.total * torch.softmax(self.logits, dim=0)
        n = len(unweighted)
        extra = [torch.zeros((), dtype=unweighted[0].dtype, device=unweighted[0].device)] * n
        if self.recording(torch.stack(unweighted)):
            if self.step < self.warmup_steps:
                values = torch.stack([u.detach().sum() for u in unweighted]).double()
                self.initial_losses.mul_(self.step / (self.step + 1)).add_(
                    values.to(self.initial_losses) / (self.step + 1)
                )
            else:
                grad_loss = self.gradnorm_loss(unweighted)
                extra = [((grad_loss - grad_loss.detach()) / n).to(unweighted[0].dtype)] * n
            self.record_step(lambdas)
        fixed = lambdas.detach().to(unweighted[0].dtype)
        return {
            name: (fixed[i] * unweighted[i] + extra[i]).reshape(parts[name].shape)
            for i, name in enumerate(self.part_names)
        }

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, alpha={self.alpha}, warmup_steps={self.warmup_steps}"
