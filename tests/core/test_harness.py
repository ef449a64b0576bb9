"""The run harness of the plain trainers loses nothing: another run's results are refused, results
and plots are written atomically, and an interrupted run over several seeds continues from its finished
seeds; its summary gives each metric with its 95% interval."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from scipy import stats

from slf.atomic_file import atomic_write_text
from slf.cli import main
from slf.plots import plot_curves
from slf.train import ClassifyConfig, summarize_runs, train_classifier, write_run_plots
from slf.train.harness import interval_cell, run_seeds, summarize_seeds

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


def test_a_plot_killed_before_its_rename_leaves_the_previous_png_whole(tmp_path, monkeypatch):
    target = tmp_path / "accuracy.png"
    plot_curves({"ce": [[0.5, 0.7, 0.8]]}, target)
    before = target.read_bytes()
    assert before.startswith(b"\x89PNG")
    monkeypatch.setattr(os, "replace", lambda source, destination: (_ for _ in ()).throw(OSError("killed")))
    with pytest.raises(OSError, match="killed"):
        plot_curves({"ce": [[0.1, 0.2, 0.3]], "mae": [[0.3, 0.2, 0.1]]}, target)
    assert target.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["accuracy.png"]


def test_the_summary_gives_each_metric_its_mean_and_95_interval():
    scores = [0.61, 0.64, 0.70, 0.66, 0.59]
    runs = [
        {"method": "slf-align", "config": {"data": "digits"}, "score": score, "time_per_step_s": 0.002}
        for score in scores
    ]
    summary = summarize_seeds(runs, {"score": lambda run: run["score"]}, fields=("data",))
    low, high = stats.t.interval(0.95, len(scores) - 1, loc=np.mean(scores), scale=stats.sem(scores))
    assert summary["score_mean"] == pytest.approx(np.mean(scores))
    assert summary["score_ci95"] == pytest.approx((high - low) / 2)
    assert summary["ms_per_step"] == pytest.approx(2.0) and summary["seeds"] == 5 and "mean_weights" not in summary
    assert interval_cell(summary, "score") == f"{np.mean(scores):.3f} +- {(high - low) / 2:.3f}"
    one = summarize_seeds(runs[:1], {"score": lambda run: run["score"]})
    assert one["score_ci95"] == 0.0 and one["score_std"] == 0.0
