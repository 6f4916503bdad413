"""Cross-class conflicts between peak lists, and robust background statistics of score maps."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["robust_background", "resolve_class_conflicts"]

#: Every other voxel along each axis is enough for the background statistics of a score map.
_STATS_STRIDE = 2


def robust_background(scores: np.ndarray) -> tuple[float, float]:
    """Robust centre (median) and spread (1.4826 · MAD) of a score map."""
    sample = scores[::_STATS_STRIDE, ::_STATS_STRIDE, ::_STATS_STRIDE].astype(np.float64).ravel()
    centre = float(np.median(sample))
    spread = 1.4826 * float(np.median(np.abs(sample - centre)))
    return centre, (spread if spread > 0 else 1.0)


def resolve_class_conflicts(found: list[tuple], min_zscore: float) -> list[tuple]:
    """Drop peaks within the smaller class radius of a stronger confident peak of another class.

    ``found`` holds ``(name, radius_voxels, indices, values, zscores)`` per class;
    peaks are visited by decreasing z-score and a kept peak with a z-score of at
    least ``min_zscore`` suppresses weaker peaks of the other classes.
    """
    labels = np.concatenate([np.full(len(f[2]), i) for i, f in enumerate(found)])
    if len(labels) == 0:
        return found
    points = np.concatenate([f[2] for f in found]).astype(np.float64)
    strength = np.concatenate([f[4] for f in found])
    radii = np.array([f[1] for f in found])
    order = np.lexsort((labels, -strength))
    tree = cKDTree(points)
    neighbours = tree.query_ball_point(points, r=float(radii.max()))
    keep = np.zeros(len(points), dtype=bool)
    for i in order:
        near = [
            j
            for j in neighbours[i]
            if keep[j]
            and strength[j] >= min_zscore
            and labels[j] != labels[i]
            and np.sum((points[j] - points[i]) ** 2) <= min(radii[labels[i]], radii[labels[j]]) ** 2
        ]
        keep[i] = not near
    start = 0
    out = []
    for name, radius, indices, values, z in found:
        stop = start + len(indices)
        kept = keep[start:stop]
        out.append((name, radius, indices[kept], values[kept], z[kept]))
        start = stop
    return out
