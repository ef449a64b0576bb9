"""The Merck challenge CSV loader and its preprocessing, on a real-format file of real molecules."""

from __future__ import annotations

import numpy as np
import pytest

from slf_pyg.merck_activity import (
    MerckActivity,
    load_merck_csv,
    preprocess_descriptors,
    write_merck_csv,
)

pytestmark = pytest.mark.pyg


@pytest.fixture
def merck_file(pyg_merck_file):
    return pyg_merck_file


def _replace_cell(path, line_no: int, column: str, value: str) -> None:
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    fields = lines[line_no - 1].split(",")
    fields[header.index(column)] = value
    lines[line_no - 1] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")


def test_written_file_is_in_the_real_format(merck_file, pyg_merck_sample):
    lines = merck_file.read_text().splitlines()
    assert len(lines) == 61
    assert lines[0] == "MOLECULE,Act," + ",".join(pyg_merck_sample["names"])
    first = lines[1].split(",")
    assert first[0] == pyg_merck_sample["ids"][0] and float(first[1]) == pyg_merck_sample["activity"][0]
    assert all(v.isdigit() for v in first[2:])  # counts are written as integers, like the challenge files


def test_round_trip(merck_file, pyg_merck_sample):
    s = pyg_merck_sample
    data = load_merck_csv(merck_file)
    assert isinstance(data, MerckActivity) and len(data) == 60
    assert data.ids == s["ids"] and data.names == s["names"]
    assert data.activity.dtype == np.float64 and np.array_equal(data.activity, s["activity"])
    assert data.descriptors.dtype == np.float32 and np.array_equal(data.descriptors, s["descriptors"])


def test_round_trip_of_non_integral_values(tmp_path):
    x = np.array([[0.1, 2.0], [1e-7, 3.5]], dtype=np.float32)
    write_merck_csv(tmp_path / "f.csv", ["a", "b"], [1 / 3, 2.0], x, ["D_1", "D_2"])
    data = load_merck_csv(tmp_path / "f.csv")
    assert np.array_equal(data.descriptors, x) and data.activity[0] == 1 / 3


def test_package_exports_the_loader():
    import slf_pyg

    assert slf_pyg.load_merck_csv is load_merck_csv
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        slf_pyg.nope  # noqa: B018


def test_preprocessing_drops_rare_and_constant_columns_and_takes_log1p(merck_file):
    data = load_merck_csv(merck_file)
    x = data.descriptors.astype(np.float64)
    z, kept = preprocess_descriptors(data.descriptors, min_nonzero=5)
    nonzero = (x != 0).sum(axis=0)
    constant = x.max(axis=0) == x.min(axis=0)
    expected = [j for j in range(x.shape[1]) if nonzero[j] >= 5 and not constant[j]]
    assert kept.tolist() == expected
    assert constant.any() and not set(np.flatnonzero(constant)) & set(kept.tolist())  # real constants exist here
    assert ((nonzero < 5) & ~constant).any()  # and rare-but-varying ones, also dropped
    assert z.dtype == np.float32 and z.shape == (60, len(expected))
    np.testing.assert_allclose(z, np.log(x[:, kept] + 1.0), rtol=1e-6)
    # a test set reuses the training selection through `keep`
    z2, kept2 = preprocess_descriptors(data.descriptors[:7], keep=kept)
    assert np.array_equal(kept2, kept) and np.array_equal(z2, z[:7])


def test_preprocessing_errors():
    with pytest.raises(ValueError, match="min_nonzero must be an integer >= 1"):
        preprocess_descriptors(np.ones((3, 2)), min_nonzero=0)
    with pytest.raises(ValueError, match="non-negative counts.*column 1"):
        preprocess_descriptors(np.array([[0.0, -2.0], [1.0, 1.0]]), min_nonzero=1)
    with pytest.raises(ValueError, match="no descriptor is non-constant"):
        preprocess_descriptors(np.ones((4, 3)), min_nonzero=1)


@pytest.mark.parametrize("drop", ["Act", "MOLECULE"])
def test_missing_column_is_named(merck_file, drop):
    lines = merck_file.read_text().splitlines()
    header = lines[0].split(",")
    k = header.index(drop)
    merck_file.write_text(
        "\n".join(",".join(f for j, f in enumerate(line.split(",")) if j != k) for line in lines) + "\n"
    )
    with pytest.raises(ValueError, match=rf"missing column\(s\) \['{drop}'\].*expected 'MOLECULE,Act,D_1,D_2"):
        load_merck_csv(merck_file)


def test_descriptor_columns_need_the_prefix(merck_file):
    text = merck_file.read_text().replace("D_NumHDonors", "NumHDonors", 1)
    merck_file.write_text(text)
    with pytest.raises(ValueError, match=r"must start with 'D_'.*\['NumHDonors'\]"):
        load_merck_csv(merck_file)


def test_non_numeric_cell_names_file_row_and_column(merck_file):
    _replace_cell(merck_file, 5, "D_NumHAcceptors", "n/a")
    with pytest.raises(
        ValueError,
        match=r"DPP4_like_training\.csv: row 5, column 'D_NumHAcceptors': "
        r"non-numeric value 'n/a'",
    ):
        load_merck_csv(merck_file)


def test_missing_and_non_finite_values(merck_file, tmp_path):
    _replace_cell(merck_file, 9, "Act", "")
    with pytest.raises(ValueError, match=r"row 9, column 'Act': missing value"):
        load_merck_csv(merck_file)
    bad = tmp_path / "nan.csv"
    bad.write_text("MOLECULE,Act,D_1,D_2\nm1,5.0,1,2\nm2,4.0,nan,3\n")
    with pytest.raises(ValueError, match=r"row 3, column 'D_1': value 'nan' is not finite"):
        load_merck_csv(bad)


def test_wrong_field_count_and_empty_file(tmp_path):
    short = tmp_path / "short.csv"
    short.write_text("MOLECULE,Act,D_1,D_2\nm1,5.0,1,2\nm2,4.0,3\n")
    with pytest.raises(ValueError, match=r"row 3 has 3 fields, the header has 4"):
        load_merck_csv(short)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty file"):
        load_merck_csv(empty)


def test_writer_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="must start with 'D_'"):
        write_merck_csv(tmp_path / "w.csv", ["a"], [1.0], np.ones((1, 1)), ["x1"])
    with pytest.raises(ValueError, match="does not match 2 ids and 1 names"):
        write_merck_csv(tmp_path / "w.csv", ["a", "b"], [1.0, 2.0], np.ones((1, 1)), ["D_1"])
