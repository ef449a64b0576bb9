"""What every learned weighting of a multi-part loss shares: named parts, their configured weights, the record.

A multi-part loss (YOLO's classification, objectness and box terms) is computed by its host
with configured weights :math:`w_i`; a weighting replaces them by learned ones,

.. math::

    L = \\sum_i \\lambda_i \\frac{P_i}{w_i}, \\qquad \\lambda^{(0)} = w,

where :math:`P_i` is part i as the host computes it (so :math:`P_i / w_i` is the unweighted
part). SLF's :class:`slf.LossPartWeighting` and the peers of :mod:`slf.part_weightings`
(uncertainty weighting, GradNorm, DWA) are all such weightings: they take the parts as a
mapping ``{name: value}`` and give back the weighted parts under the same names, whose sum
is the loss, and they show :attr:`PartWeighting.lambdas` to a logger.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence, Union

import torch
from torch import Tensor, nn

from .checkpoint_state import decode_state, encode_state
from .selection_record import SelectionRecord


class PartWeighting(nn.Module):
    r"""The named parts, their configured weights :math:`w` and their total :math:`S = \sum_i w_i`.

    Args:
        parts: part names, distinct, at least one.
        prior_weights: the configured weight :math:`w_i > 0` of each part.

    A subclass gives :attr:`lambdas`, :attr:`mean_lambdas`, :attr:`history` and ``forward``.

    Example:
        >>> PartWeighting(["cls", "xy"], [1.0, 2.0]).total
        3.0
    """

    def __init__(self, parts: Sequence[str], prior_weights: Sequence[float]) -> None:
        super().__init__()
        parts = list(parts)
        if len(set(parts)) != len(parts) or not parts:
            raise ValueError(f"parts must be distinct names, at least one, got {parts}")
        if len(prior_weights) != len(parts):
            raise ValueError(f"prior_weights needs one weight per part {parts}, got {list(prior_weights)}")
        if any(not float(w) > 0 for w in prior_weights):
            raise ValueError(
                f"every prior weight must be > 0 (a part with weight 0 cannot be learned; drop it "
                f"instead), got {dict(zip(parts, prior_weights))}"
            )
        self.part_names: List[str] = parts
        self.register_buffer("prior_weights", torch.tensor([float(w) for w in prior_weights]))
        self.total = float(self.prior_weights.sum())

    def unweighted(self, parts: Mapping[str, Tensor], scalars: bool = False) -> List[Tensor]:
        """The parts :math:`P_i / w_i` in :attr:`part_names` order, flattened; a missing or unknown name is
        refused, and with ``scalars`` a part that is not one number."""
        missing = [name for name in self.part_names if name not in parts]
        extra = [name for name in parts if name not in self.part_names]
        if missing or extra:
            raise ValueError(
                f"{type(self).__name__} expects parts {self.part_names}; missing {missing}, unexpected {extra}"
            )
        shapes = {name: tuple(parts[name].shape) for name in self.part_names if parts[name].numel() != 1}
        if scalars and shapes:
            raise ValueError(
                f"{type(self).__name__} weighs whole parts: each must be one number (reduce it first), "
                f"got shapes {shapes}"
            )
        values = [parts[name].reshape(-1) for name in self.part_names]
        return [value / weight for value, weight in zip(values, self.prior_weights.to(values[0].dtype))]

    @property
    def lambdas(self) -> Tensor:
        r"""The part weights :math:`\lambda` of the last training step, shape ``(n,)``."""
        raise NotImplementedError

    @property
    def mean_lambdas(self) -> Tensor:
        r""":math:`\lambda` averaged over the training steps so far, shape ``(n,)``."""
        raise NotImplementedError

    @property
    def history(self) -> List[Dict[str, Any]]:
        """Rows ``{'step', 'weights' (lambda / S, summing to 1), 'tau'}``."""
        raise NotImplementedError

    def stats(self) -> Dict[str, float]:
        """Scalars for a logger: ``lambda/<part>`` (last step) and ``mean_lambda/<part>``."""
        out: Dict[str, float] = {}
        last, mean = self.lambdas, self.mean_lambdas
        for i, name in enumerate(self.part_names):
            out[f"lambda/{name}"] = float(last[i])
            out[f"mean_lambda/{name}"] = float(mean[i])
        return out

    def extra_repr(self) -> str:
        return f"parts={self.part_names}, prior_weights={self.prior_weights.tolist()}"


class RecordedPartWeighting(PartWeighting):
    """A :class:`PartWeighting` that records its own :math:`\\lambda / S` each training step.

    Args:
        parts, prior_weights: as :class:`PartWeighting`.
        history_interval: a :attr:`history` row every this many steps.

    Its step, history and whatever a subclass adds to :meth:`plain_state` travel in the
    ``state_dict`` as one byte tensor (``_extra_state``), as :class:`slf.StochasticLoss`'s do.
    """

    def __init__(self, parts: Sequence[str], prior_weights: Sequence[float], history_interval: int = 10) -> None:
        super().__init__(parts, prior_weights)
        self.record = SelectionRecord(len(self.part_names), history_interval)

    @property
    def step(self) -> int:
        """Training steps taken (forward passes in training mode with gradients on)."""
        return self.record.step

    def recording(self, reference: Tensor) -> bool:
        """Whether a forward pass is a training step: the module trains and ``reference`` needs a gradient."""
        return self.training and torch.is_grad_enabled() and reference.requires_grad

    def record_step(self, lambdas: Tensor) -> None:
        """Count one training step's :math:`\\lambda`."""
        self.record.add((lambdas.detach().float() / self.total).reshape(1, -1), tau=0.0)

    @property
    def lambdas(self) -> Tensor:
        if self.step == 0:
            return self.start_lambdas()
        return self.record.last_weights * self.total

    @property
    def mean_lambdas(self) -> Tensor:
        if self.step == 0:
            return self.start_lambdas()
        return self.record.mean_weights * self.total

    @property
    def history(self) -> List[Dict[str, Any]]:
        return self.record.history

    def start_lambdas(self) -> Tensor:
        """:math:`\\lambda` before the first training step (the configured weights unless a subclass says otherwise)."""
        return self.prior_weights.detach().float().cpu().clone()

    def plain_state(self) -> Dict[str, Any]:
        """The state outside parameters and buffers; a subclass adds its own keys."""
        return self.record.extra_state()

    def load_plain_state(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`plain_state` returned."""
        self.record.load_extra_state(dict(state))

    def get_extra_state(self) -> Tensor:
        return encode_state(self.plain_state())

    def set_extra_state(self, state: Union[Tensor, Mapping[str, Any]]) -> None:
        self.load_plain_state(decode_state(state))
