"""``forest``: a random forest on multiscale voxel features (the shallow learned baseline).

The CellCanvas approach used during the CZII curation: per-voxel features of
``skimage.feature.multiscale_basic_features`` (Gaussian intensity, gradient
magnitude and Hessian eigenvalues at σ from ``sigma_min`` to ``sigma_max``),
a scikit-learn ``RandomForestClassifier`` trained on a balanced voxel sample
(spheres of ``target_fraction`` · R around the ground-truth picks, one label
per class, plus background farther than R from every particle), then one
probability map per class, smoothed, and its peaks (NMS ``nms_factor`` · R);
score = the peak probability.

Features are computed in slabs along y with a halo as wide as the features'
support (:attr:`ForestPicker.feature_halo`), so the features, hence the picks,
are those of the whole volume at once, and memory stays near ``max_feature_mb``
for any tomogram size; each tomogram is first robustly standardised (median,
MAD), so no contrast sign is needed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import ndimage

from topcup_bench.datasets.units import voxel_peaks_to_picks
from topcup_bench.errors import InputError
from topcup_bench.types import ClassCatalogue, Tomogram, empty_picks_table

from .blob import radius_voxels
from .forest_training import sample_voxels, standardise
from .peaks import find_peaks
from .protocol import TrainablePicker
from .validation import check_boolean, check_integer, check_number

if TYPE_CHECKING:  # pragma: no cover
    from topcup_bench.datasets.dataset import Dataset

__all__ = ["ForestPicker"]

_PREDICT_ROWS = 200_000  # rows per predict_proba call


class ForestPicker(TrainablePicker):
    """Random-forest voxel classifier on multiscale features, then peaks per class.

    Parameters
    ----------
    sigma_min, sigma_max : float
        Smallest and largest feature scale σ, voxels (0 < min ≤ max).
    num_sigma : int
        Number of scales, log-spaced between ``sigma_min`` and ``sigma_max``.
    texture : bool
        Include the Hessian eigenvalues (3 features per scale; most of the cost).
    target_fraction : float
        Training spheres have radius ``target_fraction`` · R (0 < f ≤ 1).
    voxels_per_class : int
        Training voxels sampled per class (background included), over all runs.
    n_estimators, max_depth : int
        Forest size and tree depth.
    seed : int
        ``random_state`` of the forest and of the voxel sampling.
    n_jobs : int
        Threads of the forest (fit and predict).
    predict_stride : int
        Predict every ``predict_stride``-th voxel along each axis (1 = every voxel).
    smooth_sigma : float
        Gaussian smoothing of each probability map before peak finding, voxels (≥ 0).
    nms_factor : float
        Non-maximum suppression radius = ``nms_factor`` · R (voxels).
    min_probability : float
        Keep peaks with smoothed probability above this.
    max_candidates : int
        At most this many picks per class and tomogram.
    max_feature_mb : int
        Memory budget of one feature slab (float32), MB.  A slab keeps at least
        twice :attr:`feature_halo` rows besides its two halos (so that no more than
        half the feature work is repeated), which can exceed a small budget on
        wide tomograms.
    """

    name = "forest"
    version = "2"  # 2: slab halo = the features' support (wide tomograms: exact features)
    description = "random forest on multiscale voxel features (skimage + scikit-learn)"
    citation = "CellCanvas / copick-utils features; Breiman, Mach. Learn. 45 (2001) 5-32"
    licence = "MIT"

    def __init__(
        self,
        sigma_min: float = 1.0,
        sigma_max: float = 8.0,
        num_sigma: int = 4,
        texture: bool = True,
        target_fraction: float = 0.5,
        voxels_per_class: int = 4000,
        n_estimators: int = 64,
        max_depth: int = 16,
        seed: int = 0,
        n_jobs: int = 2,
        predict_stride: int = 2,
        smooth_sigma: float = 1.0,
        nms_factor: float = 0.6,
        min_probability: float = 0.05,
        max_candidates: int = 1000,
        max_feature_mb: int = 1024,
    ) -> None:
        self.sigma_min = check_number("forest", "sigma_min", sigma_min, low=0.0, strict=True)
        self.sigma_max = check_number("forest", "sigma_max", sigma_max, low=self.sigma_min)
        self.num_sigma = check_integer("forest", "num_sigma", num_sigma, 1)
        self.texture = check_boolean("forest", "texture", texture)
        self.target_fraction = check_number(
            "forest", "target_fraction", target_fraction, low=0.0, strict=True
        )
        if self.target_fraction > 1:
            raise InputError(
                "forest", f"parameter target_fraction must be <= 1, found {target_fraction!r}"
            )
        self.voxels_per_class = check_integer("forest", "voxels_per_class", voxels_per_class, 10)
        self.n_estimators = check_integer("forest", "n_estimators", n_estimators, 1)
        self.max_depth = check_integer("forest", "max_depth", max_depth, 1)
        self.seed = check_integer("forest", "seed", seed, 0)
        self.n_jobs = check_integer("forest", "n_jobs", n_jobs, 1)
        self.predict_stride = check_integer("forest", "predict_stride", predict_stride, 1)
        self.smooth_sigma = check_number("forest", "smooth_sigma", smooth_sigma, low=0.0)
        self.nms_factor = check_number("forest", "nms_factor", nms_factor, low=0.0, strict=True)
        self.min_probability = check_number("forest", "min_probability", min_probability, low=0.0)
        self.max_candidates = check_integer("forest", "max_candidates", max_candidates, 1)
        self.max_feature_mb = check_integer("forest", "max_feature_mb", max_feature_mb, 16)
        self.trained_on: tuple[str, ...] = ()
        self._forest = None  # sklearn RandomForestClassifier once fitted
        self._class_names: tuple[str, ...] = ()

    # ------------------------------------------------------------------ features
    @property
    def n_features(self) -> int:
        """Features per voxel: (intensity + edges [+ 3 Hessian eigenvalues]) × scales."""
        return self.num_sigma * (5 if self.texture else 2)

    @property
    def feature_halo(self) -> int:
        """Rows (voxels) on which a feature depends on either side: the features' support.

        skimage's Gaussians reach ``int(4 σ + 0.5)`` voxels (``truncate=4``) and the
        Hessian's two nested central differences 2 more; the Sobel edges (1) stay
        within that.  A slab with this halo gives the whole volume's features.
        """
        return int(4 * self.sigma_max + 0.5) + 2

    def features(self, volume: np.ndarray) -> Iterator[tuple[slice, np.ndarray]]:
        """Feature slabs of a standardised volume, along y (equal to the whole volume's).

        Parameters
        ----------
        volume : ndarray, shape (nz, ny, nx), float32

        Yields
        ------
        rows : slice
            The y rows of this slab.
        features : ndarray, shape (nz, rows, nx, n_features), float32
        """
        from skimage.feature import multiscale_basic_features

        nz, ny, nx = volume.shape
        halo = self.feature_halo
        per_row = nz * nx * self.n_features * 4 * 2  # features plus temporaries
        rows = max(8, 2 * halo, int(self.max_feature_mb * 2**20 // per_row) - 2 * halo)
        for y0 in range(0, ny, rows):
            y1 = min(ny, y0 + rows)
            a, b = (0, ny) if rows >= ny else (max(0, y0 - halo), min(ny, y1 + halo))
            block = multiscale_basic_features(
                volume[:, a:b],
                sigma_min=self.sigma_min,
                sigma_max=self.sigma_max,
                num_sigma=self.num_sigma,
                texture=self.texture,
                workers=self.n_jobs,
            )
            yield slice(y0, y1), block[:, y0 - a : y1 - a]

    # ------------------------------------------------------------------ training
    def fit(self, dataset: Dataset, runs: Sequence[str]) -> None:
        """Train on ``runs`` of ``dataset``, one run in memory at a time; sets ``trained_on``.

        Raises
        ------
        InputError
            No runs, or no ground truth in them.
        """
        from sklearn.ensemble import RandomForestClassifier

        runs = (runs,) if isinstance(runs, str) else tuple(runs)
        if not runs:
            raise InputError("forest", "fit needs at least one training run")
        classes = dataset.classes
        xs, ys = [], []
        per_run = int(math.ceil(self.voxels_per_class / len(runs)))
        for index, run in enumerate(runs):
            tomogram, truth = dataset.tomogram(run), dataset.truth([run])
            rng = np.random.default_rng([self.seed, index])
            flat, labels = sample_voxels(
                tomogram, truth, classes, self.target_fraction, per_run, rng
            )
            volume = standardise(tomogram.data)
            for rows, block in self.features(volume):
                z, y, x = np.unravel_index(flat, volume.shape)
                inside = (y >= rows.start) & (y < rows.stop)
                xs.append(block[z[inside], y[inside] - rows.start, x[inside]])
                ys.append(labels[inside])
            del tomogram, volume, block  # released before the next run is loaded
        labels = np.concatenate(ys)
        if not (labels > 0).any():
            raise InputError(
                "forest", f"no ground-truth picks of {list(classes.names)} in runs {list(runs)}"
            )
        forest = RandomForestClassifier(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            random_state=self.seed,
            n_jobs=self.n_jobs,
        )
        forest.fit(np.concatenate(xs), labels)
        self._forest = forest
        self._class_names = classes.names
        self.trained_on = runs

    # ------------------------------------------------------------------ picking
    def probability_maps(self, tomogram: Tomogram) -> np.ndarray:
        """Per-class probability maps at ``predict_stride``.

        Returns
        -------
        ndarray, shape (n_classes, ceil(nz/s), ceil(ny/s), ceil(nx/s)), float32
            Probability of each trained class (catalogue order; s = stride).
        """
        if self._forest is None:
            raise InputError("forest", "the forest is not trained: call fit(dataset, runs) first")
        s = self.predict_stride
        volume = standardise(tomogram.data)
        shape = tuple(-(-n // s) for n in volume.shape)
        maps = np.zeros((len(self._class_names), *shape), dtype=np.float32)
        columns = {int(label): i for i, label in enumerate(self._forest.classes_)}
        for rows, block in self.features(volume):
            first = -(-rows.start // s) * s  # first strided row in this slab
            sub = block[::s, first - rows.start :: s, ::s]
            x = sub.reshape(-1, sub.shape[-1])
            proba = (
                np.concatenate(
                    [
                        self._forest.predict_proba(x[i : i + _PREDICT_ROWS])
                        for i in range(0, len(x), _PREDICT_ROWS)
                    ]
                )
                if len(x)
                else np.zeros((0, len(columns)))
            )
            y0 = first // s
            for code in range(len(self._class_names)):
                if code + 1 in columns:
                    maps[code, :, y0 : y0 + sub.shape[1]] = proba[:, columns[code + 1]].reshape(
                        sub.shape[:3]
                    )
        return maps

    def pick(self, tomogram: Tomogram, classes: ClassCatalogue) -> pd.DataFrame:
        """Peaks of each class's smoothed probability map; ``score`` = probability (0-1)."""
        missing = [c.name for c in classes if c.name not in self._class_names]
        if self._forest is not None and missing:
            raise InputError(
                "forest", f"classes {missing} were not in training ({list(self._class_names)})"
            )
        maps = self.probability_maps(tomogram)
        s = self.predict_stride
        frames = []
        for particle_class in classes:
            prob = maps[self._class_names.index(particle_class.name)]
            if self.smooth_sigma > 0:
                prob = ndimage.gaussian_filter(prob, self.smooth_sigma / s, mode="nearest")
            radius = radius_voxels(particle_class.radius_angstrom, tomogram.voxel_size_angstrom)
            indices, values = find_peaks(
                prob,
                max(self.nms_factor * radius / s, 1.0),
                threshold=self.min_probability,
                max_peaks=self.max_candidates,
            )
            frames.append(
                voxel_peaks_to_picks(
                    tomogram.run,
                    particle_class.name,
                    indices * s,
                    values,
                    tomogram.voxel_size_angstrom,
                )
            )
        frames = [f for f in frames if len(f)]
        return pd.concat(frames, ignore_index=True) if frames else empty_picks_table()
