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
- ``regression``: prediction and float target of the same shape ``(N, *)``;
- ``segmentation``, ``detection``, ``image`` and ``gan``: the advanced losses' own inputs
  (see each subpackage). Only the first three tasks (``SLF_TASKS``) can be SLF candidates:
  the decision network reads a model output of their shapes.

Every loss returns per-sample values ``(N,)`` for ``reduction='none'``.
"""

from . import baselines, binary, classification, detection, gan, image, mils, regression, segmentation
from .base import REDUCTIONS, SLF_TASKS, TASKS, BaseLoss, reduce_loss
from .baselines import *  # noqa: F401,F403
from .baselines import __all__ as _baselines_all
from .binary import *  # noqa: F401,F403
from .binary import __all__ as _binary_all
from .classification import *  # noqa: F401,F403
from .classification import __all__ as _classification_all
from .detection import *  # noqa: F401,F403
from .detection import __all__ as _detection_all
from .gan import *  # noqa: F401,F403
from .gan import __all__ as _gan_all
from .image import *  # noqa: F401,F403
from .image import __all__ as _image_all
from .mils import *  # noqa: F401,F403
from .mils import __all__ as _mils_all
from .registry import available, build, candidate_names, register, resolve, tasks_of
from .regression import *  # noqa: F401,F403
from .regression import __all__ as _regression_all
from .segmentation import *  # noqa: F401,F403
from .segmentation import __all__ as _segmentation_all

__all__ = [
    "BaseLoss",
    "REDUCTIONS",
    "SLF_TASKS",
    "TASKS",
    "available",
    "candidate_names",
    "baselines",
    "binary",
    "build",
    "classification",
    "detection",
    "gan",
    "image",
    "mils",
    "reduce_loss",
    "register",
    "regression",
    "resolve",
    "segmentation",
    "tasks_of",
    *_classification_all,
    *_binary_all,
    *_regression_all,
    *_baselines_all,
    *_mils_all,
    *_segmentation_all,
    *_detection_all,
    *_image_all,
    *_gan_all,
]
