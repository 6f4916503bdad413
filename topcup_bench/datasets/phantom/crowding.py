"""Crowding as a protein concentration: mg/mL ↔ crowders per 1000 slab voxels.

The generator counts crowders per 1000 voxels of the slab (``crowder_density``),
with radii drawn uniformly from ``crowder_radius_voxels``.  A user thinks in
protein concentration instead: the CZII phantom sample holds lysate proteins plus
HSA (added from a 50 mg/mL stock), and cytoplasm holds about 200–400 mg/mL of
macromolecules.  The conversion treats crowders as protein of density
:data:`PROTEIN_DENSITY_G_PER_CM3` (1.35 g/cm³):

    volume fraction φ = c[g/cm³] / 1.35,  with c[g/cm³] = c[mg/mL] · 1e-3
    crowders per Å³ = φ / (mean crowder volume in Å³)

Because the crowder radii are given in voxels, the voxel size cancels: crowders
per 1000 voxels = 1000 · φ / (mean crowder volume in voxels³).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from topcup_bench.errors import InputError, did_you_mean

if TYPE_CHECKING:
    from topcup_bench.datasets.phantom.presets import PhantomPreset

__all__ = [
    "PROTEIN_DENSITY_G_PER_CM3",
    "MAX_VOLUME_FRACTION",
    "CROWDING_LEVELS",
    "mean_crowder_volume_voxels",
    "crowder_volume_fraction",
    "concentration_from_density",
    "density_from_concentration",
    "max_concentration_mg_per_ml",
    "with_crowding",
]

#: Mass density of protein, g/cm³ (the usual partial-specific-volume value 0.74 cm³/g).
PROTEIN_DENSITY_G_PER_CM3 = 1.35
#: Largest crowder volume fraction of the slab the generator accepts.
MAX_VOLUME_FRACTION = 0.5
#: Named crowding levels in mg/mL; ``sample`` (the preset's own, calibrated level) is
#: resolved by :func:`with_crowding`.  ``cellular``: cytoplasm holds about 200–400 mg/mL
#: of macromolecules; 300 is the middle of that range.
CROWDING_LEVELS: dict[str, float] = {"cellular": 300.0}
_SAMPLE = "sample"


def mean_crowder_volume_voxels(radius_range_voxels: tuple[float, float]) -> float:
    """Mean volume (voxels³) of a sphere whose radius is uniform in ``radius_range_voxels``.

    The mean of 4/3·π·r³ over r ∈ U(a, b) is π·(b⁴ − a⁴) / (3·(b − a)), and
    4/3·π·a³ when a = b.

    Parameters
    ----------
    radius_range_voxels : (float, float)
        Lowest and highest crowder radius, voxels (0 < a ≤ b).

    Examples
    --------
    >>> round(mean_crowder_volume_voxels((1.8, 3.0)), 3)
    61.525
    """
    a, b = (float(r) for r in radius_range_voxels)
    if b == a:
        return 4.0 / 3.0 * math.pi * a**3
    return math.pi * (b**4 - a**4) / (3.0 * (b - a))


def crowder_volume_fraction(
    crowders_per_1000_voxels: float, radius_range_voxels: tuple[float, float]
) -> float:
    """Fraction of the slab volume the crowders fill (overlaps counted twice).

    Parameters
    ----------
    crowders_per_1000_voxels : float
        The preset's ``crowder_density``.
    radius_range_voxels : (float, float)
        The preset's ``crowder_radius_voxels``.
    """
    return crowders_per_1000_voxels / 1000.0 * mean_crowder_volume_voxels(radius_range_voxels)


def concentration_from_density(
    crowders_per_1000_voxels: float, radius_range_voxels: tuple[float, float]
) -> float:
    """Crowder protein concentration in mg/mL for a ``crowder_density``.

    Parameters
    ----------
    crowders_per_1000_voxels : float
        Crowders per 1000 slab voxels.
    radius_range_voxels : (float, float)
        Range of crowder radii, voxels.

    Returns
    -------
    float
        mg/mL (= g/L), assuming protein of 1.35 g/cm³.

    Examples
    --------
    >>> round(concentration_from_density(0.24, (1.8, 3.0)), 2)  # kaggle-like
    19.93
    """
    fraction = crowder_volume_fraction(crowders_per_1000_voxels, radius_range_voxels)
    return fraction * PROTEIN_DENSITY_G_PER_CM3 * 1e3  # g/cm³ → mg/mL


def density_from_concentration(mg_per_ml: float, radius_range_voxels: tuple[float, float]) -> float:
    """Crowders per 1000 slab voxels for a crowder protein concentration in mg/mL.

    Crowders per Å³ = c·1e-3 / (V·1e-24·1.35) with V the mean crowder volume in Å³
    (1 Å³ = 1e-24 cm³); per 1000 voxels of v Å this is 1000·v³ times that, and v³
    cancels against V = V_voxels·v³.

    Parameters
    ----------
    mg_per_ml : float
        Concentration, mg/mL (≥ 0).
    radius_range_voxels : (float, float)
        Range of crowder radii, voxels.

    Examples
    --------
    >>> round(density_from_concentration(300.0, (1.8, 3.0)), 3)  # cellular
    3.612
    """
    fraction = mg_per_ml * 1e-3 / PROTEIN_DENSITY_G_PER_CM3
    return 1000.0 * fraction / mean_crowder_volume_voxels(radius_range_voxels)


def max_concentration_mg_per_ml() -> float:
    """Concentration at which crowders fill :data:`MAX_VOLUME_FRACTION` of the slab (675 mg/mL)."""
    return MAX_VOLUME_FRACTION * PROTEIN_DENSITY_G_PER_CM3 * 1e3


def with_crowding(preset: PhantomPreset, value: str | float, *, source: str) -> PhantomPreset:
    """Return ``preset`` with its crowder density set from a crowding level.

    Parameters
    ----------
    preset : PhantomPreset
    value : str or float
        A concentration in mg/mL (``0`` = no crowders, at most 675), ``"sample"``
        (the preset's own calibrated level: ``preset`` unchanged) or a name in
        :data:`CROWDING_LEVELS` (``"cellular"`` = 300 mg/mL).
    source : str
        Where the value came from (a dataset specification), for error messages.

    Raises
    ------
    InputError
        An unknown level name, a value that is not a finite number ≥ 0, or one above
        the 50 % volume-fraction limit; the message names the option ``crowding``.
    """
    levels = [_SAMPLE, *CROWDING_LEVELS]
    text = str(value).strip().lower()
    if text == _SAMPLE:
        return preset
    if text in CROWDING_LEVELS:
        mg_per_ml = CROWDING_LEVELS[text]
    else:
        try:
            mg_per_ml = float(text)
        except ValueError:
            raise InputError(
                source,
                f"option 'crowding' must be a concentration in mg/mL or one of {levels}, "
                f"found {value!r}.{did_you_mean(text, levels)}",
            ) from None
    limit = max_concentration_mg_per_ml()
    if not math.isfinite(mg_per_ml) or mg_per_ml < 0:
        raise InputError(
            source, f"option 'crowding' must be a finite number of mg/mL ≥ 0, found {value!r}"
        )
    if mg_per_ml > limit:
        raise InputError(
            source,
            f"option 'crowding'={value!r} mg/mL would fill more than "
            f"{MAX_VOLUME_FRACTION:.0%} of the slab with crowders (protein at "
            f"{PROTEIN_DENSITY_G_PER_CM3} g/cm³); use at most {limit:g} mg/mL "
            f"('cellular' = {CROWDING_LEVELS['cellular']:g})",
        )
    density = density_from_concentration(mg_per_ml, preset.crowder_radius_voxels)
    return preset.replace(crowder_density=density)
