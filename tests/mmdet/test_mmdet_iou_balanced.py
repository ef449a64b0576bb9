"""The IoU-balanced losses and IoUBalancedRetinaHead in mmdet, against mmdet's own losses and RetinaHead.

As mmdet's ``test_loss.py``: built from config dicts through ``MODELS``; weights,
``avg_factor``, ``reduction_override``, ``loss_weight`` and empty inputs; with exponent 0
the losses equal ``CrossEntropyLoss`` / ``FocalLoss`` / ``SmoothL1Loss`` on the same inputs,
and the head equals ``RetinaHead``. Then the head's IoUs and a loss step of the
tree-crown config's RetinaNet.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

pytestmark = [pytest.mark.mmdet, pytest.mark.usefixtures("mmdet_scope", "single_thread")]

from mmdet.registry import MODELS  # noqa: E402
from mmdet.structures import DetDataSample  # noqa: E402
from mmdet.structures.bbox import bbox_overlaps  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.structures import InstanceData  # noqa: E402

import slf_mmdet  # noqa: E402,F401
from slf.losses.detection import aligned_box_iou, iou_balanced_weights  # noqa: E402

NUM_CLASSES = 3
CONFIG = Path(__file__).resolve().parents[2] / "configs" / "mmdet" / "retinanet_r18_iou_balanced_deepforest.py"


def cls_inputs(n: int = 20, use_sigmoid: bool = True, seed: int = 0):
    """Logits, labels (background = num_classes), IoUs of the positives and per-anchor weights."""
    g = torch.Generator().manual_seed(seed)
    pred = torch.randn(n, NUM_CLASSES + (0 if use_sigmoid else 1), generator=g).requires_grad_()
    labels = torch.randint(0, NUM_CLASSES + 1, (n,), generator=g)
    labels[:2] = torch.tensor([0, NUM_CLASSES])
    ious = torch.where(labels < NUM_CLASSES, 0.1 + 0.9 * torch.rand(n, generator=g), torch.zeros(n))
    weight = (torch.rand(n, generator=g) > 0.2).float()
    return pred, labels, ious, weight


def box_inputs(n: int = 12, seed: int = 0):
    """Predicted and ground-truth boxes and (N, 4) bbox weights (0 rows: negatives), as a head passes them."""
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 50
    target = torch.cat([xy, xy + 5 + torch.rand(n, 2, generator=g) * 40], dim=1)
    pred = (target + torch.randn(n, 4, generator=g) * 4).requires_grad_()
    return pred, target, (torch.rand(n, 1, generator=g) > 0.3).float().expand(n, 4)


def cls_loss(**cfg):
    return MODELS.build(dict(type="IoUBalancedClsLoss", **cfg))


def loc_loss(**cfg):
    return MODELS.build(dict(type="IoUBalancedLocLoss", **cfg))


# ----------------------------------------------------------------------------- the losses' contract


def test_registered_under_mmdet_names() -> None:
    assert type(cls_loss()).__name__ == "MMDetIoUBalancedClsLoss"
    assert type(loc_loss()).__name__ == "MMDetIoUBalancedLocLoss"
    assert MODELS.get("IoUBalancedRetinaHead") is slf_mmdet.iou_balanced.IoUBalancedRetinaHead


@pytest.mark.parametrize("use_sigmoid", [True, False])
def test_cls_exponent_zero_equals_mmdet_cross_entropy(use_sigmoid: bool) -> None:
    pred, labels, ious, weight = cls_inputs(use_sigmoid=use_sigmoid)
    ours = cls_loss(use_sigmoid=use_sigmoid, eta=0.0, loss_weight=2.0)
    stock = MODELS.build(dict(type="CrossEntropyLoss", use_sigmoid=use_sigmoid, loss_weight=2.0))
    target = (labels, ious)
    for kwargs in (dict(avg_factor=7.0), dict(reduction_override="sum"), dict()):
        torch.testing.assert_close(
            ours(pred, target, weight, **kwargs),
            stock(pred, labels, weight, **kwargs) * (NUM_CLASSES if use_sigmoid and not kwargs else 1),
        )
    none = ours(pred, target, weight, reduction_override="none")
    expected = stock(pred, labels, weight, reduction_override="none")
    assert none.shape == (20,)
    torch.testing.assert_close(none, expected.sum(dim=1) if use_sigmoid else expected)


def test_cls_exponent_zero_with_focal_terms_equals_mmdet_focal_loss() -> None:
    pred, labels, ious, weight = cls_inputs()
    ours = cls_loss(eta=0.0, gamma=2.0, alpha=0.25)
    stock = MODELS.build(dict(type="FocalLoss", use_sigmoid=True, gamma=2.0, alpha=0.25))
    torch.testing.assert_close(
        ours(pred, (labels, ious), weight, avg_factor=5.0), stock(pred, labels, weight, avg_factor=5.0)
    )
    torch.testing.assert_close(
        ours(pred, (labels, ious), weight, reduction_override="none"),
        stock(pred, labels, weight, reduction_override="none").sum(dim=1),
    )


def test_cls_balancing_keeps_the_positive_total_and_favours_high_iou() -> None:
    pred, labels, ious, weight = cls_inputs(n=40)
    plain = cls_loss(eta=0.0, gamma=2.0, alpha=0.25)(pred, (labels, ious), weight, reduction_override="none")
    ours = cls_loss(eta=1.5, gamma=2.0, alpha=0.25)(pred, (labels, ious), weight, reduction_override="none")
    torch.testing.assert_close(ours.sum(), plain.sum())
    positive = (labels < NUM_CLASSES) & (weight > 0)
    gain = (ours - plain)[positive]
    assert gain[ious[positive] > 0.8].min() > 0 > gain[ious[positive] < 0.3].max()
    ours.sum().backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()


def test_cls_contract_errors_and_empty_input() -> None:
    pred, labels, ious, weight = cls_inputs()
    loss = cls_loss()
    with pytest.raises(TypeError, match=r"pair \(labels, ious\)"):
        loss(pred, labels)
    with pytest.raises(ValueError, match="avg_factor can not be used"):
        loss(pred, (labels, ious), avg_factor=2.0, reduction_override="sum")
    with pytest.raises(ValueError, match="reduction_override"):
        loss(pred, (labels, ious), reduction_override="avg")
    with pytest.raises(ValueError, match="per anchor"):
        loss(pred, (labels, ious), weight.unsqueeze(1).expand(20, NUM_CLASSES))
    with pytest.raises(ValueError, match="alpha"):
        cls_loss(alpha=2.0)
    empty = pred[:0].detach().requires_grad_()
    for reduction in ("mean", "sum"):
        value = loss(empty, (labels[:0], ious[:0]), weight[:0], reduction_override=reduction)
        value.backward()
        assert value.item() == 0 and empty.grad.shape == (0, NUM_CLASSES)
    assert loss(empty, (labels[:0], ious[:0]), avg_factor=0.0).item() == 0
    assert loss(empty, (labels[:0], ious[:0]), reduction_override="none").shape == (0,)


@pytest.mark.parametrize("with_ious", [False, True])
def test_loc_exponent_zero_equals_mmdet_smooth_l1(with_ious: bool) -> None:
    pred, target, weight = box_inputs()
    ious = torch.rand(12)
    ours = loc_loss(lam=0.0, beta=0.5, loss_weight=3.0)
    stock = MODELS.build(dict(type="SmoothL1Loss", beta=0.5, loss_weight=3.0))
    target_in = (target, ious) if with_ious else target
    for kwargs in (dict(avg_factor=4.0), dict(reduction_override="sum"), dict(reduction_override="none"), dict()):
        torch.testing.assert_close(ours(pred, target_in, weight, **kwargs), stock(pred, target, weight, **kwargs))
    torch.testing.assert_close(ours(pred, target_in), stock(pred, target))


def test_loc_iou_is_mmdets_bbox_overlaps_and_weights_keep_their_sum() -> None:
    pred, target, weight = box_inputs()
    ious = bbox_overlaps(pred.detach(), target, is_aligned=True)
    torch.testing.assert_close(aligned_box_iou(pred.detach(), target), ious)  # the core IoU agrees with mmdet's
    ours = loc_loss(lam=1.5, beta=0.5)(pred, target, weight, reduction_override="none")
    plain = MODELS.build(dict(type="SmoothL1Loss", beta=0.5))(pred, target, weight, reduction_override="none")
    rows = weight[:, 0] > 0
    factors = (ours.sum(dim=1)[rows] / plain.sum(dim=1)[rows]).detach()
    torch.testing.assert_close(factors, iou_balanced_weights(ious[rows], 1.5))
    torch.testing.assert_close(factors.sum(), rows.sum().float())  # the positives' weights keep their sum
    assert factors[ious[rows].argmax()] == factors.max() and factors[ious[rows].argmin()] == factors.min()
    # the same IoUs given explicitly (deltas path) give the same loss
    torch.testing.assert_close(
        loc_loss(lam=1.5, beta=0.5)(pred, (target, ious), weight, reduction_override="none"), ours
    )


def test_loc_gradient_skips_the_iou() -> None:
    pred, target, weight = box_inputs()
    loc_loss(lam=1.5)(pred, target, weight, avg_factor=5.0).backward()
    with torch.no_grad():
        w = iou_balanced_weights(bbox_overlaps(pred, target, is_aligned=True), 1.5, weight=weight.mean(dim=1))
    frozen = pred.detach().clone().requires_grad_()
    MODELS.build(dict(type="SmoothL1Loss"))(frozen, target, weight * w.unsqueeze(1), avg_factor=5.0).backward()
    torch.testing.assert_close(pred.grad, frozen.grad)


def test_loc_contract_errors_and_empty_input() -> None:
    pred, target, weight = box_inputs()
    loss = loc_loss()
    per_row = loss(pred, target, weight[:, 0], reduction_override="none")
    torch.testing.assert_close(per_row, loss(pred, target, weight, reduction_override="none"))
    torch.testing.assert_close(
        loc_loss(w_loc=3.049, lam=1.5)(pred, target, reduction_override="sum"),
        (
            MODELS.build(dict(type="SmoothL1Loss"))(pred, target, reduction_override="none")
            * 3.049
            * bbox_overlaps(pred, target, is_aligned=True).unsqueeze(1) ** 1.5
        ).sum(),
    )
    with pytest.raises(ValueError, match="avg_factor can not be used"):
        loss(pred, target, avg_factor=2.0, reduction_override="sum")
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        loss(pred[:, :2], target[:, :2])
    with pytest.raises(TypeError, match="pair"):
        loss(pred, (target,))
    with pytest.raises(ValueError, match="beta"):
        loc_loss(beta=0.0)
    empty = pred[:0].detach().requires_grad_()
    for reduction in ("mean", "sum", "none"):
        value = loss(empty, target[:0], weight[:0], reduction_override=reduction)
        value.sum().backward()
        assert value.sum().item() == 0 and empty.grad.shape == (0, 4)


# ----------------------------------------------------------------------------- the head


HEAD = dict(
    num_classes=2,
    in_channels=16,
    stacked_convs=1,
    feat_channels=16,
    anchor_generator=dict(
        type="AnchorGenerator", octave_base_scale=4, scales_per_octave=3, ratios=[0.5, 1.0, 2.0], strides=[8, 16, 32]
    ),
    train_cfg=dict(
        assigner=dict(type="MaxIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0, ignore_iof_thr=-1),
        sampler=dict(type="PseudoSampler"),
        allowed_border=-1,
        pos_weight=-1,
        debug=False,
    ),
)


def head_batch(seed: int = 0, size: int = 96):
    """FPN features at strides 8/16/32 and crown-sized boxes for two images."""
    g = torch.Generator().manual_seed(seed)
    feats = tuple(torch.randn(2, 16, size // s, size // s, generator=g) for s in (8, 16, 32))
    gts = []
    for _ in range(2):
        xy = torch.rand(4, 2, generator=g) * (size - 50)
        wh = 15 + torch.rand(4, 2, generator=g) * 30
        gts.append(InstanceData(bboxes=torch.cat([xy, xy + wh], 1), labels=torch.randint(0, 2, (4,), generator=g)))
    metas = [dict(img_shape=(size, size), pad_shape=(size, size), batch_input_shape=(size, size)) for _ in range(2)]
    return feats, gts, metas


@pytest.mark.parametrize("decoded", [False, True])
def test_head_at_exponent_zero_equals_retina_head(decoded: bool) -> None:
    torch.manual_seed(0)
    extra = dict(reg_decoded_bbox=True) if decoded else {}
    stock = MODELS.build(
        dict(
            type="RetinaHead",
            **HEAD,
            **extra,
            loss_cls=dict(type="FocalLoss", use_sigmoid=True, gamma=2.0, alpha=0.25),
            loss_bbox=dict(type="SmoothL1Loss", beta=0.11),
        )
    )
    ours = MODELS.build(
        dict(
            type="IoUBalancedRetinaHead",
            **HEAD,
            **extra,
            loss_cls=dict(type="IoUBalancedClsLoss", eta=0.0, gamma=2.0, alpha=0.25),
            loss_bbox=dict(type="IoUBalancedLocLoss", lam=0.0, beta=0.11),
        )
    )
    ours.load_state_dict(stock.state_dict())
    feats, gts, metas = head_batch()
    expected = stock.loss_by_feat(*stock(feats), gts, metas)
    got = ours.loss_by_feat(*ours(feats), gts, metas)
    for key in ("loss_cls", "loss_bbox"):
        torch.testing.assert_close(torch.stack(got[key]), torch.stack(expected[key]))
    # the balanced head moves the losses but keeps them finite
    balanced = MODELS.build(
        dict(
            type="IoUBalancedRetinaHead",
            **HEAD,
            **extra,
            loss_cls=dict(type="IoUBalancedClsLoss", gamma=2.0, alpha=0.25),
            loss_bbox=dict(type="IoUBalancedLocLoss", beta=0.11),
        )
    )
    balanced.load_state_dict(stock.state_dict())
    values = balanced.loss_by_feat(*balanced(feats), gts, metas)
    assert all(torch.isfinite(v).all() for key in values for v in values[key])
    assert not torch.allclose(torch.stack(values["loss_bbox"]), torch.stack(expected["loss_bbox"]))


def test_head_ious_are_one_for_perfect_predictions_and_zero_for_negatives() -> None:
    head = MODELS.build(dict(type="IoUBalancedRetinaHead", **HEAD, loss_cls=dict(type="IoUBalancedClsLoss")))
    assert head.cls_out_channels == head.num_classes  # the loss's sigmoid default sizes retina_cls
    feats, gts, metas = head_batch()
    featmap_sizes = [f.shape[-2:] for f in feats]
    anchors, valid = head.get_anchors(featmap_sizes, metas, device="cpu")
    labels, _, bbox_targets, _, _ = head.get_targets(anchors, valid, gts, metas)
    flat_anchors = torch.cat(anchors[0])
    labels0 = torch.cat([level[0] for level in labels])
    targets0 = torch.cat([level[0] for level in bbox_targets])
    positive = labels0 < head.num_classes
    assert positive.sum() > 0
    # predicting the encoded targets exactly gives IoU 1 on the positives
    perfect = head.positive_ious(flat_anchors, targets0, targets0, labels0)
    torch.testing.assert_close(perfect[positive], torch.ones(int(positive.sum())), atol=1e-5, rtol=0)
    assert (perfect[~positive] == 0).all()
    # zero deltas: the anchors themselves, whose IoU with the matched boxes the assigner measured (>= 0.4 here)
    at_anchors = head.positive_ious(flat_anchors, torch.zeros_like(targets0), targets0, labels0)
    assert ((at_anchors[positive] > 0) & (at_anchors[positive] <= 1)).all()
    gt_boxes = head.bbox_coder.decode(flat_anchors[positive], targets0[positive])
    torch.testing.assert_close(at_anchors[positive], bbox_overlaps(flat_anchors[positive], gt_boxes, is_aligned=True))


def test_head_defaults_are_the_papers_retinanet_losses() -> None:
    head = MODELS.build(dict(type="IoUBalancedRetinaHead", **HEAD))
    cls, loc = head.loss_cls, head.loss_bbox
    assert (cls.use_sigmoid, cls.eta, cls.gamma, cls.alpha) == (True, 1.5, 2.0, 0.25)
    assert (loc.lam, loc.beta, loc.w_loc) == (1.5, 0.11, None) and not head.reg_decoded_bbox
    stock = MODELS.build(
        dict(
            type="IoUBalancedRetinaHead",
            **HEAD,
            loss_cls=dict(type="FocalLoss", use_sigmoid=True),
            loss_bbox=dict(type="L1Loss"),
        )
    )
    feats, gts, metas = head_batch()
    values = stock.loss_by_feat(*stock(feats), gts, metas)  # mmdet's losses get mmdet's calls
    assert all(torch.isfinite(v).all() for key in values for v in values[key])


def test_config_builds_and_a_loss_step_reaches_the_head() -> None:
    cfg = Config.fromfile(CONFIG)
    assert cfg.model.backbone.init_cfg is None
    assert cfg.train_dataloader.dataset.data_root == "data/deepforest/"
    assert (cfg.model.bbox_head.loss_cls.eta, cfg.model.bbox_head.loss_bbox.lam) == (1.5, 1.5)
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(cfg.model))
    assert type(model.bbox_head).__name__ == "IoUBalancedRetinaHead" and model.bbox_head.num_classes == 1
    assert type(model.bbox_head.loss_cls).__name__ == "MMDetIoUBalancedClsLoss"
    model.train()
    size = 96
    g = torch.Generator().manual_seed(0)
    inputs = torch.randn(2, 3, size, size, generator=g)
    samples = []
    for _ in range(2):
        xy = torch.rand(3, 2, generator=g) * 40
        sample = DetDataSample(
            metainfo=dict(
                img_shape=(size, size), pad_shape=(size, size), batch_input_shape=(size, size), scale_factor=(1.0, 1.0)
            )
        )
        sample.gt_instances = InstanceData(
            bboxes=torch.cat([xy, xy + 20 + torch.rand(3, 2, generator=g) * 30], 1),
            labels=torch.zeros(3, dtype=torch.long),
        )
        samples.append(sample)
    losses = model.loss(inputs, samples)
    assert set(losses) == {"loss_cls", "loss_bbox"}
    total = sum(sum(v) for v in losses.values())
    assert all(torch.isfinite(v).all() for key in losses for v in losses[key])
    total.backward()
    for layer in (model.bbox_head.retina_cls, model.bbox_head.retina_reg):
        assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
