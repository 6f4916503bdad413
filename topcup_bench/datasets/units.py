"""Voxel ↔ Ångström and z-y-x ↔ x-y-z conversions, and unit sanity checks.

This is the only module of topcup-bench that converts between voxel (or
pixel) coordinates and Ångström: every reader and writer goes through it.
Coordinates in picks tables are Å in x, y, z order; arrays are indexed z, y, x.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from topcup_bench.errors import InputError, SchemaError, UnitsWarning
from topcup_bench.types import COORDINATE_COLUMNS

__all__ = [
    "voxels_to_angstrom",
    "angstrom_to_voxels",
    "zyx_to_xyz",
    "xyz_to_zyx",
    "check_units",
    "check_units_against",
    "voxel_peaks_to_picks",
]

#: Slack on the voxel extent when deciding that coordinates "fit in voxels".
_EXTENT_SLACK = 1.05
#: Coordinates in Å normally reach past this fraction of the tomogram's Å extent.
_ANGSTROM_REACH = 0.25
#: Range of per-axis max ratios that suggests one table is in voxels (voxel sizes ~4-30 Å).
_RATIO_RANGE = (4.0, 30.0)


def voxels_to_angstrom(coords: ArrayLike, voxel_size: ArrayLike) -> np.ndarray:
    """Convert voxel (pixel) coordinates to Ångström.

    Parameters
    ----------
    coords : array_like, shape (N, 3) or (3,)
        Coordinates in voxels (any axis order; it is kept).
    voxel_size : float or array_like of shape (N,)
        Voxel size in Å per voxel, one for all rows or one per row.

    Returns
    -------
    numpy.ndarray, float64, same shape as ``coords``
        Coordinates in Å.

    Raises
    ------
    InputError
        A voxel size that is not a positive finite number, or of the wrong shape.

    Examples
    --------
    >>> voxels_to_angstrom([[1.0, 2.0, 3.0]], 10.0)
    array([[10., 20., 30.]])
    """
    array, size = _coords_and_size(coords, voxel_size)
    return array * size


def angstrom_to_voxels(coords: ArrayLike, voxel_size: ArrayLike) -> np.ndarray:
    """Convert Ångström coordinates to (fractional) voxel coordinates.

    Parameters
    ----------
    coords : array_like, shape (N, 3) or (3,)
        Coordinates in Å.
    voxel_size : float or array_like of shape (N,)
        Voxel size in Å per voxel, one for all rows or one per row.

    Returns
    -------
    numpy.ndarray, float64, same shape as ``coords``
        Coordinates in voxels (not rounded).

    Raises
    ------
    InputError
        A voxel size that is not a positive finite number, or of the wrong shape.

    Examples
    --------
    >>> angstrom_to_voxels([[10.0, 25.0, 30.0]], 10.0)
    array([[1. , 2.5, 3. ]])
    """
    array, size = _coords_and_size(coords, voxel_size)
    return array / size


def zyx_to_xyz(array: ArrayLike) -> np.ndarray:
    """Reverse the columns of an (N, 3) z, y, x array into x, y, z order.

    Parameters
    ----------
    array : array_like, shape (N, 3)

    Returns
    -------
    numpy.ndarray, shape (N, 3)

    Examples
    --------
    >>> zyx_to_xyz([[3, 2, 1]])
    array([[1, 2, 3]])
    """
    return _reverse_columns(array)


def xyz_to_zyx(array: ArrayLike) -> np.ndarray:
    """Reverse the columns of an (N, 3) x, y, z array into z, y, x order.

    Parameters
    ----------
    array : array_like, shape (N, 3)

    Returns
    -------
    numpy.ndarray, shape (N, 3)

    Examples
    --------
    >>> xyz_to_zyx([[1, 2, 3]])
    array([[3, 2, 1]])
    """
    return _reverse_columns(array)


def check_units(
    table: pd.DataFrame,
    *,
    extent_angstrom_xyz: Sequence[float],
    voxel_size_angstrom: float,
    source: str,
) -> bool:
    """Warn when a picks table's coordinates look like voxel indices, not Å.

    The heuristic fires when every coordinate fits inside the tomogram's
    extent counted in voxels (with 5 % slack) while, on every axis, the
    largest coordinate is below a quarter of the extent in Å: real picks in
    Å spread further. It cannot tell the two apart for voxel sizes under
    about 4.2 Å, and it says nothing about an empty table.

    Parameters
    ----------
    table : pandas.DataFrame
        Picks table with float columns ``x, y, z``; shape (N, >= 3).
    extent_angstrom_xyz : sequence of 3 floats
        Tomogram size in Å along x, y, z (voxels × voxel size).
    voxel_size_angstrom : float
        Voxel size in Å.
    source : str
        Name of the table in the warning (a file path or a role).

    Returns
    -------
    bool
        True when a :class:`~topcup_bench.errors.UnitsWarning` was emitted.

    Raises
    ------
    InputError
        Bad extent or voxel size.
    SchemaError
        ``table`` lacks a coordinate column.
    """
    extent = np.asarray(extent_angstrom_xyz, dtype=np.float64)
    if extent.shape != (3,) or not (np.isfinite(extent).all() and (extent > 0).all()):
        raise InputError(
            source,
            f"extent_angstrom_xyz must be 3 positive finite numbers, got {extent_angstrom_xyz!r}",
        )
    _check_voxel_size(np.asarray(voxel_size_angstrom, dtype=np.float64), source)
    coords = _coordinates(table, source)
    if len(coords) == 0:
        return False
    extent_voxels = extent / float(voxel_size_angstrom)
    observed_max = coords.max(axis=0)
    fits_in_voxels = (coords.min(axis=0) >= -0.05 * extent_voxels).all() and (
        observed_max <= _EXTENT_SLACK * extent_voxels
    ).all()
    if not (fits_in_voxels and (observed_max < _ANGSTROM_REACH * extent).all()):
        return False
    warnings.warn(
        f"{source}: coordinates look like voxel indices, not Ångström: the largest x, y, z "
        f"are {_fmt(observed_max)} but the tomogram spans {_fmt(extent)} Å "
        f"({_fmt(extent_voxels)} voxels of {voxel_size_angstrom:g} Å). If they are voxels, "
        f"multiply them by the voxel size ({voxel_size_angstrom:g} Å).",
        UnitsWarning,
        stacklevel=2,
    )
    return True


def check_units_against(truth: pd.DataFrame, picks: pd.DataFrame, *, source: str) -> bool:
    """Warn when picks and ground truth seem to be in different units.

    Compares the largest coordinate per axis of both tables: a picks maximum
    4 to 30 times smaller than the truth's on all three axes suggests picks in
    voxels; 4 to 30 times larger suggests the truth is in voxels.

    Parameters
    ----------
    truth, picks : pandas.DataFrame
        Picks tables with float columns ``x, y, z`` in Å; shapes (M, >= 3), (N, >= 3).
    source : str
        Name of the picks in the warning.

    Returns
    -------
    bool
        True when a :class:`~topcup_bench.errors.UnitsWarning` was emitted.
    """
    truth_xyz = _coordinates(truth, "truth")
    picks_xyz = _coordinates(picks, source)
    if len(truth_xyz) == 0 or len(picks_xyz) == 0:
        return False
    truth_max, picks_max = truth_xyz.max(axis=0), picks_xyz.max(axis=0)
    if not ((truth_max > 0).all() and (picks_max > 0).all()):
        return False
    low, high = _RATIO_RANGE
    ratio = truth_max / picks_max
    if ((ratio >= low) & (ratio <= high)).all():
        culprit, factor = f"{source} are probably in voxels", "multiply them by the voxel size"
    elif ((1 / ratio >= low) & (1 / ratio <= high)).all():
        culprit, factor = "the ground truth is probably in voxels", "check the truth's units"
    else:
        return False
    warnings.warn(
        f"{source}: the largest x, y, z of the picks are {_fmt(picks_max)} but those of the "
        f"ground truth are {_fmt(truth_max)} (ratio {_fmt(ratio)}); {culprit}: {factor} "
        "(coordinates must be Ångström).",
        UnitsWarning,
        stacklevel=2,
    )
    return True


def _coords_and_size(coords: ArrayLike, voxel_size: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    array = np.asarray(coords, dtype=np.float64)
    if array.ndim not in (1, 2) or array.shape[-1] != 3:
        raise InputError("coordinates", f"expected shape (N, 3) or (3,), found {array.shape}")
    size = np.asarray(voxel_size, dtype=np.float64)
    _check_voxel_size(size, "voxel size")
    if size.ndim == 1:
        rows = array.shape[0] if array.ndim == 2 else 1
        if size.shape[0] != rows:
            raise InputError(
                "voxel size",
                f"expected a number or one value per row ({rows}), found shape {size.shape}",
            )
        size = size[:, None] if array.ndim == 2 else size
    elif size.ndim > 1:
        raise InputError("voxel size", f"expected a number or shape (N,), found shape {size.shape}")
    return array, size


def _check_voxel_size(size: np.ndarray, source: str) -> None:
    if size.size == 0 or not (np.isfinite(size).all() and (size > 0).all()):
        shown = size.tolist()
        raise InputError(source, f"voxel size must be a positive finite number in Å, got {shown!r}")


def _reverse_columns(array: ArrayLike) -> np.ndarray:
    values = np.asarray(array)
    if values.ndim != 2 or values.shape[1] != 3:
        raise InputError("coordinates", f"expected shape (N, 3), found {values.shape}")
    return values[:, ::-1].copy()


def _coordinates(table: pd.DataFrame, source: str) -> np.ndarray:
    missing = [c for c in COORDINATE_COLUMNS if c not in table.columns]
    if missing:
        raise SchemaError(
            source,
            f"missing coordinate column(s) {missing}; found {[str(c) for c in table.columns]}",
        )
    return table[list(COORDINATE_COLUMNS)].to_numpy(dtype=np.float64)


def _fmt(values: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:.4g}" for v in values) + ")"


def voxel_peaks_to_picks(
    run: str,
    particle_type: str,
    indices_zyx: ArrayLike,
    scores: ArrayLike,
    voxel_size: float,
) -> pd.DataFrame:
    """Picks table of peaks found at voxel indices of a (z, y, x) array.

    Parameters
    ----------
    run, particle_type : str
        Values of the ``experiment`` and ``particle_type`` columns.
    indices_zyx : array_like, shape (N, 3)
        Peak positions as (z, y, x) voxel indices (may be fractional).
    scores : array_like, shape (N,)
        Confidence of each peak.
    voxel_size : float
        Å per voxel.

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment, particle_type, x, y, z, score``; coordinates in Å,
        ``x = i · voxel_size`` for index ``i`` (no half-voxel offset).

    Examples
    --------
    >>> voxel_peaks_to_picks("TS_1", "ribosome", [[1, 2, 3]], [0.5], 10.0)[["x", "y", "z"]].values
    array([[30., 20., 10.]])
    """
    indices = np.asarray(indices_zyx, dtype=np.float64).reshape(-1, 3)
    xyz = voxels_to_angstrom(zyx_to_xyz(indices), voxel_size) if len(indices) else indices
    return pd.DataFrame(
        {
            "experiment": [run] * len(indices),
            "particle_type": [particle_type] * len(indices),
            "x": xyz[:, 0],
            "y": xyz[:, 1],
            "z": xyz[:, 2],
            "score": np.asarray(scores, dtype=np.float64).reshape(-1),
        }
    )
