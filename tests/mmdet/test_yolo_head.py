"""SLFYOLOV3Head against mmdet's YOLOV3Head on the same predictions and boxes."""

from __future__ import annotations

import copy

import pytest
import torch

pytestmark = [pytest.mark.mmdet, pytest.mark.usefixtures("mmdet_scope")]

from mmdet.registry import MODELS  # noqa: E402
from mmengine.structures import InstanceData  # noqa: E402

import slf_mmdet  # noqa: E402,F401

HEAD = dict(
    num_classes=2,
    in_channels=[16, 16, 16],
    out_channels=[16, 16, 16],
    loss_cls=dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=1.0, reduction="sum"),
    loss_conf=dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=1.0, reduction="sum"),
    loss_xy=dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=2.0, reduction="sum"),
    loss_wh=dict(type="MSELoss", loss_weight=2.0, reduction="sum"),
    train_cfg=dict(assigner=dict(type="GridAssigner", pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0)),
)


def batch(seed: int = 0, size: int = 128):
    """Feature maps at strides 32/16/8 and tree-crown-sized boxes (15-60 px) for two images."""
    g = torch.Generator().manual_seed(seed)
    feats = tuple(torch.randn(2, 16, size // s, size // s, generator=g) for s in (32, 16, 8))
    gts = []
    for _ in range(2):
        xy = torch.rand(6, 2, generator=g) * (size - 64)
        wh = 15 + torch.rand(6, 2, generator=g) * 45
        gts.append(InstanceData(bboxes=torch.cat([xy, xy + wh], 1), labels=torch.randint(0, 2, (6,), generator=g)))
    metas = [dict(img_shape=(size, size), batch_input_shape=(size, size)) for _ in range(2)]
    return feats, gts, metas


def losses(head, feats, gts, metas):
    return head.loss_by_feat(*head(feats), gts, metas)


@pytest.mark.parametrize("normalize", [None, "mean"])
def test_softmax_start_equals_the_stock_head_part_by_part(normalize) -> None:
    torch.manual_seed(0)
    stock = MODELS.build(dict(type="YOLOV3Head", **HEAD))
    slf = MODELS.build(dict(type="SLFYOLOV3Head", slf_weighting=dict(mode="softmax", normalize=normalize), **HEAD))
    slf.load_state_dict(stock.state_dict(), strict=False)
    feats, gts, metas = batch()
    expected = {k: sum(v) for k, v in losses(stock, feats, gts, metas).items()}
    got = losses(slf, feats, gts, metas)
    assert set(got) == {"loss_cls", "loss_obj", "loss_noobj", "loss_xy", "loss_wh"}
    assert torch.allclose(got["loss_obj"] + got["loss_noobj"], expected["loss_conf"], rtol=1e-5)
    for part in ("cls", "xy", "wh"):
        assert torch.allclose(got[f"loss_{part}"], expected[f"loss_{part}"], rtol=1e-5)
    assert got["loss_obj"] > 0 and got["loss_noobj"] > 0
    assert torch.allclose(slf.part_weighting.lambdas, torch.tensor([1.0, 1.0, 1.0, 2.0, 2.0]), atol=1e-5)


def test_joint_weights_learn_with_the_head_and_keep_their_total() -> None:
    torch.manual_seed(0)
    head = MODELS.build(dict(type="SLFYOLOV3Head", slf_weighting=dict(mode="joint", num_samples=3, seed=0), **HEAD))
    start = head.part_weighting.lambdas.clone()
    optimizer = torch.optim.SGD(head.parameters(), lr=1e-3, momentum=0.9)
    feats, gts, metas = batch(seed=1)
    for _ in range(10):
        optimizer.zero_grad()
        total = sum(losses(head, feats, gts, metas).values())
        assert torch.isfinite(total)
        total.backward()
        assert head.part_weighting.selection.decision.logits.grad.abs().sum() > 0
        optimizer.step()
    assert not torch.allclose(head.part_weighting.lambdas, start)
    assert abs(float(head.part_weighting.lambdas.sum()) - 7.0) < 1e-4
    moved = head.part_weighting.selection.decision.logits.detach() - torch.log(torch.tensor([1, 1, 1, 2, 2.0]) / 7)
    assert moved.abs().max() > 1e-3


def test_the_default_recipe_weighs_the_parts_from_the_head_and_keeps_their_total() -> None:
    torch.manual_seed(0)
    head = MODELS.build(dict(type="SLFYOLOV3Head", **HEAD))  # no slf_weighting: the default recipe
    weighting = head.part_weighting
    assert weighting.selection.mode == "align" and not list(weighting.parameters())
    assert {id(p) for p in weighting.selection.last_layer} == {id(p) for p in head.convs_pred.parameters()}
    assert torch.allclose(weighting.lambdas, torch.tensor([1.0, 1.0, 1.0, 2.0, 2.0]), atol=1e-5)
    optimizer = torch.optim.SGD(head.parameters(), lr=1e-3, momentum=0.9)
    with pytest.warns(UserWarning, match="no held-out data"):
        for seed in range(6):
            optimizer.zero_grad()
            total = sum(losses(head, *batch(seed=seed)).values())
            assert torch.isfinite(total)
            total.backward()
            optimizer.step()
    assert abs(float(weighting.lambdas.sum()) - 7.0) < 1e-4 and int(weighting.selection.decision.observations) == 5
    assert weighting.selection.learner.batched_gradients  # the head's graph takes one vectorised backward
    # Mild: every part keeps a weight of the configured order, none is dropped.
    ratio = weighting.lambdas / torch.tensor([1.0, 1.0, 1.0, 2.0, 2.0])
    assert not torch.allclose(ratio, torch.ones(5), atol=1e-3) and float(ratio.min()) > 0.3


def test_configured_weights_are_the_prior_and_bad_options_fail() -> None:
    cfg = copy.deepcopy(HEAD)
    cfg["loss_cls"]["loss_weight"] = 0.5
    head = MODELS.build(dict(type="SLFYOLOV3Head", slf_weighting=dict(mode="softmax"), **cfg))
    assert torch.allclose(head.part_weighting.lambdas, torch.tensor([0.5, 1.0, 1.0, 2.0, 2.0]), atol=1e-5)
    with pytest.raises(TypeError, match=r"unexpected option\(s\) \['temperature'\]; valid: .*alignment"):
        MODELS.build(dict(type="SLFYOLOV3Head", slf_weighting=dict(temperature=1.0), **HEAD))


def test_an_mmdet_focal_loss_candidate_works_inside_the_yolo_head() -> None:
    """mmdet's FocalLoss takes (N, C) only; as a StochasticLoss candidate it gets the head's (B, P, C)
    maps as rows and, holding all the weight, gives the loss FocalLoss gives on those rows."""
    focal = dict(type="FocalLoss", use_sigmoid=True, reduction="sum")
    slot = dict(
        type="StochasticLoss",
        use_sigmoid=True,
        reduction="sum",
        mode="softmax",
        decision="global",
        candidates=["bce", focal],
        prior=[1e-9, 1.0],
    )
    torch.manual_seed(0)
    head = MODELS.build(dict(type="YOLOV3Head", **{**HEAD, "loss_cls": slot}))
    feats, gts, metas = batch()
    got = losses(head, feats, gts, metas)
    assert all(torch.isfinite(v).all() for level in got.values() for v in level)
    sum(got["loss_cls"]).backward()
    assert sum(conv.weight.grad.abs().sum() for conv in head.convs_pred) > 0

    rows = MODELS.build(focal)
    pred, target, weight = torch.randn(2, 30, 2), torch.randint(0, 2, (2, 30, 2)).float(), torch.ones(2, 30, 1)
    weight[:, ::3] = 0
    with pytest.raises((AssertionError, RuntimeError)):
        rows(pred, target, weight=weight)  # why the candidate needs rows: mmdet's own loss refuses this shape
    expected = rows(pred.reshape(-1, 2), target.reshape(-1, 2), weight=weight.reshape(-1, 1))
    assert torch.allclose(head.loss_cls(pred, target, weight=weight), expected, rtol=1e-4)


@pytest.mark.parametrize("kind", ["uncertainty", "gradnorm", "dwa"])
def test_a_peer_weighs_the_same_five_parts_from_the_configured_weights(kind) -> None:
    """SLF's peers in the head: the parts equal the stock head's at the start; their learned state moves."""
    torch.manual_seed(0)
    stock = MODELS.build(dict(type="YOLOV3Head", **HEAD))
    options = dict(type=kind, period=1) if kind == "dwa" else dict(type=kind)
    head = MODELS.build(dict(type="SLFYOLOV3Head", slf_weighting=options, **HEAD))
    head.load_state_dict(stock.state_dict(), strict=False)
    assert torch.allclose(head.part_weighting.lambdas, torch.tensor([1.0, 1.0, 1.0, 2.0, 2.0]), atol=1e-5)
    feats, gts, metas = batch(seed=2)
    expected = {k: sum(v) for k, v in losses(stock, feats, gts, metas).items()}
    got = losses(head, feats, gts, metas)
    shift = float(head.part_weighting.log_variances[0].detach()) / 2 if kind == "uncertainty" else 0.0
    assert torch.allclose(got["loss_cls"] - shift, expected["loss_cls"], rtol=1e-5)
    assert torch.allclose(got["loss_obj"] + got["loss_noobj"] - 2 * shift, expected["loss_conf"], rtol=1e-5)
    optimizer = torch.optim.SGD(head.parameters(), lr=1e-4)
    for _ in range(4):
        optimizer.zero_grad()
        total = sum(losses(head, feats, gts, metas).values())
        total.backward()
        optimizer.step()
    assert head.part_weighting.step == 5
    assert not torch.allclose(head.part_weighting.lambdas, torch.tensor([1.0, 1.0, 1.0, 2.0, 2.0]), atol=1e-4)
    if kind != "uncertainty":  # GradNorm and DWA keep the configured total
        assert abs(float(head.part_weighting.lambdas.sum()) - 7.0) < 1e-4


def test_an_unknown_weighting_type_is_refused_with_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown part weighting type 'mgda'; valid: \['dwa', 'gradnorm', 'slf', "):
        MODELS.build(dict(type="SLFYOLOV3Head", slf_weighting=dict(type="mgda"), **HEAD))
