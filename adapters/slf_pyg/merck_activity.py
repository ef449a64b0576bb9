"""The Merck Molecular Activity Challenge CSV format (the DPP4 set of the SLF paper).

Each of the challenge's files (e.g. ``DPP4_training_disguised.csv``) is one comma-separated
table: a header row ``MOLECULE,Act,D_1,D_2,...`` (molecule id, measured activity, then one
column per descriptor, named ``D_<something>``), then one row per molecule. Descriptor
values are non-negative counts (atom pairs and donor-acceptor pairs, Ma et al. 2015).
The SLF paper's DPP4 set has 8,193 molecules and 2,796 descriptors; the files are not
redistributable, so this module reads (and writes) the format, and the tests run on
small files written in it.

Example:
    >>> import os, tempfile
    >>> import numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "act.csv")
    >>> x = np.array([[0, 3, 1], [2, 0, 1], [5, 1, 1]], dtype=np.float32)
    >>> write_merck_csv(path, ["M_1", "M_2", "M_3"], [4.5, 5.0, 6.25], x, ["D_1", "D_2", "D_3"])
    >>> open(path).readline().strip()
    'MOLECULE,Act,D_1,D_2,D_3'
    >>> data = load_merck_csv(path)
    >>> data.ids, data.activity.tolist(), data.descriptors.shape
    (['M_1', 'M_2', 'M_3'], [4.5, 5.0, 6.25], (3, 3))
    >>> z, kept = preprocess_descriptors(data.descriptors, min_nonzero=2)
    >>> kept.tolist()  # D_3 is constant, so it is dropped
    [0, 1]
    >>> np.allclose(z, np.log1p(x[:, :2]))
    True
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["MerckActivity", "load_merck_csv", "preprocess_descriptors", "write_merck_csv"]

PathLike = str | os.PathLike[str]

ID_COLUMN = "MOLECULE"
ACTIVITY_COLUMN = "Act"
DESCRIPTOR_PREFIX = "D_"
_EXPECTED_HEADER = f"{ID_COLUMN},{ACTIVITY_COLUMN},{DESCRIPTOR_PREFIX}1,{DESCRIPTOR_PREFIX}2,..."


@dataclass
class MerckActivity:
    """One Merck challenge table: ``N`` molecules, ``D`` descriptors.

    Attributes:
        ids: the ``MOLECULE`` column, ``N`` strings.
        activity: the ``Act`` column, shape ``(N,)``, float64.
        descriptors: the ``D_*`` columns, shape ``(N, D)``, float32.
        names: the ``D`` descriptor column names, in file order.
    """

    ids: list[str]
    activity: np.ndarray
    descriptors: np.ndarray
    names: list[str]

    def __post_init__(self) -> None:
        n = len(self.ids)
        if self.activity.shape != (n,):
            raise ValueError(f"activity must have shape ({n},) to match {n} ids, got {self.activity.shape}")
        if self.descriptors.shape != (n, len(self.names)):
            raise ValueError(
                f"descriptors must have shape ({n}, {len(self.names)}) for {n} ids and "
                f"{len(self.names)} names, got {self.descriptors.shape}"
            )

    def __len__(self) -> int:
        return len(self.ids)


def _check_header(header: list[str], path: PathLike) -> list[str]:
    """Validate a Merck header row and return its descriptor names."""
    header = [h.strip() for h in header]
    missing = [c for c in (ID_COLUMN, ACTIVITY_COLUMN) if c not in header]
    if missing:
        raise ValueError(
            f"{os.fspath(path)}: header is missing column(s) {missing}; expected "
            f"'{_EXPECTED_HEADER}', got {header[:5]}{' ...' if len(header) > 5 else ''}"
        )
    if header[:2] != [ID_COLUMN, ACTIVITY_COLUMN]:
        raise ValueError(
            f"{os.fspath(path)}: the first two columns must be {[ID_COLUMN, ACTIVITY_COLUMN]} "
            f"(expected '{_EXPECTED_HEADER}'), got {header[:2]}"
        )
    names = header[2:]
    if not names:
        raise ValueError(f"{os.fspath(path)}: header has no descriptor columns; expected '{_EXPECTED_HEADER}'")
    bad = [n for n in names if not n.startswith(DESCRIPTOR_PREFIX)]
    if bad:
        raise ValueError(
            f"{os.fspath(path)}: descriptor column names must start with '{DESCRIPTOR_PREFIX}' "
            f"(expected '{_EXPECTED_HEADER}'), got {bad[:5]}"
        )
    dup = sorted(n for n, c in Counter(names).items() if c > 1)
    if dup:
        raise ValueError(f"{os.fspath(path)}: duplicated descriptor column(s) {dup[:5]}")
    return names


def _bad_cell(path: PathLike, row: int, column: str, value: str) -> ValueError:
    what = "missing value" if value.strip() == "" else f"non-numeric value {value!r}"
    return ValueError(
        f"{os.fspath(path)}: row {row}, column {column!r}: {what} (rows count file lines from 1, the header is row 1)"
    )


def load_merck_csv(path: PathLike) -> MerckActivity:
    """Read one Merck Molecular Activity Challenge CSV file.

    The header must be ``MOLECULE,Act,D_...`` (molecule id, activity, then one or more
    descriptor columns whose names start with ``D_``). Every activity and descriptor cell
    must be a finite number; blank lines are skipped.

    Args:
        path: the CSV file.

    Returns:
        A :class:`MerckActivity` with ``activity`` as float64 and ``descriptors`` as float32.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the header lacks ``MOLECULE`` or ``Act`` or has no ``D_`` columns; a row
            has the wrong number of fields; a cell is missing, non-numeric or not finite
            (the message names the file, the 1-based row, counting the header as row 1,
            and the column); the file has no molecules.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "bad.csv")
        >>> _ = open(path, "w").write("MOLECULE,Act,D_1\\nM_1,5.0,2\\nM_2,4.0,two\\n")
        >>> load_merck_csv(path)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: ...bad.csv: row 3, column 'D_1': non-numeric value 'two' ...
    """
    ids: list[str] = []
    activity: list[float] = []
    rows: list[np.ndarray] = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{os.fspath(path)}: empty file; expected a header '{_EXPECTED_HEADER}'")
        names = _check_header(header, path)
        width = len(names) + 2
        columns = [ID_COLUMN, ACTIVITY_COLUMN, *names]
        for fields in reader:
            row = reader.line_num
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            if len(fields) != width:
                raise ValueError(f"{os.fspath(path)}: row {row} has {len(fields)} fields, the header has {width}")
            try:
                values = np.array(fields[1:], dtype=np.float64)
            except ValueError:
                for j, cell in enumerate(fields[1:], start=1):
                    try:
                        float(cell)
                    except ValueError:
                        raise _bad_cell(path, row, columns[j], cell) from None
                raise  # pragma: no cover - numpy and float() disagree
            if not np.isfinite(values).all():
                j = int(np.flatnonzero(~np.isfinite(values))[0]) + 1
                raise ValueError(
                    f"{os.fspath(path)}: row {row}, column {columns[j]!r}: value {fields[j]!r} "
                    f"is not finite (rows count file lines from 1, the header is row 1)"
                )
            ids.append(fields[0].strip())
            activity.append(float(values[0]))
            rows.append(values[1:].astype(np.float32))
    if not rows:
        raise ValueError(f"{os.fspath(path)}: no molecules after the header")
    return MerckActivity(
        ids=ids, activity=np.asarray(activity, dtype=np.float64), descriptors=np.stack(rows), names=names
    )


def _format_row(values: np.ndarray) -> list[str]:
    """Integral values as integers (as in the challenge files), others round-trip exactly."""
    v = values.astype(np.float64)
    if np.all(v == np.round(v)) and np.all(np.abs(v) < 2**53):
        return [str(int(a)) for a in v.tolist()]
    return [repr(a) for a in v.tolist()]


def write_merck_csv(
    path: PathLike,
    ids: Sequence[str],
    activity: Sequence[float] | np.ndarray,
    descriptors: np.ndarray,
    names: Sequence[str],
) -> None:
    """Write a table in the Merck challenge format: ``MOLECULE,Act,D_...``.

    Integral descriptor values are written as integers, like the challenge files; any
    other value is written with enough digits to read back exactly, so
    ``load_merck_csv(path)`` returns the same ids, activity (float64) and descriptors
    (as float32).

    Args:
        path: the file to write (overwritten).
        ids: ``N`` molecule ids.
        activity: ``N`` finite activities.
        descriptors: shape ``(N, D)``, finite.
        names: ``D`` column names, each starting with ``D_``.

    Raises:
        ValueError: mismatched lengths or shapes, a name without the ``D_`` prefix, a
            duplicated name, or a non-finite value.

    Example:
        >>> import io, os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
        >>> write_merck_csv(path, ["a"], [5.5], np.array([[1.0, 0.25]]), ["D_1", "D_2"])
        >>> print(open(path).read().strip())
        MOLECULE,Act,D_1,D_2
        a,5.5,1.0,0.25
    """
    x = np.asarray(descriptors)
    y = np.asarray(activity, dtype=np.float64)
    names = list(names)
    ids = [str(i) for i in ids]
    if x.ndim != 2:
        raise ValueError(f"descriptors must be 2-D (molecules, descriptors), got shape {x.shape}")
    if x.shape != (len(ids), len(names)):
        raise ValueError(f"descriptors shape {x.shape} does not match {len(ids)} ids and {len(names)} names")
    if y.shape != (len(ids),):
        raise ValueError(f"activity must have shape ({len(ids)},) to match the ids, got {y.shape}")
    _check_header([ID_COLUMN, ACTIVITY_COLUMN, *names], path)
    if not (np.isfinite(y).all() and np.isfinite(x).all()):
        raise ValueError("activity and descriptors must be finite (the format has no missing values)")
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow([ID_COLUMN, ACTIVITY_COLUMN, *names])
        for i, row in enumerate(x):
            writer.writerow([ids[i], repr(float(y[i])), *_format_row(row)])


def preprocess_descriptors(
    descriptors: np.ndarray, min_nonzero: int = 20, keep: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Select informative descriptors and log-transform them, as for the Merck challenge.

    With :math:`x_{ij} \ge 0` the count of descriptor :math:`j` in molecule :math:`i`
    (:math:`N` molecules), column :math:`j` is kept when

    .. math::

        \#\{i : x_{ij} \neq 0\} \ge \text{min\_nonzero}
        \quad\text{and}\quad \max_i x_{ij} > \min_i x_{ij},

    i.e. it is non-zero in at least ``min_nonzero`` molecules (the rare-descriptor filter
    of Hechtlinger et al.'s DPP4 script, which uses 20) and is not constant. Each kept
    column is then transformed as in Ma et al. (2015):

    .. math::

        z_{ij} = \log(x_{ij} + 1).

    Note: Hechtlinger et al.'s released script divides each kept column by its maximum
    instead of taking the logarithm; apply ``x / x.max(0)`` to ``descriptors[:, kept]``
    for that variant. To treat a test set exactly like its training set, pass the
    training call's ``kept`` as ``keep``: no selection is done, only the transform.

    Args:
        descriptors: shape ``(N, D)``, finite, non-negative.
        min_nonzero: the least number of molecules in which a kept descriptor is
            non-zero, ``>= 1``.
        keep: optional column indices to use instead of selecting them.

    Returns:
        ``(z, kept)``: ``z`` of shape ``(N, D')`` float32 and ``kept`` the ``D'`` original
        column indices (int64, increasing).

    Raises:
        ValueError: ``descriptors`` is not 2-D, has a negative or non-finite value,
            ``min_nonzero < 1``, ``keep`` is out of range, or no column survives.

    Example:
        >>> x = np.array([[0., 1., 7.], [0., 3., 7.], [4., 0., 7.]])
        >>> z, kept = preprocess_descriptors(x, min_nonzero=2)
        >>> kept.tolist(), z.dtype, np.allclose(z[:, 0], np.log([2., 4., 1.]))
        ([1], dtype('float32'), True)
    """
    x = np.asarray(descriptors, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"descriptors must be 2-D (molecules, descriptors), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("descriptors contain NaN or infinite values")
    if (x < 0).any():
        j = int(np.flatnonzero((x < 0).any(axis=0))[0])
        raise ValueError(
            f"descriptors must be non-negative counts for log(x + 1); column {j} has minimum {x[:, j].min()}"
        )
    if keep is None:
        if isinstance(min_nonzero, bool) or not isinstance(min_nonzero, (int, np.integer)) or min_nonzero < 1:
            raise ValueError(f"min_nonzero must be an integer >= 1, got {min_nonzero!r}")
        nonzero = (x != 0).sum(axis=0)
        varies = x.max(axis=0) > x.min(axis=0) if len(x) else np.zeros(x.shape[1], dtype=bool)
        kept = np.flatnonzero((nonzero >= min_nonzero) & varies).astype(np.int64)
        if kept.size == 0:
            raise ValueError(
                f"no descriptor is non-constant and non-zero in >= {min_nonzero} of "
                f"{len(x)} molecules; lower min_nonzero"
            )
    else:
        kept = np.asarray(keep, dtype=np.int64).reshape(-1)
        if kept.size and (kept.min() < 0 or kept.max() >= x.shape[1]):
            raise ValueError(f"keep must index the {x.shape[1]} columns, got range [{kept.min()}, {kept.max()}]")
    return np.log1p(x[:, kept]).astype(np.float32), kept
