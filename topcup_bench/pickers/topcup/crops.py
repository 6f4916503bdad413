"""Seeded training crops: random cubes, flips, x-y rot90 and a y-z tilt, targets per crop.

Follows topcup.md §4 with the fixes of §12: every tomogram is loaded and z-scored
(whole volume, population std) once, kept in network (X, Y, Z) order; labels stay
point lists and a mask is rasterised only for each crop
(:func:`~topcup_bench.pickers.topcup.targets.points_to_mask`, float32). Each
item (one tomogram) gives ``crops_per_item`` crops with uniformly random origins,
then, in the order of §4 and applied identically to image and mask:

1. an independent flip (p = 0.5) of each spatial axis;
2. a rot90 (p = 0.75, k ∈ {1, 2, 3}) in the (X, Y) plane;
3. a tilt (p = 0.5, angle uniform in [−0.78, 0.78] rad) in the (Y, Z) plane,
   i.e. a rotation about X (MONAI ``Rotate`` with angle ``(θ, 0, 0)``, which rotates
   within spatial dims (1, 2)), same size, bilinear for image *and* mask,
   reflection padding; the mask stays float32 in [0, 1].

All randomness comes from :class:`numpy.random.Generator` objects (MONAI's own
RNG is never used), so a stream is reproducible from one seed. Every crop draws
the same numbers whatever augmentations are enabled. :meth:`CropSampler.batches`
is a simple single-process stream; seeded epochs with DataLoader workers
(§12.2, §12.3) are in :mod:`~topcup_bench.pickers.topcup.loader`, and mixup
(done on whole batches, on the training device) in
:mod:`~topcup_bench.pickers.topcup.augment`.

Axes shorter than the crop are zero-padded at their end (zero = the mean after
z-scoring) so that small volumes (e.g. 48 z-slices and 64³ crops) still work.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from monai.transforms import Rotate

from topcup_bench.errors import InputError
from topcup_bench.pickers.topcup.model import SIZE_MULTIPLE
from topcup_bench.pickers.topcup.targets import points_to_mask, zyx_to_network

__all__ = ["CropBatch", "CropSampler", "normalise_volume", "tilt_crop"]


def normalise_volume(volume_zyx: np.ndarray, min_size: int = 0) -> np.ndarray:
    """z-score a whole tomogram, transpose to network order and pad to ``min_size``.

    Parameters
    ----------
    volume_zyx : numpy.ndarray, shape (Z, Y, X)
    min_size : int
        Every axis shorter than this is zero-padded at its end.

    Returns
    -------
    numpy.ndarray of float32, shape (X', Y', Z'), C-contiguous
    """
    volume = np.asarray(volume_zyx, dtype=np.float32)
    if volume.ndim != 3:
        raise InputError("crops", f"expected a (Z, Y, X) tomogram, found shape {volume.shape}")
    std = float(volume.std(dtype=np.float64))
    volume = (volume - float(volume.mean(dtype=np.float64))) / max(std, 1e-8)
    net = np.ascontiguousarray(zyx_to_network(volume), dtype=np.float32)
    pad = [(0, max(0, int(min_size) - s)) for s in net.shape]
    return np.pad(net, pad) if any(p[1] for p in pad) else net


def tilt_crop(image: np.ndarray, mask: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Rotate an image crop and its mask by ``angle`` in the (Y, Z) plane (about X).

    One MONAI ``Rotate(angle=(angle, 0, 0))`` on image and mask stacked along
    channels: same size, bilinear for both, reflection padding (topcup.md §4 step 4).
    A 90° tilt takes a line along Y to a line along Z. All-zero mask channels are
    not interpolated (they stay zero either way).

    Parameters
    ----------
    image : numpy.ndarray, shape (1, S, S, S)
        Network order (channel, X, Y, Z).
    mask : numpy.ndarray, shape (C, S, S, S)
        Values in [0, 1].
    angle : float
        Radians.

    Returns
    -------
    image : numpy.ndarray of float32, shape (1, S, S, S)
    mask : numpy.ndarray of float32, shape (C, S, S, S)
        Interpolated, clipped to [0, 1].
    """
    if image.ndim != 4 or mask.ndim != 4 or image.shape[1:] != mask.shape[1:]:
        raise InputError(
            "crops", f"expected (1, S, S, S) and (C, S, S, S), got {image.shape}, {mask.shape}"
        )
    n = image.shape[0]
    # an all-zero mask channel stays exactly zero: only the others are interpolated
    busy = np.flatnonzero(np.asarray(mask).reshape(mask.shape[0], -1).any(axis=1))
    stacked = np.concatenate([image, mask[busy]]).astype(np.float32, copy=False)
    rotate = Rotate(
        angle=(float(angle), 0.0, 0.0), keep_size=True, mode="bilinear", padding_mode="reflection"
    )
    out = rotate(torch.from_numpy(stacked))
    out = (out.as_tensor() if hasattr(out, "as_tensor") else out).numpy()
    rotated_mask = np.zeros(mask.shape, np.float32)
    rotated_mask[busy] = np.clip(out[n:], 0.0, 1.0)
    return out[:n], rotated_mask


@dataclass
class CropBatch:
    """A batch of crops in network order.

    Attributes
    ----------
    images : numpy.ndarray of float32, shape (N, 1, S, S, S)
    masks : numpy.ndarray of float32, shape (N, C, S, S, S)
    runs : list of str
        Tomogram of each crop.
    """

    images: np.ndarray
    masks: np.ndarray
    runs: list[str]


class CropSampler:
    """Random training crops from in-memory, normalised tomograms.

    Parameters
    ----------
    volumes_zyx : mapping of run name to numpy.ndarray (Z, Y, X)
        Raw tomograms; normalised and transposed once here.
    points : mapping of run name to (points_xyz_angstrom (N, 3), labels (N,))
        Particle centres in Å (x-y-z) and channel indices.
    n_classes : int
        Mask channels (particle classes).
    voxel_size : float
        Å per voxel.
    crop : int
        Crop edge, a positive multiple of 32.
    crops_per_item : int
        Crops drawn from one tomogram per item (4 in the recipes).
    flips, rot90 : bool
        Enable the random flips and the (X, Y) rot90.
    radius : int
        Target ball radius in voxels.
    tilt : bool
        Enable the random rotation in the (Y, Z) plane (about X).
    tilt_p : float
        Probability of a tilt, in [0, 1].
    tilt_range : float
        Largest tilt in radians; the angle is uniform in [−tilt_range, tilt_range].
    """

    def __init__(
        self,
        volumes_zyx,
        points,
        n_classes: int,
        voxel_size: float,
        *,
        crop: int = 96,
        crops_per_item: int = 4,
        flips: bool = True,
        rot90: bool = True,
        radius: int = 2,
        tilt: bool = True,
        tilt_p: float = 0.5,
        tilt_range: float = 0.78,
    ) -> None:
        if crop <= 0 or crop % SIZE_MULTIPLE:
            raise InputError("crops", f"crop must be a positive multiple of 32, got {crop}")
        if crops_per_item < 1:
            raise InputError("crops", f"crops_per_item must be >= 1, got {crops_per_item}")
        if not 0.0 <= tilt_p <= 1.0 or not 0.0 <= tilt_range <= np.pi:
            raise InputError(
                "crops",
                f"need 0 <= tilt_p <= 1 and 0 <= tilt_range <= pi, got {tilt_p}, {tilt_range}",
            )
        self.runs = list(volumes_zyx)
        if not self.runs:
            raise InputError("crops", "at least one training tomogram is required")
        missing = [r for r in self.runs if r not in points]
        if missing:
            raise InputError("crops", f"no points given for runs {missing}")
        self.volumes = {r: normalise_volume(volumes_zyx[r], crop) for r in self.runs}
        self.points = {
            r: (
                np.asarray(points[r][0], dtype=np.float64).reshape(-1, 3),
                np.asarray(points[r][1], dtype=np.int64).reshape(-1),
            )
            for r in self.runs
        }
        self.n_classes = int(n_classes)
        self.voxel_size = float(voxel_size)
        self.crop = int(crop)
        self.crops_per_item = int(crops_per_item)
        self.flips, self.rot90, self.radius = bool(flips), bool(rot90), int(radius)
        self.tilt, self.tilt_p, self.tilt_range = bool(tilt), float(tilt_p), float(tilt_range)

    @classmethod
    def from_dataset(cls, dataset, runs: Sequence[str], **kwargs) -> CropSampler:
        """Load ``runs`` of a :class:`~topcup_bench.datasets.dataset.Dataset` once.

        Channel ``i`` is ``dataset.classes.names[i]``; truth rows of other classes
        are ignored. ``kwargs`` go to the constructor.
        """
        names = list(dataset.classes.names)
        index = {n: i for i, n in enumerate(names)}
        volumes, points = {}, {}
        for run in runs:
            volumes[run] = dataset.tomogram(run).data
            table = dataset.truth([run])
            table = table[table["particle_type"].isin(index)]
            labels = table["particle_type"].map(index).to_numpy(dtype=np.int64)
            points[run] = (table[["x", "y", "z"]].to_numpy(dtype=np.float64), labels)
        return cls(volumes, points, len(names), dataset.voxel_size_angstrom, **kwargs)

    def sample_crop(
        self, run: str, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int]]:
        """One augmented crop of ``run``.

        Parameters
        ----------
        run : str
        rng : numpy.random.Generator

        Returns
        -------
        image : numpy.ndarray of float32, shape (1, S, S, S)
        mask : numpy.ndarray of float32, shape (C, S, S, S)
        origin : tuple of 3 int
            Voxel (X, Y, Z) of the crop's first voxel before augmentation.
        """
        volume = self.volumes[run]
        s = self.crop
        origin = tuple(int(rng.integers(0, n - s + 1)) for n in volume.shape)
        image = volume[
            origin[0] : origin[0] + s, origin[1] : origin[1] + s, origin[2] : origin[2] + s
        ]
        pts, labels = self.points[run]
        mask = points_to_mask(
            pts, labels, self.n_classes, (s, s, s), self.voxel_size,
            origin_xyz=origin, radius=self.radius,
        )  # fmt: skip
        image = image[None]
        flip_draws = rng.random(3) < 0.5
        rot_draw, k_draw = rng.random(), int(rng.integers(1, 4))
        if self.flips:
            axes = tuple(1 + int(a) for a in np.flatnonzero(flip_draws))
            if axes:
                image, mask = np.flip(image, axes), np.flip(mask, axes)
        if self.rot90 and rot_draw < 0.75:
            image, mask = np.rot90(image, k_draw, (1, 2)), np.rot90(mask, k_draw, (1, 2))
        tilt_draw, angle = rng.random(), float(rng.uniform(-self.tilt_range, self.tilt_range))
        if self.tilt and tilt_draw < self.tilt_p:
            image, mask = tilt_crop(image, mask, angle)
        return (
            np.ascontiguousarray(image, dtype=np.float32),
            np.ascontiguousarray(mask, dtype=np.float32),
            origin,
        )

    def sample_item(self, run: str, rng: np.random.Generator) -> CropBatch:
        """``crops_per_item`` crops of one tomogram."""
        crops = [self.sample_crop(run, rng) for _ in range(self.crops_per_item)]
        return CropBatch(
            np.stack([c[0] for c in crops]),
            np.stack([c[1] for c in crops]),
            [run] * len(crops),
        )

    def batches(self, seed: int, batch_size: int) -> Iterator[CropBatch]:
        """Endless stream of batches of ``batch_size`` items (4 crops each by default).

        Items are the tomograms in a fresh random order every epoch (each epoch
        visits every run once); the stream depends only on ``seed``.

        Parameters
        ----------
        seed : int
        batch_size : int
            Items (tomograms) per batch.

        Yields
        ------
        CropBatch
        """
        if batch_size < 1:
            raise InputError("crops", f"batch_size must be >= 1, got {batch_size}")
        rng = np.random.default_rng(seed)
        pending: list[CropBatch] = []
        while True:
            for i in rng.permutation(len(self.runs)):
                pending.append(self.sample_item(self.runs[int(i)], rng))
                if len(pending) == batch_size:
                    yield CropBatch(
                        np.concatenate([p.images for p in pending]),
                        np.concatenate([p.masks for p in pending]),
                        [r for p in pending for r in p.runs],
                    )
                    pending = []
