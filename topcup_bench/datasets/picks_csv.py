"""Picks as CSV: the Kaggle submission layout and the TopCUP output layout.

* Kaggle: ``id,experiment,particle_type,x,y,z`` (``id`` optional), with an
  optional ``score`` or ``conf`` column.
* TopCUP: ``x,y,z,particle_type,experiment,conf``.

Both hold Å in x, y, z order. The reader accepts either (columns are found by
name, in any order); a ``conf`` column becomes ``score`` unless a ``score``
column is also present, in which case ``score`` is kept.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd

from topcup_bench.datasets.atomic import atomic_output
from topcup_bench.errors import EmptyInputError, InputError, SchemaError
from topcup_bench.types import (
    COORDINATE_COLUMNS,
    PICKS_COLUMNS,
    SCORE_COLUMN,
    ClassCatalogue,
    ParticleClass,
    validate_picks_table,
)

__all__ = ["read_picks_csv", "write_kaggle_csv", "write_topcup_csv"]

#: Column order of the Kaggle submission CSV (``score`` is appended when present).
KAGGLE_COLUMNS: tuple[str, ...] = ("id", "experiment", "particle_type", "x", "y", "z")
#: Column order of the CSV written by TopCUP.
TOPCUP_COLUMNS: tuple[str, ...] = ("x", "y", "z", "particle_type", "experiment", "conf")
_CONF = "conf"
_FIRST_DATA_LINE = 2  # one header line


def read_picks_csv(
    path: str | os.PathLike[str],
    *,
    classes: ClassCatalogue | Iterable[ParticleClass] | None = None,
) -> pd.DataFrame:
    """Read a Kaggle or TopCUP picks CSV into a validated picks table.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file; it is only read.
    classes : ClassCatalogue or iterable of ParticleClass, optional
        When given, every ``particle_type`` must be one of these classes.

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment, particle_type, x, y, z`` (Å) and ``score`` when the
        file has a ``score`` or ``conf`` column; shape (N, 5) or (N, 6). Other
        columns (such as ``id``) are dropped.

    Raises
    ------
    InputError
        The file does not exist or is a directory.
    EmptyInputError
        The file is empty (no header line).
    SchemaError
        The file cannot be parsed as CSV, or a required column is missing or
        holds something other than numbers; the message cites file lines.
    NonFiniteCoordinatesError, UnknownParticleError
        From :func:`~topcup_bench.types.validate_picks_table`.
    """
    source = os.fspath(path)
    raw = _read_strings(source)
    if SCORE_COLUMN not in raw.columns and _CONF in raw.columns:
        raw = raw.rename(columns={_CONF: SCORE_COLUMN})
    missing = [c for c in PICKS_COLUMNS if c not in raw.columns]
    if missing:
        raise SchemaError(
            source,
            f"missing column(s) {missing}; expected the Kaggle layout {list(KAGGLE_COLUMNS)} "
            f"(+ optional 'score' or 'conf') or the TopCUP layout {list(TOPCUP_COLUMNS)}, "
            f"found {list(raw.columns)}",
        )
    keep = list(PICKS_COLUMNS) + ([SCORE_COLUMN] if SCORE_COLUMN in raw.columns else [])
    table = raw[keep].copy()
    for column in [c for c in (*COORDINATE_COLUMNS, SCORE_COLUMN) if c in table.columns]:
        table[column] = _exact_floats(table[column])
    return validate_picks_table(
        table,
        source=source,
        classes=None if classes is None else ClassCatalogue.coerce(classes),
        line_offset=_FIRST_DATA_LINE,
    )


def write_kaggle_csv(
    table: pd.DataFrame, path: str | os.PathLike[str], *, overwrite: bool = False
) -> None:
    """Write picks as a Kaggle submission CSV, atomically.

    Parameters
    ----------
    table : pandas.DataFrame
        A picks table (Å, x-y-z); shape (N, >= 5).
    path : str or os.PathLike
        Destination file.
    overwrite : bool
        Replace an existing file.

    Notes
    -----
    Columns are ``id,experiment,particle_type,x,y,z`` plus ``score`` when the
    table has one; ``id`` is 0 to N-1 in table order. Floats are written with
    the shortest representation that reads back to the same float64.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is False.
    SchemaError, NonFiniteCoordinatesError
        The table is not a valid picks table.
    """
    picks = validate_picks_table(table, source="table to write")
    out = picks[list(PICKS_COLUMNS)].copy()
    out.insert(0, "id", np.arange(len(picks), dtype=np.int64))
    if SCORE_COLUMN in picks.columns:
        out[SCORE_COLUMN] = picks[SCORE_COLUMN]
    _write(out, path, overwrite)


def write_topcup_csv(
    table: pd.DataFrame, path: str | os.PathLike[str], *, overwrite: bool = False
) -> None:
    """Write picks in TopCUP's CSV layout ``x,y,z,particle_type,experiment,conf``, atomically.

    Parameters
    ----------
    table : pandas.DataFrame
        A picks table (Å, x-y-z); shape (N, >= 5).
    path : str or os.PathLike
        Destination file.
    overwrite : bool
        Replace an existing file.

    Notes
    -----
    ``conf`` is the table's ``score``; a table without scores gets ``conf`` 1.0
    for every row (copick's default score for an unscored point).

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is False.
    SchemaError, NonFiniteCoordinatesError
        The table is not a valid picks table.
    """
    picks = validate_picks_table(table, source="table to write")
    out = picks[["x", "y", "z", "particle_type", "experiment"]].copy()
    out[_CONF] = picks[SCORE_COLUMN] if SCORE_COLUMN in picks.columns else 1.0
    _write(out, path, overwrite)


def _read_strings(source: str) -> pd.DataFrame:
    """Read every cell as a string, so run names such as ``NA`` survive untouched."""
    try:
        with warnings.catch_warnings():
            # rows longer than the header: an error, not a silently truncated row
            warnings.simplefilter("error", pd.errors.ParserWarning)
            raw = pd.read_csv(source, dtype=str, na_filter=False, index_col=False)
    except pd.errors.ParserWarning as warning:
        raise SchemaError(
            source, f"cannot parse as CSV: a row has more fields than the header ({warning})"
        ) from None
    except pd.errors.EmptyDataError:
        raise EmptyInputError(source, "file is empty; expected a CSV header line") from None
    except pd.errors.ParserError as error:
        message = " ".join(str(error).split())
        raise SchemaError(source, f"cannot parse as CSV: {message}") from None
    except FileNotFoundError:
        raise InputError(source, "file not found") from None
    except IsADirectoryError:
        raise InputError(source, "is a directory; expected a CSV file") from None
    except UnicodeDecodeError as error:
        raise SchemaError(source, f"not a UTF-8 text file: {error}") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    # an empty name cell (or a row shorter than the header) is a missing value
    for column in ("experiment", "particle_type"):
        if column in raw.columns:
            raw[column] = raw[column].mask(raw[column].str.strip() == "")
    return raw


def _exact_floats(values: pd.Series) -> pd.Series:
    """Parse decimal strings with Python's correctly rounded float conversion.

    Values that are not numbers are left as they are, for
    :func:`validate_picks_table` to report with their file lines.
    """
    try:
        return values.astype(np.float64)
    except (TypeError, ValueError):
        return values


def _write(out: pd.DataFrame, path: str | os.PathLike[str], overwrite: bool) -> None:
    with atomic_output(path, overwrite=overwrite) as tmp:
        out.to_csv(tmp, index=False)
