"""Token-level candidate losses from a few per-token statistics of the log-probabilities.

A translation model hands the criterion normalised log-probabilities :math:`L = \\log p`
``(T, V)`` over a vocabulary of thousands. Written as separate losses over ``(T, V)``,
each candidate re-reads the whole matrix and adds a dense ``(T, V)`` gradient, and
``slf`` ran at 0.62x the words per second of label-smoothed cross-entropy. On normalised
:math:`L` every candidate here is a function of three per-token numbers, computed once:
the target's log-probability :math:`L_y`, :math:`S = \\sum_c L_c` (only for label
smoothing) and :math:`Q = \\sum_c p_c^2` (only for mse):

.. math::

    \\text{nll} = -L_y,\\quad
    \\text{label\\_smoothed\\_nll} = -(1 - \\epsilon - \\tfrac{\\epsilon}{V-1}) L_y - \\tfrac{\\epsilon}{V-1} S,\\quad
    \\text{focal} = -(1 - p_y)^{\\gamma} L_y,

.. math::

    \\text{poly1} = -L_y + \\epsilon (1 - p_y),\\quad
    \\text{mae} = \\tfrac{2 (1 - p_y)}{V},\\quad
    \\text{mse} = \\tfrac{Q - 2 p_y + 1}{V}

(label smoothing as fairseq's ``label_smoothed_nll_loss``; mse and mae averaged over the
classes, as the core's). Values and gradients equal fairseq's and the core losses'
applied to :math:`L` (tested).
"""

import math
from typing import Dict, Sequence

import torch
from torch import Tensor, nn

TOKEN_LOSSES = ("nll", "label_smoothed_nll", "focal", "poly1", "mse", "mae")


def token_statistics(lprobs: Tensor, target: Tensor, needs: Sequence[str] = ()) -> Dict[str, Tensor]:
    """Per-token ``log_p`` (the target's log-probability), and ``sum_log_p`` / ``sum_p2`` if asked for.

    Args:
        lprobs: log-probabilities ``(T, V)``.
        target: indices ``(T,)``.
        needs: any of ``'sum_log_p'``, ``'sum_p2'``.

    Returns:
        ``(T,)`` tensors by name, plus ``vocabulary`` (V, a 0-d tensor).

    Example:
        >>> lprobs = torch.log_softmax(torch.tensor([[2.0, 0.5, -1.0]]), dim=1)
        >>> sorted(token_statistics(lprobs, torch.tensor([0]), ["sum_p2"]))
        ['log_p', 'sum_p2', 'vocabulary']
    """
    stats = {
        "log_p": lprobs.gather(1, target.long().unsqueeze(1)).squeeze(1),
        "vocabulary": torch.tensor(float(lprobs.shape[1])),
    }
    if "sum_log_p" in needs:
        stats["sum_log_p"] = lprobs.sum(dim=1)
    if "sum_p2" in needs:
        probs = lprobs.exp()
        stats["sum_p2"] = (probs * probs).sum(dim=1)
    return stats


class TokenLoss(nn.Module):
    """One token-level candidate, per token ``(T,)``, from :func:`token_statistics`.

    Args:
        name: one of :data:`TOKEN_LOSSES`.
        epsilon: label smoothing (``label_smoothed_nll``) or the Poly-1 weight (``poly1``).
        gamma: focusing parameter of ``focal``.

    Example:
        >>> lprobs = torch.log_softmax(torch.tensor([[2.0, 0.5, -1.0]]), dim=1)
        >>> loss = TokenLoss("poly1", epsilon=1.0)
        >>> loss(token_statistics(lprobs, torch.tensor([0]), loss.needs))
        tensor([0.4557])
    """

    reduction = "none"
    input_kind = "logits"
    task = "classification"
    minimum = 0.0

    def __init__(self, name: str, epsilon: float = 0.0, gamma: float = 2.0) -> None:
        super().__init__()
        if name not in TOKEN_LOSSES:
            raise ValueError(f"unknown token loss {name!r}; valid: {list(TOKEN_LOSSES)}")
        self.registry_name = name
        self.epsilon = epsilon
        self.gamma = gamma
        self.needs = {"label_smoothed_nll": ("sum_log_p",), "mse": ("sum_p2",)}.get(name, ())

    def forward(self, stats: Dict[str, Tensor]) -> Tensor:
        name, log_p = self.registry_name, stats["log_p"]
        if name == "nll":
            return -log_p
        if name == "label_smoothed_nll":
            smooth = self.epsilon / (stats["vocabulary"] - 1)
            return -(1.0 - self.epsilon - smooth) * log_p - smooth * stats["sum_log_p"]
        p = log_p.exp()
        if name == "focal":
            return -(1 - p).clamp_min(0).pow(self.gamma) * log_p
        if name == "poly1":
            return -log_p + self.epsilon * (1 - p)
        if name == "mae":
            return 2 * (1 - p) / stats["vocabulary"]
        return (stats["sum_p2"] - 2 * p + 1) / stats["vocabulary"]

    def extra_repr(self) -> str:
        return f"{self.registry_name!r}, epsilon={self.epsilon}, gamma={self.gamma}"


TOKEN_FEATURES = 3


@torch.no_grad()
def token_decision_features(lprobs: Tensor, log_p: Tensor) -> Tensor:
    """The decision network's input per token: target probability, largest probability, normalised entropy.

    .. math::

        \\phi_t = \\big(p_{t,y},\\ \\max_c p_{t,c},\\ -\\textstyle\\sum_c p_{t,c} L_{t,c} / \\log V\\big)

    Two passes over the vocabulary (a max and an entropy sum); a top-k over thousands of
    words, as the core's classification features take, would cost more than the model's
    output layer. The features do not depend on which word is which, nor on V.
    ``lprobs`` must be finite (a log-softmax's output is).

    Args:
        lprobs: log-probabilities ``(T, V)``.
        log_p: the targets' log-probabilities ``(T,)`` (:func:`token_statistics`).

    Returns:
        ``(T, 3)``, float32, without gradient.

    Example:
        >>> lprobs = torch.log(torch.tensor([[0.5, 0.25, 0.25]]))
        >>> token_decision_features(lprobs, lprobs[:, 1])
        tensor([[0.2500, 0.5000, 0.9464]])
    """
    lprobs = lprobs.detach().float()
    entropy = -(lprobs.exp() * lprobs).sum(dim=1) / math.log(max(lprobs.shape[1], 2))
    return torch.stack([log_p.detach().float().exp(), lprobs.max(dim=1).values.exp(), entropy], dim=1)
