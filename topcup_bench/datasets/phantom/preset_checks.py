"""Validation of :class:`~.presets.PhantomPreset` fields (every error names the field)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from topcup_bench.datasets.phantom.crowding import (
    MAX_VOLUME_FRACTION,
    concentration_from_density,
    crowder_volume_fraction,
    max_concentration_mg_per_ml,
)
from topcup_bench.errors import InputError, did_you_mean
from topcup_bench.memory import check_fits
from topcup_bench.types import COMPETITION_CLASSES

if TYPE_CHECKING:
    from topcup_bench.datasets.phantom.presets import PhantomPreset

__all__ = ["FLAVOURS", "normalise_and_validate", "estimate_peak_bytes", "check_preset_fits"]

#: Tomogram flavours the Fourier imaging model can produce (copick tomogram types).
FLAVOURS: tuple[str, ...] = ("denoised", "wbp")

_POSITIVE = (
    "voxel_size_angstrom",
    "lumpiness_sigma_voxels",
    "vesicle_thickness_voxels",
    "voltage_kv",
    "lowpass_sigma_voxels",
)
_NON_NEGATIVE = (
    "size_jitter",
    "anisotropy",
    "lumpiness",
    "crowder_density",
    "crowder_contrast",
    "background_amplitude",
    "background_exponent",
    "vesicle_contrast",
    "cs_mm",
    "b_factor",
    "noise_sigma",
)
_RANGES = ("crowder_radius_voxels", "vesicle_radius_voxels", "defocus_range_um")

#: Padding of the Fourier grid on each axis (voxels), as in :mod:`.fourier` (before fast sizes).
_PAD_VOXELS = 16


def estimate_peak_bytes(preset: PhantomPreset, n_flavours: int | None = None) -> int:
    """Estimated peak memory (bytes) of generating one run of ``preset``.

    The imaging keeps about four float32/complex64 half-spectrum arrays of the
    padded grid (signal, noise, filtered, inverse transform: ~24 bytes per
    padded voxel), and the density, the scene and one output volume per flavour
    (4 bytes per voxel each).

    Parameters
    ----------
    preset : PhantomPreset
    n_flavours : int, optional
        Flavours produced (default: the preset's).

    Examples
    --------
    >>> from topcup_bench.datasets.phantom.presets import resolve_preset
    >>> estimate_peak_bytes(resolve_preset("tiny")) < 2**30
    True
    """
    flavours = len(preset.flavours) if n_flavours is None else int(n_flavours)
    voxels = math.prod(int(n) for n in preset.shape_zyx)
    padded = math.prod(int(n) + _PAD_VOXELS for n in preset.shape_zyx)
    return 24 * padded + 4 * voxels * (3 + flavours)


def check_preset_fits(preset: PhantomPreset, n_flavours: int | None = None) -> None:
    """Refuse a preset too large for this machine's memory, before allocating anything.

    Raises
    ------
    InputError
        Naming the knob ``shape_zyx`` (``--set shape_zyx=[z,y,x]``), the estimate
        and the available memory.
    """
    shape = "x".join(str(n) for n in preset.shape_zyx)
    check_fits(
        estimate_peak_bytes(preset, n_flavours),
        f"phantom preset {preset.name!r}, knob shape_zyx (--set shape_zyx=...)",
        f"tomograms of {shape} voxels (z, y, x)",
    )


def normalise_and_validate(preset: PhantomPreset) -> None:
    """Coerce the fields of a new preset to canonical types and check them (in place).

    Raises
    ------
    InputError
        The first invalid field, named in the message with what was expected.
    """
    source = f"phantom preset {preset.name!r}"

    def fail(field_name: str, expected: str) -> None:
        value = getattr(preset, field_name)
        raise InputError(source, f"field {field_name!r} must be {expected}, got {value!r}")

    def put(field_name: str, value: Any) -> None:
        object.__setattr__(preset, field_name, value)

    if not isinstance(preset.name, str) or not preset.name:
        fail("name", "a non-empty string")
    try:
        shape = tuple(int(n) for n in preset.shape_zyx)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) != 3 or min(shape) < 16 or shape != tuple(preset.shape_zyx):
        fail("shape_zyx", "3 integers ≥ 16 (z, y, x voxels)")
    put("shape_zyx", shape)
    for name in _POSITIVE + _NON_NEGATIVE:
        value = getattr(preset, name)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = ok and math.isfinite(value) and (value > 0 if name in _POSITIVE else value >= 0)
        if not ok:
            fail(name, "a positive finite number" if name in _POSITIVE else "a finite number ≥ 0")
        put(name, float(value))
    for name in ("size_jitter", "anisotropy"):
        if getattr(preset, name) >= 0.5:
            fail(name, "< 0.5")
    if not 0.0 <= preset.amplitude_contrast < 1.0:
        fail("amplitude_contrast", "in [0, 1)")
    if not 0.0 < preset.denoise_factor <= 1.0:
        fail("denoise_factor", "in (0, 1]")
    if not 0.0 < preset.wedge_half_angle_deg <= 90.0:
        fail("wedge_half_angle_deg", "in (0, 90] degrees")
    put("amplitude_contrast", float(preset.amplitude_contrast))
    put("denoise_factor", float(preset.denoise_factor))
    put("wedge_half_angle_deg", float(preset.wedge_half_angle_deg))
    slab = _pair(preset.slab)
    if slab is None or not 0.0 <= slab[0] < slab[1] <= 1.0:
        fail("slab", "two fractions 0 ≤ low < high ≤ 1")
    put("slab", slab)
    for name in _RANGES:
        pair = _pair(getattr(preset, name))
        if pair is None or not 0.0 < pair[0] <= pair[1]:
            fail(name, "two positive numbers low ≤ high")
        put(name, pair)
    fraction = crowder_volume_fraction(preset.crowder_density, preset.crowder_radius_voxels)
    if fraction > MAX_VOLUME_FRACTION + 1e-9:
        mg = concentration_from_density(preset.crowder_density, preset.crowder_radius_voxels)
        fail(
            "crowder_density",
            f"at most {MAX_VOLUME_FRACTION:.0%} crowder volume in the slab "
            f"({max_concentration_mg_per_ml():g} mg/mL); it gives {fraction:.0%} "
            f"({mg:.0f} mg/mL) with crowder_radius_voxels {preset.crowder_radius_voxels}",
        )
    vesicles = _pair(preset.vesicle_count_range)
    if (
        vesicles is None
        or not (0 <= vesicles[0] <= vesicles[1])
        or vesicles != tuple(int(v) for v in vesicles)
    ):
        fail("vesicle_count_range", "two integers 0 ≤ low ≤ high")
    put("vesicle_count_range", (int(vesicles[0]), int(vesicles[1])))
    if not isinstance(preset.protein_dark, bool):
        fail("protein_dark", "True or False")
    flavours = (preset.flavours,) if isinstance(preset.flavours, str) else preset.flavours
    flavours = tuple(flavours)
    if (
        not flavours
        or any(f not in FLAVOURS for f in flavours)
        or len(set(flavours)) != len(flavours)
    ):
        fail("flavours", f"a non-empty subset of {list(FLAVOURS)} without repeats")
    put("flavours", flavours)
    put("counts", _counts(preset.counts, source))
    put("class_contrast", _class_contrast(preset.class_contrast, source))


def _pair(value: Any) -> tuple[float, float] | None:
    try:
        pair = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    if len(pair) != 2 or not all(math.isfinite(v) for v in pair):
        return None
    return pair


def _counts(value: Any, source: str) -> tuple[tuple[str, int], ...]:
    given = _class_mapping(
        value, "counts", "integers ≥ 0", source,
        lambda n: not isinstance(n, bool) and isinstance(n, numbers.Integral) and n >= 0,
    )  # fmt: skip
    if not given:
        raise InputError(source, "field 'counts' must name at least one class")
    return tuple((c, int(n)) for c, n in given)


def _class_contrast(value: Any, source: str) -> tuple[tuple[str, float], ...]:
    given = _class_mapping(
        value, "class_contrast", "numbers > 0", source,
        lambda f: not isinstance(f, bool) and isinstance(f, numbers.Real) and f > 0,
    )  # fmt: skip
    return tuple((c, float(f)) for c, f in given)


def _class_mapping(
    value: Any, field: str, expected: str, source: str, valid: Any
) -> list[tuple[str, Any]]:
    """Check a {class name: value} field; return its items in catalogue order."""
    items = value.items() if isinstance(value, Mapping) else value
    try:
        given = {str(k): v for k, v in items}
    except (TypeError, ValueError):
        raise InputError(
            source, f"field {field!r} must map class names to {expected}, got {value!r}"
        ) from None
    for name, item in given.items():
        if name not in COMPETITION_CLASSES:
            raise InputError(
                source,
                f"field {field!r} has unknown class {name!r}."
                f"{did_you_mean(name, COMPETITION_CLASSES.names)} "
                f"Known: {list(COMPETITION_CLASSES.names)}",
            )
        if not valid(item):
            raise InputError(
                source, f"field {field!r} must hold {expected}, got {item!r} for {name!r}"
            )
    return [(c, given[c]) for c in COMPETITION_CLASSES.names if c in given]
