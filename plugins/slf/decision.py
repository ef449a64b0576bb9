"""Decision networks h(p; v): from the main network's output to logits over candidates.

A decision network takes a feature tensor ``(N, F)`` made from the model's output by
:func:`decision_features` and returns candidate logits ``(N, n)``. Two are provided:

- :class:`DecisionMLP`: a small MLP (the paper's decision network).
- :class:`GlobalDecision`: learnable logits with no input, for weighting the parts of
  a multi-part loss (YOLO's lambda_coord, lambda_obj, ...).

Any ``nn.Module`` with the same call signature can be passed instead.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

TOP_K = 10


def feature_size(task: str) -> int:
    """Number of decision features :func:`decision_features` makes for ``task``."""
    return {"classification": TOP_K + 1, "binary": 2, "regression": 2}[task]


def decision_features(output: Tensor, task: str, from_logits: bool = True) -> Tensor:
    """Summarise the model's output per sample for the decision network.

    - classification, logits ``(N, C)``: the probabilities sorted in decreasing order
      (the top 10, zero-padded when C < 10) and the normalised entropy
      :math:`-\\sum_c p_c \\log p_c / \\log C`. Sorting makes the decision independent of
      which class is which and of C, so one decision network fits any label set.
    - binary, ``(N, *)``: the probability q (mean over non-batch dims) and its confidence
      :math:`|2q - 1|`.
    - regression, ``(N, *)``: mean and standard deviation of the prediction over non-batch dims.

    Example:
        >>> decision_features(torch.zeros(2, 4), "classification").shape
        torch.Size([2, 11])
    """
    output = output.detach().float()
    if task == "classification":
        probs = torch.softmax(output, dim=1)
        num_classes = probs.shape[1]
        top = probs.topk(min(TOP_K, num_classes), dim=1).values
        if num_classes < TOP_K:
            top = F.pad(top, (0, TOP_K - num_classes))
        entropy = -(probs * probs.clamp_min(1e-12).log()).sum(dim=1, keepdim=True)
        return torch.cat([top, entropy / math.log(max(num_classes, 2))], dim=1)
    flat = output.reshape(output.shape[0], -1)
    if task == "binary":
        q = torch.sigmoid(flat) if from_logits else flat
        q = q.mean(dim=1, keepdim=True)
        return torch.cat([q, (2 * q - 1).abs()], dim=1)
    if task == "regression":
        std = flat.std(dim=1, keepdim=True, unbiased=False) if flat.shape[1] > 1 else torch.zeros_like(flat[:, :1])
        return torch.cat([flat.mean(dim=1, keepdim=True), std], dim=1)
    raise ValueError(f"unknown task {task!r}")


def loss_value_features(values: Tensor, floors: Tensor) -> Tensor:
    """The candidates' own per-sample values as decision features (``decision_reads_losses``).

    .. math::

        \\phi_{bi} = \\log\\left(1 + \\max(\\ell_{bi} - m_i, 0)\\right)

    with :math:`m_i` the candidate's lower bound (``minimum``), so each feature is 0 at a
    perfect fit and grows slowly with the loss. Under label noise a sample whose loss stays
    high late in training is likely mislabelled, which is what a per-sample decision can
    read from them. Detached; non-finite values become 0 (NaN) or 20 (inf).

    Args:
        values: per-sample candidate losses ``(N, n)``.
        floors: the candidates' lower bounds ``(n,)``.

    Returns:
        ``(N, n)`` features.

    Example:
        >>> loss_value_features(torch.tensor([[0.0, 1.0]]), torch.tensor([0.0, -1.0]))
        tensor([[0.0000, 1.0986]])
    """
    shifted = (values.detach().float() - floors.to(values.device).float()).clamp_min(0.0)
    return torch.nan_to_num(torch.log1p(shifted), nan=0.0, posinf=20.0)


class DecisionMLP(nn.Module):
    """Two-layer MLP decision network.

    .. math::

        h(p; v) = W_2 \\,\\mathrm{ReLU}(W_1 \\phi(p) + b_1) + b_2

    The last layer starts at zero, so every candidate starts with the same weight.

    Args:
        in_features: size of the decision features :math:`\\phi(p)`.
        num_candidates: number of candidate losses n.
        hidden: hidden width.

    Shape:
        - Input: :math:`(N, F)`; Output: :math:`(N, n)`.

    Example:
        >>> net = DecisionMLP(11, 6)
        >>> net(torch.rand(4, 11)).shape
        torch.Size([4, 6])
    """

    def __init__(self, in_features: int, num_candidates: int, hidden: int = 32) -> None:
        super().__init__()
        self.hidden = nn.Linear(in_features, hidden)
        self.out = nn.Linear(hidden, num_candidates)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.hidden.reset_parameters()
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, features: Tensor) -> Tensor:
        return self.out(torch.relu(self.hidden(features)))


class GlobalDecision(nn.Module):
    """Input-free decision: one learnable logit per candidate.

    .. math::

        h(\\cdot; v) = v, \\qquad v_i^{(0)} = \\log \\pi_i

    where :math:`\\pi` is an optional prior (normalised), e.g. a config's loss weights.

    Args:
        num_candidates: number of candidates n.
        prior: positive prior weights, length n (default uniform).

    Example:
        >>> GlobalDecision(3, prior=[5, 1, 1])(torch.empty(2, 0)).softmax(-1)[0, 0].item() > 0.7
        True
    """

    def __init__(self, num_candidates: int, prior: Optional[Sequence[float]] = None) -> None:
        super().__init__()
        if prior is not None:
            if len(prior) != num_candidates or any(not p > 0 for p in prior):
                raise ValueError(f"prior must hold {num_candidates} positive weights, got {list(prior)}")
        self.prior = None if prior is None else [float(p) for p in prior]
        self.logits = nn.Parameter(torch.zeros(num_candidates))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            if self.prior is None:
                self.logits.zero_()
            else:
                prior = torch.tensor(self.prior)
                self.logits.copy_((prior / prior.sum()).log())

    def forward(self, features: Tensor) -> Tensor:
        return self.logits.unsqueeze(0).expand(max(features.shape[0], 1), -1)


def build_decision(
    decision: Union[str, nn.Module, None],
    task: str,
    num_candidates: int,
    reads_losses: bool = False,
    hidden: int = 32,
    prior: Optional[Sequence[float]] = None,
) -> nn.Module:
    """The decision network of a learned mode, from :class:`slf.StochasticLoss`'s ``decision=`` option.

    Args:
        decision: ``'mlp'`` (or None), ``'global'``, or a module that is used as it is.
        task: the loss's task, which sets the number of output features the MLP reads.
        num_candidates: the number of candidate losses n (the output size).
        reads_losses: the MLP also reads the n candidate losses (``decision_reads_losses``).
        hidden: the MLP's hidden width.
        prior: the initial weights of ``'global'``.

    Raises:
        ValueError: an unknown ``decision``, or ``reads_losses`` with ``'global'``, which reads nothing.

    Example:
        >>> build_decision("mlp", "classification", 6)(torch.randn(4, feature_size("classification"))).shape
        torch.Size([4, 6])
    """
    if isinstance(decision, nn.Module):
        chosen: nn.Module = decision
    elif decision in (None, "mlp"):
        chosen = DecisionMLP(feature_size(task) + (num_candidates if reads_losses else 0), num_candidates, hidden)
    elif decision == "global":
        chosen = GlobalDecision(num_candidates, prior)
    else:
        raise ValueError(f"decision must be 'mlp', 'global' or an nn.Module, got {decision!r}")
    if reads_losses and isinstance(chosen, GlobalDecision):
        raise ValueError(
            "decision_reads_losses needs a decision network that reads inputs ('mlp' or a module); "
            "decision='global' reads none"
        )
    return chosen
