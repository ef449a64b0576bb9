"""The loss library: every candidate loss of the suite, registered by task and name.

Importing this package registers all losses::

    >>> from slf import losses
    >>> loss = losses.build("ce")                       # task inferred: classification
    >>> loss = losses.build("mse", task="regression", reduction="none")
    >>> "huber" in losses.available("regression")
    True

Tasks (see :mod:`slf.losses.base`):

- ``classification``: logits ``(N, C)`` and integer class indices ``(N,)``
  (``large_margin_softmax`` reads penultimate features ``(N, D)`` instead:
  its ``input_kind`` is ``"features"``, as for the MILS auxiliaries ``center`` and ``lgm``);
- ``binary`` (also pairwise problems): prediction ``(N, *)`` and 0/1 float targets of
  the same shape, with ``from_logits`` selecting logits or probabilities;
- ``regression``: prediction and float target of the same shape ``(N, *)``.

Every loss returns per-sample values ``(N,)`` for ``reduction='none'``.
"""
from . import baselines, binary, classification, mils, regression
from .base import REDUCTIONS, TASKS, BaseLoss, reduce_loss
from .baselines import *  # noqa: F401,F403
from .baselines import __all__ as _baselines_all
from .binary import *  # noqa: F401,F403
from .binary import __all__ as _binary_all
from .classification import *  # noqa: F401,F403
from .classification import __all__ as _classification_all
from .mils import *  # noqa: F401,F403
from .mils import __all__ as _mils_all
from .registry import available, build, register, resolve, tasks_of
from .regression import *  # noqa: F401,F403
from .regression import __all__ as _regression_all

__all__ = [
    "BaseLoss",
    "REDUCTIONS",
    "TASKS",
    "available",
    "baselines",
    "binary",
    "build",
    "classification",
    "mils",
    "reduce_loss",
    "register",
    "regression",
    "resolve",
    "tasks_of",
    *_classification_all,
    *_binary_all,
    *_regression_all,
    *_baselines_all,
    *_mils_all,
]
