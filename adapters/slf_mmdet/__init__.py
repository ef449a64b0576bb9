"""slf_mmdet: stochastic-loss components registered into mmengine / mmdet registries.

Importing this package registers everything it provides, so any mmengine or mmdet
config enables it with::

    custom_imports = dict(imports=['slf_mmdet'], allow_failed_imports=False)

(``adapters/`` must be importable, e.g. after ``pip install -e .`` or on ``PYTHONPATH``.)

Registered:

- ``StochasticLoss`` in mmdet's ``MODELS``: SLF wherever mmdet takes a loss, over core
  losses and mmdet's own (:mod:`slf_mmdet.stochastic_loss`)::

      loss_cls=dict(type='StochasticLoss', use_sigmoid=True, num_samples=3,
                    candidates=['bce', dict(type='FocalLoss', use_sigmoid=True)])

- ``SLFYOLOV3Head`` in mmdet's ``MODELS``: YOLOv3 with SLF-learned weights for its loss
  parts (:mod:`slf_mmdet.yolo_head`).
- ``SLFHeldOutHook`` in mmengine's ``HOOKS``: held-out batches (the val dataloader's) for
  the default recipe of every SLF loss in the model (:mod:`slf_mmdet.held_out_hook`)::

      custom_hooks = [dict(type='SLFHeldOutHook')]

- ``SLFLoggerHook`` in mmengine's ``HOOKS``: the learned weights in the log, TensorBoard
  and a PNG (:mod:`slf_mmdet.logger_hook`)::

      custom_hooks = [dict(type='SLFLoggerHook')]

- ``MILSEpochBasedTrainLoop`` in mmengine's ``LOOPS``: MILS (Multiple Independent
  Losses Scheduling) as a drop-in ``train_cfg``::

      train_cfg = dict(type='MILSEpochBasedTrainLoop', max_epochs=12, val_interval=1,
                       rate=0.1, rule='not_worse', observation_batches=1, seed=0,
                       auxiliaries=[dict(name='focal', replace={
                           'bbox_head.loss_cls': dict(type='FocalLoss', use_sigmoid=True)})])

  See :mod:`slf_mmdet.mils_loop` for the step, the observation metric (the primary
  total loss on the first train batches, lower is better) and the logged statistics.
- The guide's losses that mmdet lacks, in ``MODELS`` (mmdet's own focal, GIoU, Dice ... are
  used as they are): ``BoundaryLoss`` for mask logits with mmdet's ``DiceLoss`` contract
  (:mod:`slf_mmdet.boundary_loss`); ``IoUBalancedClsLoss``, ``IoUBalancedLocLoss`` and
  ``IoUBalancedRetinaHead``, the RetinaNet head that hands each positive's IoU to them
  (:mod:`slf_mmdet.iou_balanced`)::

      bbox_head=dict(type='IoUBalancedRetinaHead',
                     loss_cls=dict(type='IoUBalancedClsLoss', eta=1.5, gamma=2.0, alpha=0.25),
                     loss_bbox=dict(type='IoUBalancedLocLoss', lam=1.5, beta=0.11))

The configs of ``configs/mmdet`` ship inside the package (``slf_mmdet/.mim/configs``, as
mmdet ships its own), and importing ``slf_mmdet`` adds its scope to mmengine's, so a config
of yours builds on them wherever the package is installed::

    _base_ = 'slf_mmdet::slf/yolov3_mobilenetv2_slf_deepforest.py'

mmengine reads ``_base_`` before ``custom_imports``: run such a config through
``python -m slf_mmdet.train CONFIG`` (mmdet's ``tools/train.py`` after ``import slf_mmdet``),
or import ``slf_mmdet`` before ``Config.fromfile``.

The core package ``slf`` never imports mmengine or mmdet; only this package does.
"""

from mmengine.config.utils import MODULE2PACKAGE

from .boundary_loss import MMDetBoundaryLoss
from .held_out_hook import SLFHeldOutHook
from .iou_balanced import IoUBalancedRetinaHead, MMDetIoUBalancedClsLoss, MMDetIoUBalancedLocLoss
from .logger_hook import SLFLoggerHook
from .mils_loop import MILSEpochBasedTrainLoop
from .stochastic_loss import MMDetStochasticLoss
from .yolo_head import SLFYOLOV3Head

# mmengine resolves 'SCOPE::path' only for the scopes it lists; the "package" it names is the one
# whose folder holds .mim/configs, found by import spec when no distribution carries that name.
MODULE2PACKAGE.setdefault("slf_mmdet", "slf_mmdet")

__all__ = [
    "IoUBalancedRetinaHead",
    "MILSEpochBasedTrainLoop",
    "MMDetBoundaryLoss",
    "MMDetIoUBalancedClsLoss",
    "MMDetIoUBalancedLocLoss",
    "MMDetStochasticLoss",
    "SLFHeldOutHook",
    "SLFLoggerHook",
    "SLFYOLOV3Head",
]
