"""Deterministic phantom tomograms: geometry, density, imaging (§2 of the specification).

A run is fully determined by ``(preset, seed)``.  The seed feeds a
``numpy.random.Generator(PCG64(seed))`` whose independent child streams (one per
stage: geometry, crowders, textures, imaging) are spawned in a fixed order, so the
particle geometry of a seed is the same for every difficulty of a size preset and
the arrays do not depend on the number of FFT workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from topcup_bench.datasets.phantom.imaging import image_density
from topcup_bench.datasets.phantom.preset_checks import check_preset_fits
from topcup_bench.datasets.phantom.presets import FLAVOURS, PhantomPreset, resolve_preset
from topcup_bench.datasets.phantom.scene import build_density, build_scene
from topcup_bench.datasets.units import voxels_to_angstrom, zyx_to_xyz
from topcup_bench.errors import InputError

__all__ = ["PhantomRun", "generate_run", "run_seed", "particle_radii_voxels"]

_STAGES = ("geometry", "crowders", "textures", "imaging")


@dataclass(frozen=True, eq=False)
class PhantomRun:
    """One generated tomogram run.

    Attributes
    ----------
    volumes : dict of str to numpy.ndarray
        Flavour → float32 volume indexed (z, y, x), shape ``preset.shape_zyx``,
        zero mean and unit std (protein dark unless ``preset.protein_dark`` is False).
    picks : pandas.DataFrame
        Ground truth, one row per particle: ``particle_type, x, y, z`` in Å (x-y-z
        order; voxel index i ↦ i · voxel size), grouped by class in catalogue order.
    transforms : numpy.ndarray, float64, shape (N, 4, 4)
        Row-aligned with ``picks``: rotation (particle frame → tomogram frame, x-y-z)
        in the top-left 3 × 3, zero translation (copick ``transformation_``).
    defocus_angstrom : float
        Underfocus of this tomogram in Å.
    parameters : dict
        JSON-ready record: preset name and fields, seed, defocus, numbers of
        crowders and vesicles placed, flavours.
    seed : int
        The run seed.
    preset : PhantomPreset
        The preset used.
    """

    volumes: dict[str, np.ndarray]
    picks: pd.DataFrame
    transforms: np.ndarray
    defocus_angstrom: float
    parameters: dict[str, Any]
    seed: int
    preset: PhantomPreset


def run_seed(project_seed: int, run_index: int) -> int:
    """Seed of run ``run_index`` of a project (SeedSequence spawn derivation).

    Equal to the state of ``SeedSequence(project_seed).spawn(run_index + 1)[run_index]``,
    so run ``i`` does not change when more runs are requested.

    Returns
    -------
    int
        A 63-bit non-negative integer.
    """
    _check_seed(project_seed, "project_seed")
    _check_seed(run_index, "run_index")
    child = np.random.SeedSequence(int(project_seed), spawn_key=(int(run_index),))
    return int(child.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def _check_seed(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise InputError("phantom generator", f"{name} must be an integer ≥ 0, got {value!r}")


def generate_run(
    preset: PhantomPreset | str,
    seed: int,
    *,
    flavours: Sequence[str] | None = None,
    workers: int = 1,
) -> PhantomRun:
    """Generate one phantom tomogram run.

    Parameters
    ----------
    preset : PhantomPreset or str
        A preset or a preset name (see :func:`~.presets.resolve_preset`).
    seed : int
        Run seed (≥ 0); see :func:`run_seed` for seeds of a multi-run project.
    flavours : sequence of str, optional
        Flavours to produce (default ``preset.flavours``): ``"denoised"``, ``"wbp"``.
    workers : int
        scipy.fft worker threads; the output is bit-identical for any value.

    Returns
    -------
    PhantomRun

    Raises
    ------
    InputError
        Bad seed, flavour or workers, unknown preset name, or a preset whose
        particles do not fit.
    """
    if isinstance(preset, str):
        preset = resolve_preset(preset)
    if not isinstance(preset, PhantomPreset):
        raise InputError("phantom generator", f"expected a PhantomPreset, got {type(preset)!r}")
    _check_seed(seed, "seed")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError("phantom generator", f"workers must be an integer ≥ 1, got {workers!r}")
    chosen = tuple(preset.flavours if flavours is None else flavours)
    check_preset_fits(preset, len(chosen))  # before any allocation: a clear error, not an OOM kill
    unknown = [f for f in chosen if f not in FLAVOURS]
    if unknown or not chosen:
        raise InputError(
            "phantom generator",
            f"flavours must be a non-empty subset of {list(FLAVOURS)}, got {chosen!r}",
        )
    root = np.random.Generator(np.random.PCG64(int(seed)))
    streams = dict(zip(_STAGES, root.spawn(len(_STAGES)), strict=True))
    geometry = build_scene(preset, streams)
    density = build_density(preset, geometry, streams["textures"])
    imaging_rng = streams["imaging"]
    low, high = preset.defocus_range_um
    defocus = float(imaging_rng.uniform(low, high)) * 1e4
    background_std = preset.background_amplitude * float(np.std(density, dtype=np.float64))
    volumes = image_density(
        density,
        preset,
        defocus,
        imaging_rng,
        flavours=chosen,
        background_std=background_std,
        workers=workers,
    )
    xyz = voxels_to_angstrom(zyx_to_xyz(geometry.centres_zyx), preset.voxel_size_angstrom)
    picks = pd.DataFrame(
        {
            "particle_type": pd.Series(geometry.class_names, dtype=object),
            "x": xyz[:, 0],
            "y": xyz[:, 1],
            "z": xyz[:, 2],
        }
    )
    transforms = np.zeros((len(picks), 4, 4))
    transforms[:, :3, :3] = geometry.rotations
    transforms[:, 3, 3] = 1.0
    parameters = {
        "preset": preset.to_dict(),
        "seed": int(seed),
        "defocus_angstrom": defocus,
        "flavours": [f for f in FLAVOURS if f in chosen],
        "n_particles": int(len(picks)),
        "n_crowders": int(len(geometry.crowder_radii)),
        "n_vesicles": int(len(geometry.vesicles.radii)),
        "vesicle_radii_voxels": [float(r) for r in geometry.vesicles.radii],
        "background_std": background_std,
        "rng": "PCG64; child streams " + ", ".join(_STAGES),
    }
    return PhantomRun(volumes, picks, transforms, defocus, parameters, int(seed), preset)


def particle_radii_voxels(run: PhantomRun) -> np.ndarray:
    """Annotation radius of each pick in voxels (from the preset's catalogue), shape (N,)."""
    cat = run.preset.catalogue
    v = run.preset.voxel_size_angstrom
    return np.array([cat[name].radius_angstrom / v for name in run.picks["particle_type"]])
