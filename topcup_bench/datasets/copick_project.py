"""Opening copick projects: the root, its class catalogue and tomogram extents.

Helpers shared by :mod:`topcup_bench.datasets.picks_copick`. Every failure
of copick (missing file, bad JSON, pydantic validation) becomes a
:class:`~topcup_bench.errors.CopickSourceError` that names the config file.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

import copick
import numpy as np
import zarr

from topcup_bench.errors import CopickSourceError, InputError, did_you_mean
from topcup_bench.types import COMPETITION_CLASSES, ClassCatalogue, ParticleClass

__all__ = [
    "open_copick_root",
    "get_copick_run",
    "check_copick_id",
    "catalogue_from_copick_config",
    "copick_tomogram_extent",
]

#: Characters copick forbids in object names, user ids and session ids (``copick.util.escape``).
_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1F\x7F\s_]')


def open_copick_root(config_path: str | os.PathLike[str]) -> Any:
    """Open a copick project with :func:`copick.from_file`.

    Parameters
    ----------
    config_path : str or os.PathLike
        The project's JSON configuration.

    Returns
    -------
    copick.models.CopickRoot
        The project root (filesystem, data-portal or Croissant backend).

    Raises
    ------
    CopickSourceError
        The file is missing or unreadable, not JSON, or not a valid copick config.
    """
    source = os.fspath(config_path)
    if not os.path.isfile(source):
        raise CopickSourceError(source, "copick config file not found")
    try:
        return copick.from_file(source)
    except (OSError, ValueError, TypeError, KeyError) as error:  # pydantic errors are ValueErrors
        message = " ".join(str(error).split())
        raise CopickSourceError(
            source, f"cannot open as a copick config: {type(error).__name__}: {message}"
        ) from None


def get_copick_run(root: Any, name: str, source: str) -> Any:
    """Return the run ``name`` of ``root``; unknown names raise with a did-you-mean hint.

    Raises
    ------
    CopickSourceError
        No run of that name in the project at ``source``.
    """
    run = root.get_run(name)
    if run is None:
        known = [r.name for r in root.runs]
        shown = known if len(known) <= 20 else [*known[:20], f"... ({len(known)} runs)"]
        raise CopickSourceError(
            source, f"no run named {name!r}; runs: {shown}.{did_you_mean(name, known)}"
        )
    return run


def check_copick_id(value: str, field: str, source: str) -> str:
    """Check a copick user id, session id or object name (no ``_``, spaces, ``/``, ...).

    Raises
    ------
    InputError
        Naming ``source`` and ``field``, with the bad value.

    Examples
    --------
    >>> check_copick_id("topcup", "user_id", "picks")
    'topcup'
    """
    if not isinstance(value, str) or not value or _FORBIDDEN.search(value):
        raise InputError(
            source,
            f"{field} must be a non-empty string without '_', spaces or any of "
            f'<>:"/\\|?* (copick names files user_session_object.json); got {value!r}',
        )
    return value


def catalogue_from_copick_config(config_path: str | os.PathLike[str]) -> ClassCatalogue:
    """Build the class catalogue of a copick project's pickable particles.

    Parameters
    ----------
    config_path : str or os.PathLike
        The project's JSON configuration.

    Returns
    -------
    ClassCatalogue
        One class per pickable object with ``is_particle`` true and a radius
        (Å), in config order. ``weight`` is ``metadata.score_weight`` if set,
        else the competition weight of the same name, else 1.0;
        ``score_threshold`` is ``metadata.score_threshold`` if set.

    Raises
    ------
    CopickSourceError
        Unreadable config, no particle with a radius, or a bad radius, weight or threshold.
    """
    source = os.fspath(config_path)
    root = open_copick_root(source)
    classes = [
        _particle_class(obj, source)
        for obj in root.pickable_objects
        if obj.is_particle and obj.radius is not None
    ]
    if not classes:
        raise CopickSourceError(
            source,
            "no pickable object with is_particle true and a radius; found "
            f"{[(o.name, o.is_particle, o.radius) for o in root.pickable_objects]} "
            "(name, is_particle, radius)",
        )
    return ClassCatalogue(tuple(classes))


def copick_tomogram_extent(
    config_path: str | os.PathLike[str], run: str, voxel_size: float, tomo_type: str
) -> tuple[float, float, float]:
    """Size in Å along x, y, z of a tomogram of a copick project.

    Parameters
    ----------
    config_path : str or os.PathLike
        The project's JSON configuration.
    run : str
        Run name.
    voxel_size : float
        Voxel spacing in Å, as copick lists it (e.g. 10.0).
    tomo_type : str
        Tomogram type, e.g. ``"denoised"``.

    Returns
    -------
    tuple of 3 floats
        (x, y, z) extent in Å: the full-resolution array shape (z, y, x),
        reversed, times ``voxel_size``.

    Raises
    ------
    CopickSourceError
        Unknown run, voxel spacing or tomogram type, or an unreadable array.
    """
    source = os.fspath(config_path)
    copick_run = get_copick_run(open_copick_root(source), run, source)
    spacing = copick_run.get_voxel_spacing(voxel_size)
    if spacing is None:
        known = [vs.voxel_size for vs in copick_run.voxel_spacings]
        raise CopickSourceError(
            source, f"run {run!r}: no voxel spacing {voxel_size!r}; voxel spacings: {known}"
        )
    tomograms = spacing.get_tomograms(tomo_type)
    if not tomograms:
        known = [t.tomo_type for t in spacing.tomograms]
        raise CopickSourceError(
            source,
            f"run {run!r}, voxel spacing {voxel_size!r}: no tomogram {tomo_type!r}; "
            f"tomograms: {known}.{did_you_mean(tomo_type, known)}",
        )
    try:
        shape_zyx = zarr.open(tomograms[0].zarr(), mode="r")["0"].shape
    except (OSError, KeyError, ValueError) as error:
        raise CopickSourceError(
            source, f"run {run!r}: cannot read tomogram {tomo_type!r}: {error}"
        ) from None
    extent = np.asarray(shape_zyx[::-1], dtype=np.float64) * float(voxel_size)
    return (float(extent[0]), float(extent[1]), float(extent[2]))


def _particle_class(obj: Any, source: str) -> ParticleClass:
    metadata = obj.metadata or {}
    default = COMPETITION_CLASSES[obj.name].weight if obj.name in COMPETITION_CLASSES else 1.0
    weight = _number(
        metadata.get("score_weight", default), obj.name, "metadata.score_weight", source
    )
    threshold = metadata.get("score_threshold")
    if threshold is not None:
        threshold = _number(threshold, obj.name, "metadata.score_threshold", source)
    radius = _number(obj.radius, obj.name, "radius", source)
    if radius <= 0:
        raise CopickSourceError(
            source, f"pickable object {obj.name!r}: radius must be positive (Å), found {radius!r}"
        )
    if weight < 0:
        raise CopickSourceError(
            source,
            f"pickable object {obj.name!r}: metadata.score_weight must be >= 0, found {weight!r}",
        )
    return ParticleClass(obj.name, radius, weight, int(obj.label or 0), threshold)


def _number(value: object, name: str, field: str, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CopickSourceError(
            source, f"pickable object {name!r}: {field} must be a finite number, found {value!r}"
        )
    return float(value)
