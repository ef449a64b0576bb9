"""The IWSLT-14 recipes in configs/fairseq run fairseq-train with --criterion slf (two updates on the Ding data)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.fairseq, pytest.mark.slow]

RECIPES = Path(__file__).resolve().parents[2] / "configs" / "fairseq"


@pytest.mark.parametrize(
    "recipe,model",
    [
        ("iwslt14_transformer.sh", "TransformerModel"),
        ("iwslt14_lstm1.sh", "LSTMModel"),
        ("iwslt14_lstm2.sh", "LSTMModel"),
    ],
)
def test_recipe_trains_with_slf(recipe: str, model: str, ding_data: Path, tmp_path: Path) -> None:
    env = dict(
        os.environ,
        DATA=str(ding_data / "data-bin"),
        SAVE_DIR=str(tmp_path / "ckpt"),
        PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    )
    result = subprocess.run(
        [
            "bash",
            str(RECIPES / recipe),
            "--cpu",
            "--max-update",
            "2",
            "--max-tokens",
            "1024",
            "--num-workers",
            "0",
            "--no-save",
            "--log-interval",
            "1",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert f"model: {model}" in output and "criterion: SLFCriterion" in output
    assert '"w_label_smoothed_nll"' in output and '"w_mae"' in output
    assert "slf_mode='align'" in output or "'slf_mode': 'align'" in output  # the default recipe
    assert "no held-out data" not in output  # its reference came from the valid split
    if recipe == "iwslt14_lstm2.sh":
        assert "encoder_layers=2" in output or "'encoder_layers': 2" in output
