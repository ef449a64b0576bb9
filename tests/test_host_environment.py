"""The hosts that `make test` installs import and work on this CPU-only torch.

These are real checks of the install pipeline (ENVIRONMENT.md): a missing build step
(mmcv's compiled ops, fairseq-fixed's extensions, rdkit) fails here, not in an adapter.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch


def test_torch_is_the_pinned_cpu_build():
    assert torch.__version__.startswith("2.13.0")
    assert torch.version.cuda is None, "a CUDA torch was pulled in by an unpinned dependency"


@pytest.mark.mmdet
def test_mmdet_builds_a_yolov3_head_and_runs_compiled_nms():
    from mmcv.ops import nms
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    register_all_modules()
    head = MODELS.build(
        dict(
            type="YOLOV3Head",
            num_classes=2,
            in_channels=[32, 16, 8],
            out_channels=[32, 16, 8],
            anchor_generator=dict(
                type="YOLOAnchorGenerator",
                base_sizes=[
                    [(116, 90), (156, 198), (373, 326)],
                    [(30, 61), (62, 45), (59, 119)],
                    [(10, 13), (16, 30), (33, 23)],
                ],
                strides=[32, 16, 8],
            ),
            bbox_coder=dict(type="YOLOBBoxCoder"),
            featmap_strides=[32, 16, 8],
        )
    )
    feats = tuple(torch.randn(1, c, s, s) for c, s in ((32, 2), (16, 4), (8, 8)))
    outputs = head(feats)
    assert [o.shape[1] for o in outputs[0]] == [3 * (5 + 2)] * 3
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], dtype=torch.float32)
    kept, index = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
    assert index.tolist() == [0, 2]


@pytest.mark.fairseq
def test_fairseq_criterion_registry_and_label_smoothed_nll():
    from fairseq.criterions import CRITERION_REGISTRY
    from fairseq.criterions.label_smoothed_cross_entropy import label_smoothed_nll_loss

    assert "label_smoothed_cross_entropy" in CRITERION_REGISTRY
    lprobs = torch.log_softmax(torch.randn(6, 11), dim=-1)
    target = torch.randint(1, 11, (6, 1))
    loss, nll = label_smoothed_nll_loss(lprobs, target, epsilon=0.0, ignore_index=0)
    assert torch.allclose(loss, nll) and torch.allclose(nll, -lprobs.gather(1, target).sum())


@pytest.mark.pyg
def test_pyg_graph_from_real_smiles_through_gcn():
    from rdkit import RDConfig
    from torch_geometric.nn import GCNConv
    from torch_geometric.utils import from_smiles

    smi = Path(RDConfig.RDContribDir) / "FreeWilson" / "data" / "CHEMBL2321810.smi"
    first = smi.read_text().split()[0]
    graph = from_smiles(first)
    assert graph.num_nodes > 5 and graph.edge_index.shape[0] == 2
    out = GCNConv(graph.x.shape[1], 4)(graph.x.float(), graph.edge_index)
    assert out.shape == (graph.num_nodes, 4) and torch.isfinite(out).all()


def test_every_host_is_installed_by_make_test():
    """`make test` installs all extras: a missing host is a broken install, not a skip."""
    missing = [
        name
        for name in ("mmdet", "mmcv", "mmengine", "fairseq", "torch_geometric", "rdkit", "datamol")
        if importlib.util.find_spec(name) is None
    ]
    assert not missing, f"not installed: {missing}; run `make test` (it installs every extra)"
