"""The ``slf_mmdet`` scope in mmengine's registry tree: one child of each of mmdet's registries.

A config that builds on ``_base_ = 'slf_mmdet::slf/NAME.py'`` gets ``_scope_='slf_mmdet'`` on the
dicts that the packaged config defines (its hooks, data sets, metrics). mmengine then imports
``slf_mmdet.registry`` and builds each of them from the registry of that scope, as it does for
any OpenMMLab package. Each child below registers nothing itself: a lookup falls through to
mmdet's registry and then mmengine's, where ``slf_mmdet``'s components are registered.

Example:
    >>> from mmengine.registry import DefaultScope
    >>> from slf_mmdet.registry import HOOKS
    >>> HOOKS.scope, HOOKS.parent.scope, HOOKS.get('SLFHeldOutHook').__name__
    ('slf_mmdet', 'mmdet', 'SLFHeldOutHook')
"""

from __future__ import annotations

from mmdet import registry as mmdet_registry
from mmengine.registry import Registry

SCOPE = "slf_mmdet"


def _child(parent: Registry) -> Registry:
    # locations: building from this scope first imports slf_mmdet, which registers its components.
    return Registry(parent.name, parent=parent, scope=SCOPE, locations=[SCOPE])


RUNNERS = _child(mmdet_registry.RUNNERS)
RUNNER_CONSTRUCTORS = _child(mmdet_registry.RUNNER_CONSTRUCTORS)
LOOPS = _child(mmdet_registry.LOOPS)
HOOKS = _child(mmdet_registry.HOOKS)
DATASETS = _child(mmdet_registry.DATASETS)
DATA_SAMPLERS = _child(mmdet_registry.DATA_SAMPLERS)
TRANSFORMS = _child(mmdet_registry.TRANSFORMS)
MODELS = _child(mmdet_registry.MODELS)
MODEL_WRAPPERS = _child(mmdet_registry.MODEL_WRAPPERS)
WEIGHT_INITIALIZERS = _child(mmdet_registry.WEIGHT_INITIALIZERS)
OPTIMIZERS = _child(mmdet_registry.OPTIMIZERS)
OPTIM_WRAPPERS = _child(mmdet_registry.OPTIM_WRAPPERS)
OPTIM_WRAPPER_CONSTRUCTORS = _child(mmdet_registry.OPTIM_WRAPPER_CONSTRUCTORS)
PARAM_SCHEDULERS = _child(mmdet_registry.PARAM_SCHEDULERS)
METRICS = _child(mmdet_registry.METRICS)
EVALUATOR = _child(mmdet_registry.EVALUATOR)
TASK_UTILS = _child(mmdet_registry.TASK_UTILS)
VISUALIZERS = _child(mmdet_registry.VISUALIZERS)
VISBACKENDS = _child(mmdet_registry.VISBACKENDS)
LOG_PROCESSORS = _child(mmdet_registry.LOG_PROCESSORS)
