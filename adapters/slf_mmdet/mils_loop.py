"""MILS (Multiple Independent Losses Scheduling) as an mmengine training loop.

``MILSEpochBasedTrainLoop`` is a drop-in replacement for mmengine's
``EpochBasedTrainLoop``, registered in mmengine's ``LOOPS``::

    custom_imports = dict(imports=['slf_mmdet'], allow_failed_imports=False)
    train_cfg = dict(type='MILSEpochBasedTrainLoop', max_epochs=12, val_interval=1,
                     rate=0.1, rule='not_worse', observation_batches=1, seed=0,
                     auxiliaries=[dict(name='focal', replace={
                         'bbox_head.loss_cls': dict(type='FocalLoss', use_sigmoid=True)})])

At every iteration, with probability ``rate`` (drawn from the loop's own
``torch.Generator`` seeded by ``seed``, so the global RNG is untouched), the loop makes
an **auxiliary attempt**:

1. pick one auxiliary (uniformly, or by the optional ``weight`` of each entry);
2. snapshot the model (parameters and buffers, BatchNorm statistics included), every
   optimizer behind ``runner.optim_wrapper`` (state and param-group values), the
   gradients, the optim wrappers' accumulation counters and AMP loss-scaler state, and
   the global RNGs (torch, CUDA, Python ``random``, NumPy) -- with the core's
   :class:`slf.state_snapshot.StateSnapshot`;
3. measure the observation loss ``L0`` (see below);
4. swap the auxiliary's loss modules into the model (each key of ``replace`` is a dotted
   submodule path such as ``'bbox_head.loss_cls'``; each value is a loss config built
   with mmengine's ``MODELS`` registry -- the runner's ``default_scope``, e.g. ``mmdet``,
   applies, or use a scoped type such as ``'mmdet.FocalLoss'``; an ``nn.Module`` is taken
   as is), run the ordinary ``runner.model.train_step(data_batch, optim_wrapper)``, and
   put the original loss modules back;
5. measure ``L1``; keep the update if the rule holds, else restore the snapshot and run
   the ordinary primary ``train_step`` on the same batch.

A rejected attempt therefore leaves the model, the optimizer state and the RNGs exactly
as if the primary step had been taken directly, and ``rate=0`` is the stock loop
(``run_iter`` defers to ``EpochBasedTrainLoop.run_iter``).

**Observation metric.** For a generic mmengine model accuracy is not defined, so the
metric is the model's *primary total loss* on the observation batches: the first
``observation_batches * batch_size`` samples of the train dataset, loaded through its
pipeline and collated with the dataloader's ``collate_fn`` when training starts. The
copy never iterates the dataloader (a batch sampler such as mmdet's
``AspectRatioBatchSampler`` would keep the unused rest of a partial pass and add it to
the first epoch), and it is taken with the global RNGs forked, so it does not shift the
training randomness. Each batch goes through ``model.data_preprocessor(batch, True)``,
``model(**data, mode='loss')`` and ``model.parse_losses``; the values are summed.
**Lower is better**: ``'not_worse'`` accepts ``L1 <= L0``, ``'better'`` accepts
``L1 < L0``, ``'always'`` accepts every attempt without measuring (the paper's ablation)
and a callable ``rule(L0, L1) -> bool`` decides itself. The measurement runs under
``torch.no_grad`` in **eval mode** (BatchNorm uses, and does not update, its running
statistics; dropout is off) with the global RNGs forked and re-seeded with ``seed``, so
both measurements see the same random batch augmentations and an accepted attempt leaves
no trace of the measurements in the BatchNorm statistics or the RNG streams.

**Statistics.** ``mils_stats()`` returns attempts and acceptances per auxiliary and the
seconds spent on MILS's own work (snapshots, measurements, restores, rejected updates).
Each iteration pushes ``train/mils_attempted``, ``train/mils_accepted``,
``train/mils_seconds`` (and ``train/mils_attempted_<name>``/``train/mils_accepted_<name>``
per auxiliary when there are several) to ``runner.message_hub`` so that mmengine's
logger prints them.
On an accepted iteration the logged ``loss`` values (the ``outputs`` handed to the
``after_train_iter`` hooks) are those of the auxiliary step that was kept.

Limitations: the auxiliary loss modules' own parameters (if any) are not optimised --
they are not in the optimizer, which mmengine builds over the model's parameters.
"""

from __future__ import annotations

import copy
import random
import time
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.model import is_model_wrapper
from mmengine.registry import LOOPS, MODELS
from mmengine.runner import EpochBasedTrainLoop
from torch import nn

from slf.mils import RULES, attempt_statistics
from slf.state_snapshot import StateSnapshot

Rule = Union[str, Callable[[float, float], bool]]

_LOSS_WORDS = ("loss", "criterion")


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if is_model_wrapper(model) else model


def _loss_like_paths(model: nn.Module) -> List[str]:
    """Dotted paths of submodules whose name or class looks like a loss."""
    found = []
    for name, module in model.named_modules():
        leaf = name.rsplit(".", 1)[-1].lower()
        cls = type(module).__name__.lower()
        if name and (any(w in leaf for w in _LOSS_WORDS) or any(w in cls for w in _LOSS_WORDS)):
            found.append(name)
    return found


def _resolve(model: nn.Module, path: str) -> Tuple[nn.Module, str]:
    """(parent module, attribute name) of the submodule at ``path``; ValueError if absent."""
    parts = path.split(".")
    parent = model
    for part in parts[:-1]:
        child = getattr(parent, part, None) if isinstance(parent, nn.Module) else None
        if not isinstance(child, nn.Module):
            parent = None
            break
        parent = child
    if parent is None or not isinstance(getattr(parent, parts[-1], None), nn.Module):
        raise ValueError(
            f"MILSEpochBasedTrainLoop: replace path {path!r} is not a submodule of "
            f"{type(model).__name__}; its loss-like submodules are: {_loss_like_paths(model)}"
        )
    return parent, parts[-1]


@contextmanager
def _forked_rng(seed: Optional[int] = None) -> Iterator[None]:
    """Run a block without disturbing the torch / CUDA / Python / NumPy RNG streams."""
    py_state, np_state = random.getstate(), np.random.get_state()
    cuda_ready = torch.cuda.is_available() and torch.cuda.is_initialized()
    devices = list(range(torch.cuda.device_count())) if cuda_ready else []
    with torch.random.fork_rng(devices=devices):
        if seed is not None:
            torch.manual_seed(seed)
            random.seed(seed)
            np.random.seed(seed % (2**32))
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


def _optim_wrappers(optim_wrapper: Any) -> List[Any]:
    inner = getattr(optim_wrapper, "optim_wrappers", None)
    if isinstance(inner, dict):
        return list(inner.values())
    return [optim_wrapper]


@LOOPS.register_module()
class MILSEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` whose iterations are MILS steps (see the module docstring).

    Args:
        runner, dataloader, max_epochs, val_begin, val_interval, dynamic_intervals: as
            for ``EpochBasedTrainLoop``.
        auxiliaries: non-empty list of ``dict(name=str, replace={path: loss_cfg, ...},
            weight=1.0)``; ``name`` defaults to ``'aux<i>'``, ``weight`` to 1.
        rate: participation rate in ``[0, 1]``.
        rule: ``'not_worse'``, ``'better'``, ``'always'`` or a callable
            ``(loss_before, loss_after) -> bool`` (lower observation loss is better).
        observation_batches: how many leading train batches form the observation set.
        seed: seed of the loop's generator and of the observation measurements.
    """

    def __init__(
        self,
        runner,
        dataloader,
        max_epochs: int,
        val_begin: int = 1,
        val_interval: int = 1,
        dynamic_intervals=None,
        *,
        auxiliaries: Sequence[Dict[str, Any]] = (),
        rate: float = 0.1,
        rule: Rule = "not_worse",
        observation_batches: int = 1,
        seed: int = 0,
    ) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= float(rate) <= 1.0:
            raise ValueError(f"MILSEpochBasedTrainLoop: rate must be a number in [0, 1], got {rate!r}")
        if isinstance(rule, str):
            if rule not in RULES:
                raise ValueError(
                    f"MILSEpochBasedTrainLoop: unknown rule {rule!r}; valid rules: {list(RULES)} "
                    f"or a callable (loss_before, loss_after) -> bool"
                )
        elif not callable(rule):
            raise ValueError(f"MILSEpochBasedTrainLoop: rule must be one of {list(RULES)} or a callable, got {rule!r}")
        if isinstance(observation_batches, bool) or not isinstance(observation_batches, int) or observation_batches < 1:
            raise ValueError(
                f"MILSEpochBasedTrainLoop: observation_batches must be a positive integer, got {observation_batches!r}"
            )
        if isinstance(auxiliaries, dict):
            auxiliaries = [auxiliaries]
        auxiliaries = list(auxiliaries or [])
        if not auxiliaries:
            raise ValueError(
                "MILSEpochBasedTrainLoop: auxiliaries must hold at least one entry "
                "dict(name=..., replace={'<submodule path>': <loss config>})"
            )
        super().__init__(runner, dataloader, max_epochs, val_begin, val_interval, dynamic_intervals)
        self.rate, self.rule, self.seed = float(rate), rule, int(seed)
        self.observation_batches = observation_batches
        model = _unwrap(self.runner.model)
        reference = next(iter(model.parameters()), None)
        self.auxiliaries: Dict[str, Dict[str, nn.Module]] = {}
        weights = []
        for i, entry in enumerate(auxiliaries):
            if not isinstance(entry, dict) or not isinstance(entry.get("replace"), dict) or not entry["replace"]:
                raise ValueError(
                    f"MILSEpochBasedTrainLoop: auxiliary #{i} must be a dict with a non-empty "
                    f"'replace' mapping of submodule paths to loss configs, got {entry!r}"
                )
            unknown = set(entry) - {"name", "replace", "weight"}
            if unknown:
                raise ValueError(
                    f"MILSEpochBasedTrainLoop: auxiliary #{i} has unknown keys {sorted(unknown)}; "
                    f"valid keys: ['name', 'replace', 'weight']"
                )
            name = str(entry.get("name", f"aux{i}"))
            if name in self.auxiliaries:
                raise ValueError(f"MILSEpochBasedTrainLoop: duplicate auxiliary name {name!r}")
            modules: Dict[str, nn.Module] = {}
            for path, cfg in entry["replace"].items():
                _resolve(model, path)
                module = cfg if isinstance(cfg, nn.Module) else MODELS.build(copy.deepcopy(cfg))
                if not isinstance(module, nn.Module):
                    raise ValueError(
                        f"MILSEpochBasedTrainLoop: {path!r} of auxiliary {name!r} built "
                        f"{type(module).__name__}, not an nn.Module"
                    )
                if reference is not None:
                    module = module.to(device=reference.device)
                modules[path] = module
            self.auxiliaries[name] = modules
            weight = float(entry.get("weight", 1.0))
            if not weight >= 0.0 or weight == float("inf"):
                raise ValueError(
                    f"MILSEpochBasedTrainLoop: auxiliary {name!r} weight must be finite and >= 0, "
                    f"got {entry.get('weight')!r}"
                )
            weights.append(weight)
        if sum(weights) <= 0:
            raise ValueError("MILSEpochBasedTrainLoop: auxiliary weights must have a positive sum")
        self.aux_names = list(self.auxiliaries)
        self.aux_weights = torch.tensor(weights, dtype=torch.float64) / sum(weights)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.attempted = {n: 0 for n in self.aux_names}
        self.accepted = {n: 0 for n in self.aux_names}
        self.seconds = 0.0
        self._observation: Optional[List[Any]] = None
        self._snapshot: Optional[StateSnapshot] = None

    # ------------------------------------------------------------------ observation
    def run(self) -> nn.Module:
        if self.rate > 0.0 and self.rule != "always" and self._observation is None:
            self._observation = self._copy_observation()
        return super().run()

    def _copy_observation(self) -> List[Any]:
        loader = self.dataloader
        batch_size = getattr(loader.batch_sampler, "batch_size", None) or loader.batch_size or 1
        size = min(len(loader.dataset), self.observation_batches * batch_size)
        if size == 0:
            raise ValueError("MILSEpochBasedTrainLoop: the train dataset is empty; no observation set")
        with _forked_rng():
            samples = [loader.dataset[i] for i in range(size)]
        return [loader.collate_fn(samples[start : start + batch_size]) for start in range(0, size, batch_size)]

    @torch.no_grad()
    def observation_loss(self) -> float:
        """Primary total loss on the observation batches (eval mode, no grad, forked RNG)."""
        if self._observation is None:
            self._observation = self._copy_observation()
        model = _unwrap(self.runner.model)
        was_training = model.training
        total = 0.0
        model.eval()
        try:
            with _forked_rng(self.seed):
                for batch in self._observation:
                    data = model.data_preprocessor(copy.deepcopy(batch), True)
                    losses = model(**data, mode="loss") if isinstance(data, dict) else model(*data, mode="loss")
                    loss, _ = model.parse_losses(losses)
                    total += float(loss)
        finally:
            model.train(was_training)
        return total

    # ------------------------------------------------------------------ state
    def _optimizers(self) -> List[torch.optim.Optimizer]:
        return [w.optimizer for w in _optim_wrappers(self.runner.optim_wrapper)]

    def _save(self) -> Dict[str, Any]:
        if self._snapshot is None:
            self._snapshot = StateSnapshot([_unwrap(self.runner.model)], self._optimizers())
        self._snapshot.save()
        wrappers = _optim_wrappers(self.runner.optim_wrapper)
        extra = {
            "grads": [
                (p, None if p.grad is None else p.grad.detach().clone())
                for p in _unwrap(self.runner.model).parameters()
            ],
            "counts": [getattr(w, "_inner_count", None) for w in wrappers],
            "scalers": [
                copy.deepcopy(w.loss_scaler.state_dict()) if getattr(w, "loss_scaler", None) is not None else None
                for w in wrappers
            ],
            "python_rng": random.getstate(),
            "numpy_rng": np.random.get_state(),
        }
        return extra

    def _restore(self, extra: Dict[str, Any]) -> None:
        self._snapshot.restore()
        for p, grad in extra["grads"]:
            p.grad = grad
        for w, count, scaler in zip(_optim_wrappers(self.runner.optim_wrapper), extra["counts"], extra["scalers"]):
            if count is not None:
                w._inner_count = count
            if scaler is not None:
                w.loss_scaler.load_state_dict(scaler)
        random.setstate(extra["python_rng"])
        np.random.set_state(extra["numpy_rng"])

    @contextmanager
    def _swapped(self, name: str) -> Iterator[None]:
        model = _unwrap(self.runner.model)
        originals = []
        try:
            for path, module in self.auxiliaries[name].items():
                parent, attr = _resolve(model, path)
                originals.append((parent, attr, getattr(parent, attr)))
                setattr(parent, attr, module)
            yield
        finally:
            for parent, attr, module in reversed(originals):
                setattr(parent, attr, module)

    def _accept(self, before: float, after: float) -> bool:
        if callable(self.rule):
            return bool(self.rule(before, after))
        if self.rule == "always":
            return True
        return after < before if self.rule == "better" else after <= before

    # ------------------------------------------------------------------ training
    def _push_stats(self) -> None:
        hub = self.runner.message_hub
        hub.update_scalar("train/mils_attempted", sum(self.attempted.values()))
        hub.update_scalar("train/mils_accepted", sum(self.accepted.values()))
        hub.update_scalar("train/mils_seconds", self.seconds)
        if len(self.aux_names) > 1:
            for name in self.aux_names:
                hub.update_scalar(f"train/mils_attempted_{name}", self.attempted[name])
                hub.update_scalar(f"train/mils_accepted_{name}", self.accepted[name])

    def run_iter(self, idx, data_batch: Sequence[dict]) -> None:
        attempt = self.rate > 0.0 and float(torch.rand((), generator=self.generator)) < self.rate
        if not attempt:
            self._push_stats()
            super().run_iter(idx, data_batch)
            return
        name = self.aux_names[int(torch.multinomial(self.aux_weights, 1, generator=self.generator))]
        self.runner.call_hook("before_train_iter", batch_idx=idx, data_batch=data_batch)
        start = time.perf_counter()
        self.attempted[name] += 1
        model, wrapper = self.runner.model, self.runner.optim_wrapper
        extra = self._save()
        measure = self.rule != "always"
        before = self.observation_loss() if measure else 0.0
        update_start = time.perf_counter()
        with self._swapped(name):
            outputs = model.train_step(copy.deepcopy(data_batch), optim_wrapper=wrapper)
        update_seconds = time.perf_counter() - update_start
        after = self.observation_loss() if measure else 0.0
        if self._accept(before, after):
            self.accepted[name] += 1
            self.seconds += time.perf_counter() - start - update_seconds
        else:
            self._restore(extra)
            self.seconds += time.perf_counter() - start
            outputs = model.train_step(data_batch, optim_wrapper=wrapper)
        self._push_stats()
        self.runner.call_hook("after_train_iter", batch_idx=idx, data_batch=data_batch, outputs=outputs)
        self._iter += 1

    def mils_stats(self) -> Dict[str, Any]:
        """Attempts, acceptances and success rate per auxiliary, totals, and MILS seconds."""
        return attempt_statistics(self.rate, self.rule, self.attempted, self.accepted, self.seconds)


__all__ = ["MILSEpochBasedTrainLoop"]
