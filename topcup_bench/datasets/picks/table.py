"""Shared steps of the native-format readers: text lines, one-value fields, the picks table.

Each reader converts its own units and axes; this module only assembles what
they found into a validated picks table (Å, x-y-z) and phrases the errors
that several formats share.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from topcup_bench.errors import InputError, SchemaError
from topcup_bench.types import (
    COORDINATE_COLUMNS,
    SCORE_COLUMN,
    ClassCatalogue,
    ParticleClass,
    validate_picks_table,
)

__all__ = ["text_lines", "one_value", "picks_table"]


def text_lines(source: str) -> list[tuple[int, str]]:
    """The non-blank lines of a text file, with their 1-based line numbers.

    Raises
    ------
    InputError
        The file does not exist or is a directory.
    SchemaError
        The file is not UTF-8 text.
    """
    try:
        with open(source, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        raise InputError(source, "file not found") from None
    except IsADirectoryError:
        raise InputError(source, "is a directory; expected a picks file") from None
    except UnicodeDecodeError as error:
        raise SchemaError(source, f"not a UTF-8 text file: {error}") from None
    return [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]


def one_value(values: Iterable[object], source: str, *, what: str, why: str) -> object | None:
    """The single distinct value of a per-row field, or None when there are no rows.

    Parameters
    ----------
    values : iterable
        The field's value on each row.
    source : str
        The file, for the error message.
    what : str
        The field (``"column 20 'tomo'"``), for the error message.
    why : str
        What cannot be done with several values and what to do instead.

    Raises
    ------
    SchemaError
        Several distinct values.
    """
    distinct = sorted(set(values), key=str)
    if len(distinct) > 1:
        shown = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in distinct[:10])
        more = f" and {len(distinct) - 10} more" if len(distinct) > 10 else ""
        raise SchemaError(source, f"{what} holds {len(distinct)} values ({shown}{more}): {why}")
    return distinct[0] if distinct else None


def picks_table(
    source: str,
    xyz_angstrom: np.ndarray,
    *,
    experiment: str | None,
    particle_type: str | None,
    score: np.ndarray | None = None,
    classes: ClassCatalogue | Iterable[ParticleClass] | None = None,
    line_numbers: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Assemble and validate a picks table.

    Parameters
    ----------
    source : str
        The file the picks came from (error messages, ``attrs["source"]``).
    xyz_angstrom : numpy.ndarray, shape (N, 3)
        Positions in Å, x-y-z order.
    experiment, particle_type : str or None
        One run and one class for every row (None only when N is 0).
    score : numpy.ndarray of shape (N,), optional
        The ``score`` column.
    classes : ClassCatalogue or iterable of ParticleClass, optional
        When given, ``particle_type`` must be one of them.
    line_numbers : sequence of int, optional
        File line of each row; when they are consecutive, errors cite file lines.

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment, particle_type, x, y, z`` (+ ``score``); shape (N, 5) or (N, 6).

    Raises
    ------
    NonFiniteCoordinatesError, UnknownParticleError
        From :func:`~topcup_bench.types.validate_picks_table`.
    """
    coords = np.asarray(xyz_angstrom, dtype=np.float64).reshape(-1, 3)
    rows = len(coords)
    table = pd.DataFrame(coords, columns=list(COORDINATE_COLUMNS))
    table.insert(0, "particle_type", np.full(rows, particle_type, dtype=object))
    table.insert(0, "experiment", np.full(rows, experiment, dtype=object))
    if score is not None:
        table[SCORE_COLUMN] = np.asarray(score, dtype=np.float64)
    offset = None
    if (
        line_numbers is not None
        and rows
        and np.array_equal(
            np.asarray(line_numbers), np.arange(line_numbers[0], line_numbers[0] + rows)
        )
    ):
        offset = int(line_numbers[0])
    return validate_picks_table(
        table,
        source=source,
        classes=None if classes is None else ClassCatalogue.coerce(classes),
        line_offset=offset,
    )
