"""Picks from crYOLO / TomoTwin box files: ``.cbox`` (STAR) and ``.coords`` (plain text).

``.cbox`` (crYOLO >= 1.8, TomoTwin ``tomotwin_pick``): a STAR file with a loop
block ``data_cryolo`` whose columns are ``_CoordinateX _CoordinateY
_CoordinateZ _Width _Height _Depth _EstWidth _EstHeight _Confidence
_NumBoxes _Angle``, in pixels of the picked tomogram. ``_CoordinateX/Y`` are
the lower-left corner of the box and ``_CoordinateZ`` is already the centre
slice: crYOLO writes the centre as ``(X + Width / 2, Y + Height / 2, Z)``
(``cryolo/CoordsIO.py``: ``write_coords_file``), and TomoTwin writes
``X - box / 2, Y - box / 2, Z`` (``tomotwin/modules/common/io/cbox_format.py``).
``_Confidence`` becomes the ``score``. The file is read with ``starfile``.

``.coords`` (crYOLO ``write_coords_file``, TomoTwin ``CoordsFormat``): one
particle per line, whitespace-separated ``x y z`` box centres in pixels;
further columns are ignored and there is no score.

Pixels are 0-based voxel positions of the tomogram array, x the fastest axis.
Both formats hold one tomogram and one class and name neither (a file is
named after its tomogram by crYOLO and after its reference by TomoTwin), and
neither states a pixel size: all three come from the
:class:`~topcup_bench.datasets.picks.context.PicksContext`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
import pandas as pd

from topcup_bench.datasets.picks.context import PicksContext
from topcup_bench.datasets.picks.table import picks_table, text_lines
from topcup_bench.datasets.star_blocks import numeric_column, read_blocks
from topcup_bench.datasets.units import voxels_to_angstrom
from topcup_bench.errors import EmptyInputError, SchemaError, short_repr
from topcup_bench.types import ClassCatalogue, ParticleClass

__all__ = ["read_picks_cbox", "read_picks_coords"]

_BLOCK = "cryolo"
_CORNER = ("CoordinateX", "CoordinateY")
_SIZES = ("Width", "Height")
_CENTRE_Z = "CoordinateZ"
_SCORE = "Confidence"
_OLD_FORMAT = " (CBOX files of crYOLO < 1.8 are not STAR and hold 2D boxes; re-pick or re-export)"


def read_picks_cbox(
    path: str | os.PathLike[str],
    *,
    context: PicksContext | None = None,
    classes: ClassCatalogue | Iterable[ParticleClass] | None = None,
) -> pd.DataFrame:
    """Read a crYOLO / TomoTwin ``.cbox`` file into a validated picks table.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.cbox`` file (STAR format); it is only read.
    context : PicksContext, optional
        ``pixel_size_angstrom``, ``experiment`` and ``particle_type``, all
        required when the file has boxes.
    classes : ClassCatalogue or iterable of ParticleClass, optional
        When given, ``particle_type`` must be one of these classes.

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment, particle_type, x, y, z`` in Å — ``(X + Width / 2,
        Y + Height / 2, Z)`` × pixel size — and ``score`` (``_Confidence``) when
        the file has that column; shape (N, 5) or (N, 6).

    Raises
    ------
    InputError
        Missing file or a directory.
    EmptyInputError
        No STAR data block.
    SchemaError
        Not STAR (the pre-1.8 crYOLO text CBOX), no ``data_cryolo`` block, a
        missing or non-numeric column, boxes without ``_CoordinateZ`` (2D
        picks), or a run, class or pixel size the context does not give.
    NonFiniteCoordinatesError, UnknownParticleError
        From :func:`~topcup_bench.types.validate_picks_table`.
    """
    source = os.fspath(path)
    context = context or PicksContext()
    block = _cryolo_block(source)
    where = f"block 'data_{_BLOCK}'"
    needed = [*_CORNER, _CENTRE_Z, *_SIZES]
    missing = [c for c in needed if c not in block.columns]
    if missing:
        raise SchemaError(
            source,
            f"{where}: missing column(s) {['_' + c for c in missing]}; found "
            f"{['_' + str(c) for c in block.columns]}",
        )
    if block.empty:
        return picks_table(source, np.empty((0, 3)), experiment=None, particle_type=None)
    columns = {c: numeric_column(block, c, source, where) for c in needed}
    flat = np.flatnonzero(np.isnan(columns[_CENTRE_Z]))
    if len(flat):
        raise SchemaError(
            source,
            f"{where}: column '_{_CENTRE_Z}' is empty in {len(flat)} box(es) (0-based rows "
            f"{flat[:10].tolist()}): 2D (single-particle) boxes, not tomogram picks",
        )
    pixels = np.column_stack(
        [
            columns[_CORNER[0]] + columns[_SIZES[0]] / 2.0,
            columns[_CORNER[1]] + columns[_SIZES[1]] / 2.0,
            columns[_CENTRE_Z],
        ]
    )
    score = numeric_column(block, _SCORE, source, where) if _SCORE in block.columns else None
    return _table(source, pixels, context, classes, score=score, what=f"{where}: _Coordinate*")


def read_picks_coords(
    path: str | os.PathLike[str],
    *,
    context: PicksContext | None = None,
    classes: ClassCatalogue | Iterable[ParticleClass] | None = None,
) -> pd.DataFrame:
    """Read a crYOLO / TomoTwin ``.coords`` file (``x y z`` box centres, pixels).

    Parameters
    ----------
    path : str or os.PathLike
        The ``.coords`` file; it is only read. An empty file holds no picks.
    context : PicksContext, optional
        ``pixel_size_angstrom``, ``experiment`` and ``particle_type``, all
        required when the file has lines.
    classes : ClassCatalogue or iterable of ParticleClass, optional
        When given, ``particle_type`` must be one of these classes.

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment, particle_type, x, y, z`` in Å (pixels × pixel
        size); shape (N, 5).

    Raises
    ------
    InputError
        Missing file or a directory.
    SchemaError
        A line with fewer than 3 fields or a first three fields that are not
        numbers (the message cites the line), or a run, class or pixel size the
        context does not give.
    NonFiniteCoordinatesError, UnknownParticleError
        From :func:`~topcup_bench.types.validate_picks_table`.
    """
    source = os.fspath(path)
    context = context or PicksContext()
    lines = text_lines(source)
    pixels = np.array([_xyz(number, line, source) for number, line in lines]).reshape(-1, 3)
    numbers = [number for number, _ in lines]
    return _table(source, pixels, context, classes, what="columns x, y, z", line_numbers=numbers)


def _table(
    source: str,
    pixels: np.ndarray,
    context: PicksContext,
    classes: ClassCatalogue | Iterable[ParticleClass] | None,
    *,
    what: str,
    score: np.ndarray | None = None,
    line_numbers: list[int] | None = None,
) -> pd.DataFrame:
    if len(pixels) == 0:
        return picks_table(source, pixels, experiment=None, particle_type=None)
    return picks_table(
        source,
        voxels_to_angstrom(pixels, context.pixel_size(source, what=what)),
        experiment=context.run_name(source, what="one tomogram per file"),
        particle_type=context.class_name(source, what="one class per file"),
        score=score,
        classes=classes,
        line_numbers=line_numbers,
    )


def _cryolo_block(source: str) -> pd.DataFrame:
    try:
        blocks = read_blocks(source)
    except EmptyInputError:
        if os.path.getsize(source) == 0:
            raise
        raise SchemaError(source, f"no STAR data block{_OLD_FORMAT}") from None
    except SchemaError as error:
        raise SchemaError(source, f"{error.detail}{_OLD_FORMAT}") from None
    block = blocks.get(_BLOCK)
    if not isinstance(block, pd.DataFrame):
        raise SchemaError(
            source,
            f"no loop block 'data_{_BLOCK}'; found blocks {[f'data_{n}' for n in blocks]}"
            f"{_OLD_FORMAT}",
        )
    return block.reset_index(drop=True)


def _xyz(number: int, line: str, source: str) -> tuple[float, float, float]:
    fields = line.split()
    if len(fields) < 3:
        raise SchemaError(
            source,
            f"line {number}: expected at least 3 fields 'x y z' (pixels), found {short_repr(line)}",
        )
    try:
        return float(fields[0]), float(fields[1]), float(fields[2])
    except ValueError:
        raise SchemaError(
            source,
            f"line {number}: 'x y z' must be numbers, found {short_repr(' '.join(fields[:3]))}",
        ) from None
