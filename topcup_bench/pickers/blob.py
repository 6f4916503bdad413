"""``blob``: multi-scale difference-of-Gaussians blob detection (the radius-only floor).

Each class is detected at its own scale: the tomogram (protein made bright) is
band-passed with a difference of Gaussians of σ = ``sigma_factor`` · r and
``dog_ratio`` · σ, where r = R / voxel size is the class radius in voxels; the
response is z-scored robustly (median, 1.4826 · MAD) so that scales compare,
and its local maxima at least ``nms_factor`` · r apart are the candidates.
Classes then compete: a peak within ``exclusion_factor`` · min(r_a, r_b) of a
stronger peak of another class is dropped (class assignment by the
best-responding scale).  No labels, no templates: only the radii.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.spatial import cKDTree

from topcup_bench.datasets.units import angstrom_to_voxels, voxel_peaks_to_picks
from topcup_bench.errors import InputError
from topcup_bench.types import ClassCatalogue, Tomogram, empty_picks_table

from .peaks import find_peaks
from .protocol import Picker

__all__ = ["BlobPicker", "radius_voxels", "robust_centre_spread"]


class BlobPicker(Picker):
    """Multi-scale DoG blob detector with class assignment by the best-responding scale.

    Parameters
    ----------
    sigma_factor : float
        Inner Gaussian σ = ``sigma_factor`` · r (voxels); r/√3 ≈ 0.577 r is the
        scale at which a solid ball of radius r responds most.
    dog_ratio : float
        Outer σ / inner σ of the difference of Gaussians (> 1).
    pre_blur_sigma : float
        Gaussian pre-blur σ in voxels (≥ 0), composed with both DoG scales;
        it fills hollow shells (apo-ferritin, VLP) so that they respond as blobs.
    nms_factor : float
        Non-maximum suppression radius = ``nms_factor`` · r (voxels).
    max_candidates : int
        At most this many picks per class and tomogram (the strongest).
    min_score : float
        Keep peaks whose z-scored response is above this.
    exclusion_factor : float
        Cross-class exclusion radius = ``exclusion_factor`` · min(r_a, r_b);
        0 lets every class keep all its peaks.
    protein_dark : bool
        Negate the input first (protein dark on a light background, as on the portal).
    """

    name = "blob"
    version = "1"
    description = "multi-scale difference-of-Gaussians blob detection at each class radius"
    citation = "Lindeberg, Int. J. Comput. Vis. 30 (1998) 79-116 (scale-space blob detection)"
    licence = "MIT"

    def __init__(
        self,
        sigma_factor: float = 1 / math.sqrt(3),
        dog_ratio: float = 1.6,
        pre_blur_sigma: float = 1.5,
        nms_factor: float = 0.8,
        max_candidates: int = 1000,
        min_score: float = 0.0,
        exclusion_factor: float = 0.0,
        protein_dark: bool = True,
    ) -> None:
        self.sigma_factor = _positive("sigma_factor", sigma_factor)
        self.dog_ratio = _positive("dog_ratio", dog_ratio)
        if not self.dog_ratio > 1:
            raise InputError("blob", f"parameter dog_ratio must be > 1, found {dog_ratio!r}")
        self.pre_blur_sigma = _positive("pre_blur_sigma", pre_blur_sigma, allow_zero=True)
        self.nms_factor = _positive("nms_factor", nms_factor)
        if isinstance(max_candidates, bool) or not isinstance(max_candidates, int):
            raise InputError(
                "blob", f"parameter max_candidates must be an int, found {max_candidates!r}"
            )
        if max_candidates < 1:
            raise InputError(
                "blob", f"parameter max_candidates must be >= 1, found {max_candidates!r}"
            )
        self.max_candidates = max_candidates
        if not isinstance(min_score, (int, float)) or math.isnan(min_score):
            raise InputError("blob", f"parameter min_score must be a number, found {min_score!r}")
        self.min_score = float(min_score)
        self.exclusion_factor = _positive("exclusion_factor", exclusion_factor, allow_zero=True)
        if not isinstance(protein_dark, (bool, np.bool_)):
            raise InputError(
                "blob", f"parameter protein_dark must be a bool, found {protein_dark!r}"
            )
        self.protein_dark = bool(protein_dark)

    def response(self, volume: np.ndarray, radius_vox: float) -> np.ndarray:
        """z-scored DoG response of a (protein-bright) volume at one class radius.

        Parameters
        ----------
        volume : ndarray, shape (nz, ny, nx), float32
            Protein bright (already negated when needed).
        radius_vox : float
            Class radius r in voxels.

        Returns
        -------
        ndarray, shape (nz, ny, nx), float32
            Difference of Gaussians (inner − outer): bright blobs of radius ≈ r are
            high.  With a fixed ``dog_ratio`` k it approximates the scale-normalised
            Laplacian −(k − 1) σ² ∇²G, so values compare across classes.
        """
        sigma = self.sigma_factor * radius_vox
        pre = self.pre_blur_sigma**2
        inner = ndimage.gaussian_filter(volume, math.sqrt(pre + sigma**2), mode="reflect")
        outer = ndimage.gaussian_filter(
            volume, math.sqrt(pre + (self.dog_ratio * sigma) ** 2), mode="reflect"
        )
        inner -= outer
        return inner

    def pick(self, tomogram: Tomogram, classes: ClassCatalogue) -> pd.DataFrame:
        """Blob peaks per class; ``score`` is the z-scored DoG response (see class docstring)."""
        volume = np.asarray(tomogram.data, dtype=np.float32)
        if self.protein_dark:
            volume = -volume
        voxel = tomogram.voxel_size_angstrom
        radii = [radius_voxels(c.radius_angstrom, voxel) for c in classes]
        found = []
        for code, radius in enumerate(radii):
            response = self.response(volume, radius)
            centre, spread = robust_centre_spread(response)
            indices, values = find_peaks(
                response,
                max(self.nms_factor * radius, 1.0),
                threshold=centre + self.min_score * spread,
                max_peaks=self.max_candidates,
            )
            zscores = (values - centre) / spread
            found.append((np.full(len(values), code), indices, values, zscores))
        codes = np.concatenate([f[0] for f in found]).astype(np.int64)
        indices = np.concatenate([f[1] for f in found]).reshape(-1, 3)
        values = np.concatenate([f[2] for f in found])
        keep = self._assign(codes, indices, values, np.asarray(radii))
        values = np.concatenate([f[3] for f in found])
        frames = [
            voxel_peaks_to_picks(
                tomogram.run,
                c.name,
                indices[keep & (codes == code)],
                values[keep & (codes == code)],
                voxel,
            )
            for code, c in enumerate(classes)
        ]
        frames = [f for f in frames if len(f)]
        if not frames:
            return empty_picks_table()
        return pd.concat(frames, ignore_index=True)

    def _assign(
        self, codes: np.ndarray, indices: np.ndarray, values: np.ndarray, radii: np.ndarray
    ) -> np.ndarray:
        """Greedy cross-class exclusion, strongest first; returns the kept mask, shape (N,)."""
        keep = np.ones(len(values), dtype=bool)
        if self.exclusion_factor == 0 or len(values) < 2:
            return keep
        order = np.lexsort((indices[:, 2], indices[:, 1], indices[:, 0], codes, -values))
        tree = cKDTree(indices)
        reach = self.exclusion_factor * radii
        for i in order:
            if not keep[i]:
                continue
            for j in tree.query_ball_point(indices[i], r=float(reach.max())):
                if keep[j] and codes[j] != codes[i]:
                    limit = min(reach[codes[i]], reach[codes[j]])
                    distance = float(np.linalg.norm(indices[j] - indices[i]))
                    stronger_j = (values[j], -codes[j]) > (values[i], -codes[i])
                    if distance <= limit and not stronger_j:
                        keep[j] = False
        return keep


def radius_voxels(radius_angstrom: float, voxel_size: float) -> float:
    """A class radius in Å as voxels (through ``units.angstrom_to_voxels``)."""
    return float(angstrom_to_voxels(np.full(3, float(radius_angstrom)), voxel_size)[0])


def robust_centre_spread(values: np.ndarray) -> tuple[float, float]:
    """Median and 1.4826 · MAD of ``values`` (the std, or 1, when the MAD is 0).

    Parameters
    ----------
    values : ndarray, any shape, float

    Returns
    -------
    centre, spread : float
        ``(values - centre) / spread`` is a robust z-score (spread > 0).
    """
    centre = float(np.median(values))
    spread = 1.4826 * float(np.median(np.abs(values - centre)))
    if not spread > 0:
        spread = float(np.std(values)) or 1.0
    return centre, spread


def _positive(name: str, value: object, *, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not (value >= 0 if allow_zero else value > 0):
        bound = ">= 0" if allow_zero else "> 0"
        raise InputError(
            "blob", f"parameter {name} must be a finite number {bound}, found {value!r}"
        )
    return float(value)
