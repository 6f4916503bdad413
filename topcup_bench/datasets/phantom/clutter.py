"""Clutter: crowder blobs, vesicle membranes and the 1/f background (§2.3).

Crowders model lysate proteins and HSA (lumpy blobs of radius 1.8–3 voxels),
vesicles are thin spherical shells, and the background is a random field whose
Fourier amplitude falls as ``|k|^-exponent``; it is built directly in Fourier
space on the shared padded grid.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from topcup_bench.datasets.phantom.fourier import FourierGrid, random_spectrum, spectrum_variance
from topcup_bench.datasets.phantom.particles import add_box
from topcup_bench.datasets.phantom.placement import Vesicles

__all__ = ["render_crowders", "render_vesicles", "add_background"]

#: Crowders are rendered in chunks of at most this many box voxels (64 MiB of float32 per
#: working array), so a cellular-crowded full-size tomogram (≈ 185,000 crowders) needs
#: about 0.3 GB instead of 2 GB.  Every built-in preset's crowders fit in one chunk, whose
#: output is what a single pass gives; with several (equal) chunks the lumpiness is scaled
#: by each chunk's own standard deviation (over ≥ 2^23 samples: equal to a fraction of a %).
_CHUNK_VOXELS = 2**24


def render_crowders(
    volume: np.ndarray,
    centres_zyx: np.ndarray,
    radii: np.ndarray,
    rng: np.random.Generator,
    *,
    contrast: float = 1.0,
    lumpiness: float = 0.5,
    lumpiness_sigma: float = 1.0,
) -> None:
    """Add lumpy spherical blobs to ``volume`` in place.

    Parameters
    ----------
    volume : numpy.ndarray, float32, shape (nz, ny, nx)
    centres_zyx : numpy.ndarray, shape (M, 3)
        Fractional voxel indices z, y, x.
    radii : numpy.ndarray, shape (M,)
        Blob radii in voxels.
    rng : numpy.random.Generator
        Source of the lumpiness noise.
    contrast : float
        Density inside a blob before the lumpiness.
    lumpiness, lumpiness_sigma : float
        Std and correlation length (voxels) of the multiplicative smooth noise.
    """
    m = len(radii)
    if m == 0:
        return
    half = int(math.ceil(float(np.max(radii)) + 1))
    n_chunks = -(-m // max(1, _CHUNK_VOXELS // (2 * half + 1) ** 3))
    bounds = [m * i // n_chunks for i in range(n_chunks + 1)]  # sizes differ by at most 1
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        _render_crowder_chunk(
            volume,
            centres_zyx[start:stop],
            radii[start:stop],
            rng,
            half=half,
            contrast=contrast,
            lumpiness=lumpiness,
            lumpiness_sigma=lumpiness_sigma,
        )


def _render_crowder_chunk(
    volume: np.ndarray,
    centres_zyx: np.ndarray,
    radii: np.ndarray,
    rng: np.random.Generator,
    *,
    half: int,
    contrast: float,
    lumpiness: float,
    lumpiness_sigma: float,
) -> None:
    """Render one chunk of crowders in boxes of side ``2·half + 1`` (see ``render_crowders``)."""
    m = len(radii)
    side = 2 * half + 1
    middle = np.floor(centres_zyx + 0.5).astype(np.int64)
    shift = (centres_zyx - middle).astype(np.float32)
    base = np.arange(-half, half + 1, dtype=np.float32)
    dz = base[None, :, None, None] - shift[:, 0, None, None, None]
    dy = base[None, None, :, None] - shift[:, 1, None, None, None]
    dx = base[None, None, None, :] - shift[:, 2, None, None, None]
    dist = np.sqrt(dz * dz + dy * dy + dx * dx)
    r = radii.astype(np.float32)[:, None, None, None]
    boxes = np.clip(r + np.float32(0.5) - dist, 0, 1) * np.float32(contrast)
    del dist
    if lumpiness > 0:
        noise = rng.standard_normal((m, side, side, side), dtype=np.float32)
        noise = ndimage.gaussian_filter(
            noise, (0, lumpiness_sigma, lumpiness_sigma, lumpiness_sigma)
        )
        noise *= np.float32(lumpiness / max(float(noise.std()), 1e-12))
        noise += np.float32(1.0)
        boxes *= np.maximum(noise, 0)
    corners = middle - half
    for corner, box in zip(corners, boxes, strict=True):
        add_box(volume, tuple(corner), box)  # type: ignore[arg-type]


def render_vesicles(volume: np.ndarray, vesicles: Vesicles, *, contrast: float = 1.0) -> None:
    """Add spherical membrane shells (thickness ``vesicles.thickness`` voxels) in place.

    Shells are clipped at the faces of ``volume`` (shape (nz, ny, nx), float32).
    """
    t = np.float32(vesicles.thickness / 2 + 0.5)
    for centre, radius in zip(vesicles.centres, vesicles.radii, strict=True):
        half = int(math.ceil(radius + vesicles.thickness + 1))
        middle = np.floor(centre + 0.5).astype(np.int64)
        lo = np.maximum(middle - half, 0)
        hi = np.minimum(middle + half + 1, volume.shape)
        if (hi <= lo).any():
            continue
        axes = [
            np.arange(a, b, dtype=np.float32) - np.float32(c)
            for a, b, c in zip(lo, hi, centre, strict=True)
        ]
        dist = np.sqrt(
            axes[0][:, None, None] ** 2 + axes[1][None, :, None] ** 2 + axes[2][None, None, :] ** 2
        )
        shell = np.clip(t - np.abs(dist - np.float32(radius)), 0, 1) * np.float32(contrast)
        volume[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] += shell


def add_background(
    spectrum: np.ndarray,
    grid: FourierGrid,
    rng: np.random.Generator,
    *,
    std: float,
    exponent: float,
) -> None:
    """Add a 1/f^exponent random field of real-space std ``std`` to a half spectrum in place.

    Parameters
    ----------
    spectrum : numpy.ndarray, complex64, shape ``grid.spectrum_shape``
        Spectrum of the density, modified in place.
    grid : FourierGrid
    rng : numpy.random.Generator
    std : float
        Standard deviation of the background over the padded volume.
    exponent : float
        The amplitude spectrum falls as ``|k|^-exponent`` (k in cycles/voxel).
    """
    if std <= 0:
        return
    field = random_spectrum(rng, grid)
    k_min = 1.0 / max(grid.shape)  # lowest non-zero frequency, cycles/voxel
    v2 = np.float32(grid.voxel_size_angstrom**2)
    half = np.float32(-0.5 * exponent)
    for planes in grid.mirrored_planes():
        k2 = np.maximum(grid.k2_plane(planes[0]) * v2, np.float32(k_min * k_min))
        amplitude = k2**half
        for iz in planes:
            field[iz] *= amplitude
    field[0, 0, 0] = 0
    scale = std / math.sqrt(max(spectrum_variance(field, grid), 1e-30))
    field *= np.float32(scale)
    spectrum += field
