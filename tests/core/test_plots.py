"""Selection-weight and accuracy plots: inputs of every documented form give a real PNG."""

import json

import pytest

from slf.plots import accuracy_curves, plot_curves, plot_selection_weights, weight_histories

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _history(steps, drift):
    return [{"step": s, "weights": [0.5 + drift * s, 0.5 - drift * s], "tau": 1.0} for s in steps]


def test_one_history_is_a_stacked_plot(tmp_path):
    path = plot_selection_weights(_history(range(0, 50, 10), 0.01), ["ce", "mae"], tmp_path / "one.png")
    assert path == tmp_path / "one.png" and path.read_bytes()[:8] == PNG_MAGIC


def test_several_seeds_align_on_common_steps(tmp_path):
    histories = [_history(range(0, 50, 10), 0.01), _history(range(0, 40, 10), 0.005)]
    steps_seen, names = weight_histories(histories)
    assert len(steps_seen) == 2 and names is None
    path = plot_selection_weights(histories, ["ce", "mae"], tmp_path / "many.png")
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_results_json_path_supplies_names(tmp_path):
    results = {
        "method": "slf-joint",
        "runs": [
            {
                "candidates": ["ce", "mae"],
                "weights_history": _history(range(5), 0.01),
                "val_acc": [0.5, 0.6],
                "test_acc": [0.4, 0.55],
            },
            {
                "candidates": ["ce", "mae"],
                "weights_history": _history(range(5), 0.02),
                "val_acc": [0.52, 0.61],
                "test_acc": [0.45, 0.5],
            },
        ],
    }
    (tmp_path / "results.json").write_text(json.dumps(results))
    histories, names = weight_histories(tmp_path / "results.json")
    assert names == ["ce", "mae"] and len(histories) == 2
    assert plot_selection_weights(tmp_path / "results.json", path=tmp_path / "w.png").is_file()
    curves = accuracy_curves(results)
    assert curves == {"slf-joint val": [[0.5, 0.6], [0.52, 0.61]], "slf-joint test": [[0.4, 0.55], [0.45, 0.5]]}
    assert plot_curves(curves, tmp_path / "acc.png").read_bytes()[:8] == PNG_MAGIC


def test_bad_inputs_are_reported(tmp_path):
    with pytest.raises(ValueError, match="names"):
        plot_selection_weights(_history(range(3), 0.1), ["ce"], tmp_path / "x.png")
    with pytest.raises(ValueError, match="SLF"):
        plot_selection_weights({"runs": [{"val_acc": [1.0]}]}, None, tmp_path / "x.png")
    with pytest.raises(TypeError, match="weights history"):
        plot_selection_weights(42, None, tmp_path / "x.png")


def test_method_comparison_plot_is_a_png_and_rejects_nothing(tmp_path):
    from slf.plots import plot_method_comparison

    path = plot_method_comparison({"ce": [0.90, 0.92, 0.91], "slf-joint": [0.93, 0.94, 0.92]}, tmp_path / "m.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="no scores"):
        plot_method_comparison({}, tmp_path / "empty.png")


def test_weight_grid_draws_one_panel_per_source_and_names_empty_ones(tmp_path):
    from matplotlib.image import imread

    from slf.plots import plot_selection_weight_grid

    run = {"candidates": ["ce", "mae"], "weights_history": _history(range(0, 50, 10), 0.01)}
    seeds = {"runs": [run, {**run, "weights_history": _history(range(0, 50, 10), 0.005)}]}
    wide = plot_selection_weight_grid({"one seed": run, "two seeds": seeds, "third": run}, tmp_path / "wide.png")
    tall = plot_selection_weight_grid(
        {"one seed": run, "two seeds": seeds, "third": run}, tmp_path / "tall.png", columns=1, title="weights"
    )
    assert wide.read_bytes()[:8] == PNG_MAGIC
    (wide_h, wide_w), (tall_h, tall_w) = imread(wide).shape[:2], imread(tall).shape[:2]
    assert wide_w > 2 * tall_w and tall_h > 2 * wide_h  # 1 x 3 panels vs 3 x 1
    with pytest.raises(ValueError, match=r"panels \['ce alone'\]"):
        plot_selection_weight_grid({"slf": run, "ce alone": {"runs": [{"val_acc": [1.0]}]}}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="at least one panel"):
        plot_selection_weight_grid({}, tmp_path / "x.png")


def test_comparison_axis_shows_scores_above_one_and_clips_fractions():
    from slf.plots import comparison_axis_limits

    bottom, top = comparison_axis_limits([2.31, 0.35, 2.39], [0.37, 0.06, 0.25])
    assert bottom < 0.29 and top > 2.68
    bottom, top = comparison_axis_limits([0.97, 0.99], [0.02, 0.05])
    assert top == 1.0 and bottom < 0.95
