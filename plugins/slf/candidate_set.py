"""The candidate losses of an SLF: built from names or modules, evaluated per sample, masked when not finite.

For an output :math:`f(x)` and targets :math:`y` of a batch of N samples, the set gives the matrix

.. math::

    L_{bi} = \\ell_i(f(x_b), y_b), \\qquad b = 1..N,\\ i = 1..n

and, when a column is not finite for a batch, the indices of the finite ones: the SLF weighs
those alone (their weights renormalised to sum to 1) and counts the others.
"""

from __future__ import annotations

import warnings
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from . import losses as loss_registry
from .fused import FUSABLE, fused_classification_losses

Candidate = Union[str, nn.Module]


def registry_name(loss: Candidate) -> Optional[str]:
    """The registry name of a candidate (a name, or a module built from the registry), else None."""
    return loss if isinstance(loss, str) else getattr(loss, "registry_name", None)


def build_candidate(
    candidate: Candidate, task: str, from_logits: bool = True, kwargs: Optional[Mapping[str, Any]] = None
) -> Tuple[str, nn.Module]:
    """``(name, module)`` of a per-sample loss for ``task``, from a registry name or a module.

    Example:
        >>> build_candidate("mse", "classification")[0]
        'mse'
    """
    options = dict(kwargs or {})
    if isinstance(candidate, str):
        if getattr(loss_registry.resolve(candidate, task), "learns_online", False):
            raise ValueError(
                f"candidate {candidate!r} learns its own parameters online (its trainer calls its meta_step); "
                "it cannot be an SLF candidate: train with it alone"
            )
        if task == "binary":
            options.setdefault("from_logits", from_logits)
        module = loss_registry.build(candidate, task=task, reduction="none", **options)
        name = candidate
    elif isinstance(candidate, nn.Module):
        module = candidate
        name = getattr(candidate, "registry_name", None) or type(candidate).__name__
        declared = getattr(candidate, "task", None)
        if declared is not None and declared != task:
            raise ValueError(f"candidate {name!r} is a {declared!r} loss; this StochasticLoss has task {task!r}")
        if getattr(candidate, "reduction", "none") != "none":
            raise ValueError(f"candidate {name!r} must return per-sample losses: build it with reduction='none'")
    else:
        raise TypeError(f"a candidate must be a loss name or an nn.Module, got {type(candidate).__name__}")
    if getattr(module, "input_kind", "logits") != "logits":
        raise ValueError(
            f"candidate {name!r} reads penultimate features, not the model output; it cannot be an SLF candidate"
        )
    return name, module


def renormalize_kept(weights: Tensor, keep: List[int]) -> Tuple[Tensor, Tensor]:
    """Weights of the kept candidates, summing to 1 (uniform where they sum to ~0), and the full
    vector to record (zero for the masked ones).

    Example:
        >>> kept, recorded = renormalize_kept(torch.tensor([[0.2, 0.5, 0.3]]), [0, 2])
        >>> kept.tolist(), recorded.tolist()
        ([[0.4000000059604645, 0.6000000238418579]], [[0.4000000059604645, 0.0, 0.6000000238418579]])
    """
    kept = weights[:, keep]
    total = kept.sum(dim=1, keepdim=True)
    uniform = torch.full_like(kept, 1.0 / len(keep))
    kept = torch.where(total > 1e-6, kept / total.clamp_min(1e-6), uniform)
    index = torch.tensor(keep, device=weights.device)
    recorded = torch.zeros_like(weights).index_copy(1, index, kept.detach())
    return kept, recorded


class CandidateSet(nn.ModuleList):
    """The candidates of one SLF, in order: ``set[i]`` is the module of ``set.names[i]``.

    Args:
        candidates: registry names (``slf.losses.available(task)``) or modules mapping
            ``(output, target)`` to per-sample losses ``(N,)``.
        task: ``'classification'``, ``'binary'`` or ``'regression'``.
        from_logits: binary task: the output holds logits (True) or probabilities.
        candidate_kwargs: extra arguments per candidate name, e.g. ``{'huber': {'delta': 2}}``.
        fused: evaluate the paper's classification candidates in one autograd node
            (:mod:`slf.fused`) when every candidate is such a name without arguments.

    Example:
        >>> pool = CandidateSet(["ce", "mae"], "classification")
        >>> pool.values(torch.randn(4, 3), torch.tensor([0, 1, 2, 0])).shape
        torch.Size([4, 2])
    """

    def __init__(
        self,
        candidates: Sequence[Candidate],
        task: str,
        from_logits: bool = True,
        candidate_kwargs: Optional[Mapping[str, Mapping[str, Any]]] = None,
        fused: bool = True,
    ) -> None:
        if not candidates:
            raise ValueError(f"candidates must hold at least one loss; valid names: {loss_registry.available(task)}")
        kwargs: Dict[str, Dict[str, Any]] = {name: dict(value) for name, value in (candidate_kwargs or {}).items()}
        names: List[str] = []
        modules = []
        fusable = (
            fused
            and task == "classification"
            and not kwargs
            and all(isinstance(c, str) and c in FUSABLE for c in candidates)
        )
        for candidate in candidates:
            name, module = build_candidate(
                candidate, task, from_logits, kwargs.pop(candidate, {}) if isinstance(candidate, str) else {}
            )
            if name in names:
                raise ValueError(f"candidate {name!r} appears twice")
            names.append(name)
            modules.append(module)
        if kwargs:
            raise ValueError(f"candidate_kwargs names {sorted(kwargs)} that are not candidates {names}")
        super().__init__(modules)
        self.names = names
        self.task = task
        self.fused = fusable
        self.register_buffer("nonfinite_counts", torch.zeros(len(modules), dtype=torch.long))

    @property
    def floors(self) -> List[Optional[float]]:
        """Each candidate's lower bound (its ``minimum``; None where it declares none)."""
        return [getattr(module, "minimum", 0.0) for module in self]

    def columns(self, output: Tensor, target: Tensor) -> List[Tensor]:
        """Per-sample loss of every candidate, one ``(N,)`` tensor each."""
        return [self.column(i, output, target) for i in range(len(self))]

    def column(self, index: int, output: Tensor, target: Tensor) -> Tensor:
        """Per-sample loss ``(N,)`` of candidate ``index`` alone."""
        module = self[index]
        per_sample = module.per_sample if isinstance(module, loss_registry.BaseLoss) else module
        value = per_sample(output, target)
        if value.shape != (output.shape[0],):
            raise ValueError(
                f"candidate {self.names[index]!r} returned shape {tuple(value.shape)}; expected per-sample losses "
                f"({output.shape[0]},) (build it with reduction='none')"
            )
        return value

    def values(self, output: Tensor, target: Tensor) -> Tensor:
        """The loss matrix ``(N, n)``, fused into one node where :attr:`fused`."""
        if self.fused:
            return fused_classification_losses(output, target, self.names)
        return torch.stack(self.columns(output, target), dim=1)

    def check_columns(self, columns: Sequence[Optional[Tensor]], stock: Optional[int] = None) -> None:
        """Check the per-row losses a host hands :meth:`slf.StochasticLoss.combine`: one 1-D column per candidate,
        all of one length; ``None`` in place of every column but ``stock``'s is allowed while the weights are
        held on the stock loss (``stock`` is its index then, else None).

        Raises:
            ValueError: naming the count, the missing columns or the column of the wrong shape.
        """
        if len(columns) != len(self):
            raise ValueError(f"combine() got {len(columns)} columns for {len(self)} candidates {self.names}")
        missing = [name for name, column in zip(self.names, columns) if column is None]
        if missing and not (stock is not None and columns[stock] is not None):
            raise ValueError(
                f"combine() got None for the columns of {missing}: only while holds_stock is True "
                f"(align mode, the weights all on the stock loss) may a host leave out the columns "
                f"other than the stock loss's"
            )
        present = [column for column in columns if column is not None]
        rows = present[0].shape[0] if present[0].dim() == 1 else -1
        for name, column in zip(self.names, columns):
            if column is not None and (column.dim() != 1 or column.shape[0] != rows):
                raise ValueError(
                    f"combine(): candidate {name!r} column has shape {tuple(column.shape)}; every "
                    f"column must be 1-D with the same length ({tuple(present[0].shape)})"
                )

    def finite(self, column_sums: Tensor, stacklevel: int = 4) -> Optional[List[int]]:
        """Indices of the candidates whose batch sums are finite, or None when all are.

        A masked candidate is counted in ``nonfinite_counts`` and named in a ``RuntimeWarning``;
        when none is finite the batch cannot be weighed (``FloatingPointError``).
        """
        finite = torch.isfinite(column_sums).tolist()
        if all(finite):
            return None
        bad = [name for name, ok in zip(self.names, finite) if not ok]
        if not any(finite):
            raise FloatingPointError(f"every candidate loss is NaN/Inf for this batch ({bad}); check the model output")
        for i, ok in enumerate(finite):
            if not ok:
                self.nonfinite_counts[i] += 1
        warnings.warn(
            f"StochasticLoss: candidate(s) {bad} returned NaN/Inf; masked out for this batch",
            RuntimeWarning,
            stacklevel=stacklevel,
        )
        return [i for i, ok in enumerate(finite) if ok]
