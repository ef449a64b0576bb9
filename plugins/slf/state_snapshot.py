"""A snapshot of training state that a rejected step restores exactly (MILS, and mmdet's MILS loop):
module tensors, optimizer state and param-group values, and torch's global RNG, copied into
buffers allocated once and refreshed in place.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn


class StateSnapshot:
    """Preallocated copies of module tensors, optimizer state and the global RNG.

    Public so that host adapters (e.g. ``slf_mmdet``'s MILS train loop) reuse it.

    ``save`` copies the live tensors into buffers allocated once (reallocated only when
    the set of live tensors changes, e.g. when an optimizer creates its state);
    ``restore`` copies them back in place and puts back the exact state dictionaries
    (entries the optimizer created after the snapshot are removed).
    """

    def __init__(self, modules: Sequence[nn.Module], optimizers: Sequence[torch.optim.Optimizer]) -> None:
        self.modules = list(modules)
        self.optimizers = list(optimizers)
        self._live: List[Tensor] = []
        self._saved: List[Tensor] = []
        self._opt_layout: List[List[Tuple[Tensor, Optional[Dict[str, Any]]]]] = []
        self._groups: List[List[Dict[str, Any]]] = []
        self._rng: Optional[Tensor] = None
        self._cuda_rng: Optional[List[Tensor]] = None
        self.allocations = 0  # how often buffers were (re)allocated

    def _collect(self) -> Tuple[List[Tensor], List[List[Tuple[Tensor, Optional[Dict[str, Any]]]]]]:
        live: List[Tensor] = []
        seen = set()
        for module in self.modules:
            for tensor in (*module.parameters(), *module.buffers()):
                if id(tensor) not in seen:
                    seen.add(id(tensor))
                    live.append(tensor)
        layout = []
        for optimizer in self.optimizers:
            entries = []
            for group in optimizer.param_groups:
                for p in group["params"]:
                    state = optimizer.state.get(p)
                    if not state:
                        entries.append((p, None))
                        continue
                    record: Dict[str, Any] = {}
                    for key, value in state.items():
                        record[key] = value
                        if torch.is_tensor(value) and id(value) not in seen:
                            seen.add(id(value))
                            live.append(value)
                    entries.append((p, record))
            layout.append(entries)
        return live, layout

    def save(self) -> None:
        live, layout = self._collect()
        same = len(live) == len(self._live) and all(
            a is b and a.shape == s.shape and a.dtype == s.dtype for a, b, s in zip(live, self._live, self._saved)
        )
        if same:
            with torch.no_grad():
                torch._foreach_copy_(self._saved, [t.detach() for t in live])
        else:
            self._saved = [t.detach().clone() for t in live]
            self.allocations += 1
        self._live = live
        # non-tensor optimizer state values (e.g. a Python step count) are kept by value
        self._opt_layout = [
            [
                (
                    p,
                    None
                    if record is None
                    else {k: (v if torch.is_tensor(v) else copy_value(v)) for k, v in record.items()},
                )
                for p, record in entries
            ]
            for entries in layout
        ]
        self._groups = [
            [{k: copy_value(v) for k, v in group.items() if k != "params"} for group in optimizer.param_groups]
            for optimizer in self.optimizers
        ]
        self._rng = torch.get_rng_state()
        self._cuda_rng = (
            torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
        )

    def restore(self) -> None:
        with torch.no_grad():
            torch._foreach_copy_([t.detach() for t in self._live], self._saved)
        for optimizer, entries, groups in zip(self.optimizers, self._opt_layout, self._groups):
            for p, record in entries:
                if record is None:
                    optimizer.state.pop(p, None)
                else:
                    state = optimizer.state[p]
                    state.clear()
                    state.update({k: (v if torch.is_tensor(v) else copy_value(v)) for k, v in record.items()})
            for group, values in zip(optimizer.param_groups, groups):
                for key, value in values.items():
                    current = group.get(key)
                    if torch.is_tensor(current) and torch.is_tensor(value) and current.shape == value.shape:
                        current.copy_(value)
                    else:
                        group[key] = copy_value(value)
        torch.set_rng_state(self._rng)
        if self._cuda_rng is not None:
            torch.cuda.set_rng_state_all(self._cuda_rng)


def copy_value(value: Any) -> Any:
    """A copy of an optimizer state or param-group value that later in-place updates do not reach."""
    if torch.is_tensor(value):
        return value.detach().clone()
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value
