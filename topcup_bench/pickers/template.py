"""``template``: FFT template matching with local normalisation (FLCF), §4.1 of the specification.

For each class, the *clean* primitive (never the generator's perturbed
instances: the inverse-crime rule, §3) is rotated through a deterministic,
nearly uniform angular set (one orientation for isotropic shells), weighted in
Fourier space like the data (±45° missing wedge about y, |CTF| at a nominal
defocus, B envelope), normalised under a spherical mask and correlated with
the tomogram by FFT; the running maximum over rotations of the locally
normalised correlation is the score map.  Peaks come from non-maximum
suppression; a peak claimed by two classes can be given to the stronger one.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import scipy.fft

from topcup_bench.datasets.phantom.primitives import (
    PRIMITIVES,
    bounding_radius_voxels,
    clean_primitive,
)
from topcup_bench.datasets.units import voxel_peaks_to_picks
from topcup_bench.errors import InputError, did_you_mean
from topcup_bench.pickers.conflicts import resolve_class_conflicts, robust_background
from topcup_bench.pickers.peaks import find_peaks
from topcup_bench.pickers.protocol import Picker
from topcup_bench.pickers.rotations import uniform_rotations
from topcup_bench.pickers.template_matching import (
    FlcfVolume,
    apply_fourier_weight,
    fourier_weight,
    normalise_under_mask,
    spherical_mask,
)
from topcup_bench.types import ClassCatalogue, Tomogram

__all__ = ["TemplatePicker", "is_isotropic"]

#: Zero margin (voxels) around a template box while it is filtered, so the filter cannot wrap.
_FILTER_MARGIN = 6


def is_isotropic(class_name: str) -> bool:
    """True when the clean primitive is rotation invariant (concentric shells and spheres)."""
    return all(
        c.centre == (0.0, 0.0, 0.0)
        and (c.kind == "shell" or (c.kind == "ellipsoid" and len(set(c.size)) == 1))
        for c in PRIMITIVES[class_name]
    )


class TemplatePicker(Picker):
    """FFT template matching with fast local normalisation and a constrained template.

    Parameters
    ----------
    n_rotations : int
        Size of the angular set for anisotropic classes (super-Fibonacci
        rotations, deterministic); isotropic shells always use one orientation.
    class_rotations : str
        Per-class overrides of ``n_rotations``, ``"class:count/class:count"``
        (e.g. ``"beta-galactosidase:60"``: its small lobes decorrelate quickly
        with orientation error, so it needs a finer angular set).
    mask_radius_factor : float
        Spherical mask radius as a multiple of the clean primitive's bounding radius.
    nms_fraction : float
        Non-maximum suppression radius as a fraction of the class radius R.
    max_candidates : int
        Most peaks kept per class and tomogram (the strongest).
    resolve_conflicts : bool
        When peaks of two classes lie within the smaller class radius, drop the one
        whose score stands out less from its class's background (robust z-score of
        the class's score map), provided the other is a confident detection.
    conflict_zscore : float
        Only peaks with a robust z-score of at least this can suppress another
        class's peaks (weak candidates, which abound, never do).
    protein_dark : bool
        The data show protein dark (negated before matching).
    defocus_um : float
        Nominal underfocus of the template's |CTF|, µm (the middle of 2–5 µm).
    b_factor : float
        Envelope ``exp(-B k² / 4)`` of the template, Å².
    wedge_half_angle_deg : float
        Tilt range ±angle about y; the template misses the same wedge as the data.
    voltage_kv, cs_mm, amplitude_contrast : float
        Microscope of the |CTF|.
    workers : int
        scipy.fft threads (the picks do not depend on it).

    Notes
    -----
    Memory: about eight float32 arrays of the padded tomogram (the tomogram padded by
    the largest template half box to fast FFT sizes): ≈ 0.1 GB for 92 × 160 × 160,
    ≈ 0.8 GB for 184 × 315 × 315.  Time: one FFT pair per rotation and class plus
    two per class for the local statistics.
    """

    name = "template"
    version = "1"
    description = (
        "FFT template matching with local normalisation (FLCF) of clean primitives "
        "weighted by wedge, |CTF| and B envelope; max over a super-Fibonacci angular set"
    )
    citation = (
        "Roseman (2003) J. Struct. Biol. 142:217; Chaillet et al. (2023) pytom-match-pick; "
        "Alexa (2022) super-Fibonacci spirals"
    )
    licence = "MIT"

    def __init__(
        self,
        n_rotations: int = 24,
        class_rotations: str = "",
        mask_radius_factor: float = 1.1,
        nms_fraction: float = 0.6,
        max_candidates: int = 500,
        resolve_conflicts: bool = True,
        conflict_zscore: float = 6.0,
        protein_dark: bool = True,
        defocus_um: float = 3.5,
        b_factor: float = 150.0,
        wedge_half_angle_deg: float = 45.0,
        voltage_kv: float = 300.0,
        cs_mm: float = 2.7,
        amplitude_contrast: float = 0.07,
        workers: int = 1,
    ) -> None:
        for key, value in (
            ("n_rotations", n_rotations),
            ("max_candidates", max_candidates),
            ("workers", workers),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise InputError("template", f"{key} must be an integer ≥ 1, got {value!r}")
        for key, value in (
            ("mask_radius_factor", mask_radius_factor),
            ("nms_fraction", nms_fraction),
            ("defocus_um", defocus_um),
            ("voltage_kv", voltage_kv),
        ):
            if not (math.isfinite(value) and value > 0):
                raise InputError("template", f"{key} must be a positive number, got {value!r}")
        for key, value in (("b_factor", b_factor), ("cs_mm", cs_mm)):
            if not (math.isfinite(value) and value >= 0):
                raise InputError("template", f"{key} must be ≥ 0, got {value!r}")
        if math.isnan(conflict_zscore):
            raise InputError(
                "template", f"conflict_zscore must be a number, got {conflict_zscore!r}"
            )
        if not 0 < wedge_half_angle_deg <= 90:
            raise InputError(
                "template", f"wedge_half_angle_deg must be in (0, 90], got {wedge_half_angle_deg!r}"
            )
        if not 0 <= amplitude_contrast < 1:
            raise InputError(
                "template", f"amplitude_contrast must be in [0, 1), got {amplitude_contrast!r}"
            )
        self.n_rotations = int(n_rotations)
        self.class_rotations = str(class_rotations)
        self._rotation_counts = _parse_class_rotations(self.class_rotations)
        self.mask_radius_factor = float(mask_radius_factor)
        self.nms_fraction = float(nms_fraction)
        self.max_candidates = int(max_candidates)
        self.resolve_conflicts = bool(resolve_conflicts)
        self.conflict_zscore = float(conflict_zscore)
        self.protein_dark = bool(protein_dark)
        self.defocus_um = float(defocus_um)
        self.b_factor = float(b_factor)
        self.wedge_half_angle_deg = float(wedge_half_angle_deg)
        self.voltage_kv = float(voltage_kv)
        self.cs_mm = float(cs_mm)
        self.amplitude_contrast = float(amplitude_contrast)
        self.workers = int(workers)

    # -- templates --------------------------------------------------------------------------
    def rotations(self, class_name: str) -> np.ndarray:
        """Angular set of a class, shape (n, 3, 3): the identity alone for isotropic shells."""
        if is_isotropic(class_name):
            return uniform_rotations(1)
        return uniform_rotations(self._rotation_counts.get(class_name, self.n_rotations))

    def mask_radius_voxels(self, class_name: str, voxel_size_angstrom: float) -> float:
        """Radius of the class's spherical mask in voxels."""
        return self.mask_radius_factor * bounding_radius_voxels(class_name, voxel_size_angstrom)

    def templates(self, class_name: str, voxel_size_angstrom: float):
        """Yield ``(mask, template)`` boxes of a class, one template per rotation.

        The template is the clean primitive, rotated, weighted by wedge × |CTF| ×
        envelope, and normalised under the mask; both are float32 cubes of side
        ``2·ceil(mask radius) + 1`` indexed (z, y, x).
        """
        mask = spherical_mask(self.mask_radius_voxels(class_name, voxel_size_angstrom))
        side = mask.shape[0]
        probe = clean_primitive(class_name, voxel_size_angstrom)
        box = scipy.fft.next_fast_len(max(side, probe.shape[0]) + 2 * _FILTER_MARGIN, real=True)
        weight = fourier_weight(
            box,
            voxel_size_angstrom,
            wedge_half_angle_deg=self.wedge_half_angle_deg,
            defocus_angstrom=self.defocus_um * 1e4,
            voltage_kv=self.voltage_kv,
            cs_mm=self.cs_mm,
            amplitude_contrast=self.amplitude_contrast,
            b_factor=self.b_factor,
        )
        centre = box // 2
        for rotation in self.rotations(class_name):
            density = clean_primitive(class_name, voxel_size_angstrom, rotation=rotation)
            embedded = np.zeros((box,) * 3, dtype=np.float32)
            n, lo = density.shape[0], centre - density.shape[0] // 2
            embedded[lo : lo + n, lo : lo + n, lo : lo + n] = density
            filtered = apply_fourier_weight(embedded, weight)
            lo = centre - side // 2
            crop = filtered[lo : lo + side, lo : lo + side, lo : lo + side]
            yield mask, normalise_under_mask(crop, mask)

    # -- picking ----------------------------------------------------------------------------
    def score_map(self, volume: FlcfVolume, class_name: str, voxel_size: float) -> np.ndarray:
        """Maximum over the angular set of the locally normalised correlation, (nz, ny, nx)."""
        best = np.full(volume.shape, -np.inf, dtype=np.float32)
        scratch = np.empty(volume.shape, dtype=np.float32)
        denominator = None
        for mask, template in self.templates(class_name, voxel_size):
            if denominator is None:
                denominator = volume.denominator(mask)
            np.maximum(best, volume.ncc(template, denominator, scratch), out=best)
        return best

    def pick(self, tomogram: Tomogram, classes: ClassCatalogue) -> pd.DataFrame:
        classes = ClassCatalogue.coerce(classes)
        for particle_class in classes:
            if particle_class.name not in PRIMITIVES:
                raise InputError(
                    "template",
                    f"no clean template for class {particle_class.name!r}."
                    f"{did_you_mean(particle_class.name, PRIMITIVES)} "
                    f"Known: {list(PRIMITIVES)}",
                )
        voxel_size = float(tomogram.voxel_size_angstrom)
        data = _standardise(tomogram.data, negate=self.protein_dark)
        max_half = max(int(math.ceil(self.mask_radius_voxels(c.name, voxel_size))) for c in classes)
        volume = FlcfVolume(data, max_half, workers=self.workers)
        del data
        found = []
        for particle_class in classes:
            scores = self.score_map(volume, particle_class.name, voxel_size)
            radius = particle_class.radius_angstrom / voxel_size
            indices, values = find_peaks(
                scores, max(self.nms_fraction * radius, 1.0), max_peaks=self.max_candidates
            )
            centre, spread = robust_background(scores)
            found.append((particle_class.name, radius, indices, values, (values - centre) / spread))
            del scores
        if self.resolve_conflicts and len(found) > 1:
            found = resolve_class_conflicts(found, self.conflict_zscore)
        return pd.concat(
            [
                voxel_peaks_to_picks(tomogram.run, name, indices, values, voxel_size)
                for name, _, indices, values, _ in found
            ],
            ignore_index=True,
        )


def _standardise(data: np.ndarray, *, negate: bool) -> np.ndarray:
    """Float32 copy with zero mean and unit std, negated when protein is dark."""
    out = np.array(data, dtype=np.float32, copy=True)
    if not np.isfinite(out).all():
        raise InputError("template", "the tomogram contains non-finite values")
    mean = float(out.mean(dtype=np.float64))
    std = float(out.std(dtype=np.float64))
    out -= np.float32(mean)
    out *= np.float32((-1.0 if negate else 1.0) / (std if std > 0 else 1.0))
    return out


def _parse_class_rotations(text: str) -> dict[str, int]:
    """Parse ``"class:count/class:count"`` per-class rotation counts."""
    counts: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split("/"))):
        name, sep, value = item.partition(":")
        try:
            count = int(value)
        except ValueError:
            count = 0
        if not sep or count < 1:
            raise InputError(
                "template",
                f"class_rotations entries must be class:count with count ≥ 1, found {item!r}",
            )
        counts[name.strip()] = count
    return counts
