"""How a :class:`slf.StochasticLoss` writes and reads its checkpoints.

Parameters and buffers travel in the ``state_dict`` as usual; the rest (step, history, the
Gumbel generator, the validation mode's optimizer) is serialised into one byte tensor, the
``_extra_state`` entry, so the ``state_dict`` holds tensors only (mmengine broadcasts every
entry at distributed start-up). Checkpoints of version 1, whose buffers sat on the loss
itself, load after their keys are moved to the parts; a checkpoint of the other kind of mode
is refused with the loss to build instead.
"""

from __future__ import annotations

import io
from typing import Any, Dict, Mapping, Union

import torch
from torch import Tensor

from .align_learner import AlignmentLearner
from .lookahead_learner import LookaheadLearner

# Where each buffer of a version-1 checkpoint lives now.
BUFFERS_BEFORE_PARTS = {
    "loss_floor": "normalization.loss_floor",
    "loss_scale": "normalization.loss_scale",
    "scale_initialized": "normalization.scale_initialized",
    "weight_sum": "record.weight_sum",
    "selection_counts": "record.selection_counts",
    "nonfinite_counts": "candidates.nonfinite_counts",
}


def encode_state(state: Mapping[str, Any]) -> Tensor:
    """A plain state dict as one byte tensor, the form of a ``state_dict``'s ``_extra_state`` entry here."""
    buffer = io.BytesIO()
    torch.save(dict(state), buffer)
    return torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8)


def decode_state(state: Union[Tensor, Mapping[str, Any]]) -> Dict[str, Any]:
    """The plain dict that :func:`encode_state` wrote (a mapping, as older checkpoints hold, is returned as is)."""
    if isinstance(state, Mapping):
        return dict(state)
    return torch.load(io.BytesIO(state.cpu().numpy().tobytes()), weights_only=True)


class CheckpointStateMethods:
    """The state-dict hooks of a :class:`slf.StochasticLoss` (mixed in before ``nn.Module``)."""

    learner: Any
    mode: str

    def get_extra_state(self) -> Tensor:
        """The state outside parameters and buffers (step, history, Gumbel generator, v's
        optimizer), serialised into one byte tensor, so the ``state_dict`` holds tensors only
        (mmengine broadcasts every entry at distributed start-up). :meth:`read_extra_state`
        decodes it."""
        return encode_state(self._plain_extra_state())

    @staticmethod
    def read_extra_state(state: Union[Tensor, Mapping[str, Any]]) -> Dict[str, Any]:
        """The plain dict (``step``, ``history``, ...) of a checkpoint's ``<prefix>._extra_state``.

        Example:
            >>> from slf import StochasticLoss
            >>> crit = StochasticLoss(["ce", "mse"], seed=0)
            >>> StochasticLoss.read_extra_state(crit.state_dict()["_extra_state"])["step"]
            0
        """
        return decode_state(state)  # a mapping: written before the state was serialised

    def _plain_extra_state(self) -> Dict[str, Any]:
        state: Dict[str, Any] = {
            **self.record.extra_state(),
            "generator": self.sampler.generator.get_state(),
            "checked_inputs": self._checked_inputs,
            "reference_source": self.reference_source,
        }
        if isinstance(self.learner, AlignmentLearner):
            state["noise_seen"] = self.learner.alignment.noise_seen
        if isinstance(self.learner, LookaheadLearner):
            state["decision_optimizer"] = self.learner.optimizer.state_dict()
        return state

    def _load_from_state_dict(
        self, state_dict: Dict[str, Any], prefix: str, local_metadata: Dict[str, Any], *args: Any, **kwargs: Any
    ) -> None:
        if (local_metadata.get("version") or 1) < 2:
            # Before version 2 the parts' buffers sat on the loss itself.
            for old, new in BUFFERS_BEFORE_PARTS.items():
                if prefix + old in state_dict:
                    state_dict[prefix + new] = state_dict.pop(prefix + old)
        # A checkpoint of the other kind (a learned decision network, or align mode's scores)
        # would otherwise fail on a list of key names; say what to build instead.
        decision_keys = [key[len(prefix) :] for key in state_dict if key.startswith(prefix + "decision.")]
        written_by_align = any(key == "decision.scores" for key in decision_keys)
        if decision_keys and written_by_align != (self.mode == "align"):
            written = (
                "mode='align' (the default recipe)"
                if written_by_align
                else "a learned decision network (mode='joint', 'softmax' or 'validation'; before version 0.2 the "
                "default mode was 'joint')"
            )
            build = (
                "StochasticLoss(..., mode='align')"
                if written_by_align
                else "StochasticLoss(..., mode='joint') (or the mode it was trained with), with the same options,"
            )
            raise RuntimeError(
                f"this StochasticLoss checkpoint was written by {written}; this loss has "
                f"mode={self.mode!r}. Build {build} to load it."
            )
        super()._load_from_state_dict(state_dict, prefix, local_metadata, *args, **kwargs)

    def set_extra_state(self, state: Union[Tensor, Mapping[str, Any]]) -> None:
        state = self.read_extra_state(state)
        self.record.load_extra_state(state)
        self.sampler.generator.set_state(state["generator"])
        self._checked_inputs = bool(state.get("checked_inputs", False))
        if isinstance(self.learner, AlignmentLearner):
            self.learner.reference_source = str(state.get("reference_source", "none"))
            self.learner.alignment.noise_seen = bool(state.get("noise_seen", False))
        if isinstance(self.learner, LookaheadLearner) and "decision_optimizer" in state:
            self.learner.optimizer.load_state_dict(state["decision_optimizer"])
