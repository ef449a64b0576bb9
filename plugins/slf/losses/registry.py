"""Registry of named losses: ``build(name, **kwargs)`` and ``available(task)``.

A name may be registered for several tasks (``mse`` exists for classification,
binary/pairwise and regression); each (task, name) pair maps to one class.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple, Type

import torch  # noqa: F401  (used by the doctests)
from torch import nn

from .base import TASKS

_REGISTRY: Dict[Tuple[str, str], Type[nn.Module]] = {}
# When no task is given, a name resolves to the first task in this order that has it.
_DEFAULT_TASK_ORDER = ("classification", "regression", "binary")


def register(name: str, *tasks: str) -> Callable[[Type[nn.Module]], Type[nn.Module]]:
    """Class decorator: register ``cls`` under ``name`` for each of ``tasks``."""
    for task in tasks:
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; valid tasks: {list(TASKS)}")

    def decorate(cls: Type[nn.Module]) -> Type[nn.Module]:
        for task in tasks or (getattr(cls, "task", "classification"),):
            key = (task, name)
            if key in _REGISTRY and _REGISTRY[key] is not cls:
                raise KeyError(f"loss {name!r} is already registered for task {task!r}")
            _REGISTRY[key] = cls
        if not hasattr(cls, "registry_name") or cls.__dict__.get("registry_name") is None:
            cls.registry_name = name
        return cls

    return decorate


def available(task: Optional[str] = None) -> List[str]:
    """Sorted names of the registered losses, for one task or for all.

    Example:
        >>> "ce" in available("classification")
        True
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"unknown task {task!r}; valid tasks: {list(TASKS)}")
    return sorted({name for (t, name) in _REGISTRY if task is None or t == task})


def candidate_names(task: str) -> List[str]:
    """Sorted names of ``task``'s losses that can be SLF candidates: those over the model's output
    (not penultimate features) that do not learn their own parameters online (AdaLFL, L2T-DLF).

    Example:
        >>> "ce" in candidate_names("classification"), "adalfl" in candidate_names("classification")
        (True, False)
    """
    return [
        name
        for name in available(task)
        if getattr(resolve(name, task), "input_kind", "logits") == "logits"
        and not getattr(resolve(name, task), "learns_online", False)
    ]


def resolve(name: str, task: Optional[str] = None) -> Type[nn.Module]:
    """The class registered as ``name`` for ``task`` (or the first task that has it)."""
    if task is not None:
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; valid tasks: {list(TASKS)}")
        if (task, name) not in _REGISTRY:
            raise ValueError(f"unknown loss {name!r} for task {task!r}; valid names: {available(task)}")
        return _REGISTRY[(task, name)]
    for candidate_task in _DEFAULT_TASK_ORDER:
        if (candidate_task, name) in _REGISTRY:
            return _REGISTRY[(candidate_task, name)]
    raise ValueError(f"unknown loss {name!r}; valid names: {available()}")


def build(name: str, task: Optional[str] = None, **kwargs) -> nn.Module:
    """Build a registered loss.

    Args:
        name: registry name, e.g. ``'ce'``, ``'focal'``, ``'huber'``.
        task: ``'classification'``, ``'binary'`` or ``'regression'``;
            needed only where a name exists for several tasks (default: classification,
            then regression, then binary).
        **kwargs: the loss's own arguments, e.g. ``reduction='none'``.

    Example:
        >>> loss = build("mse", task="regression", reduction="none")
        >>> loss(torch.zeros(3), torch.ones(3))
        tensor([1., 1., 1.])
    """
    return resolve(name, task)(**kwargs)


def tasks_of(name: str) -> List[str]:
    """The tasks a name is registered for."""
    return [task for task in TASKS if (task, name) in _REGISTRY]
