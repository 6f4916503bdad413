"""Read what a command-line tool wrote into its output folder as a picks table.

Picks files go through :func:`topcup_bench.datasets.read_picks` with a
``PicksContext`` that supplies what the file may not say: the run, the
class (for per-class files), the tomogram's voxel size (for pixel
coordinates) and its extent (for centred coordinates).  Maps (formats
``segmentation`` and ``probability``) go through
:mod:`topcup_bench.pickers.seg2picks`.

The table is then checked against the tomogram: coordinates that look like
voxel indices raise a :class:`~topcup_bench.errors.UnitsWarning`
(:func:`~topcup_bench.datasets.units.check_units`, as for ``external``);
coordinates outside the tomogram's box (beyond 5 % and one voxel of slack)
are a :class:`ToolError`: a tool that wrote z-y-x, or the wrong units, for a
tomogram that is not a cube.
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path

import mrcfile
import numpy as np
import pandas as pd

from topcup_bench.datasets import read_picks
from topcup_bench.datasets.picks import PICKS_FORMATS, PicksContext
from topcup_bench.datasets.units import check_units
from topcup_bench.errors import InputError
from topcup_bench.pickers.seg2picks import picks_from_maps, split_label_map
from topcup_bench.types import (
    PICKS_COLUMNS,
    SCORE_COLUMN,
    ClassCatalogue,
    Tomogram,
    empty_picks_table,
)

from .command_template import fill_pattern
from .tool_process import ToolError

__all__ = [
    "MAP_FORMATS",
    "output_formats",
    "format_extensions",
    "find_outputs",
    "read_outputs",
    "check_inside_box",
]

#: Map formats read through seg2picks: one label map, or one probability map per class.
MAP_FORMATS: dict[str, tuple[str, ...]] = {
    "segmentation": (".mrc", ".map", ".rec"),
    "probability": (".mrc", ".map", ".rec"),
}


def output_formats() -> tuple[str, ...]:
    """Names of the output formats: every registered picks format, then the map formats."""
    return tuple(PICKS_FORMATS.names()) + tuple(MAP_FORMATS)


def format_extensions(fmt: str) -> tuple[str, ...]:
    """Extensions of an output format; ``""``: those of every registered picks format."""
    if fmt in MAP_FORMATS:
        return MAP_FORMATS[fmt]
    names = [fmt] if fmt else PICKS_FORMATS.names()
    return tuple(ext for name in names for ext in PICKS_FORMATS.get(name).extensions)


#: Slack of the inside-the-box check: a fraction of the extent plus one voxel.
_BOX_SLACK = 0.05


def find_outputs(
    output: Path,
    files: Sequence[Path],
    *,
    pattern: str,
    fmt: str,
    run: str,
    classes: ClassCatalogue,
) -> list[tuple[Path, str | None]]:
    """The output files to read, each with its class (``None``: the file names its classes).

    Parameters
    ----------
    output : pathlib.Path
        The run's output folder.
    files : sequence of pathlib.Path
        Regular files in it (from :func:`~.command_inputs.check_writes`).
    pattern : str
        Output pattern relative to ``output`` (``{run}``, ``{class}``, glob
        wildcards), or ``""``: every file with an extension of ``fmt`` (any
        known picks extension when ``fmt`` is ``""``).
    fmt : str
        Output format or ``""`` (by extension).
    run : str
    classes : ClassCatalogue

    Returns
    -------
    list of (pathlib.Path, str or None)
        Sorted by class order, then path.
    """
    if not pattern:
        suffixes = format_extensions(fmt)
        return [(path, None) for path in files if path.suffix.lower() in suffixes]
    found: list[tuple[Path, str | None]] = []
    per_class = "{class}" in pattern
    for name in classes.names if per_class else [None]:
        values = {"run": glob.escape(run), "class": glob.escape(name or "")}
        matched = sorted(p for p in output.glob(fill_pattern(pattern, values)) if p.is_file())
        found += [(path, name) for path in matched]
    return found


def read_outputs(
    found: Sequence[tuple[Path, str | None]],
    *,
    fmt: str,
    tomogram: Tomogram,
    classes: ClassCatalogue,
    seg_method: str,
    seg_threshold: float,
    picker: str,
) -> pd.DataFrame:
    """Read every output file into one picks table (Å, x-y-z, with ``score``).

    Raises
    ------
    InputError
        A file that its reader refuses (the message names the file and field).
    ToolError
        A map whose shape differs from the tomogram's, or picks outside the tomogram.
    """
    frames = []
    for path, name in found:
        if fmt in MAP_FORMATS:
            maps = _read_map(path, tomogram, classes, fmt, name, picker)
            table = picks_from_maps(
                maps,
                run=tomogram.run,
                voxel_size_angstrom=tomogram.voxel_size_angstrom,
                classes=classes,
                method=seg_method,
                threshold=seg_threshold,
                source=str(path),
            )
        elif path.stat().st_size == 0:
            continue  # an empty file: no picks
        else:
            table = _read_picks_file(path, fmt, tomogram, classes, name)
        if SCORE_COLUMN not in table.columns:
            table = table.assign(score=1.0)
        frames.append(table[list(PICKS_COLUMNS) + [SCORE_COLUMN]])
        if fmt not in MAP_FORMATS:
            check_units(
                table,
                extent_angstrom_xyz=tomogram.extent_angstrom_xyz,
                voxel_size_angstrom=tomogram.voxel_size_angstrom,
                source=f"picker {picker!r}: {path}",
            )
            check_inside_box(table, tomogram, source=f"picker {picker!r}: {path}")
    if not frames:
        return empty_picks_table()
    return pd.concat(frames, ignore_index=True)


def check_inside_box(table: pd.DataFrame, tomogram: Tomogram, *, source: str) -> None:
    """Raise when picks of this run lie outside the tomogram (wrong axis order or units).

    Raises
    ------
    ToolError
        Rows of ``tomogram.run`` outside ``[-slack, extent + slack]`` on some
        axis, with slack 5 % of the extent plus one voxel.
    """
    rows = table.loc[table["experiment"] == tomogram.run, ["x", "y", "z"]].to_numpy(np.float64)
    if not len(rows):
        return
    extent = np.asarray(tomogram.extent_angstrom_xyz, dtype=np.float64)
    slack = _BOX_SLACK * extent + float(tomogram.voxel_size_angstrom)
    outside = ((rows < -slack) | (rows > extent + slack)).any(axis=1)
    if not outside.any():
        return
    largest = rows.max(axis=0)
    raise ToolError(
        f"{source}: {int(outside.sum())} of {len(rows)} picks lie outside the tomogram "
        f"(x, y, z extent {_fmt(extent)} Å; largest x, y, z {_fmt(largest)}): coordinates must "
        "be Å in x, y, z order (z-y-x order, or other units, put them outside)"
    )


def _read_picks_file(
    path: Path, fmt: str, tomogram: Tomogram, classes: ClassCatalogue, name: str | None
) -> pd.DataFrame:
    """One picks file through ``read_picks``, with the run's context as fallbacks."""
    context = PicksContext(
        experiment=tomogram.run,
        particle_type=name,
        pixel_size_angstrom=float(tomogram.voxel_size_angstrom),
        tomogram_extent_angstrom={tomogram.run: tomogram.extent_angstrom_xyz},
    )
    return read_picks(path, classes=classes, context=context, format=fmt or None)


def _read_map(
    path: Path,
    tomogram: Tomogram,
    classes: ClassCatalogue,
    fmt: str,
    name: str | None,
    picker: str,
) -> dict[str, np.ndarray]:
    try:
        with mrcfile.open(path, permissive=False) as mrc:
            data = np.array(mrc.data)
    except (ValueError, OSError) as error:
        raise InputError(str(path), f"cannot read the MRC map: {error}") from None
    if data.shape != tomogram.shape_zyx:
        raise ToolError(
            f"picker {picker!r}: {path}: map shape (z, y, x) {data.shape} differs from the "
            f"tomogram's {tomogram.shape_zyx} (a binned map, or axes in another order)"
        )
    if fmt == "segmentation":
        return split_label_map(data, classes, source=str(path))
    if name is None:
        raise InputError(str(path), "a probability map needs its class: use {class} in output")
    return {name: data}


def _fmt(values: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:.4g}" for v in values) + ")"
