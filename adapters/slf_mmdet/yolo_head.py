"""``SLFYOLOV3Head``: mmdet's YOLOv3 head with SLF-learned weights for its loss parts.

The SLF paper's detection experiment learns YOLO's lambda_pred, lambda_obj,
lambda_noobj and lambda_coord instead of fixing them. This head computes mmdet's
YOLOv3 loss parts with objectness split into positives and negatives,

.. math::

    P = (P_{cls}, P_{obj}, P_{noobj}, P_{xy}, P_{wh}),\\qquad
    L = \\sum_i \\lambda_i \\frac{P_i}{w_i},\\qquad \\sum_i \\lambda_i = \\sum_i w_i

with :math:`w` the configured ``loss_weight`` of ``loss_cls``, ``loss_conf`` (twice),
``loss_xy`` and ``loss_wh`` as the start and the total (:class:`slf.LossPartWeighting`).
Everything else (targets, prediction, the per-part losses themselves) is mmdet's.

The same five parts can be weighted by SLF's peers instead (:mod:`slf.part_weightings`):
``slf_weighting=dict(type='uncertainty')`` (Kendall et al.), ``dict(type='gradnorm')``
(GradNorm, its shared layer the head's output convolutions, as the default recipe's) or
``dict(type='dwa')`` (DWA, its periods mmengine's epochs).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence

from mmdet.models.dense_heads import YOLOV3Head
from mmdet.registry import MODELS
from mmengine.logging import MessageHub
from torch import Tensor

from slf.part_weightings import DynamicWeightAverage, build_part_weighting
from slf.stochastic_loss import DEFAULT_MODE

PARTS = ("cls", "obj", "noobj", "xy", "wh")


@MODELS.register_module()
class SLFYOLOV3Head(YOLOV3Head):
    r"""YOLOv3 head whose total loss is an SLF-learned weighting of its five parts.

    Args:
        slf_weighting: ``type`` (``'slf'``, the default; ``'uncertainty'``, ``'gradnorm'`` or
            ``'dwa'``: SLF's peers, with their options, see :mod:`slf.part_weightings`) and for
            SLF the options of :class:`slf.LossPartWeighting`: ``mode`` (``'align'``,
            the default recipe, which compares each part's gradient at the head's output
            convolutions with the stock total loss's on held-out data, given by
            :class:`slf_mmdet.SLFHeldOutHook`; ``'joint'``, the paper's literal update;
            or ``'softmax'``), ``alignment`` (e.g. ``dict(temperature=1.0)``), and for the
            learned modes ``num_samples``, ``tau``, ``tau_schedule``, ``hard``,
            ``normalize`` (``None`` or ``'mean'``), ``history_interval``, ``seed``. The
            literal joint update drifts onto the smallest unweighted part (wh on the
            tree-crown benchmark, see the docs' results).
        *args: :class:`mmdet.models.dense_heads.YOLOV3Head`'s positional arguments.
        **kwargs: its keyword arguments.

    The loss dict holds ``loss_cls``, ``loss_obj``, ``loss_noobj``, ``loss_xy`` and
    ``loss_wh`` (each weighted; mmengine sums them). The learned weights are
    ``head.part_weighting.lambdas``; :class:`slf_mmdet.SLFLoggerHook` logs them.

    Example:
        >>> import slf_mmdet
        >>> from mmdet.registry import MODELS
        >>> from mmengine.registry import init_default_scope
        >>> init_default_scope('mmdet')  # as mmdet's tools do from the config
        >>> head = MODELS.build(dict(type='SLFYOLOV3Head', num_classes=1, in_channels=[8, 8, 8],
        ...                          out_channels=[8, 8, 8], loss_wh=dict(type='MSELoss', loss_weight=2.0),
        ...                          slf_weighting=dict(mode='softmax')))
        >>> [round(x, 3) for x in head.part_weighting.lambdas.tolist()]  # starts at the configured weights
        [1.0, 1.0, 1.0, 1.0, 2.0]
    """

    def __init__(self, *args: Any, slf_weighting: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        conf_weight = getattr(self.loss_conf, "loss_weight", 1.0)
        prior = [
            getattr(self.loss_cls, "loss_weight", 1.0),
            conf_weight,
            conf_weight,
            getattr(self.loss_xy, "loss_weight", 1.0),
            getattr(self.loss_wh, "loss_weight", 1.0),
        ]
        options = dict(slf_weighting or {})
        kind = options.pop("type", "slf")
        if kind == "slf" and options.get("mode", DEFAULT_MODE) == "align":
            options.setdefault("last_layer", list(self.convs_pred.parameters()))
        if kind == "gradnorm":
            options.setdefault("shared_parameters", list(self.convs_pred.parameters()))
        self.part_weighting = build_part_weighting(PARTS, prior, type=kind, **options)

    def loss_by_feat_single(self, pred_map: Tensor, target_map: Tensor, neg_map: Tensor) -> tuple:
        """mmdet's per-level loss with objectness split: ``(cls, (obj, noobj), xy, wh)``.

        The pair keeps the four-way shape that ``YOLOV3Head.loss_by_feat`` unpacks; the
        negatives are those not also positive, as mmdet's clamp of the joint mask gives.
        """
        num_imgs = len(pred_map)
        pred_map = pred_map.permute(0, 2, 3, 1).reshape(num_imgs, -1, self.num_attrib)
        pos_mask = target_map[..., 4]
        noobj_mask = neg_map.float() * (1 - pos_mask)
        pos_weight = pos_mask.unsqueeze(dim=-1)
        target_conf = target_map[..., 4]
        loss_cls = self.loss_cls(pred_map[..., 5:], target_map[..., 5:], weight=pos_weight)
        loss_obj = self.loss_conf(pred_map[..., 4], target_conf, weight=pos_mask)
        loss_noobj = self.loss_conf(pred_map[..., 4], target_conf, weight=noobj_mask)
        loss_xy = self.loss_xy(pred_map[..., :2], target_map[..., :2], weight=pos_weight)
        loss_wh = self.loss_wh(pred_map[..., 2:4], target_map[..., 2:4], weight=pos_weight)
        return loss_cls, (loss_obj, loss_noobj), loss_xy, loss_wh

    def loss_by_feat(self, pred_maps: Sequence[Tensor], *args: Any, **kwargs: Any) -> Dict[str, Tensor]:
        levels = super().loss_by_feat(pred_maps, *args, **kwargs)
        parts = {
            "cls": sum(levels["loss_cls"]),
            "obj": sum(obj for obj, _ in levels["loss_conf"]),
            "noobj": sum(noobj for _, noobj in levels["loss_conf"]),
            "xy": sum(levels["loss_xy"]),
            "wh": sum(levels["loss_wh"]),
        }
        if isinstance(self.part_weighting, DynamicWeightAverage) and self.part_weighting.period is None:
            weighted = self.part_weighting(parts, epoch=MessageHub.get_current_instance().get_info("epoch"))
        else:
            weighted = self.part_weighting(parts)
        return {f"loss_{name}": value for name, value in weighted.items()}
