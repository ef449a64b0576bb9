"""A user's own data: CSV tables through ``slf classify --data csv:PATH`` and tensors through the Python trainer.

The tables are written from scikit-learn's bundled real data sets (wine: 178 wines, 13 chemical
measurements, 3 cultivars; iris with its species names as text labels).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from slf.cli import main
from slf.data import load_csv_table, load_dataset, splits_from_tensors
from slf.models import build_model
from slf.train import ClassifyConfig, train_classifier


@pytest.fixture(scope="module")
def wine_csv(tmp_path_factory) -> Path:
    from sklearn.datasets import load_wine

    path = tmp_path_factory.mktemp("tables") / "wine.csv"
    load_wine(as_frame=True).frame.to_csv(path, index=False)  # 13 feature columns, then 'target'
    return path


def write_lines(path: Path, lines) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_csv_table_is_split_stratified_and_standardised_on_the_training_rows(wine_csv):
    splits = load_csv_table(wine_csv, seed=0, label_column="target")
    from sklearn.datasets import load_wine

    x, y = load_wine(return_X_y=True)
    assert splits.sizes() == (124, 27, 27) and sum(splits.sizes()) == len(y)
    assert splits.input_shape == (13,) and splits.num_classes == 3 and splits.classes == ("0", "1", "2")
    assert splits.feature_names[0] == "alcohol" and len(splits.feature_names) == 13
    train_x, train_y = splits.train.tensors
    assert torch.allclose(train_x.mean(0), torch.zeros(13), atol=1e-5)
    assert torch.allclose(train_x.std(0), torch.ones(13), atol=1e-4)
    # Each split holds every class in proportion (to within one row).
    for part in (splits.train, splits.val, splits.test):
        counts = np.bincount(part.tensors[1].numpy(), minlength=3) / len(part)
        assert np.abs(counts - np.bincount(y) / len(y)).max() < 1.5 / len(part) + 1e-9
    # The rows are the file's rows, standardised with the training statistics.
    raw = torch.as_tensor(x, dtype=torch.float32)
    restored = train_x * torch.tensor(splits.std) + torch.tensor(splits.mean)
    assert all(bool((raw - row).abs().max(dim=1).values.min() < 1e-3) for row in restored[:10])
    again = load_csv_table(wine_csv, seed=0, label_column="target")
    assert torch.equal(again.test.tensors[0], splits.test.tensors[0])
    assert not torch.equal(
        load_csv_table(wine_csv, seed=1, label_column="target").test.tensors[1], splits.test.tensors[1]
    )


def test_text_labels_become_classes_and_columns_can_be_chosen(tmp_path):
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True)
    frame = iris.frame.assign(species=[iris.target_names[i] for i in iris.target]).drop(columns="target")
    path = tmp_path / "iris.csv"
    frame.to_csv(path, index=False)
    splits = load_dataset(
        f"csv:{path}", 0, val_size=30, test_size=30, feature_columns=["petal length (cm)", "petal width (cm)"]
    )
    assert splits.classes == ("setosa", "versicolor", "virginica")  # the last column, by default
    assert splits.input_shape == (2,) and splits.sizes() == (90, 30, 30)


def test_numeric_labels_are_classes_in_numeric_order(tmp_path):
    lines = ["x,label"] + [f"{i},{label}" for i, label in enumerate([10, 2, 2, 10, 1, 1, 2, 10, 1] * 3)]
    splits = load_csv_table(write_lines(tmp_path / "numbers.csv", lines), seed=0, val_size=3, test_size=3)
    assert splits.classes == ("1", "2", "10")
    x, y = splits.train.tensors
    raw = x[:, 0] * splits.std[0] + splits.mean[0]  # the row number, which fixes the label
    labels = [[10, 2, 2, 10, 1, 1, 2, 10, 1][round(float(r)) % 9] for r in raw]
    assert [splits.classes[i] for i in y.tolist()] == [str(label) for label in labels]


@pytest.mark.parametrize(
    "lines, options, message",
    [
        (["a,b,label", "1,2,x", "3,oops,y", "5,6,x"], {}, "line 3, column 'b': 'oops' is not a finite number"),
        (["a,b,label", "1,2,x", "3,4,y", "5,,x"], {}, "line 4, column 'b': missing value"),
        (["a,b,label", "1,2,x", "3,inf,y"], {}, "line 3, column 'b': 'inf' is not a finite number"),
        (["a,b,label", "1,2,x", "3,4,", "5,6,y"], {}, "line 3: the label column 'label' is empty"),
        (["a,b,label", "1,2,x", "3,4,x"], {}, "holds one class ('x') in all 2 rows"),
        (
            ["a,b,label", "1,2,x", "3,4,y"],
            {"label_column": "class"},
            "no label column 'class'; the file's columns: ['a', 'b', 'label']",
        ),
        (["a,b,label", "1,2,x", "3,4,y"], {"feature_columns": ["a", "c"]}, "no feature column 'c'"),
        (["a,b,label", "1,2,x", "3,4,y"], {"feature_columns": ["a", "label"]}, "is both the label and a feature"),
        (["a;b;label", "1;2;x"], {}, "is the file comma-separated with a header row?"),
    ],
)
def test_a_bad_table_is_refused_naming_its_line_and_column(tmp_path, lines, options, message):
    path = write_lines(tmp_path / "bad.csv", lines)
    with pytest.raises(ValueError) as error:
        load_csv_table(path, seed=0, **options)
    assert message in str(error.value) and str(path) in str(error.value)


def test_a_missing_file_and_columns_for_another_data_set_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="no CSV file at"):
        load_dataset(f"csv:{tmp_path / 'none.csv'}", 0)
    with pytest.raises(ValueError, match="not a CSV"):
        load_dataset("digits", 0, label_column="target")


def test_image_models_refuse_feature_vectors():
    assert build_model("mlp", (13,), 3)(torch.zeros(2, 13)).shape == (2, 3)
    with pytest.raises(ValueError, match="'lenet' reads images .* use one of: mlp"):
        build_model("lenet", (13,), 3)


def test_cli_trains_slf_on_a_csv_table(wine_csv, tmp_path, capsys):
    out = tmp_path / "wine-slf"
    assert (
        main(
            [
                "classify",
                "--data",
                f"csv:{wine_csv}",
                "--label-column",
                "target",
                "--loss",
                "slf",
                "--epochs",
                "15",
                "--batch-size",
                "32",
                "--seeds",
                "2",
                "--threads",
                "1",
                "--no-progress",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    report = capsys.readouterr().out
    assert "wine.csv" in report and "slf" in report
    results = json.loads((out / "results.json").read_text())
    accuracies = [run["final_test_acc"] for run in results["runs"]]
    assert min(accuracies) > 0.85, accuracies  # three cultivars: chance is 0.40
    assert results["runs"][0]["config"]["label_column"] == "target"
    assert (out / "selection_weights.png").is_file()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--label-column", "target"], "not a CSV"),
        (["--data", "csv:{csv}", "--model", "lenet"], "'lenet' reads images"),
        (["--data", "csv:{csv}", "--feature-columns", " , "], "expected comma-separated column names"),
    ],
)
def test_cli_bad_table_options_are_usage_errors(argv, message, wine_csv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["classify", "--out", "unused", *[a.format(csv=wine_csv) for a in argv]])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_cli_a_bad_table_is_one_line_before_any_training(tmp_path, capsys):
    path = write_lines(tmp_path / "bad.csv", ["a,b,label", "1,2,x", "3,oops,y", "5,6,x"])
    assert main(["classify", "--data", f"csv:{path}", "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("slf classify: ") and "line 3, column 'b'" in error
    assert not (tmp_path / "out").exists()


def test_the_trainer_takes_tensors_the_user_built():
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    splits = splits_from_tensors(torch.tensor(x), torch.tensor(y), seed=0, name="breast_cancer")
    assert splits.sizes() == (399, 85, 85) and splits.input_shape == (30,)
    result = train_classifier(
        ClassifyConfig(data="breast_cancer", loss="slf", epochs=5, batch_size=32, num_threads=1),
        progress=False,
        data=splits,
    )
    assert result["final_test_acc"] > 0.9 and result["sizes"] == {"train": 399, "val": 85, "test": 85}
    assert len(result["mean_weights"]) == 6


@pytest.mark.parametrize(
    "inputs, labels, message",
    [
        (torch.zeros(4, 3, 2), torch.tensor([0, 1, 0, 1]), "feature vectors (N, F) or images (N, C, H, W)"),
        (torch.zeros(4, 3), torch.tensor([0, 1, 0]), "labels must have shape (4,)"),
        (torch.zeros(4, 3), torch.tensor([0.5, 1, 0, 1]), "class indices"),
        (torch.zeros(4, 3), torch.tensor([-1, 1, 0, 1]), "class indices 0..C-1, got -1"),
        (torch.zeros(4, 3), torch.tensor([1, 1, 1, 1]), "at least two"),
        (torch.tensor([[0.0], [float("nan")], [1.0], [2.0]]), torch.tensor([0, 1, 0, 1]), "row 1"),
    ],
)
def test_tensors_that_cannot_be_split_are_refused(inputs, labels, message):
    with pytest.raises(ValueError) as error:
        splits_from_tensors(inputs, labels, seed=0)
    assert message in str(error.value)
