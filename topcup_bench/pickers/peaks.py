"""Peak extraction with non-maximum suppression, shared by the map-based pickers."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from topcup_bench.errors import InputError

__all__ = ["find_peaks", "ball"]


def ball(radius: float) -> np.ndarray:
    """Boolean ball footprint of ``radius`` voxels, shape (2r+1,)*3 with r = floor(radius)."""
    r = int(np.floor(radius))
    grid = np.mgrid[-r : r + 1, -r : r + 1, -r : r + 1]
    return (grid**2).sum(axis=0) <= radius**2 + 1e-9


def find_peaks(
    volume: np.ndarray,
    min_distance: float,
    *,
    threshold: float = -np.inf,
    max_peaks: int | None = None,
    border: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Local maxima of a (z, y, x) map, at least ``min_distance`` voxels apart.

    Candidates are the voxels equal to the maximum of a ball of radius
    ``min_distance`` around them (and above its minimum: flat regions are not
    peaks) and above ``threshold``; they are then
    suppressed greedily, strongest first, so that no two kept peaks are closer
    than ``min_distance`` (plateaus give one peak).

    Parameters
    ----------
    volume : ndarray, shape (nz, ny, nx)
        Score map (higher is better).
    min_distance : float
        Suppression radius in voxels (> 0).
    threshold : float
        Keep peaks strictly above this value.
    max_peaks : int, optional
        Keep at most this many (the strongest).
    border : int
        Ignore peaks within this many voxels of a face.

    Returns
    -------
    indices : ndarray of int64, shape (N, 3)
        Peak positions (z, y, x), strongest first.
    values : ndarray of float64, shape (N,)
        Map values at the peaks.

    Examples
    --------
    >>> v = np.zeros((9, 9, 9)); v[2, 2, 2] = 1.0; v[2, 2, 4] = 0.5; v[6, 6, 6] = 0.8
    >>> find_peaks(v, 3)[0].tolist()
    [[2, 2, 2], [6, 6, 6]]
    """
    if volume.ndim != 3:
        raise InputError("find_peaks", f"expected a 3-D (z, y, x) map, found shape {volume.shape}")
    if not min_distance > 0:
        raise InputError("find_peaks", f"min_distance must be > 0, found {min_distance!r}")
    footprint = ball(min_distance)
    if footprint.shape[0] <= 3:
        maxima = ndimage.maximum_filter(volume, footprint=footprint, mode="nearest")
        candidate = (volume == maxima) & (volume > threshold)
        # a completely flat neighbourhood is not a peak
        candidate &= volume > ndimage.minimum_filter(volume, footprint=footprint, mode="nearest")
    else:
        # the ball contains the 3x3x3 cube: its maxima are among the cube's maxima
        candidate = volume == ndimage.maximum_filter(volume, size=3, mode="nearest")
        candidate &= volume > threshold
    if border > 0:
        inner = np.zeros_like(candidate)
        inner[border:-border, border:-border, border:-border] = True
        candidate &= inner
    indices = np.argwhere(candidate)
    if footprint.shape[0] > 3:
        indices = indices[_ball_extrema(volume, indices, footprint)]
    values = volume[tuple(indices.T)].astype(np.float64)
    order = np.lexsort((indices[:, 2], indices[:, 1], indices[:, 0], -values))
    indices, values = indices[order], values[order]
    keep = _suppress(indices, min_distance)
    indices, values = indices[keep], values[keep]
    if max_peaks is not None:
        indices, values = indices[:max_peaks], values[:max_peaks]
    return indices.astype(np.int64), values


def _ball_extrema(volume: np.ndarray, indices: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """Which candidates equal the maximum and exceed the minimum of their ball (edge-padded).

    The same test as ball-footprint maximum and minimum filters with
    ``mode="nearest"``, evaluated at the candidates only (batched gathers).
    """
    r = footprint.shape[0] // 2
    padded = np.pad(volume, r, mode="edge")
    strides = np.array(padded.shape[1:] + (1,))
    strides = np.array([strides[0] * strides[1], strides[1], 1])
    offsets = (np.argwhere(footprint) @ strides).astype(np.int64)
    flat = padded.ravel()
    starts = indices @ strides  # corner of each window in the padded array
    keep = np.zeros(len(indices), dtype=bool)
    batch = max(1, 4_000_000 // len(offsets))
    for i in range(0, len(indices), batch):
        window = flat[starts[i : i + batch, None] + offsets[None, :]]
        centre = flat[starts[i : i + batch] + (r * strides).sum()]
        keep[i : i + batch] = (window.max(axis=1) <= centre) & (window.min(axis=1) < centre)
    return keep


def _suppress(indices: np.ndarray, radius: float) -> np.ndarray:
    """Greedy suppression of points (sorted strongest first) within ``radius`` of a kept one."""
    if len(indices) < 2:
        return np.ones(len(indices), dtype=bool)
    neighbours = cKDTree(indices).query_ball_point(indices, r=radius - 1e-9)
    keep = np.ones(len(indices), dtype=bool)
    for i, near in enumerate(neighbours):
        if keep[i]:
            for j in near:
                if j > i:
                    keep[j] = False
    return keep
