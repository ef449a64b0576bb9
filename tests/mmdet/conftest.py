"""Shared fixtures of the mmdet tests: the real tree-crown tiles, prepared once per session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def deepforest_root(tmp_path_factory) -> Path:
    """The deepforest wheel's images tiled 400x400 in mmdet's VOC layout (downloads the wheel once)."""
    from slf_mmdet.deepforest_tiles import prepare_deepforest_voc

    return prepare_deepforest_voc(tmp_path_factory.mktemp("deepforest"), tile=400)


@pytest.fixture
def mmdet_scope():
    """Build from mmdet's registries even after an mmengine Runner made 'mmengine' the default scope."""
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope("mmdet"):
        yield
