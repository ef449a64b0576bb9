"""The run harness of the plain trainers loses nothing: another run's results are refused, results
are written atomically, and an interrupted run over several seeds continues from its finished seeds."""
from __future__ import annotations

import json
import os

import pytest

from slf.cli import main
from slf.train import ClassifyConfig, summarize_runs, train_classifier, write_run_plots
from slf.train.harness import atomic_write_text, run_seeds

FAST = dict(data="digits", epochs=1, batch_size=64, num_threads=2)


def _results(folder):
    return json.loads((folder / "results.json").read_text(encoding="utf-8"))


def test_an_out_folder_with_another_runs_results_is_refused_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    common = ["classify", "--data", "digits", "--epochs", "1", "--seeds", "1", "--no-progress", "--out", str(out)]
    assert main([*common, "--loss", "ce"]) == 0
    first = _results(out)
    capsys.readouterr()

    assert main([*common, "--loss", "mse"]) == 2
    error = capsys.readouterr().err
    assert "slf classify:" in error and "holds another run (ce" in error and "--overwrite" in error and "loss" in error
    assert _results(out) == first  # nothing lost

    assert main([*common, "--loss", "mse", "--overwrite"]) == 0
    assert _results(out)["method"] == "mse" and _results(out)["complete"]


def test_an_interrupted_run_keeps_its_finished_seeds_and_continues_from_them(tmp_path):
    cfg = ClassifyConfig(loss="ce", **FAST)
    trained = []

    def interrupted(seed_cfg):
        if seed_cfg.seed == 1:
            raise KeyboardInterrupt  # the user's Ctrl-C during the second seed
        trained.append(seed_cfg.seed)
        return train_classifier(seed_cfg, progress=False)

    with pytest.raises(KeyboardInterrupt):
        run_seeds(cfg, 3, tmp_path, interrupted, summarize_runs, write_run_plots)
    partial = _results(tmp_path)
    assert partial["seeds"] == [0] and not partial["complete"] and trained == [0]

    def counted(seed_cfg):
        trained.append(seed_cfg.seed)
        return train_classifier(seed_cfg, progress=False)

    summary = run_seeds(cfg, 3, tmp_path, counted, summarize_runs, write_run_plots)
    assert trained == [0, 1, 2]  # seed 0 was not trained again
    final = _results(tmp_path)
    assert final["complete"] and final["seeds"] == [0, 1, 2] and summary["seeds"] == 3
    assert final["runs"][0] == partial["runs"][0]
    # A rerun of a finished folder trains nothing, and a larger one trains only the new seeds.
    run_seeds(cfg, 3, tmp_path, counted, summarize_runs, write_run_plots)
    run_seeds(cfg, 4, tmp_path, counted, summarize_runs, write_run_plots)
    assert trained == [0, 1, 2, 3] and _results(tmp_path)["seeds"] == [0, 1, 2, 3]


def test_a_write_that_fails_before_its_rename_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    atomic_write_text(target, json.dumps({"runs": [1, 2, 3]}))

    def killed(source, destination):
        raise OSError("killed before the rename")

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(OSError, match="killed"):
        atomic_write_text(target, json.dumps({"runs": [1, 2, 3, 4]}))
    assert json.loads(target.read_text()) == {"runs": [1, 2, 3]}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["results.json"]  # no temporary file left
