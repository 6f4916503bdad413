"""Training data of the ``forest`` picker: standardised volumes and balanced voxel samples."""

from __future__ import annotations

import numpy as np
import pandas as pd

from topcup_bench.datasets.units import angstrom_to_voxels, xyz_to_zyx
from topcup_bench.types import ClassCatalogue, Tomogram

from .blob import radius_voxels, robust_centre_spread
from .peaks import ball

__all__ = ["standardise", "sample_voxels"]


def standardise(data: np.ndarray) -> np.ndarray:
    """Robust standardisation (median, 1.4826 · MAD) of a volume, float32, same shape."""
    volume = np.asarray(data, dtype=np.float32)
    centre, spread = robust_centre_spread(volume)
    return ((volume - np.float32(centre)) / np.float32(spread)).astype(np.float32, copy=False)


def sample_voxels(
    tomogram: Tomogram,
    truth: pd.DataFrame,
    classes: ClassCatalogue,
    fraction: float,
    per_class: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Balanced training voxels of one run.

    Returns
    -------
    flat : ndarray of int64, shape (M,)
        Flat (z, y, x) indices, sorted.
    labels : ndarray of int64, shape (M,)
        0 = background (farther than R from every particle), k = class k (1-based,
        catalogue order) inside a sphere of ``fraction`` · R around one of its picks.
    """
    shape = tomogram.shape_zyx
    target = np.zeros(shape, dtype=np.int16)
    near = np.zeros(shape, dtype=bool)
    for code, particle_class in enumerate(classes, start=1):
        rows = truth[truth["particle_type"] == particle_class.name]
        if not len(rows):
            continue
        centres = np.rint(
            xyz_to_zyx(
                angstrom_to_voxels(
                    rows[["x", "y", "z"]].to_numpy(float), tomogram.voxel_size_angstrom
                )
            )
        ).astype(np.int64)
        radius = radius_voxels(particle_class.radius_angstrom, tomogram.voxel_size_angstrom)
        _paint(near, centres, ball(radius), True)
        _paint(target, centres, ball(max(fraction * radius, 1.0)), code)
    target[~near] = 0
    chosen = []
    background = np.flatnonzero(~near)
    for code in range(len(classes) + 1):
        pool = background if code == 0 else np.flatnonzero(target == code)
        if len(pool):
            chosen.append(rng.choice(pool, size=min(per_class, len(pool)), replace=False))
    flat = np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)
    labels = target.ravel()[flat].astype(np.int64)
    return flat, labels


def _paint(volume: np.ndarray, centres: np.ndarray, footprint: np.ndarray, value) -> None:
    """Set ``volume`` to ``value`` on ``footprint`` placed at each (z, y, x) centre (clipped)."""
    offsets = np.argwhere(footprint) - footprint.shape[0] // 2
    for centre in centres:
        points = centre + offsets
        inside = ((points >= 0) & (points < volume.shape)).all(axis=1)
        volume[tuple(points[inside].T)] = value
