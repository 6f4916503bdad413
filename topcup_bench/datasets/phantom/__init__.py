"""Deterministic synthetic phantom tomograms (§2 of the phantom specification).

``generate_run(resolve_preset("small"), seed)`` builds one run: lumpy, jittered,
rotated primitives of the six competition classes placed without overlap in an
ice slab, crowders, vesicles and a 1/f background, imaged with a single-FFT
Fourier model (±45° wedge about y, CTF, B envelope, wedge-shaped noise) into the
``denoised`` and/or ``wbp`` flavours.  Ground-truth picks are in Å, x-y-z order.
Templates must use :func:`clean_primitive` (module :mod:`.primitives`), never the
perturbed instances (the inverse-crime rule).
"""

from topcup_bench.datasets.phantom.generator import (
    PhantomRun,
    generate_run,
    particle_radii_voxels,
    run_seed,
)
from topcup_bench.datasets.phantom.imaging import ctf, image_density
from topcup_bench.datasets.phantom.presets import (
    DIFFICULTIES,
    FLAVOURS,
    SIZES,
    PhantomPreset,
    electron_wavelength_angstrom,
    list_presets,
    resolve_preset,
)
from topcup_bench.datasets.phantom.preview import save_preview
from topcup_bench.datasets.phantom.primitives import (
    PRIMITIVES,
    bounding_radius_voxels,
    clean_primitive,
    quaternion_to_matrix,
    random_rotation,
)

__all__ = [
    "PhantomPreset",
    "PhantomRun",
    "generate_run",
    "run_seed",
    "resolve_preset",
    "list_presets",
    "save_preview",
    "clean_primitive",
    "bounding_radius_voxels",
    "particle_radii_voxels",
    "random_rotation",
    "quaternion_to_matrix",
    "ctf",
    "image_density",
    "electron_wavelength_angstrom",
    "PRIMITIVES",
    "FLAVOURS",
    "SIZES",
    "DIFFICULTIES",
]
