r"""A user's own table: a CSV of numeric feature columns and a label column, split and standardised.

Every feature column must be numeric and complete; labels may be any text or numbers and
become class indices in sorted order, numeric labels in numeric order (``classes`` keeps their
names). The rows are split
into stratified, seed-determined train/validation/test sets (:func:`split_indices`) and
each feature is standardised with the training split's mean :math:`\mu_j` and standard
deviation :math:`\sigma_j`, :math:`\tilde x_{ij} = (x_{ij} - \mu_j) / \sigma_j`, so that no
statistic of the validation or test rows leaks into training.

Example:
    >>> import tempfile, os
    >>> from sklearn.datasets import load_iris
    >>> frame = load_iris(as_frame=True).frame
    >>> path = os.path.join(tempfile.mkdtemp(), "iris.csv")
    >>> frame.to_csv(path, index=False)
    >>> splits = load_csv_table(path, seed=0, label_column="target")
    >>> splits.sizes(), splits.input_shape, splits.classes
    ((106, 22, 22), (4,), ('0', '1', '2'))
"""
from __future__ import annotations

import os
from typing import Optional, Sequence, Union

import numpy as np
import torch

from .splits import DatasetSplits, make_splits, split_indices

DEFAULT_FRACTION = 0.15  # of the rows, for each of validation and test when no size is given


def load_csv_table(
    path: Union[str, os.PathLike],
    seed: int,
    label_column: Optional[str] = None,
    feature_columns: Optional[Sequence[str]] = None,
    val_size: Optional[int] = None,
    test_size: Optional[int] = None,
    train_size: Optional[int] = None,
) -> DatasetSplits:
    """Read a CSV with a header row into stratified train/val/test splits of feature vectors.

    Args:
        path: the CSV file (comma-separated, first row the column names).
        seed: fixes the split; the same seed gives the same splits.
        label_column: the column holding the class (default: the last column).
        feature_columns: the feature columns (default: every other column).
        val_size: validation rows (default: 15% of the rows, at least one).
        test_size: test rows (default: 15% of the rows, at least one).
        train_size: cap on training rows (default: all that remain).

    Returns:
        :class:`DatasetSplits` with float32 features ``(N, F)`` standardised per column,
        ``input_shape == (F,)``, ``classes`` the label values in index order and
        ``feature_names`` the feature columns.

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming the CSV line and the column: a column that does not exist (the
            message lists the file's columns), a feature value that is missing or not a
            number, a missing label, or a label column with fewer than two classes.
    """
    import pandas as pd

    path = os.path.expanduser(os.fspath(path))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no CSV file at {path!r}")
    # Text first, so that a bad cell can be named by its line and column instead of becoming NaN.
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    columns = [str(c) for c in frame.columns]
    if len(columns) < 2:
        raise ValueError(f"{path}: a table needs at least one feature column and a label column, got columns "
                         f"{columns} (is the file comma-separated with a header row?)")
    label_column = columns[-1] if label_column is None else label_column
    _require_columns(path, [label_column], columns, "label column")
    features = [c for c in columns if c != label_column] if feature_columns is None else list(feature_columns)
    _require_columns(path, features, columns, "feature column")
    if label_column in features:
        raise ValueError(f"{path}: column {label_column!r} is both the label and a feature")
    if not features:
        raise ValueError(f"{path}: no feature columns; columns: {columns}")

    x = np.empty((len(frame), len(features)), dtype=np.float32)
    for j, name in enumerate(features):
        x[:, j] = _numeric_column(path, frame[name], name)
    labels_text = frame[label_column].str.strip()
    missing = np.flatnonzero((labels_text == "").to_numpy())
    if missing.size:
        raise ValueError(f"{path}: line {_line(missing[0])}: the label column {label_column!r} is empty "
                         f"({missing.size} row(s) without a label)")
    classes, labels = np.unique(labels_text.to_numpy(), return_inverse=True)
    numbers = pd.to_numeric(pd.Series(classes), errors="coerce").to_numpy(dtype=np.float64)
    if np.isfinite(numbers).all():  # numeric labels in numeric order: 2 before 10
        order = np.argsort(numbers, kind="stable")
        classes, labels = classes[order], np.argsort(order)[labels]
    if len(classes) < 2:
        raise ValueError(f"{path}: the label column {label_column!r} holds one class ({classes[0]!r}) in all "
                         f"{len(frame)} rows; classification needs at least two")

    splits = splits_from_tensors(torch.from_numpy(x), torch.from_numpy(labels.astype(np.int64)), seed, val_size,
                                 test_size, train_size, name=os.path.basename(path))
    splits.classes = tuple(str(c) for c in classes)
    splits.feature_names = tuple(features)
    return splits


def _require_columns(path: str, wanted: Sequence[str], columns: Sequence[str], what: str) -> None:
    unknown = [c for c in wanted if c not in columns]
    if unknown:
        raise ValueError(f"{path}: no {what} {unknown[0]!r}; the file's columns: {list(columns)}")


def _line(row: int) -> int:
    """The 1-based line of a 0-based data row (line 1 is the header)."""
    return int(row) + 2


def _numeric_column(path: str, values, name: str) -> np.ndarray:
    import pandas as pd

    text = values.str.strip()
    empty = np.flatnonzero((text == "").to_numpy())
    if empty.size:
        raise ValueError(f"{path}: line {_line(empty[0])}, column {name!r}: missing value "
                         f"({empty.size} missing in this column; fill or drop them first)")
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(numbers))
    if bad.size:
        raise ValueError(f"{path}: line {_line(bad[0])}, column {name!r}: {text.iloc[bad[0]]!r} is not a finite "
                         f"number (feature columns must be numeric; name the features with feature_columns)")
    return numbers.astype(np.float32)


def splits_from_tensors(
    inputs: torch.Tensor,
    labels: torch.Tensor,
    seed: int,
    val_size: Optional[int] = None,
    test_size: Optional[int] = None,
    train_size: Optional[int] = None,
    name: str = "tensors",
) -> DatasetSplits:
    r"""Split tensors a user built (feature vectors ``(N, F)`` or images ``(N, C, H, W)``) as the
    named data sets are: stratified by label, seed-determined, standardised with the training
    split's statistics (per feature, or per channel for images).

    Args:
        inputs: float tensor ``(N, F)`` or ``(N, C, H, W)``, unscaled.
        labels: class indices ``(N,)`` in ``0..C-1``.
        seed: fixes the split.
        val_size, test_size: rows of each (default: 15% of the rows, at least one).
        train_size: cap on training rows (default: all that remain).
        name: recorded as the data set's name.

    Raises:
        ValueError: shapes that do not match, non-finite inputs, labels that are not
            class indices, or fewer than two classes.

    Example:
        >>> from sklearn.datasets import load_wine
        >>> x, y = load_wine(return_X_y=True)
        >>> splits = splits_from_tensors(torch.tensor(x), torch.tensor(y), seed=0, name="wine")
        >>> splits.sizes(), splits.num_classes, splits.input_shape
        ((124, 27, 27), 3, (13,))
    """
    inputs = torch.as_tensor(inputs)
    labels = torch.as_tensor(labels)
    if inputs.dim() not in (2, 4):
        raise ValueError(f"inputs must be feature vectors (N, F) or images (N, C, H, W), got shape "
                         f"{tuple(inputs.shape)}")
    if labels.dim() != 1 or labels.shape[0] != inputs.shape[0]:
        raise ValueError(f"labels must have shape ({inputs.shape[0]},) to match inputs, got {tuple(labels.shape)}")
    if labels.dtype.is_floating_point and not torch.equal(labels, labels.round()):
        raise ValueError("labels must be class indices 0..C-1, got fractional values")
    labels = labels.long()
    if labels.numel() and int(labels.min()) < 0:
        raise ValueError(f"labels must be class indices 0..C-1, got {int(labels.min())}")
    num_classes = int(labels.max()) + 1 if labels.numel() else 0
    if len(torch.unique(labels)) < 2:
        raise ValueError(f"labels hold {len(torch.unique(labels))} class(es); classification needs at least two")
    inputs = inputs.to(torch.float32)
    if not torch.isfinite(inputs).all():
        row = int(torch.nonzero(~torch.isfinite(inputs.reshape(len(inputs), -1)).any(dim=1))[0])
        raise ValueError(f"inputs row {row} holds a missing or infinite value")
    default = max(1, int(round(DEFAULT_FRACTION * len(labels))))
    test_idx, val_idx, train_idx = split_indices(
        labels.numpy(), [default if test_size is None else test_size, default if val_size is None else val_size,
                         train_size], seed)
    return make_splits(name, inputs, labels, (train_idx, val_idx, test_idx), num_classes=num_classes)

