"""Picks as RELION STAR files (read and written with the ``starfile`` package).

RELION 4 stores particle positions as ``rlnCoordinateX/Y/Z`` in pixels, with an
optional shift ``rlnOriginX/Y/ZAngst`` in Å: the position in Å is
``coordinate × pixel size − origin``. Pixel ↔ Å conversion goes through
:mod:`topcup_bench.datasets.units`.

RELION 5 stores ``rlnCenteredCoordinateX/Y/ZAngst``: Å measured from the
centre of the tomogram. RELION puts that centre at ``size / 2`` tilt-series
pixels, not ``(size - 1) / 2`` (``TomogramSet::loadTomogram`` in
``src/jaz/tomography/tomogram_set.cpp``: ``centre = (w0 / 2.0, h0 / 2.0,
d0 / 2.0)``, and ``ParticleSet::getParticleCoordDecenteredPixel`` in
``particle_set.cpp``: ``pixel = centred Å / pixel size + centre``). In Å
from the corner that is ``centred + extent / 2`` with ``extent = size ×
pixel size``, the conversion copick applies too
(``copick.util.formats.relion_coordinates_to_angstrom``, used here). The
extent of each run comes from the caller
(:class:`~topcup_bench.datasets.picks.context.PicksContext`): a tomogram of
``n`` voxels of ``v`` Å spans ``n × v`` Å, the same as RELION's unbinned
``rlnTomoSize × rlnTomoTiltSeriesPixelSize`` when ``n`` is the tilt-series
size divided by the binning.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
import pandas as pd
import starfile

from topcup_bench.datasets.atomic import atomic_output
from topcup_bench.datasets.picks.context import PicksContext
from topcup_bench.datasets.star_blocks import (
    COORDINATES,
    OPTICS_PIXEL_SIZE_COLUMNS,
    PIXEL_SIZE_COLUMNS,
    numeric_column,
    particles_block,
    pixel_sizes,
    positive_size,
    read_blocks,
)
from topcup_bench.datasets.units import angstrom_to_voxels, voxels_to_angstrom
from topcup_bench.errors import InputError, SchemaError
from topcup_bench.types import (
    COORDINATE_COLUMNS,
    SCORE_COLUMN,
    ClassCatalogue,
    ParticleClass,
    validate_picks_table,
)

__all__ = ["read_picks_star", "write_picks_star"]

_ORIGINS = ("rlnOriginXAngst", "rlnOriginYAngst", "rlnOriginZAngst")
#: RELION 5 positions: Å from the tomogram centre.
CENTRED = (
    "rlnCenteredCoordinateXAngst",
    "rlnCenteredCoordinateYAngst",
    "rlnCenteredCoordinateZAngst",
)
#: Score columns: pytom-match-pick, RELION auto-picking, generic; first present wins.
_SCORES = ("rlnLCCmax", "rlnAutopickFigureOfMerit", "rlnScore")
_PARTICLE_NAMES = ("rlnParticleName", "particle_type")
_IMAGE_SUFFIXES = (".mrcs", ".mrc", ".rec", ".st", ".zarr", ".tomostar")


def read_picks_star(
    path: str | os.PathLike[str],
    *,
    pixel_size_angstrom: float | None = None,
    experiment: str | None = None,
    particle_type: str | None = None,
    classes: ClassCatalogue | Iterable[ParticleClass] | None = None,
    pixel_size_override: bool = False,
    context: PicksContext | None = None,
) -> pd.DataFrame:
    """Read a RELION 4 or 5 STAR file of particle positions into a validated picks table.

    Parameters
    ----------
    path : str or os.PathLike
        The STAR file; it is only read.
    pixel_size_angstrom : float, optional
        Pixel size (Å) of ``rlnCoordinate*``. When omitted it comes from a
        column ``rlnTomoTiltSeriesPixelSize``, ``rlnImagePixelSize``,
        ``rlnDetectorPixelSize`` or ``rlnPixelSize`` of the particles block,
        else from the optics block (per ``rlnOpticsGroup`` when there are several),
        else from ``context``. When given for a file that states its own pixel
        size, the two must agree (relative 1e-3) unless ``pixel_size_override``.
    experiment : str, optional
        Run name for every row; default ``rlnTomoName``, else
        ``rlnMicrographName`` without directory and image extension, else
        ``context.experiment``.
    particle_type : str, optional
        Class name for every row; default the column ``rlnParticleName`` or
        ``particle_type``, else ``context.particle_type``.
    classes : ClassCatalogue or iterable of ParticleClass, optional
        When given, every ``particle_type`` must be one of these classes.
    pixel_size_override : bool
        Use ``pixel_size_angstrom`` even where the file states another pixel size.
    context : PicksContext, optional
        Fallbacks where the file is silent: run, class, pixel size (a pixel
        size the file states wins over the context's, without a check), and
        ``tomogram_extent_angstrom`` for RELION 5 centred coordinates.

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment, particle_type, x, y, z`` in Å, and ``score`` from
        ``rlnLCCmax``, ``rlnAutopickFigureOfMerit`` or ``rlnScore`` (first
        present); shape (N, 5) or (N, 6).

    Notes
    -----
    Positions are ``rlnCenteredCoordinate*Angst + extent / 2`` (RELION 5) when
    the file has those columns and the context gives the extent of every run
    in it; otherwise ``rlnCoordinate* × pixel size`` (RELION 4, and RELION 5
    files that keep pixel coordinates). ``rlnOrigin*Angst`` is subtracted in
    both cases. The pixel size plays no part in centred coordinates.

    Raises
    ------
    InputError
        Missing file, a pixel size that is not a positive finite number, or a
        ``pixel_size_angstrom`` that disagrees with the file's (without override).
    EmptyInputError
        No data block in the file.
    SchemaError
        Unparsable file, no single particles block, no way to know the pixel
        size, run name or particle type, or centred coordinates of a run whose
        tomogram extent the context does not give.
    """
    source = os.fspath(path)
    context = context or PicksContext()
    name, block, optics = particles_block(read_blocks(source), source)
    where = f"block 'data_{name}'"
    runs = star_experiments(block, experiment, context, source, where)
    centred = [c for c in CENTRED if c in block.columns]
    if centred and len(centred) < len(CENTRED):
        raise SchemaError(
            source, f"{where}: centred coordinates need all of {list(CENTRED)}; found {centred}"
        )
    has_pixels = all(c in block.columns for c in COORDINATES)
    if centred and (not has_pixels or not context.missing_extents(runs)):
        angstrom = _centred_to_angstrom(block, runs, context, source, where)
    elif has_pixels:
        pixels = np.column_stack([numeric_column(block, c, source, where) for c in COORDINATES])
        given = pixel_size_angstrom
        if given is None and not _states_pixel_size(block, optics):
            given = context.pixel_size_angstrom
        sizes = pixel_sizes(block, optics, given, source, where, override=pixel_size_override)
        angstrom = voxels_to_angstrom(pixels, sizes)
    else:
        raise SchemaError(
            source,
            f"{where}: missing column(s) {[c for c in COORDINATES if c not in block.columns]}; "
            f"expected {list(COORDINATES)} in pixels (RELION 4) or {list(CENTRED)} in Å "
            f"(RELION 5), found {list(block.columns)}",
        )
    present = [c for c in _ORIGINS if c in block.columns]
    if present and len(present) < len(_ORIGINS):
        raise SchemaError(
            source,
            f"{where}: origin shifts need all of {list(_ORIGINS)}; found only {present}",
        )
    if present:
        origins = [numeric_column(block, c, source, where) for c in _ORIGINS]
        angstrom = angstrom - np.column_stack(origins)
    table = pd.DataFrame(angstrom, columns=list(COORDINATE_COLUMNS))
    table.insert(0, "particle_type", _particle_types(block, particle_type, context, source, where))
    table.insert(0, "experiment", runs)
    score = next((c for c in _SCORES if c in block.columns), None)
    if score is not None:
        table[SCORE_COLUMN] = numeric_column(block, score, source, where)
    return validate_picks_table(
        table, source=source, classes=None if classes is None else ClassCatalogue.coerce(classes)
    )


def write_picks_star(
    table: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    pixel_size_angstrom: float,
    overwrite: bool = False,
) -> None:
    """Write picks as a RELION particles STAR file (block ``data_particles``), atomically.

    Parameters
    ----------
    table : pandas.DataFrame
        A picks table (Å, x-y-z); shape (N, >= 5).
    path : str or os.PathLike
        Destination file.
    pixel_size_angstrom : float
        Pixel size (Å) the coordinates are expressed in.
    overwrite : bool
        Replace an existing file.

    Notes
    -----
    Columns: ``rlnCoordinateX/Y/Z`` (pixels, not rounded), ``rlnTomoName``,
    ``rlnParticleName``, ``rlnLCCmax`` (the score, when present) and
    ``rlnDetectorPixelSize``, so that :func:`read_picks_star` reads the file back
    without further arguments.

    Raises
    ------
    InputError
        Pixel size not a positive finite number.
    OutputExistsError
        ``path`` exists and ``overwrite`` is False.
    """
    picks = validate_picks_table(table, source="table to write")
    size = positive_size(pixel_size_angstrom, "pixel_size_angstrom")
    pixels = angstrom_to_voxels(picks[list(COORDINATE_COLUMNS)].to_numpy(), size)
    out = pd.DataFrame(pixels, columns=list(COORDINATES))
    out["rlnTomoName"] = picks["experiment"].to_numpy()
    out["rlnParticleName"] = picks["particle_type"].to_numpy()
    if SCORE_COLUMN in picks.columns:
        out["rlnLCCmax"] = picks[SCORE_COLUMN].to_numpy()
    out["rlnDetectorPixelSize"] = size
    with atomic_output(path, overwrite=overwrite) as tmp:
        starfile.write({"particles": out}, tmp, float_format=None)


def _centred_to_angstrom(
    block: pd.DataFrame, runs: np.ndarray, context: PicksContext, source: str, where: str
) -> np.ndarray:
    """RELION 5 ``rlnCenteredCoordinate*Angst`` → Å from the corner, shape (N, 3)."""
    centres = context.centres_angstrom(runs, source, what=f"{where}: {list(CENTRED)}")
    frame = pd.DataFrame({c: numeric_column(block, c, source, where) for c in CENTRED})
    frame["rlnTomoName"] = runs
    try:
        from copick.util.formats import relion_coordinates_to_angstrom
    except ImportError as error:
        raise InputError(
            source,
            f"{where}: RELION 5 centred coordinates are converted with copick >= 1.31 "
            f"(copick.util.formats.relion_coordinates_to_angstrom): {error}",
        ) from None
    centred = {run: tuple(float(v) for v in centre) for run, centre in centres.items()}
    return np.asarray(
        relion_coordinates_to_angstrom(frame, tomogram_centers=centred, relion_version="relion5"),
        dtype=np.float64,
    )


def _states_pixel_size(block: pd.DataFrame, optics: object | None) -> bool:
    """Whether the file names a pixel size (particles columns or optics block)."""
    if any(c in block.columns for c in PIXEL_SIZE_COLUMNS):
        return True
    names = optics.columns if isinstance(optics, pd.DataFrame) else (optics or {})
    return any(c in names for c in OPTICS_PIXEL_SIZE_COLUMNS)


def star_experiments(
    block: pd.DataFrame, given: str | None, context: PicksContext, source: str, where: str
) -> np.ndarray:
    if given is not None:
        return np.full(len(block), str(given), dtype=object)
    if "rlnTomoName" in block.columns:
        return block["rlnTomoName"].astype(str).to_numpy(dtype=object)
    if "rlnMicrographName" in block.columns:
        return np.array([_run_from_image(str(v)) for v in block["rlnMicrographName"]], dtype=object)
    if context.experiment is not None:
        return np.full(len(block), context.experiment, dtype=object)
    raise SchemaError(
        source,
        f"{where}: cannot tell the run of each particle: expected a column 'rlnTomoName' or "
        f"'rlnMicrographName', found {list(block.columns)}; pass experiment (or "
        "context=PicksContext(experiment=RUN))",
    )


def _run_from_image(name: str) -> str:
    """``Tomograms/TS_5_4.mrc`` → ``TS_5_4``: drop the directory and one image extension."""
    base = name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    for suffix in _IMAGE_SUFFIXES:
        if base.lower().endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)]
    return base


def _particle_types(
    block: pd.DataFrame, given: str | None, context: PicksContext, source: str, where: str
) -> np.ndarray:
    if given is not None:
        return np.full(len(block), str(given), dtype=object)
    column = next((c for c in _PARTICLE_NAMES if c in block.columns), None)
    if column is None and context.particle_type is not None:
        return np.full(len(block), context.particle_type, dtype=object)
    if column is None:
        raise SchemaError(
            source,
            f"{where}: cannot tell the particle type: expected a column {list(_PARTICLE_NAMES)}, "
            f"found {list(block.columns)}; pass particle_type (or "
            "context=PicksContext(particle_type=CLASS))",
        )
    return block[column].astype(str).to_numpy(dtype=object)
