"""Picks from a CryoET Data Portal point annotation (``.ndjson``).

The portal stores point annotations as newline-delimited JSON, one object per
particle::

    {"type": "orientedPoint", "location": {"x": 12.0, "y": 40.5, "z": 7.0},
     "xyz_rotation_matrix": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}
    {"type": "point", "location": {"x": 3.0, "y": 4.0, "z": 5.0}}

``location`` is in voxels of the tomogram at the annotation file's voxel
spacing (the ``VoxelSpacing<Å>`` folder the file sits in on the portal):
copick's portal backend (``copick/impl/cryoet_data_portal.py``) reads a point
as ``location × voxel spacing`` Å, and so does this reader. Voxels are 0-based
positions of the tomogram array, x the fastest axis.

A file holds one run's annotation of one object and states neither name nor
the voxel spacing: all three come from the
:class:`~topcup_bench.datasets.picks.context.PicksContext`. (copick parses
these files only inside its portal and Croissant backends, not as a public
function, so the lines are parsed here.)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

import numpy as np
import pandas as pd

from topcup_bench.datasets.picks.context import PicksContext
from topcup_bench.datasets.picks.table import picks_table, text_lines
from topcup_bench.datasets.units import voxels_to_angstrom
from topcup_bench.errors import SchemaError, short_repr
from topcup_bench.types import ClassCatalogue, ParticleClass

__all__ = ["read_picks_ndjson"]

#: Annotation shapes that are points (``type``); other shapes are not picks.
POINT_TYPES = ("point", "orientedPoint")
_AXES = ("x", "y", "z")


def read_picks_ndjson(
    path: str | os.PathLike[str],
    *,
    context: PicksContext | None = None,
    classes: ClassCatalogue | Iterable[ParticleClass] | None = None,
) -> pd.DataFrame:
    """Read a portal ``.ndjson`` point annotation into a validated picks table.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.ndjson`` file; it is only read. Blank lines are skipped; an
        empty file holds no picks.
    context : PicksContext, optional
        ``pixel_size_angstrom`` (the annotation's voxel spacing),
        ``experiment`` and ``particle_type``, all required when the file has points.
    classes : ClassCatalogue or iterable of ParticleClass, optional
        When given, ``particle_type`` must be one of these classes.

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment, particle_type, x, y, z`` in Å (``location`` ×
        voxel spacing); shape (N, 5).

    Raises
    ------
    InputError
        Missing file or a directory.
    SchemaError
        A line that is not a JSON object, a ``type`` other than ``point`` or
        ``orientedPoint``, a missing or non-numeric ``location`` (the message
        cites the line), or a run, class or voxel spacing the context does not give.
    NonFiniteCoordinatesError, UnknownParticleError
        From :func:`~topcup_bench.types.validate_picks_table`.
    """
    source = os.fspath(path)
    context = context or PicksContext()
    lines = text_lines(source)
    voxels = np.array([_location(number, line, source) for number, line in lines]).reshape(-1, 3)
    if len(voxels) == 0:
        return picks_table(source, voxels, experiment=None, particle_type=None)
    size = context.pixel_size(source, what="'location' x, y, z (voxels of the annotation)")
    return picks_table(
        source,
        voxels_to_angstrom(voxels, size),
        experiment=context.run_name(source, what="one run per annotation file"),
        particle_type=context.class_name(source, what="one object per annotation file"),
        classes=classes,
        line_numbers=[number for number, _ in lines],
    )


def _location(number: int, line: str, source: str) -> tuple[float, float, float]:
    try:
        point = json.loads(line)
    except json.JSONDecodeError as error:
        raise SchemaError(source, f"line {number}: not JSON ({error.msg})") from None
    if not isinstance(point, dict):
        raise SchemaError(
            source, f"line {number}: expected a JSON object, found {short_repr(point)}"
        )
    kind = point.get("type")
    if kind is not None and kind not in POINT_TYPES:
        raise SchemaError(
            source,
            f"line {number}: 'type' is {short_repr(kind)}; picks are annotations of type "
            f"{list(POINT_TYPES)}",
        )
    location = point.get("location")
    if not isinstance(location, dict) or any(axis not in location for axis in _AXES):
        raise SchemaError(
            source,
            f"line {number}: expected 'location': {{'x': .., 'y': .., 'z': ..}}, found "
            f"{short_repr(location)}",
        )
    # Python's json module accepts NaN and Infinity literals; they pass as floats and
    # validate_picks_table reports them as non-finite coordinates.
    values = [location[axis] for axis in _AXES]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise SchemaError(
            source, f"line {number}: 'location' x, y, z must be numbers, found {short_repr(values)}"
        )
    return float(values[0]), float(values[1]), float(values[2])
