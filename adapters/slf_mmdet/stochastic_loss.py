"""``type='StochasticLoss'`` in mmdet's MODELS: SLF over core and mmdet losses, mmdet's loss contract.

Candidates are core loss names (``'bce'``, ``'mse'``, ...) or any mmdet loss config
(``dict(type='FocalLoss', use_sigmoid=True)``, ``dict(type='GIoULoss')``): mmdet's own
losses are built from its registry and called with ``reduction_override='none'``,
never re-written. Each candidate gives an element-wise weighted loss map
:math:`E_i`; its per-row share of the candidate's own mmdet reduction is

.. math::

    c_{r,i} = \\frac{\\sum_{e \\in r} E_{i,e}}{D_i},\\qquad D_i = \\begin{cases}
        \\text{avg\\_factor} + \\epsilon & \\text{mean with avg\\_factor}\\\\
        |E_i| & \\text{mean}\\\\ 1 & \\text{sum}\\end{cases}

so :math:`\\sum_r c_{r,i}` is exactly what candidate i alone returns in mmdet. The
rows (all leading dimensions of ``pred``) are weighed by :meth:`slf.StochasticLoss.combine`
and the result is ``loss_weight * sum_r H_r``: with all the weight on one candidate it
equals that candidate's mmdet loss.

The default recipe (``mode='align'``) compares each candidate's gradient at the layer
that produced ``pred`` with that of the stock loss of the slot (``bce`` with
``use_sigmoid``, ``ce`` without, ``mse`` for boxes). Its reference comes from the val
dataloader through :class:`slf_mmdet.SLFHeldOutHook`; without the hook, from the previous
training batch (with a warning). A head that calls the loss once per feature level (YOLOv3)
makes one step of it per iteration: the calls share mmengine's iteration number.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import torch
from mmdet.models.losses.cross_entropy_loss import _expand_onehot_labels
from mmdet.registry import MODELS
from torch import Tensor, nn

from slf import StochasticLoss, losses
from slf.loss_options import FLAT_OPTIONS
from slf.stochastic_loss import DEFAULT_MODE, DEFAULT_VALIDATION_LOSS

CandidateSpec = Union[str, Mapping[str, Any]]
REDUCTIONS = ("none", "mean", "sum")
# StochasticLoss options this adapter fixes itself (the task from use_sigmoid, mmdet's reduction).
_FIXED = {
    "self",
    "candidates",
    "task",
    "reduction",
    "fused",
    "compile",
    "validation_loss",
    "lookahead",
    "lookahead_lr",
    "validation_interval",
    "decision_lr",
    "from_logits",
    "candidate_kwargs",
    "hypergradient",
    "decision_reads_losses",
    "held_out",
    "last_layer",
    "learner",
    "options",
}
MODES = ("align", "joint", "softmax")
SLF_OPTIONS = tuple(
    name for name in (*inspect.signature(StochasticLoss.__init__).parameters, *FLAT_OPTIONS) if name not in _FIXED
)


def _apply_weight(loss_map: Tensor, weight: Optional[Tensor]) -> Tensor:
    """Element-wise weight, accepting mmdet's per-row weights ``(N,)`` for ``(N, C)`` maps."""
    if weight is None:
        return loss_map
    if weight.dim() == loss_map.dim() - 1 and weight.shape == loss_map.shape[:-1]:
        weight = weight.unsqueeze(-1)
    return loss_map * weight.to(loss_map.dtype)


class _CoreCandidate(nn.Module):
    """A core ``slf.losses`` loss giving mmdet-style element-wise maps."""

    reduction = "none"
    input_kind = "logits"

    def __init__(self, name: str, task: str, **kwargs: Any) -> None:
        super().__init__()
        if task == "binary":
            kwargs.setdefault("from_logits", True)
        self.loss = losses.build(name, task=task, reduction="none", **kwargs)
        self.registry_name = name
        self.task = task
        self.minimum = getattr(self.loss, "minimum", 0.0)

    def forward(self, pred: Tensor, target: Tensor, weight: Optional[Tensor] = None) -> Tensor:
        if self.task == "classification":
            flat = self.loss.per_sample(pred.reshape(-1, pred.shape[-1]), target.reshape(-1).long())
            return _apply_weight(flat.reshape(pred.shape[:-1]), weight)
        if self.task == "binary" and target.shape != pred.shape:
            if target.shape != pred.shape[:-1] or target.dtype.is_floating_point:
                raise ValueError(
                    f"sigmoid StochasticLoss: target must have pred's shape {tuple(pred.shape)} or be "
                    f"class indices of shape {tuple(pred.shape[:-1])}, got {tuple(target.shape)} "
                    f"{target.dtype}"
                )
            # Index targets (background = num_classes) become one-hot rows, as mmdet's own sigmoid losses do.
            flat_weight = None if weight is None else weight.reshape(-1)
            target, weight, _ = _expand_onehot_labels(target.reshape(-1), flat_weight, pred.shape[-1], -100)
            target = target.reshape(pred.shape)
            weight = weight.reshape(pred.shape)
        # One element per row, so element-wise weights apply before any reduction.
        flat = self.loss.per_sample(pred.reshape(-1, 1), target.reshape(-1, 1).to(pred.dtype))
        return _apply_weight(flat.reshape(pred.shape), weight)


class _HostCandidate(nn.Module):
    """An mmdet loss built from its config, called with ``reduction_override='none'``.

    Many mmdet losses (``FocalLoss``, ``QualityFocalLoss``, ...) take 2-D predictions only,
    while dense heads such as ``YOLOV3Head`` pass :math:`(B, P, C)` maps: predictions of more
    than two dimensions reach the loss as :math:`(R, C)` rows, with targets and weights
    flattened alike, and its element-wise map is folded back to ``pred``'s leading shape.
    """

    reduction = "none"
    input_kind = "logits"
    minimum = 0.0

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        super().__init__()
        cfg = dict(cfg)
        self.registry_name = cfg.pop("name", None) or str(cfg["type"])
        self.loss = MODELS.build(cfg)

    def forward(self, pred: Tensor, target: Tensor, weight: Optional[Tensor] = None) -> Tensor:
        if pred.dim() <= 2:
            return self.loss(pred, target, weight=weight, reduction_override="none")
        leading = pred.shape[:-1]
        loss_map = self.loss(
            pred.reshape(-1, pred.shape[-1]),
            _as_rows(target, leading, "target"),
            weight=None if weight is None else _as_rows(weight, leading, "weight"),
            reduction_override="none",
        )
        if loss_map.dim() == 0:
            return loss_map
        return loss_map.reshape(*leading, *loss_map.shape[1:])


def _as_rows(tensor: Tensor, leading: torch.Size, what: str) -> Tensor:
    """``tensor`` of shape ``(*leading, k)``, ``(*leading)`` or broadcastable to the first, as rows."""
    rows = int(math.prod(leading))
    if tensor.shape == leading:
        return tensor.reshape(rows)
    if tensor.dim() == len(leading) + 1:
        try:
            return tensor.expand(*leading, tensor.shape[-1]).reshape(rows, tensor.shape[-1])
        except RuntimeError:
            pass
    raise ValueError(
        f"{what} of shape {tuple(tensor.shape)} does not match predictions with leading shape "
        f"{tuple(leading)}: it must be {tuple(leading)} or {tuple(leading)} + (k,)"
    )


def mmengine_iteration() -> Optional[int]:
    """The training iteration mmengine's runner is in (``None`` outside its training loop): the
    calls of one iteration, one per feature level in YOLOv3, form one step of the loss."""
    from mmengine.logging import MessageHub

    hub = MessageHub.get_current_instance()
    # RuntimeInfoHook sets the stage for the training loop only and removes it after.
    return hub.get_info("iter") if hub.get_info("loop_stage") == "train" else None


@MODELS.register_module(name="StochasticLoss")
class MMDetStochasticLoss(nn.Module):
    r"""SLF as an mmdet loss: learned, sampled weighting of candidate losses.

    Args:
        candidates: core loss names (``slf.losses.available(task)``) and/or mmdet loss
            configs (``dict(type='FocalLoss', ...)``; an optional ``name`` key sets the
            name shown in logs).
        use_sigmoid: sigmoid form (per-class binary losses; targets are one-hot maps or
            class indices with ``num_classes`` as background) or softmax form (class indices).
        task: ``None`` (``'binary'`` with sigmoid, else ``'classification'``) or
            ``'regression'`` for box losses (``pred`` and ``target`` of one shape).
        reduction: ``'mean'``, ``'sum'`` or ``'none'``, as mmdet's losses.
        loss_weight: multiplies the result.
        candidate_kwargs: extra arguments for core candidates by name, e.g. ``{'huber': {'delta': 2.0}}``.
        **slf_options: :class:`slf.StochasticLoss` options (``SLF_OPTIONS``): ``mode``
            (``'align'``, the default recipe; ``'joint'``, the paper's Algorithm 1, which
            collapses; or ``'softmax'``), ``alignment``, ``prior``, and for the learned modes
            ``num_samples``, ``tau``, ``decision``, ``normalize``, ``seed``, ...

    Shape:
        - pred: :math:`(*, C)` logits (or boxes with ``task='regression'``).
        - target: ``pred``'s shape, or :math:`(*)` class indices.
        - weight: broadcastable to the element-wise map, or :math:`(*)` per row.
        - result: scalar; with ``reduction='none'`` the element-wise mixture when all
          candidates give maps of one shape, else one value per row :math:`(R,)`.

    Example:
        >>> from mmdet.registry import MODELS
        >>> from mmengine.registry import init_default_scope
        >>> init_default_scope('mmdet')  # as mmdet's tools do from the config
        >>> import slf_mmdet  # registers StochasticLoss
        >>> loss = MODELS.build(dict(type='StochasticLoss', use_sigmoid=True, seed=0,
        ...                          candidates=['bce', dict(type='FocalLoss', use_sigmoid=True)]))
        >>> value = loss(torch.randn(6, 3), torch.randint(0, 4, (6,)), avg_factor=4.0)
        >>> value.dim(), loss.candidate_names
        (0, ['bce', 'FocalLoss'])
    """

    def __init__(
        self,
        candidates: Sequence[CandidateSpec] = ("bce", "mse"),
        use_sigmoid: bool = True,
        task: Optional[str] = None,
        reduction: str = "mean",
        loss_weight: float = 1.0,
        candidate_kwargs: Optional[Mapping[str, Mapping[str, Any]]] = None,
        **slf_options: Any,
    ) -> None:
        super().__init__()
        unknown = sorted(set(slf_options) - set(SLF_OPTIONS))
        if unknown:
            raise ValueError(
                f"StochasticLoss got unknown option(s) {unknown}; valid: candidates, use_sigmoid, task, "
                f"reduction, loss_weight, candidate_kwargs, {', '.join(SLF_OPTIONS)}"
            )
        mode = slf_options.get("mode", DEFAULT_MODE)
        if mode not in MODES:
            raise ValueError(
                f"mode must be one of {list(MODES)} inside an mmdet model, got {mode!r} (validation mode "
                "needs a look-ahead step that mmdet's loop does not take; 'align' takes its held-out "
                "data from SLFHeldOutHook)"
            )
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {list(REDUCTIONS)}, got {reduction!r}")
        task = task or ("binary" if use_sigmoid else "classification")
        if task not in ("binary", "classification", "regression"):
            raise ValueError(f"task must be None, 'binary', 'classification' or 'regression', got {task!r}")
        if not candidates:
            raise ValueError(
                f"candidates must hold at least one loss: names from {losses.available(task)} "
                "or mmdet loss configs like dict(type='FocalLoss')"
            )
        kwargs = {name: dict(value) for name, value in (candidate_kwargs or {}).items()}
        modules: List[nn.Module] = []
        for spec in candidates:
            if isinstance(spec, str):
                modules.append(_CoreCandidate(spec, task, **kwargs.pop(spec, {})))
            elif isinstance(spec, Mapping) and "type" in spec:
                modules.append(_HostCandidate(spec))
            else:
                raise TypeError(
                    f"a candidate is a core loss name ({losses.available(task)}) or an mmdet loss config "
                    f"dict with 'type', got {spec!r}"
                )
        if kwargs:
            raise ValueError(f"candidate_kwargs names {sorted(kwargs)} that are not core candidates")
        self.use_sigmoid = use_sigmoid
        self.task = task
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.slf = StochasticLoss(candidates=modules, task=task, reduction="none", **slf_options)
        self.reference = _CoreCandidate(DEFAULT_VALIDATION_LOSS[task], task) if self.slf.mode == "align" else None
        if self.reference is not None:
            self.slf.step_key = mmengine_iteration

    @property
    def candidate_names(self) -> List[str]:
        return self.slf.candidate_names

    @property
    def weights(self) -> Tensor:
        """Mean selection weight per candidate in the last training call."""
        return self.slf.weights

    def stats(self) -> Dict[str, float]:
        """The core loss's logger scalars (weights, selection frequency, tau)."""
        return self.slf.stats()

    def forward(
        self,
        pred: Tensor,
        target: Tensor,
        weight: Optional[Tensor] = None,
        avg_factor: Optional[float] = None,
        reduction_override: Optional[str] = None,
        **kwargs: Any,
    ) -> Tensor:
        if reduction_override not in (None,) + REDUCTIONS:
            raise ValueError(
                f"reduction_override must be None or one of {list(REDUCTIONS)}, got {reduction_override!r}"
            )
        reduction = reduction_override or self.reduction
        if avg_factor is not None and reduction == "sum":
            raise ValueError('avg_factor can not be used with reduction="sum"')
        if pred.numel() == 0:
            # mmdet's convention: a zero that keeps the graph (no candidate is called).
            empty = pred.sum(dim=-1) * 0 if self.task == "classification" else pred * 0
            return empty if reduction == "none" else pred.sum() * 0
        maps = [candidate(pred, target, weight) for candidate in self.slf.candidates]
        rows = int(math.prod(pred.shape[:-1])) if pred.dim() > 1 else pred.shape[0]
        columns = [
            self._row_share(name, loss_map, rows, reduction, avg_factor)
            for name, loss_map in zip(self.candidate_names, maps)
        ]
        if self.reference is not None:
            reference = self._row_share("reference", self.reference(pred, target, weight), rows, reduction, avg_factor)
            per_row, weights = self.slf.combine(columns, pred, reference=reference)
            if self.slf.in_reference_pass:
                return self.loss_weight * (per_row if reduction == "none" else per_row.sum())
        else:
            # The decision network reads pred row by row: (R, C) logits, or (R, 4) boxes.
            per_row, weights = self.slf.combine(columns, pred.reshape(rows, -1))
        if reduction != "none":
            return self.loss_weight * per_row.sum()
        if all(loss_map.shape == maps[0].shape for loss_map in maps) and maps[0].numel() % rows == 0:
            mixture = sum(
                self._scaled(i, loss_map).reshape(rows, -1) * weights[:, i : i + 1].to(loss_map.dtype)
                for i, loss_map in enumerate(maps)
                if bool(weights[:, i].detach().abs().sum() > 0)
            )
            return self.loss_weight * mixture.reshape(maps[0].shape)
        return self.loss_weight * per_row

    def _scaled(self, index: int, loss_map: Tensor) -> Tensor:
        if self.slf.normalize is None:
            return loss_map
        return (loss_map - self.slf.loss_floor[index]) / self.slf.loss_scale[index]

    @staticmethod
    def _row_share(name: str, loss_map: Tensor, rows: int, reduction: str, avg_factor: Optional[float]) -> Tensor:
        """Per-row share c_{r,i} of the candidate's own mmdet reduction (see the module docs)."""
        if loss_map.numel() == 1 and rows != 1:
            # e.g. mmdet's IoU losses return a 0-dim zero when every weight is zero.
            per_row = loss_map.reshape(1).expand(rows) / rows
            elements = rows
        elif loss_map.numel() % rows == 0:
            per_row = loss_map.reshape(rows, -1).sum(dim=1)
            elements = loss_map.numel()
        else:
            raise ValueError(
                f"candidate {name!r} returned an unreduced loss of shape {tuple(loss_map.shape)}, which "
                f"does not split into the {rows} rows of pred"
            )
        if reduction == "mean":
            if avg_factor is not None:
                return per_row / (avg_factor + torch.finfo(torch.float32).eps)
            return per_row / elements
        return per_row
