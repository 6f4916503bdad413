"""The scene of a phantom run: geometry draws and the protein-positive density."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from topcup_bench.datasets.phantom.clutter import render_crowders, render_vesicles
from topcup_bench.datasets.phantom.particles import draw_instances, render_instance
from topcup_bench.datasets.phantom.placement import draw_vesicles, place_crowders, place_particles
from topcup_bench.datasets.phantom.presets import PhantomPreset

__all__ = ["Scene", "build_scene", "build_density"]


@dataclass(frozen=True, eq=False)
class Scene:
    """Geometry of one run (positions in voxel indices z, y, x)."""

    class_names: np.ndarray  # (N,) str
    centres_zyx: np.ndarray  # (N, 3) voxels
    rotations: np.ndarray  # (N, 3, 3)
    scale_xyz: np.ndarray  # (N, 3)
    radii: np.ndarray  # (N,) voxels
    vesicles: Any
    crowder_centres: np.ndarray  # (M, 3)
    crowder_radii: np.ndarray  # (M,)


def build_scene(preset: PhantomPreset, streams: dict[str, np.random.Generator]) -> Scene:
    """Draw vesicles, particle instances and their placement, then crowders.

    ``streams["geometry"]`` drives vesicles, instances and particle placement;
    ``streams["crowders"]`` the crowders, so crowder settings never move particles.
    """
    rng = streams["geometry"]
    vesicles = draw_vesicles(
        rng,
        preset.shape_zyx,
        preset.slab,
        preset.vesicle_count_range,
        preset.vesicle_radius_voxels,
        preset.vesicle_thickness_voxels,
    )
    inst = draw_instances(
        rng,
        preset.class_counts,
        voxel_size_angstrom=preset.voxel_size_angstrom,
        size_jitter=preset.size_jitter,
        anisotropy=preset.anisotropy,
    )
    centres = place_particles(
        rng,
        inst.bounding_radii,
        shape_zyx=preset.shape_zyx,
        slab=preset.slab,
        vesicles=vesicles,
        labels=inst.class_names,
    )
    nz, ny, nx = preset.shape_zyx
    slab_voxels = (preset.slab[1] - preset.slab[0]) * nz * ny * nx
    n_crowders = int(round(preset.crowder_density * slab_voxels / 1000.0))
    crowder_centres, crowder_radii = place_crowders(
        streams["crowders"],
        n_crowders,
        preset.crowder_radius_voxels,
        shape_zyx=preset.shape_zyx,
        slab=preset.slab,
        particle_centres=centres,
        particle_radii=inst.bounding_radii,
        vesicles=vesicles,
    )
    return Scene(
        inst.class_names,
        centres,
        inst.rotations,
        inst.scale_xyz,
        inst.bounding_radii,
        vesicles,
        crowder_centres,
        crowder_radii,
    )


def build_density(preset: PhantomPreset, geometry: Scene, rng: np.random.Generator) -> np.ndarray:
    """Protein-positive density (float32, z, y, x) of particles, crowders and vesicles."""
    density = np.zeros(preset.shape_zyx, dtype=np.float32)
    contrast = dict(preset.class_contrast)
    for name, centre, rot, scale, radius in zip(
        geometry.class_names,
        geometry.centres_zyx,
        geometry.rotations,
        geometry.scale_xyz,
        geometry.radii,
        strict=True,
    ):
        render_instance(
            density,
            name,
            centre,
            rot,
            scale,
            radius,
            rng=rng,
            lumpiness=preset.lumpiness,
            lumpiness_sigma=preset.lumpiness_sigma_voxels,
            contrast=contrast.get(name, 1.0),
        )
    render_crowders(
        density,
        geometry.crowder_centres,
        geometry.crowder_radii,
        rng,
        contrast=preset.crowder_contrast,
        lumpiness=preset.lumpiness,
    )
    render_vesicles(density, geometry.vesicles, contrast=preset.vesicle_contrast)
    return density
