"""Picks as RELION STAR files (read and written with the ``starfile`` package).

RELION stores particle positions as ``rlnCoordinateX/Y/Z`` in pixels, with an
optional shift ``rlnOriginX/Y/ZAngst`` in Å: the position in Å is
``coordinate × pixel size − origin``. Pixel ↔ Å conversion goes through
:mod:`topcup_bench.datasets.units`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
import pandas as pd
import starfile

from topcup_bench.datasets.atomic import atomic_output
from topcup_bench.datasets.star_blocks import (
    COORDINATES,
    numeric_column,
    particles_block,
    pixel_sizes,
    positive_size,
    read_blocks,
)
from topcup_bench.datasets.units import angstrom_to_voxels, voxels_to_angstrom
from topcup_bench.errors import SchemaError
from topcup_bench.types import (
    COORDINATE_COLUMNS,
    SCORE_COLUMN,
    ClassCatalogue,
    ParticleClass,
    validate_picks_table,
)

__all__ = ["read_picks_star", "write_picks_star"]

_ORIGINS = ("rlnOriginXAngst", "rlnOriginYAngst", "rlnOriginZAngst")
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
) -> pd.DataFrame:
    """Read a RELION STAR file of particle positions into a validated picks table.

    Parameters
    ----------
    path : str or os.PathLike
        The STAR file; it is only read.
    pixel_size_angstrom : float, optional
        Pixel size (Å) of ``rlnCoordinate*``. When omitted it comes from a
        column ``rlnTomoTiltSeriesPixelSize``, ``rlnImagePixelSize``,
        ``rlnDetectorPixelSize`` or ``rlnPixelSize`` of the particles block,
        else from the optics block (per ``rlnOpticsGroup`` when there are several).
        When given for a file that states its own pixel size, the two must agree
        (relative 1e-3) unless ``pixel_size_override``.
    experiment : str, optional
        Run name for every row; default ``rlnTomoName``, else
        ``rlnMicrographName`` without directory and image extension.
    particle_type : str, optional
        Class name for every row; default the column ``rlnParticleName`` or ``particle_type``.
    classes : ClassCatalogue or iterable of ParticleClass, optional
        When given, every ``particle_type`` must be one of these classes.
    pixel_size_override : bool
        Use ``pixel_size_angstrom`` even where the file states another pixel size.

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment, particle_type, x, y, z`` in Å, and ``score`` from
        ``rlnLCCmax``, ``rlnAutopickFigureOfMerit`` or ``rlnScore`` (first
        present); shape (N, 5) or (N, 6).

    Raises
    ------
    InputError
        Missing file, a pixel size that is not a positive finite number, or a
        ``pixel_size_angstrom`` that disagrees with the file's (without override).
    EmptyInputError
        No data block in the file.
    SchemaError
        Unparsable file, no single particles block, or no way to know the pixel
        size, run name or particle type.
    """
    source = os.fspath(path)
    name, block, optics = particles_block(read_blocks(source), source)
    where = f"block 'data_{name}'"
    missing = [c for c in COORDINATES if c not in block.columns]
    if missing:
        hint = (
            " (RELION 5 centred coordinates 'rlnCenteredCoordinate*Angst' need the tomogram "
            "size and are not supported; export absolute rlnCoordinate* instead)"
            if "rlnCenteredCoordinateXAngst" in block.columns
            else ""
        )
        raise SchemaError(
            source,
            f"{where}: missing column(s) {missing}; expected {list(COORDINATES)} in pixels, "
            f"found {list(block.columns)}{hint}",
        )
    pixels = np.column_stack([numeric_column(block, c, source, where) for c in COORDINATES])
    sizes = pixel_sizes(
        block, optics, pixel_size_angstrom, source, where, override=pixel_size_override
    )
    angstrom = voxels_to_angstrom(pixels, sizes)
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
    table.insert(0, "particle_type", _particle_types(block, particle_type, source, where))
    table.insert(0, "experiment", _experiments(block, experiment, source, where))
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


def _experiments(block: pd.DataFrame, given: str | None, source: str, where: str) -> np.ndarray:
    if given is not None:
        return np.full(len(block), str(given), dtype=object)
    if "rlnTomoName" in block.columns:
        return block["rlnTomoName"].astype(str).to_numpy(dtype=object)
    if "rlnMicrographName" in block.columns:
        return np.array([_run_from_image(str(v)) for v in block["rlnMicrographName"]], dtype=object)
    raise SchemaError(
        source,
        f"{where}: cannot tell the run of each particle: expected a column 'rlnTomoName' or "
        f"'rlnMicrographName', found {list(block.columns)}; pass experiment",
    )


def _run_from_image(name: str) -> str:
    """``Tomograms/TS_5_4.mrc`` → ``TS_5_4``: drop the directory and one image extension."""
    base = name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    for suffix in _IMAGE_SUFFIXES:
        if base.lower().endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)]
    return base


def _particle_types(block: pd.DataFrame, given: str | None, source: str, where: str) -> np.ndarray:
    if given is not None:
        return np.full(len(block), str(given), dtype=object)
    column = next((c for c in _PARTICLE_NAMES if c in block.columns), None)
    if column is None:
        raise SchemaError(
            source,
            f"{where}: cannot tell the particle type: expected a column {list(_PARTICLE_NAMES)}, "
            f"found {list(block.columns)}; pass particle_type",
        )
    return block[column].astype(str).to_numpy(dtype=object)
