"""Shared pieces of the stand-ins for other tools' command lines (tests only).

The stand-ins are small, real programs: they read the MRC files they are
given, find dark blobs (protein is dark in the test data) and write the
files the real tools write, in the real formats and places.  Only the
method differs (smoothed minima instead of a network or template matching).
"""

from __future__ import annotations

import sys

import mrcfile
import numpy as np
from scipy import ndimage


def fail(program: str, message: str, status: int = 2) -> None:
    """Exit like an argparse program does on bad input."""
    print(f"{program}: error: {message}", file=sys.stderr)
    raise SystemExit(status)


def read_volume(path: str) -> tuple[np.ndarray, float]:
    """An MRC volume, indexed (z, y, x), and its voxel size in Å (1.0 when absent)."""
    with mrcfile.open(path, permissive=True) as mrc:
        data = np.array(mrc.data, dtype=np.float32)
        size = float(mrc.voxel_size.x) or 1.0
    return data, size


def write_volume(path: str, data: np.ndarray, voxel_size: float) -> None:
    """A (z, y, x) volume as MRC with its voxel size."""
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(np.ascontiguousarray(data))
        mrc.voxel_size = voxel_size


def darkness(data: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-smoothed, negated volume, scaled to a maximum of 1: dark blobs are peaks."""
    smooth = ndimage.gaussian_filter(-data.astype(np.float64), max(sigma, 0.5))
    smooth -= np.median(smooth)
    top = float(smooth.max())
    return (smooth / top if top > 0 else smooth).astype(np.float32)


def greedy_peaks(
    score: np.ndarray, radius: float, count: int, floor: float
) -> list[tuple[tuple[int, int, int], float]]:
    """Local maxima above ``floor``, highest first, none within ``radius`` voxels of a higher one.

    Returns at most ``count`` entries ``((z, y, x), value)``.
    """
    peaks = (score == ndimage.maximum_filter(score, size=3, mode="nearest")) & (score > floor)
    where = np.argwhere(peaks)
    values = score[peaks]
    order = np.argsort(-values, kind="stable")
    kept: list[tuple[tuple[int, int, int], float]] = []
    for index in order:
        centre = where[index]
        if all(np.sum((centre - np.array(k)) ** 2) > radius**2 for k, _ in kept):
            kept.append((tuple(int(i) for i in centre), float(values[index])))
            if len(kept) == count:
                break
    return kept


#: Half-width (voxels) of the patch that the TomoTwin stand-in embeds.
PATCH = 2


def patch_embeddings(volume: np.ndarray, centres_zyx: np.ndarray) -> np.ndarray:
    """Unit vectors of the z-scored (2·PATCH+1)³ patches of the σ = 1 smoothed volume.

    Their dot products are normalised cross-correlations: the stand-in's
    metric space for TomoTwin's cosine similarity.  ``centres_zyx``: (n, 3) voxels.
    """
    smooth = ndimage.gaussian_filter(volume.astype(np.float32), 1.0)
    padded = np.pad(smooth, PATCH, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (2 * PATCH + 1,) * 3)
    centres = np.asarray(centres_zyx, dtype=np.int64).reshape(-1, 3)
    vectors = windows[centres[:, 0], centres[:, 1], centres[:, 2]].reshape(len(centres), -1)
    vectors = vectors - vectors.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)
