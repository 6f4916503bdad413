"""Phantom presets: every knob of the synthetic tomogram generator in one frozen value.

A preset name is ``<size>-<difficulty>`` (``"small-hard"``, ``"tiny-easy"``) or a
bare size (``"small"`` = ``"small-kaggle-like"``).  Sizes fix the array shape, the
per-class particle counts (the competition's density, scaled with volume from one
184 × 630 × 630 competition tomogram; at least one per class) and the vesicle
radii; difficulties fix the noise level and the crowder density.  The
``kaggle-like`` constants are calibrated as in §2.6 of the phantom specification
(see :data:`DIFFICULTIES`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from topcup_bench.datasets.phantom.crowding import concentration_from_density
from topcup_bench.datasets.phantom.preset_checks import FLAVOURS, normalise_and_validate
from topcup_bench.errors import InputError, did_you_mean
from topcup_bench.types import COMPETITION_CLASSES, ClassCatalogue

__all__ = [
    "PhantomPreset",
    "FLAVOURS",
    "SIZES",
    "DIFFICULTIES",
    "REFERENCE_SHAPE_ZYX",
    "REFERENCE_COUNTS",
    "COMPETITION_TRAINING_COUNTS",
    "scaled_counts",
    "resolve_preset",
    "list_presets",
    "electron_wavelength_angstrom",
]

#: Particles per class in the competition's 7 training tomograms (CZII "CryoET Object
#: Identification", 184 × 630 × 630 voxels at 10 Å each): about 181 per tomogram.
COMPETITION_TRAINING_COUNTS: dict[str, int] = {
    "apo-ferritin": 375,
    "beta-amylase": 87,
    "beta-galactosidase": 112,
    "ribosome": 331,
    "thyroglobulin": 251,
    "virus-like-particle": 113,
}
#: Number of tomograms :data:`COMPETITION_TRAINING_COUNTS` add up.
COMPETITION_TRAINING_TOMOGRAMS = 7
#: Shape the reference counts refer to (z, y, x voxels): one competition tomogram.
REFERENCE_SHAPE_ZYX: tuple[int, int, int] = (184, 630, 630)
#: Mean particles per class in one 184 × 630 × 630 competition tomogram (not rounded:
#: 53.6, 12.4, 16.0, 47.3, 35.9, 16.1); every size scales them with its volume.
REFERENCE_COUNTS: dict[str, float] = {
    name: n / COMPETITION_TRAINING_TOMOGRAMS for name, n in COMPETITION_TRAINING_COUNTS.items()
}
#: Fewest particles of each class in any size preset.
MIN_COUNT_PER_CLASS = 1


def scaled_counts(shape_zyx: tuple[int, int, int]) -> tuple[tuple[str, int], ...]:
    """Particles per class at the competition's density for a volume of ``shape_zyx`` voxels.

    :data:`REFERENCE_COUNTS` × (volume / volume of :data:`REFERENCE_SHAPE_ZYX`), rounded,
    at least :data:`MIN_COUNT_PER_CLASS` per class: ``full`` 54/12/16/47/36/16 (apo-ferritin,
    beta-amylase, beta-galactosidase, ribosome, thyroglobulin, VLP), ``quarter``
    13/3/4/12/9/4, ``small`` 2/1/1/2/1/1, ``tiny`` one each.
    """
    ratio = math.prod(shape_zyx) / math.prod(REFERENCE_SHAPE_ZYX)
    return tuple(
        (name, max(MIN_COUNT_PER_CLASS, int(round(n * ratio))))
        for name, n in REFERENCE_COUNTS.items()
    )


#: Size presets: array shape (z, y, x), vesicle count range and vesicle radii (voxels).
SIZES: dict[str, dict[str, Any]] = {
    "tiny": dict(
        shape_zyx=(48, 96, 96), vesicle_count_range=(0, 1), vesicle_radius_voxels=(10.0, 16.0)
    ),
    "small": dict(
        shape_zyx=(92, 160, 160), vesicle_count_range=(0, 2), vesicle_radius_voxels=(12.0, 30.0)
    ),
    "quarter": dict(
        shape_zyx=(184, 315, 315), vesicle_count_range=(0, 3), vesicle_radius_voxels=(20.0, 60.0)
    ),
    "full": dict(
        shape_zyx=(184, 630, 630), vesicle_count_range=(0, 3), vesicle_radius_voxels=(20.0, 60.0)
    ),
}
#: Difficulty presets: noise level and crowders per 1000 slab voxels.  ``kaggle-like`` is
#: calibrated against the ``template`` picker (benchmarks/calibrate_template.py: small size
#: at the competition's density, 4 seeds × 10 runs, best thresholds): ribosome 1.0, VLP
#: 0.97, apo-ferritin 0.91, beta-galactosidase 0.62, thyroglobulin 0.52, beta-amylase 0.06.  The
#: residual noise of the ``denoised`` flavour is ``noise_sigma · denoise_factor`` before a
#: σ = 1 voxel low-pass, hence the large values.  ``easy`` and ``hard`` are scaled guesses.
#: With crowder radii 1.8–3 voxels the crowder densities 0.12 / 0.24 / 0.40 are about
#: 10 / 20 / 33 mg/mL of crowder protein (:mod:`.crowding`); ``phantom:NAME?crowding=C``
#: sets any other level (``cellular`` = 300 mg/mL).
DIFFICULTIES: dict[str, dict[str, Any]] = {
    "easy": dict(noise_sigma=8.0, crowder_density=0.12),
    "kaggle-like": dict(
        noise_sigma=22.0, crowder_density=0.24, class_contrast={"beta-galactosidase": 1.6}
    ),
    "hard": dict(noise_sigma=33.0, crowder_density=0.40),
}
DEFAULT_DIFFICULTY = "kaggle-like"


def electron_wavelength_angstrom(voltage_kv: float) -> float:
    """Relativistic electron wavelength in Å for an acceleration voltage in kV (300 → 0.01969)."""
    volts = voltage_kv * 1e3
    return 12.2642598 / math.sqrt(volts * (1.0 + 0.978475e-6 * volts))


@dataclass(frozen=True)
class PhantomPreset:
    """Every parameter of one phantom tomogram family (frozen; validated on creation).

    Lengths are in voxels unless the name says Å or µm; the voxel size is
    ``voxel_size_angstrom`` (Å per voxel).  Use :meth:`replace` to derive a variant
    and :meth:`to_dict` for a JSON manifest.

    Attributes
    ----------
    name : str
        Preset name, e.g. ``"small-kaggle-like"``.
    shape_zyx : tuple of 3 int
        Array shape (z, y, x) in voxels.
    voxel_size_angstrom : float
        Voxel size in Å (10.0; 10.012 mimics the portal).
    slab : (float, float)
        Particle centres lie in z ∈ [slab[0], slab[1]] · nz.
    counts : tuple of (str, int)
        Particles per class for this shape, in catalogue order (a mapping is accepted).
    size_jitter, anisotropy : float
        Half-widths of the uniform per-instance scale factor and per-axis stretch.
    lumpiness : float
        Standard deviation of the multiplicative smooth density noise (0.5 = ±50 %).
    lumpiness_sigma_voxels : float
        Correlation length (Gaussian σ) of the lumpiness noise.
    crowder_density : float
        Crowders per 1000 voxels of the slab (0.24 ≈ 20 mg/mL of crowder protein; see
        :attr:`crowding_mg_per_ml` and :mod:`.crowding`).
    crowder_radius_voxels : (float, float)
        Range of crowder radii.
    crowder_contrast : float
        Peak density of a crowder (particles have 1.0–1.3).
    background_amplitude : float
        Std of the 1/f background as a fraction of the std of the particle density.
    background_exponent : float
        The background's Fourier amplitude falls as |k|^-exponent.
    vesicle_count_range : (int, int)
        Inclusive range of the number of vesicles.
    vesicle_radius_voxels : (float, float)
        Range of vesicle radii.
    vesicle_thickness_voxels, vesicle_contrast : float
        Membrane thickness and density.
    wedge_half_angle_deg : float
        Tilt range ±angle; the missing wedge is |kz| > tan(angle)·|kx|.
    voltage_kv, cs_mm, amplitude_contrast : float
        Microscope: acceleration voltage, spherical aberration, amplitude contrast.
    defocus_range_um : (float, float)
        Underfocus drawn uniformly per tomogram, µm.
    b_factor : float
        Envelope exp(-B·k²/4), Å².
    noise_sigma : float
        Noise std relative to the unit-std signal.
    denoise_factor : float
        Residual-noise factor d of the ``denoised`` flavour (0 < d ≤ 1).
    lowpass_sigma_voxels : float
        Gaussian low-pass of the ``denoised`` flavour.
    protein_dark : bool
        Negate the output so that protein is dark (as on the portal).
    flavours : tuple of str
        Flavours generated by default (subset of :data:`FLAVOURS`).
    class_contrast : tuple of (str, float)
        Per-class density multipliers of the particle instances (a mapping is
        accepted; missing classes 1.0); never applied to templates.
    """

    name: str = "quarter-kaggle-like"
    shape_zyx: tuple[int, int, int] = SIZES["quarter"]["shape_zyx"]
    voxel_size_angstrom: float = 10.0
    slab: tuple[float, float] = (0.15, 0.85)
    counts: tuple[tuple[str, int], ...] = scaled_counts(SIZES["quarter"]["shape_zyx"])
    size_jitter: float = 0.07
    anisotropy: float = 0.05
    lumpiness: float = 0.5
    lumpiness_sigma_voxels: float = 1.5
    crowder_density: float = 0.24
    crowder_radius_voxels: tuple[float, float] = (1.8, 3.0)
    crowder_contrast: float = 1.0
    background_amplitude: float = 0.3
    background_exponent: float = 1.5
    vesicle_count_range: tuple[int, int] = (0, 3)
    vesicle_radius_voxels: tuple[float, float] = (20.0, 60.0)
    vesicle_thickness_voxels: float = 1.0
    vesicle_contrast: float = 1.0
    wedge_half_angle_deg: float = 45.0
    voltage_kv: float = 300.0
    cs_mm: float = 2.7
    amplitude_contrast: float = 0.07
    defocus_range_um: tuple[float, float] = (2.0, 5.0)
    b_factor: float = 150.0
    noise_sigma: float = 22.0
    denoise_factor: float = 0.5
    lowpass_sigma_voxels: float = 1.0
    protein_dark: bool = True
    flavours: tuple[str, ...] = field(default=("denoised",))
    class_contrast: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        normalise_and_validate(self)

    # -- derived values -------------------------------------------------------------------
    @property
    def class_counts(self) -> dict[str, int]:
        """Particles per class, ``{class name: count}`` in catalogue order."""
        return dict(self.counts)

    @property
    def catalogue(self) -> ClassCatalogue:
        """The generated classes (names, radii in Å, weights, labels) in catalogue order."""
        return ClassCatalogue(tuple(COMPETITION_CLASSES[name] for name, _ in self.counts))

    @property
    def wavelength_angstrom(self) -> float:
        """Electron wavelength λ in Å for :attr:`voltage_kv`."""
        return electron_wavelength_angstrom(self.voltage_kv)

    @property
    def crowding_mg_per_ml(self) -> float:
        """Crowder protein concentration in the slab, mg/mL (protein at 1.35 g/cm³).

        Derived from :attr:`crowder_density` and :attr:`crowder_radius_voxels` (see
        :mod:`.crowding`); set it with ``phantom:NAME?crowding=C``.
        """
        return concentration_from_density(self.crowder_density, self.crowder_radius_voxels)

    @property
    def extent_angstrom_xyz(self) -> tuple[float, float, float]:
        """Tomogram size in Å along x, y, z."""
        nz, ny, nx = self.shape_zyx
        v = self.voxel_size_angstrom
        return (nx * v, ny * v, nz * v)

    # -- variants and serialisation -------------------------------------------------------
    def replace(self, **overrides: Any) -> PhantomPreset:
        """Return a validated copy with some fields replaced.

        Raises
        ------
        InputError
            An unknown field (with a did-you-mean hint) or an invalid value; the
            message names the field.
        """
        names = [f.name for f in dataclasses.fields(self)]
        for key in overrides:
            if key not in names:
                raise InputError(
                    f"phantom preset {self.name!r}",
                    f"unknown parameter {key!r}.{did_you_mean(key, names)} Known: {names}",
                )
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field (tuples become lists, counts a dict)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ("counts", "class_contrast"):
                value = dict(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        out["wavelength_angstrom"] = self.wavelength_angstrom
        return out

    def describe(self) -> str:
        """One-line summary for listings."""
        nz, ny, nx = self.shape_zyx
        return (
            f"{self.name}: {nz}×{ny}×{nx} voxels (z, y, x) at {self.voxel_size_angstrom:g} Å, "
            f"{sum(n for _, n in self.counts)} particles, noise σ {self.noise_sigma:g}, "
            f"{self.crowder_density:g} crowders per 1000 slab voxels "
            f"(≈ {self.crowding_mg_per_ml:.0f} mg/mL protein)"
        )


def _preset(size: str, difficulty: str) -> PhantomPreset:
    spec = SIZES[size]
    return PhantomPreset(
        name=f"{size}-{difficulty}",
        counts=scaled_counts(spec["shape_zyx"]),
        **spec,
        **DIFFICULTIES[difficulty],
    )


def list_presets() -> tuple[str, ...]:
    """Canonical preset names, ``<size>-<difficulty>``, sizes from small to large.

    A bare size (``"small"``) is also accepted by :func:`resolve_preset`.
    """
    return tuple(f"{s}-{d}" for s in SIZES for d in DIFFICULTIES)


def resolve_preset(name: str) -> PhantomPreset:
    """Return the preset called ``name`` (``"small"``, ``"small-hard"``, ``"tiny-easy"`` …).

    Raises
    ------
    InputError
        Unknown name; the message lists the valid names and suggests the closest.
    """
    valid = list(SIZES) + list(list_presets())
    text = str(name).strip().lower()
    size, _, difficulty = text.partition("-")
    difficulty = difficulty or DEFAULT_DIFFICULTY
    if size not in SIZES or difficulty not in DIFFICULTIES:
        raise InputError(
            "phantom preset",
            f"unknown preset {name!r}.{did_you_mean(text, valid)} Valid names: {', '.join(valid)}",
        )
    return _preset(size, difficulty)
