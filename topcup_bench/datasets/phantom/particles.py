"""Perturbed particle instances: size jitter, anisotropy, rotation and lumpiness.

Generator-internal (§3 of the phantom specification): templates must use the clean
shapes of :mod:`.primitives` (:func:`clean_primitive` is re-exported here for
convenience), never these perturbed instances.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from topcup_bench.datasets.phantom.primitives import (
    PRIMITIVE_VOXEL_ANGSTROM,
    bounding_radius_voxels,
    box_offsets,
    clean_primitive,
    evaluate_primitive,
    random_rotation,
    to_particle_frame,
)

__all__ = [
    "ParticleInstances",
    "draw_instances",
    "render_instance",
    "smooth_noise",
    "clean_primitive",
]


@dataclass(frozen=True)
class ParticleInstances:
    """Per-instance draws of N particles (before placement).

    Attributes
    ----------
    class_names : numpy.ndarray of str, shape (N,)
    rotations : numpy.ndarray, float64, shape (N, 3, 3)
        Particle frame → tomogram frame, x-y-z convention.
    scale_xyz : numpy.ndarray, float64, shape (N, 3)
        Particle-frame stretch (size jitter × anisotropy) relative to the clean shape,
        already divided by the voxel size ratio (units: voxels per 10 Å voxel).
    bounding_radii : numpy.ndarray, float64, shape (N,)
        Enclosing radius of each perturbed instance in voxels.
    """

    class_names: np.ndarray
    rotations: np.ndarray
    scale_xyz: np.ndarray
    bounding_radii: np.ndarray


def draw_instances(
    rng: np.random.Generator,
    counts: dict[str, int],
    *,
    voxel_size_angstrom: float,
    size_jitter: float,
    anisotropy: float,
) -> ParticleInstances:
    """Draw rotation, size jitter and anisotropy of every particle, class by class.

    Parameters
    ----------
    rng : numpy.random.Generator
    counts : dict of str to int
        Particles per class, in output order.
    voxel_size_angstrom : float
        Voxel size in Å.
    size_jitter, anisotropy : float
        Half-widths of the uniform scale factor and of the per-axis stretch.

    Returns
    -------
    ParticleInstances
        Rows grouped by class in the order of ``counts``.
    """
    names = np.array([c for c, n in counts.items() for _ in range(n)], dtype=object)
    n = len(names)
    ratio = PRIMITIVE_VOXEL_ANGSTROM / voxel_size_angstrom
    rotations = np.stack([random_rotation(rng) for _ in range(n)]) if n else np.zeros((0, 3, 3))
    jitter = 1.0 + rng.uniform(-size_jitter, size_jitter, size=(n, 1))
    stretch = 1.0 + rng.uniform(-anisotropy, anisotropy, size=(n, 3))
    scale = jitter * stretch * ratio
    base = np.array([bounding_radius_voxels(c, PRIMITIVE_VOXEL_ANGSTROM) for c in names])
    radii = base * scale.max(axis=1) if n else np.zeros(0)
    return ParticleInstances(names, rotations, scale, radii)


def smooth_noise(
    rng: np.random.Generator, shape: tuple[int, ...], sigma: float | tuple[float, ...]
) -> np.ndarray:
    """Gaussian-smoothed white noise normalised to unit standard deviation.

    Parameters
    ----------
    rng : numpy.random.Generator
    shape : tuple of int
        Output shape.
    sigma : float or tuple of float
        Gaussian σ in voxels per axis (0 for an axis that is not smoothed).

    Returns
    -------
    numpy.ndarray, float32, ``shape``
    """
    field = rng.standard_normal(shape, dtype=np.float32)
    field = ndimage.gaussian_filter(field, sigma, mode="wrap")
    std = float(field.std())
    return field / np.float32(std if std > 0 else 1.0)


def add_box(volume: np.ndarray, corner_zyx: tuple[int, int, int], box: np.ndarray) -> None:
    """Add ``box`` into ``volume`` with its [0, 0, 0] voxel at ``corner_zyx``, clipping at faces."""
    src, dst = [], []
    for c, size, n in zip(corner_zyx, box.shape, volume.shape, strict=True):
        lo, hi = max(c, 0), min(c + size, n)
        if hi <= lo:
            return
        dst.append(slice(lo, hi))
        src.append(slice(lo - c, hi - c))
    volume[tuple(dst)] += box[tuple(src)]


def render_instance(
    volume: np.ndarray,
    class_name: str,
    centre_zyx: np.ndarray,
    rotation: np.ndarray,
    scale_xyz: np.ndarray,
    bounding_radius: float,
    *,
    rng: np.random.Generator | None = None,
    lumpiness: float = 0.0,
    lumpiness_sigma: float = 1.5,
    contrast: float = 1.0,
) -> None:
    """Add one (optionally lumpy) particle instance to ``volume`` in place.

    Parameters
    ----------
    volume : numpy.ndarray, float32, shape (nz, ny, nx)
        Density volume, modified in place.
    class_name : str
        Class of the particle.
    centre_zyx : array_like of 3 floats
        Centre in (fractional) voxel indices z, y, x.
    rotation : numpy.ndarray, shape (3, 3)
        Particle frame → tomogram frame (x-y-z).
    scale_xyz : array_like of 3 floats
        Particle-frame stretch (see :class:`ParticleInstances`).
    bounding_radius : float
        Enclosing radius in voxels (sets the local box).
    rng : numpy.random.Generator, optional
        Needed when ``lumpiness > 0``.
    lumpiness : float
        Std of the multiplicative smooth noise; 0 renders the clean (but
        rotated and stretched) shape.
    lumpiness_sigma : float
        Correlation length of the lumpiness noise in voxels.
    contrast : float
        Density multiplier of this instance.
    """
    centre = np.asarray(centre_zyx, dtype=np.float64)
    middle = np.floor(centre + 0.5).astype(int)
    half = int(math.ceil(bounding_radius + 1))
    px, py, pz = to_particle_frame(box_offsets(half, centre - middle), rotation, scale_xyz)
    box = evaluate_primitive(class_name, px, py, pz)
    if lumpiness > 0:
        if rng is None:
            raise ValueError("render_instance: lumpiness needs an rng")  # programming error
        noise = smooth_noise(rng, box.shape, lumpiness_sigma)
        box *= np.maximum(np.float32(1.0) + np.float32(lumpiness) * noise, np.float32(0.0))
    if contrast != 1.0:
        box *= np.float32(contrast)
    corner = tuple(int(m) - half for m in middle)
    add_box(volume, corner, box)  # type: ignore[arg-type]
