"""Picks from a Dynamo table (``.tbl``), read with the ``dynamotable`` package.

A Dynamo table is a headerless text table, one particle per line, whose
columns are fixed by Dynamo's table convention (1-based column numbers, see
https://wiki.dynamo.biozentrum.unibas.ch/w/index.php/Table_convention):
4-6 ``dx dy dz`` shifts and 24-26 ``x y z`` positions in pixels, 10 ``cc``
(the cross-correlation score), 20 ``tomo`` (tomogram number) and 22
``class``. The particle sits at ``x + dx, y + dy, z + dz``.

Dynamo counts voxels from 1: the corner voxel of a volume is ``V[1, 1, 1]``
(Dynamo wiki, "Volume center"; RELION's own Dynamo importer,
``src/jaz/tomography/dynamo/dynamo_particle.cpp``, also subtracts 1). The
TopCUP convention puts the 0-based voxel index ``i`` at ``i × pixel size`` Å,
so a Dynamo position ``p`` becomes ``(p - 1) × pixel size`` Å. (copick's
Dynamo import multiplies ``p`` by the pixel size without the shift, one voxel
apart from this reader.)

The table states neither the run names behind its tomogram numbers nor the
class names behind its class numbers, nor a reliable pixel size (column 36
``apix`` is often 0 and is not kept current when a table is rescaled): all
three come from the :class:`~topcup_bench.datasets.picks.context.PicksContext`,
and a table with several tomograms or several classes is refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import dynamotable
import numpy as np
import pandas as pd
from dynamotable.constants import COLUMN_NAME_TO_COLUMN_NUMBER

from topcup_bench.datasets.picks.context import PicksContext
from topcup_bench.datasets.picks.table import one_value, picks_table
from topcup_bench.datasets.units import voxels_to_angstrom
from topcup_bench.errors import EmptyInputError, InputError, SchemaError
from topcup_bench.types import ClassCatalogue, ParticleClass

__all__ = ["read_picks_dynamo"]

_POSITIONS = ("x", "y", "z")
_SHIFTS = ("dx", "dy", "dz")
#: Dynamo counts voxels from 1; TopCUP indices start at 0.
_FIRST_VOXEL = 1.0


def read_picks_dynamo(
    path: str | os.PathLike[str],
    *,
    context: PicksContext | None = None,
    classes: ClassCatalogue | Iterable[ParticleClass] | None = None,
) -> pd.DataFrame:
    """Read a Dynamo table into a validated picks table.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.tbl`` file; it is only read.
    context : PicksContext, optional
        ``pixel_size_angstrom`` (required), ``experiment`` (the run of the
        table's one tomogram) and ``particle_type`` (the class of its one class
        number) — all required when the table has rows.
    classes : ClassCatalogue or iterable of ParticleClass, optional
        When given, ``particle_type`` must be one of these classes.

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment, particle_type, x, y, z`` (Å, x-y-z: ``(p + d - 1)``
        × pixel size) and ``score`` (column 10 ``cc``); shape (N, 6).

    Raises
    ------
    InputError
        Missing file or a directory.
    EmptyInputError
        An empty file.
    SchemaError
        Unparsable text, fewer than 26 columns, a needed column that holds
        something other than numbers, several tomogram or class numbers, or a
        run, class or pixel size the context does not give.
    NonFiniteCoordinatesError, UnknownParticleError
        From :func:`~topcup_bench.types.validate_picks_table`.

    Notes
    -----
    A particle at Dynamo position (11, 21, 31) with shift (0.5, 0, -1), at 10 Å
    per pixel, is at ((11 + 0.5 - 1) × 10, (21 - 1) × 10, (31 - 1 - 1) × 10) Å.
    """
    source = os.fspath(path)
    context = context or PicksContext()
    table = _read(source)
    width = len(table.columns)
    needed = max(COLUMN_NAME_TO_COLUMN_NUMBER[c] for c in _POSITIONS)
    if width < needed:
        raise SchemaError(
            source,
            f"a Dynamo table needs at least {needed} columns (x, y, z are columns 24-26); "
            f"found {width}",
        )
    if table.empty:
        return picks_table(source, np.empty((0, 3)), experiment=None, particle_type=None)
    pixels = np.column_stack(
        [
            _numbers(table, p, source) + _numbers(table, s, source)
            for p, s in zip(_POSITIONS, _SHIFTS, strict=True)
        ]
    )
    tomogram = one_value(
        _numbers(table, "tomo", source).tolist(),
        source,
        what="column 20 'tomo'",
        why="a table with several tomograms cannot be given run names; split it per tomogram",
    )
    label = one_value(
        _numbers(table, "class", source).tolist(),
        source,
        what="column 22 'class'",
        why="class numbers do not say which particle type they are; split the table per class",
    )
    run = context.run_name(source, what=f"column 20 'tomo' (tomogram {tomogram:g})")
    name = context.class_name(source, what=f"column 22 'class' (class {label:g})")
    size = context.pixel_size(source, what="columns 24-26 (x, y, z) and 4-6 (dx, dy, dz)")
    return picks_table(
        source,
        voxels_to_angstrom(pixels - _FIRST_VOXEL, size),
        experiment=run,
        particle_type=name,
        score=_numbers(table, "cc", source),
        classes=classes,
    )


def _read(source: str) -> pd.DataFrame:
    if os.path.isdir(source):
        raise InputError(source, "is a directory; expected a Dynamo table (.tbl)")
    try:
        return dynamotable.read(source)
    except FileNotFoundError:
        raise InputError(source, "file not found") from None
    except pd.errors.EmptyDataError:
        raise EmptyInputError(source, "file is empty; expected a Dynamo table") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        message = " ".join(str(error).split())
        raise SchemaError(source, f"cannot parse as a Dynamo table: {message}") from None


def _numbers(table: pd.DataFrame, column: str, source: str) -> np.ndarray:
    """Column ``column`` as float64, shape (N,); text that is not a number is an error."""
    values = pd.to_numeric(table[column], errors="coerce")
    bad = values.isna().to_numpy() & ~table[column].isna().to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)
        raise SchemaError(
            source,
            f"column {COLUMN_NAME_TO_COLUMN_NUMBER[column]} {column!r} must hold numbers; found "
            f"{table[column].iloc[rows[0]]!r} in {len(rows)} particle(s) (1-based particle rows "
            f"{(rows + 1)[:10].tolist()})",
        )
    return values.to_numpy(dtype=np.float64)
