"""Training targets from points, and the z-y-x ↔ network axis helpers.

Axis order (topcup.md §1.4): our arrays are indexed (z, y, x), the official
TopCUP network (and its released weights) sees volumes transposed to (X, Y, Z).
:func:`zyx_to_network` and :func:`network_to_zyx` are the only places in this
sub-package where that transpose happens.

Targets (topcup.md §3): every point becomes a ball of radius 2 voxels (the 33
integer offsets of norm ≤ 2) around ``int(coordinate / voxel_size)``; voxels hit
by more than one ball are dropped. Masks are rasterised only for a crop, in
float32, from point lists (topcup.md §12.4). At loss time each mask is max-pooled
to every output level and a renormalised background channel is appended.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike

from topcup_bench.datasets.units import angstrom_to_voxels
from topcup_bench.errors import InputError

__all__ = [
    "zyx_to_network",
    "network_to_zyx",
    "ball_offsets",
    "points_to_mask",
    "to_ce_target",
    "level_targets",
]


def zyx_to_network(volume):
    """Transpose the last three axes of a (…, z, y, x) array into network (…, X, Y, Z) order.

    Parameters
    ----------
    volume : numpy.ndarray or torch.Tensor, shape (..., Z, Y, X)

    Returns
    -------
    Same type, shape (..., X, Y, Z)
        A view (no copy).

    Examples
    --------
    >>> zyx_to_network(np.zeros((2, 3, 4))).shape
    (4, 3, 2)
    """
    if volume.ndim < 3:
        raise InputError("volume", f"expected at least 3 dimensions, found shape {volume.shape}")
    if isinstance(volume, torch.Tensor):
        return volume.transpose(-1, -3)
    return np.swapaxes(volume, -1, -3)


def network_to_zyx(volume):
    """Inverse of :func:`zyx_to_network`: (…, X, Y, Z) → (…, z, y, x).

    Parameters
    ----------
    volume : numpy.ndarray or torch.Tensor, shape (..., X, Y, Z)

    Returns
    -------
    Same type, shape (..., Z, Y, X)

    Examples
    --------
    >>> network_to_zyx(np.zeros((4, 3, 2))).shape
    (2, 3, 4)
    """
    return zyx_to_network(volume)  # swapping the first and last of three axes is self-inverse


def ball_offsets(radius: int = 2) -> np.ndarray:
    """Integer offsets of Euclidean norm ≤ ``radius`` (33 for radius 2, 1 for radius 0).

    Parameters
    ----------
    radius : int
        Ball radius in voxels, >= 0.

    Returns
    -------
    numpy.ndarray of int64, shape (K, 3)

    Examples
    --------
    >>> len(ball_offsets(2)), len(ball_offsets(0))
    (33, 1)
    """
    if int(radius) != radius or radius < 0:
        raise InputError("ball_offsets", f"radius must be an integer >= 0, got {radius!r}")
    r = int(radius)
    grid = np.mgrid[-r : r + 1, -r : r + 1, -r : r + 1].reshape(3, -1).T
    return grid[(grid**2).sum(axis=1) <= r * r].astype(np.int64)


def points_to_mask(
    points_xyz_angstrom: ArrayLike,
    labels: ArrayLike,
    n_classes: int,
    shape_xyz: Sequence[int],
    voxel_size: float,
    *,
    origin_xyz: Sequence[int] = (0, 0, 0),
    radius: int = 2,
    drop_overlaps: bool = True,
) -> np.ndarray:
    """Rasterise labelled points into a network-order class mask for one crop.

    A point at ``p`` Å lands on voxel ``int(p / voxel_size)`` (truncation, as the
    official code) in x, y, z; its ball of ``radius`` voxels is drawn; with
    ``drop_overlaps`` every voxel covered by more than one ball (of any class) is
    left empty. Points outside the crop still count for overlaps.

    Parameters
    ----------
    points_xyz_angstrom : array_like, shape (N, 3)
        Point coordinates in Å, x-y-z order.
    labels : array_like of int, shape (N,)
        Channel index of each point, in ``[0, n_classes)``.
    n_classes : int
        Mask channels (particle classes, no background).
    shape_xyz : sequence of 3 int
        Crop size in voxels, network (X, Y, Z) order.
    voxel_size : float
        Å per voxel.
    origin_xyz : sequence of 3 int
        Voxel index (X, Y, Z) of the crop's first voxel in the tomogram.
    radius : int
        Ball radius in voxels: 2 for TopCUP, 0 for a single voxel (original Kaggle code).
    drop_overlaps : bool
        Drop voxels hit more than once (TopCUP); False sets them to 1 in every
        class that hits them (original Kaggle single-voxel targets).

    Returns
    -------
    numpy.ndarray of float32, shape (n_classes, X, Y, Z)
        1 where a class is present, else 0.

    Raises
    ------
    InputError
        Bad point array, labels out of range, or label count not matching the points.

    Examples
    --------
    >>> m = points_to_mask([[35.0, 39.9, 30.0]], [0], 1, (8, 8, 8), 10.0)
    >>> int(m.sum()), float(m[0, 3, 3, 3])
    (33, 1.0)
    """
    points = np.asarray(points_xyz_angstrom, dtype=np.float64).reshape(-1, 3)
    label_array = np.asarray(labels, dtype=np.int64).reshape(-1)
    if len(label_array) != len(points):
        raise InputError(
            "targets", f"{len(points)} points but {len(label_array)} labels; expected one each"
        )
    if len(label_array) and (label_array.min() < 0 or label_array.max() >= n_classes):
        raise InputError(
            "targets",
            f"labels must lie in [0, {n_classes}), found {sorted(set(label_array.tolist()))}",
        )
    shape = np.asarray(shape_xyz, dtype=np.int64)
    mask = np.zeros((n_classes, *shape.tolist()), dtype=np.float32)
    if not len(points):
        return mask
    centres = angstrom_to_voxels(points, voxel_size).astype(np.int64)  # truncation, like int()
    centres -= np.asarray(origin_xyz, dtype=np.int64)
    offsets = ball_offsets(radius)
    voxels = (centres[:, None, :] + offsets[None, :, :]).reshape(-1, 3)
    classes = np.repeat(label_array, len(offsets))
    inside = ((voxels >= 0) & (voxels < shape)).all(axis=1)
    voxels, classes = voxels[inside], classes[inside]
    if drop_overlaps and len(voxels):
        flat = np.ravel_multi_index(voxels.T, shape.tolist())
        _, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
        keep = counts[inverse] == 1
        voxels, classes = voxels[keep], classes[keep]
    mask[classes, voxels[:, 0], voxels[:, 1], voxels[:, 2]] = 1.0
    return mask


def to_ce_target(target: torch.Tensor) -> torch.Tensor:
    """Append the background channel and renormalise (official ``to_ce_target``).

    Parameters
    ----------
    target : torch.Tensor, shape (B, C, X, Y, Z)
        Class targets in [0, 1] (possibly soft after augmentation or mixup).

    Returns
    -------
    torch.Tensor, shape (B, C + 1, X, Y, Z)
        Background ``1 - clamp(sum_c t_c, 0, 1)`` last; every voxel sums to 1.
    """
    background = 1.0 - target.sum(dim=1, keepdim=True).clamp(0.0, 1.0)
    full = torch.cat([target, background], dim=1)
    return full / full.sum(dim=1, keepdim=True)


def level_targets(mask: torch.Tensor, level_shapes: Sequence[Sequence[int]]) -> list[torch.Tensor]:
    """Per-level targets: adaptive max-pool of the mask to each output shape, then background.

    Parameters
    ----------
    mask : torch.Tensor, shape (B, C, X, Y, Z)
        Full-resolution class mask (network order).
    level_shapes : sequence of (X_l, Y_l, Z_l)
        Spatial shapes of the network outputs, e.g. those of ``model(x)``.

    Returns
    -------
    list of torch.Tensor, shapes (B, C + 1, X_l, Y_l, Z_l)
        Each from :func:`to_ce_target`.

    Examples
    --------
    >>> m = torch.zeros(1, 1, 4, 4, 4); m[0, 0, 1, 1, 1] = 1
    >>> t = level_targets(m, [(2, 2, 2)])[0]
    >>> t[0, :, 0, 0, 0].tolist(), t[0, :, 1, 1, 1].tolist()
    ([1.0, 0.0], [0.0, 1.0])
    """
    if mask.ndim != 5:
        raise InputError("targets", f"expected a (B, C, X, Y, Z) mask, found {tuple(mask.shape)}")
    return [
        to_ce_target(F.adaptive_max_pool3d(mask.float(), tuple(int(s) for s in shape)))
        for shape in level_shapes
    ]
