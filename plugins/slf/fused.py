"""All the paper's classification candidates in one autograd node.

SLF's per-step overhead on small models is per-operation dispatch and autograd
bookkeeping, not arithmetic: six candidates written as separate losses cost ~700 extra
small ops per step. This module computes the ``(N, n)`` matrix of candidate losses
from shared terms and writes the backward by hand, so the block is one graph node.

With :math:`L = \\log\\operatorname{softmax}(z)`, :math:`p = e^{L}`, one-hot t and
per-sample upstream gradients :math:`g_j` for candidate j, the gradient is
accumulated in three places and combined once:

.. math::

    \\frac{\\partial H}{\\partial z} = D + G - p \\sum_c G_c,

where D collects the terms written in z (hinge, categorical hinge) and G the terms in
L (chain rule through the log-softmax), with

- ce: :math:`G \\mathrel{+}= -g\\, t`
- mse: :math:`G \\mathrel{+}= g \\cdot 2 (p - t) p / C`;  mae: :math:`G \\mathrel{+}= g\\,\\mathrm{sign}(p - t) p / C`
- cosine :math:`\\ell = -p_y/\\lVert p \\rVert`: :math:`G \\mathrel{+}= g\\, \\ell\\, (t - p^2/\\lVert p \\rVert^2)`
- bce: :math:`G \\mathrel{+}= -\\frac{g}{C}\\big(t\\,[L > -100] - (1 - t)\\frac{p}{1 - p}[\\log(1-p) > -100]\\big)`
- hinge: :math:`D \\mathrel{+}= -g\\, s\\, [1 - s z > 0] / C`, s = 2t - 1
- categorical hinge: :math:`D \\mathrel{+}= g\\,[m > 0] (e_{k} - e_y)`, k the largest other class.

Values and gradients equal the registry losses' (tested); it is first-order only, so the
look-ahead hypergradient (which needs second derivatives) uses the unfused losses.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from .losses._utils import _LOG_CLAMP, log1mexp

FUSABLE = ("ce", "mse", "mae", "hinge", "categorical_hinge", "cosine", "bce")


class _FusedClassificationCandidates(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits: Tensor, target: Tensor, names: Tuple[str, ...]) -> Tensor:
        num_classes = logits.shape[1]
        log_p = F.log_softmax(logits, dim=1)
        p = log_p.exp()
        t = F.one_hot(target.long(), num_classes).to(logits.dtype)
        index = target.long().unsqueeze(1)
        log_p_target = log_p.gather(1, index).squeeze(1)
        saved = {}
        columns = []
        for name in names:
            if name == "ce":
                columns.append(-log_p_target)
            elif name == "mse":
                columns.append((p - t).pow(2).mean(dim=1))
            elif name == "mae":
                columns.append((p - t).abs().mean(dim=1))
            elif name == "hinge":
                signs = 2.0 * t - 1.0
                margin = 1.0 - signs * logits
                saved["hinge_active"] = (margin > 0).to(logits.dtype) * signs
                columns.append(margin.clamp_min(0).mean(dim=1))
            elif name == "categorical_hinge":
                other = logits.masked_fill(t.bool(), float("-inf"))
                best_other, best_index = other.max(dim=1)
                margin = 1.0 + best_other - logits.gather(1, index).squeeze(1)
                saved["cat_active"] = (margin > 0).to(logits.dtype)
                saved["cat_index"] = best_index
                columns.append(margin.clamp_min(0))
            elif name == "cosine":
                half_log_norm2 = 0.5 * torch.logsumexp(2.0 * log_p, dim=1)
                value = -torch.exp(log_p_target - half_log_norm2)
                saved["cos_value"] = value
                saved["cos_share"] = torch.exp(2.0 * log_p - 2.0 * half_log_norm2.unsqueeze(1))
                columns.append(value)
            elif name == "bce":
                log_1mp = log1mexp(log_p)
                saved["bce_log_1mp"] = log_1mp
                columns.append(-(t * log_p.clamp(min=_LOG_CLAMP) + (1.0 - t) * log_1mp).mean(dim=1))
            else:  # pragma: no cover - guarded by fused_classification_losses
                raise ValueError(name)
        ctx.names = names
        ctx.saved_extra = saved
        ctx.save_for_backward(log_p, p, t, target)
        return torch.stack(columns, dim=1)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        log_p, p, t, target = ctx.saved_tensors
        saved = ctx.saved_extra
        num_classes = p.shape[1]
        in_log_p = torch.zeros_like(p)  # G: gradient with respect to log p
        in_logits = None  # D: gradient written directly in z
        for j, name in enumerate(ctx.names):
            g = grad[:, j : j + 1]
            if name == "ce":
                in_log_p = in_log_p - g * t
            elif name == "mse":
                in_log_p = in_log_p + g * (2.0 / num_classes) * (p - t) * p
            elif name == "mae":
                in_log_p = in_log_p + g * (1.0 / num_classes) * torch.sign(p - t) * p
            elif name == "cosine":
                in_log_p = in_log_p + g * saved["cos_value"].unsqueeze(1) * (t - saved["cos_share"])
            elif name == "bce":
                log_1mp = saved["bce_log_1mp"]
                positive = t * (log_p >= _LOG_CLAMP).to(p.dtype)
                odds = torch.where(log_1mp > _LOG_CLAMP, torch.exp(log_p - log_1mp), torch.zeros_like(p))
                in_log_p = in_log_p - g * (1.0 / num_classes) * (positive - (1.0 - t) * odds)
            elif name == "hinge":
                term = -g * saved["hinge_active"] / num_classes
                in_logits = term if in_logits is None else in_logits + term
            elif name == "categorical_hinge":
                active = g.squeeze(1) * saved["cat_active"]
                term = (
                    torch.zeros_like(p)
                    .scatter_add(1, saved["cat_index"].unsqueeze(1), active.unsqueeze(1))
                    .scatter_add(1, target.long().unsqueeze(1), -active.unsqueeze(1))
                )
                in_logits = term if in_logits is None else in_logits + term
        grad_logits = in_log_p - p * in_log_p.sum(dim=1, keepdim=True)
        if in_logits is not None:
            grad_logits = grad_logits + in_logits
        return grad_logits, None, None


def fused_classification_losses(logits: Tensor, target: Tensor, names: Sequence[str]) -> Tensor:
    """Per-sample losses of the named classification candidates, ``(N, n)``, in one node.

    Args:
        logits: ``(N, C)`` floating point.
        target: ``(N,)`` class indices.
        names: candidate names, each in :data:`FUSABLE`.

    Example:
        >>> z, y = torch.randn(4, 10), torch.randint(0, 10, (4,))
        >>> fused_classification_losses(z, y, ["ce", "mse"]).shape
        torch.Size([4, 2])
    """
    unknown = [name for name in names if name not in FUSABLE]
    if unknown:
        raise ValueError(f"cannot fuse {unknown}; fusable candidates: {list(FUSABLE)}")
    return _FusedClassificationCandidates.apply(logits, target, tuple(names))
