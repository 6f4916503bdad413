"""Structure of RELION STAR files: data blocks, numeric columns and pixel sizes.

Helpers of :mod:`topcup_bench.datasets.picks_star`: reading a file into its
blocks, choosing the block of particles, parsing numeric columns with errors
that name the file, block, column and rows, and finding the pixel size that
``rlnCoordinate*`` is expressed in.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import starfile

from topcup_bench.errors import EmptyInputError, InputError, SchemaError

__all__ = [
    "COORDINATES",
    "read_blocks",
    "particles_block",
    "numeric_column",
    "positive_size",
    "pixel_sizes",
]

#: Particle position columns, in pixels.
COORDINATES = ("rlnCoordinateX", "rlnCoordinateY", "rlnCoordinateZ")
#: Pixel-size columns looked up in the particles block, in this order.
PIXEL_SIZE_COLUMNS = (
    "rlnTomoTiltSeriesPixelSize",
    "rlnImagePixelSize",
    "rlnDetectorPixelSize",
    "rlnPixelSize",
)
#: Pixel-size columns looked up in the optics block, in this order.
OPTICS_PIXEL_SIZE_COLUMNS = ("rlnTomoTiltSeriesPixelSize", "rlnImagePixelSize")
#: Columns kept as strings when parsing (a run called ``01`` or ``NA`` stays as written).
STRING_COLUMNS = ["rlnTomoName", "rlnMicrographName", "rlnParticleName", "particle_type"]


def read_blocks(source: str) -> dict[str, object]:
    """Read every data block of a STAR file.

    Parameters
    ----------
    source : str
        Path of the STAR file.

    Returns
    -------
    dict of str to pandas.DataFrame or dict
        Block name (without ``data_``) to a table (loop block) or a dict (simple block).

    Raises
    ------
    InputError
        The file does not exist or is a directory.
    SchemaError
        The file cannot be parsed.
    EmptyInputError
        The file holds no data block.
    """
    try:
        blocks = starfile.read(source, always_dict=True, parse_as_string=STRING_COLUMNS)
    except FileNotFoundError:
        raise InputError(source, "file not found") from None
    except IsADirectoryError:
        raise InputError(source, "is a directory; expected a STAR file") from None
    except Exception as error:  # starfile raises assorted pandas/parser errors
        raise SchemaError(
            source, f"cannot parse as a STAR file: {type(error).__name__}: {error}"
        ) from None
    if not blocks:
        raise EmptyInputError(source, "file is empty: no STAR data block found")
    return dict(blocks)


def particles_block(
    blocks: Mapping[str, object], source: str
) -> tuple[str, pd.DataFrame, object | None]:
    """Choose the particles: block ``data_particles``, else the one block with ``rlnCoordinateX``.

    Parameters
    ----------
    blocks : mapping
        As returned by :func:`read_blocks`.
    source : str
        File path, for error messages.

    Returns
    -------
    name : str
        The block's name (without ``data_``).
    particles : pandas.DataFrame
        Its rows, shape (N, columns); a simple block becomes one row.
    optics : pandas.DataFrame, dict or None
        The ``data_optics`` block, if any.

    Raises
    ------
    SchemaError
        No ``data_particles`` block and not exactly one block with coordinates.
    """
    tables = {n: t for n, t in ((n, _as_frame(b)) for n, b in blocks.items()) if t is not None}
    if "particles" in tables:
        name = "particles"
    else:
        with_coords = [n for n, t in tables.items() if COORDINATES[0] in t.columns]
        if len(with_coords) != 1:
            raise SchemaError(
                source,
                "expected a block 'data_particles' or exactly one block with column "
                f"'rlnCoordinateX'; found blocks {[f'data_{n}' for n in blocks]}, "
                f"with 'rlnCoordinateX': {[f'data_{n}' for n in with_coords]}",
            )
        name = with_coords[0]
    return name, tables[name].reset_index(drop=True), blocks.get("optics")


def _as_frame(block: object) -> pd.DataFrame | None:
    if isinstance(block, pd.DataFrame):
        return block
    if isinstance(block, Mapping):  # a simple (non-loop) block is one row
        return pd.DataFrame([dict(block)])
    return None


def numeric_column(block: pd.DataFrame, column: str, source: str, where: str) -> np.ndarray:
    """Return ``block[column]`` as float64, shape (N,); text that is not a number is an error.

    Raises
    ------
    SchemaError
        Naming ``source``, the block (``where``), the column and the 0-based rows.
    """
    values = pd.to_numeric(block[column], errors="coerce")
    bad = values.isna().to_numpy() & ~block[column].isna().to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)
        raise SchemaError(
            source,
            f"{where}: column {column!r} must hold numbers; found {block[column].iloc[rows[0]]!r} "
            f"in {len(rows)} row(s) (0-based rows {rows[:10].tolist()})",
        )
    return values.to_numpy(dtype=np.float64)


def positive_size(value: object, what: str, source: str = "argument") -> float:
    """Return ``value`` as a positive finite float (a pixel size in Å).

    Raises
    ------
    InputError
        Naming ``source`` and the argument ``what``, with the value found.
    """
    try:
        size = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        size = float("nan")
    if not (np.isfinite(size) and size > 0):
        raise InputError(
            source, f"{what}: pixel size must be > 0 (a finite number of Å), found {value!r}"
        )
    return size


def pixel_sizes(
    block: pd.DataFrame,
    optics: object | None,
    given: float | None,
    source: str,
    where: str,
    *,
    override: bool = False,
) -> float | np.ndarray:
    """Find the pixel size (Å) of ``rlnCoordinate*``.

    Parameters
    ----------
    block : pandas.DataFrame
        The particles, shape (N, columns).
    optics : pandas.DataFrame, dict or None
        The ``data_optics`` block.
    given : float or None
        The caller's pixel size (``--pixel-size``). When the file states its own,
        the two must agree within a relative 1e-3, unless ``override``.
    source, where : str
        File path and block name, for error messages.
    override : bool
        Use ``given`` even where the file states another pixel size.

    Returns
    -------
    float or numpy.ndarray of shape (N,)
        One pixel size for all particles, or one per particle.

    Raises
    ------
    InputError
        A pixel size that is not a positive finite number, or ``given`` that
        disagrees with the file's own pixel size.
    SchemaError
        No pixel size anywhere, or optics groups that cannot be told apart.
    """
    if given is not None:
        size = positive_size(given, "--pixel-size", source)
        if override:
            return size
        try:
            stated = _stated_pixel_sizes(block, optics, source, where)
        except SchemaError:  # optics groups that cannot be told apart: the given size decides
            stated = None
        if stated is not None and not np.allclose(stated, size, rtol=_AGREE_RTOL, atol=0.0):
            found = np.unique(np.asarray(stated, dtype=float))
            shown = f"{float(found[0]):g}" if len(found) == 1 else f"{found[:5].tolist()}"
            raise InputError(
                source,
                f"--pixel-size {size:g} Å disagrees with the pixel size the file states "
                f"({shown} Å); drop --pixel-size, or pass --override-pixel-size "
                "(pixel_size_override=true for the external picker) to use yours",
            )
        return size
    stated = _stated_pixel_sizes(block, optics, source, where)
    if stated is None:
        raise SchemaError(
            source,
            f"{where}: cannot tell the pixel size of rlnCoordinate*: expected one of the "
            f"columns {list(PIXEL_SIZE_COLUMNS)} or an optics block with "
            f"{list(OPTICS_PIXEL_SIZE_COLUMNS)}; found {list(block.columns)[:20]}. "
            "Pass --pixel-size (pixel_size_angstrom from Python) instead.",
        )
    return stated


#: ``--pixel-size`` and a pixel size stated in the file agree within this relative tolerance.
_AGREE_RTOL = 1e-3


def _stated_pixel_sizes(
    block: pd.DataFrame, optics: object | None, source: str, where: str
) -> float | np.ndarray | None:
    """The pixel size(s) the file states (particles columns, else optics), or None."""
    column = next((c for c in PIXEL_SIZE_COLUMNS if c in block.columns), None)
    if column is not None:
        sizes = numeric_column(block, column, source, where)
        bad = ~(np.isfinite(sizes) & (sizes > 0))
        if bad.any():
            raise InputError(
                source,
                f"{where}: column {column!r} must hold positive pixel sizes in Å; found "
                f"{float(sizes[bad][0])!r} in 0-based rows {np.flatnonzero(bad)[:10].tolist()}",
            )
        return sizes
    optics_frame = _as_frame(optics) if optics is not None else None
    found = [] if optics_frame is None else list(optics_frame.columns)
    column = next((c for c in OPTICS_PIXEL_SIZE_COLUMNS if c in found), None)
    if optics_frame is None or column is None:
        return None
    return _optics_pixel_sizes(block, optics_frame, column, source)


def _optics_pixel_sizes(
    block: pd.DataFrame, optics: pd.DataFrame, column: str, source: str
) -> float | np.ndarray:
    where = "block 'data_optics'"
    sizes = numeric_column(optics, column, source, where)
    if len(sizes) == 0:
        raise SchemaError(source, f"{where}: no rows; expected one row per optics group")
    if not (np.isfinite(sizes) & (sizes > 0)).all():
        raise InputError(
            source,
            f"{where}: column {column!r} must hold positive pixel sizes in Å; "
            f"found {sizes.tolist()}",
        )
    if len(np.unique(sizes)) == 1:
        return float(sizes[0])
    group = "rlnOpticsGroup"
    if group not in block.columns or group not in optics.columns:
        raise SchemaError(
            source,
            f"{where}: {len(sizes)} optics groups with different {column!r} {sizes.tolist()}, "
            f"but no {group!r} column to tell which applies to each particle; "
            "pass --pixel-size (pixel_size_angstrom from Python)",
        )
    by_group = dict(
        zip(numeric_column(optics, group, source, where).tolist(), sizes.tolist(), strict=True)
    )
    groups = numeric_column(block, group, source, "block with the particles").tolist()
    unknown = sorted({g for g in groups if g not in by_group})
    if unknown:
        raise SchemaError(
            source,
            f"column {group!r}: particle optics group(s) {unknown} not in {where} "
            f"(groups {sorted(by_group)})",
        )
    return np.array([by_group[g] for g in groups], dtype=np.float64)
