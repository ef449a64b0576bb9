"""MILS: Multiple Independent Losses Scheduling.

One primary loss trains the model; auxiliary losses take whole training steps on their
own, and an auxiliary step is kept only if it does not hurt accuracy on a small
observation set copied from the training data.

At every step, with probability :math:`r` (the participation rate), MILS attempts an
auxiliary step:

1. snapshot the model (parameters and buffers), the optimizer's state and param-group
   values, the loss modules (e.g. center-loss centers) and their optimizer, and torch's
   global RNG state;
2. measure the observation accuracy :math:`a_0` (eval mode, no grad);
3. update with one auxiliary loss :math:`l_k`, :math:`k \\sim \\text{Categorical}(w)`;
4. measure :math:`a_1`; keep the step if the rule holds (``'not_worse'``:
   :math:`a_1 \\geq a_0`, ``'better'``: :math:`a_1 > a_0`, ``'always'``: keep every
   attempt, the paper's ablation without the test), else restore the snapshot and take
   the primary step instead.

A rejected attempt therefore leaves model, optimizers, loss modules and the global RNG
exactly as if the primary step had been taken directly; with :math:`r = 0` training is
bit-identical to primary-only training. MILS draws its own decisions from a private
``torch.Generator``. Snapshot buffers are allocated once (at the first attempt, or
again if the optimizer's state changes shape) and refreshed by in-place copies.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from . import distributed
from . import losses as loss_registry
from .state_snapshot import StateSnapshot, copy_value

RULES = ("not_worse", "better", "always")
LossSpec = Union[str, nn.Module]
Rule = Union[str, Callable[[float, float], bool]]


def _loss_name(spec: LossSpec, module: nn.Module) -> str:
    if isinstance(spec, str):
        return spec
    return str(getattr(module, "registry_name", None) or type(module).__name__)


def attempt_statistics(
    rate: float, rule: Rule, attempted: Mapping[str, int], accepted: Mapping[str, int], seconds: float
) -> Dict[str, Any]:
    """MILS's counts for a log: attempts and acceptances per auxiliary and in total, the success
    rates (``None`` where nothing was attempted), the rate, the rule's name and the seconds spent.

    Example:
        >>> attempt_statistics(0.5, "not_worse", {"center": 4}, {"center": 1}, 0.2)["success_rate_total"]
        0.25
    """
    attempted_total, accepted_total = sum(attempted.values()), sum(accepted.values())
    return {
        "rate": rate,
        "rule": rule if isinstance(rule, str) else getattr(rule, "__name__", "callable"),
        "attempted": dict(attempted),
        "accepted": dict(accepted),
        "success_rate": {k: (accepted[k] / n if n else None) for k, n in attempted.items()},
        "attempted_total": attempted_total,
        "accepted_total": accepted_total,
        "success_rate_total": accepted_total / attempted_total if attempted_total else None,
        "seconds": seconds,
    }


class MILS:
    r"""Multiple Independent Losses Scheduling around a model and its optimizer.

    Each call of :meth:`step` is one training step. With probability ``rate`` it is an
    auxiliary attempt: snapshot, update with one auxiliary loss, compare the
    observation accuracy before and after, keep or restore-and-take-the-primary-step
    (see the module docstring). Otherwise it is a plain primary step:
    ``zero_grad``, forward, backward, ``optimizer.step()``.

    Loss modules whose ``input_kind`` is ``'features'`` (``center``, ``lgm``, ...) are
    built with ``in_features=model.feature_dim`` and ``num_classes`` and read
    ``model.features(x)``; the others read ``model(x)``. Learnable parameters of the
    loss modules (centers, means) are updated by MILS's own **loss optimizer**
    (:attr:`loss_optimizer`): the main optimizer's class with the values of its first
    param group for the main optimizer's constructor arguments (lr, betas, momentum,
    weight decay, ...). It is stepped whenever the loss owning the parameters is used,
    and its state is snapshot and restored with the rest. The primary loss must read
    logits: the observation metric is the top-1 accuracy of ``model(x_obs)``.

    Works with any ``torch.optim`` optimizer whose ``step()`` needs no closure, and any
    LR scheduler (step the scheduler between calls as usual): optimizer state tensors (Adam's moments, SGD's momentum
    buffers, step counts) and param-group values (lr, ...) are restored on rejection.

    Args:
        model: the network; feature losses need ``model.features`` and ``model.feature_dim``.
        optimizer: the model's optimizer.
        primary: the primary loss, a registry name or module (default ``'ce'``).
        auxiliaries: auxiliary losses, names or modules (at least one).
        rate: participation rate :math:`r \in [0, 1]`.
        observation: ``(x_obs, y_obs)`` copied from the training set (cloned here).
        aux_weights: non-negative sampling weights of the auxiliaries (default uniform).
        rule: ``'not_worse'`` (accept :math:`a_1 \geq a_0`), ``'better'``
            (:math:`a_1 > a_0`), ``'always'`` (no test), or a callable
            ``(before, after) -> bool``.
        seed: seed of MILS's private generator.
        num_classes: classes, for feature losses (default: ``model.classifier.out_features``).
        eval_batch_size: batch size of the observation forward passes.

    Example:
        >>> from slf.models import build_model
        >>> _ = torch.manual_seed(0)
        >>> model = build_model("mlp", (1, 8, 8), 10)
        >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> x, y = torch.randn(32, 1, 8, 8), torch.randint(0, 10, (32,))
        >>> mils = MILS(model, optimizer, "ce", ["multi_margin", "center"], rate=0.5,
        ...             observation=(x[:16], y[:16]), seed=0)
        >>> info = mils.step(x, y)
        >>> sorted(info)
        ['auxiliary', 'kind', 'loss']
        >>> info["kind"] in ("primary", "accepted", "rejected")
        True
        >>> sorted(mils.stats()["attempted"])
        ['center', 'multi_margin']
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        primary: LossSpec = "ce",
        auxiliaries: Sequence[LossSpec] = ("multi_margin",),
        rate: float = 0.01,
        observation: Optional[Tuple[Tensor, Tensor]] = None,
        aux_weights: Optional[Sequence[float]] = None,
        rule: Rule = "not_worse",
        seed: int = 0,
        num_classes: Optional[int] = None,
        eval_batch_size: int = 1024,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"MILS: model must be an nn.Module, got {type(model).__name__}")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"MILS: optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not (0.0 <= rate <= 1.0):
            raise ValueError(f"MILS: rate must be a number in [0, 1], got {rate!r}")
        if isinstance(rule, str):
            if rule not in RULES:
                raise ValueError(f"MILS: unknown rule {rule!r}; valid rules: {list(RULES)} or a callable")
        elif not callable(rule):
            raise ValueError(f"MILS: rule must be one of {list(RULES)} or a callable, got {rule!r}")
        if isinstance(auxiliaries, (str, nn.Module)):
            auxiliaries = [auxiliaries]
        auxiliaries = list(auxiliaries)
        if not auxiliaries:
            raise ValueError(
                f"MILS: auxiliaries must hold at least one loss; valid names: "
                f"{loss_registry.available('classification')}"
            )
        if isinstance(eval_batch_size, bool) or not isinstance(eval_batch_size, int) or eval_batch_size < 1:
            raise ValueError(f"MILS: eval_batch_size must be a positive integer, got {eval_batch_size!r}")
        self.model, self.optimizer = model, optimizer
        self.rate, self.rule, self.eval_batch_size = float(rate), rule, eval_batch_size
        self.num_classes = num_classes
        self.primary_name, self.primary = self._build(primary, model)
        if getattr(self.primary, "input_kind", "logits") != "logits":
            raise ValueError(
                f"MILS: the primary loss must read logits (the observation metric is the accuracy of model(x)); "
                f"{self.primary_name!r} reads {self.primary.input_kind}"
            )
        self.auxiliaries: Dict[str, nn.Module] = {}
        for spec in auxiliaries:
            name, module = self._build(spec, model)
            unique, k = name, 2
            while unique in self.auxiliaries:
                unique, k = f"{name}_{k}", k + 1
            self.auxiliaries[unique] = module
        self.aux_names: List[str] = list(self.auxiliaries)
        if aux_weights is None:
            weights = torch.ones(len(self.aux_names), dtype=torch.float64)
        else:
            weights = torch.as_tensor(list(aux_weights), dtype=torch.float64)
            if (
                weights.shape != (len(self.aux_names),)
                or not torch.isfinite(weights).all()
                or (weights < 0).any()
                or weights.sum() <= 0
            ):
                raise ValueError(
                    f"MILS: aux_weights must hold {len(self.aux_names)} finite weights >= 0 with a positive sum "
                    f"(one per auxiliary {self.aux_names}), got {list(aux_weights)!r}"
                )
        self.aux_weights = weights / weights.sum()
        self.x_obs, self.y_obs = self._check_observation(observation)
        loss_params = [p for m in self.loss_modules() for p in m.parameters() if p.requires_grad]
        self.loss_optimizer: Optional[torch.optim.Optimizer] = None
        if loss_params:
            first = optimizer.param_groups[0]
            options = {k: copy_value(first[k]) for k in optimizer.defaults if k in first}
            self.loss_optimizer = type(optimizer)(loss_params, **options)
        self.generator = torch.Generator().manual_seed(int(seed))
        optimizers = [optimizer] + ([self.loss_optimizer] if self.loss_optimizer is not None else [])
        self._snapshot = StateSnapshot([model, *self.loss_modules()], optimizers)
        self.attempted = {name: 0 for name in self.aux_names}
        self.accepted = {name: 0 for name in self.aux_names}
        self.steps = 0
        self.seconds = 0.0

    # ------------------------------------------------------------------ construction
    def _build(self, spec: LossSpec, model: nn.Module) -> Tuple[str, nn.Module]:
        if isinstance(spec, nn.Module):
            return _loss_name(spec, spec), spec
        if not isinstance(spec, str):
            raise TypeError(f"MILS: a loss must be a registry name or an nn.Module, got {type(spec).__name__}")
        try:
            cls = loss_registry.resolve(spec, "classification")
        except ValueError:
            raise ValueError(
                f"MILS: unknown loss {spec!r}; valid names: {loss_registry.available('classification')}"
            ) from None
        if getattr(cls, "learns_online", False):
            raise ValueError(f"MILS: loss {spec!r} learns online and trains alone; it cannot be one of MILS's losses")
        options: Dict[str, Any] = {}
        if getattr(cls, "input_kind", "logits") == "features":
            if not hasattr(model, "features") or not hasattr(model, "feature_dim"):
                raise ValueError(f"MILS: loss {spec!r} reads features; the model needs .features(x) and .feature_dim")
            options["in_features"] = int(model.feature_dim)
            options["num_classes"] = self._num_classes(model)
        module = loss_registry.build(spec, task="classification", **options)
        reference = next(iter(model.parameters()), None)
        if reference is not None:
            module = module.to(device=reference.device, dtype=reference.dtype)
        return spec, module

    def _num_classes(self, model: nn.Module) -> int:
        if self.num_classes is None:
            classifier = getattr(model, "classifier", None)
            if not isinstance(getattr(classifier, "out_features", None), int):
                raise ValueError("MILS: pass num_classes (the model has no classifier.out_features)")
            self.num_classes = classifier.out_features
        return int(self.num_classes)

    @staticmethod
    def _check_observation(observation: Optional[Tuple[Tensor, Tensor]]) -> Tuple[Tensor, Tensor]:
        if observation is None or len(observation) != 2:
            raise ValueError("MILS: observation must be a pair (x_obs, y_obs) of samples copied from the training set")
        x_obs, y_obs = observation
        if not torch.is_tensor(x_obs) or not torch.is_tensor(y_obs):
            raise TypeError("MILS: observation must hold tensors (x_obs, y_obs)")
        if y_obs.dim() != 1 or y_obs.numel() == 0 or x_obs.shape[0] != y_obs.shape[0]:
            raise ValueError(
                f"MILS: observation set must be non-empty with x_obs (M, ...) and y_obs (M,), "
                f"got {tuple(x_obs.shape)} and {tuple(y_obs.shape)}"
            )
        return x_obs.detach().clone(), y_obs.detach().clone()

    def loss_modules(self) -> List[nn.Module]:
        """The primary and auxiliary loss modules (the auxiliaries in order)."""
        return [self.primary, *self.auxiliaries.values()]

    # ------------------------------------------------------------------ training
    def _zero_grad(self) -> None:
        self.optimizer.zero_grad()
        if self.loss_optimizer is not None:
            self.loss_optimizer.zero_grad()

    def _update(self, loss_module: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        self._zero_grad()
        if getattr(loss_module, "input_kind", "logits") == "features":
            value = loss_module(self.model.features(x), y)
        else:
            value = loss_module(self.model(x), y)
        value.backward()
        if not isinstance(self.model, nn.parallel.DistributedDataParallel):
            # A plain module under torch.distributed: average here what DDP would have.
            distributed.average_gradients([p for group in self.optimizer.param_groups for p in group["params"]])
        self.optimizer.step()
        if self.loss_optimizer is not None:
            self.loss_optimizer.step()
        return value.detach()

    @torch.no_grad()
    def observation_correct(self) -> int:
        """Correct top-1 predictions of ``model(x_obs)`` (eval mode, no grad)."""
        was_training = self.model.training
        self.model.eval()
        correct = 0
        try:
            for start in range(0, len(self.y_obs), self.eval_batch_size):
                logits = self.model(self.x_obs[start : start + self.eval_batch_size])
                correct += int((logits.argmax(dim=1) == self.y_obs[start : start + self.eval_batch_size]).sum())
        finally:
            self.model.train(was_training)
        return correct

    def _observation_correct_all_ranks(self) -> int:
        # Under torch.distributed each rank holds a shard of the observation set: one
        # count over all of them, so every rank takes the same accept/reject decision.
        if distributed.world_size() == 1:
            return self.observation_correct()
        return int(distributed.all_reduce_sum(torch.tensor([float(self.observation_correct())])).item())

    def _observation_size(self) -> int:
        if distributed.world_size() == 1:
            return len(self.y_obs)
        return int(distributed.all_reduce_sum(torch.tensor([float(len(self.y_obs))])).item())

    def _accept(self, before: int, after: int) -> bool:
        if callable(self.rule):
            size = self._observation_size()
            return bool(self.rule(before / size, after / size))
        if self.rule == "always":
            return True
        return after > before if self.rule == "better" else after >= before

    def step(self, x: Tensor, y: Tensor) -> Dict[str, Any]:
        """One training step (primary, or an auxiliary attempt with probability ``rate``).

        Returns:
            ``{'loss': float, 'kind': 'primary' | 'accepted' | 'rejected', 'auxiliary': name or None}``;
            ``loss`` is the value of the loss whose update was kept.
        """
        if self.steps == 0:
            distributed.broadcast_generator(self.generator)  # the same attempts on every rank
        self.steps += 1
        if self.rate > 0.0 and float(torch.rand((), generator=self.generator)) < self.rate:
            start = time.perf_counter()
            index = int(torch.multinomial(self.aux_weights, 1, generator=self.generator))
            name = self.aux_names[index]
            self.attempted[name] += 1
            self._snapshot.save()
            before = self._observation_correct_all_ranks() if self.rule != "always" else 0
            update_start = time.perf_counter()
            value = self._update(self.auxiliaries[name], x, y)
            update_seconds = time.perf_counter() - update_start
            after = self._observation_correct_all_ranks() if self.rule != "always" else 0
            if self._accept(before, after):
                self.accepted[name] += 1
                self.seconds += time.perf_counter() - start - update_seconds
                return {"loss": float(value), "kind": "accepted", "auxiliary": name}
            self._snapshot.restore()
            self.seconds += time.perf_counter() - start
            value = self._update(self.primary, x, y)
            return {"loss": float(value), "kind": "rejected", "auxiliary": name}
        value = self._update(self.primary, x, y)
        return {"loss": float(value), "kind": "primary", "auxiliary": None}

    # ------------------------------------------------------------------ reporting and state
    def stats(self) -> Dict[str, Any]:
        """Attempted/accepted auxiliary steps per loss, success rates and MILS's overhead.

        ``seconds`` is the time spent on MILS's own work: snapshots, observation
        measurements, restores and rejected auxiliary updates (not the kept updates).
        ``success_rate`` is ``accepted / attempted`` (``None`` where nothing was attempted).
        """
        return {
            "steps": self.steps,
            **attempt_statistics(self.rate, self.rule, self.attempted, self.accepted, self.seconds),
            "snapshot_allocations": self._snapshot.allocations,
        }

    def state_dict(self) -> Dict[str, Any]:
        """Generator state, counters, loss modules and the loss optimizer (not the model or its optimizer)."""
        return {
            "generator": self.generator.get_state(),
            "attempted": dict(self.attempted),
            "accepted": dict(self.accepted),
            "steps": self.steps,
            "seconds": self.seconds,
            "primary": self.primary.state_dict(),
            "auxiliaries": {name: module.state_dict() for name, module in self.auxiliaries.items()},
            "loss_optimizer": None if self.loss_optimizer is None else self.loss_optimizer.state_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
        if set(state["attempted"]) != set(self.aux_names):
            raise ValueError(
                f"MILS: state is for auxiliaries {sorted(state['attempted'])}, this MILS has {self.aux_names}"
            )
        self.generator.set_state(state["generator"])
        self.attempted, self.accepted = dict(state["attempted"]), dict(state["accepted"])
        self.steps, self.seconds = int(state["steps"]), float(state["seconds"])
        self.primary.load_state_dict(state["primary"])
        for name, module in self.auxiliaries.items():
            module.load_state_dict(state["auxiliaries"][name])
        if self.loss_optimizer is not None and state.get("loss_optimizer") is not None:
            self.loss_optimizer.load_state_dict(state["loss_optimizer"])


__all__ = ["MILS", "RULES", "StateSnapshot"]
