"""Clean particle primitives (§2.2 of the phantom specification) and rotations.

This module holds only the *clean* description of each class: the unperturbed
shapes that both the generator and a template builder may use (the inverse-crime
rule, §3).  Per-instance perturbations live in :mod:`.particles`.

Shapes are defined in the particle frame in voxels at 10 Å, coordinates in
x, y, z order; a rotation matrix ``R`` (3 × 3, x-y-z convention) maps the
particle frame to the tomogram frame: ``lab_xyz = R @ particle_xyz``.
Edges are anti-aliased with a linear ramp one voxel wide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from topcup_bench.errors import InputError, did_you_mean

__all__ = [
    "Component",
    "PRIMITIVES",
    "bounding_radius_voxels",
    "evaluate_primitive",
    "clean_primitive",
    "random_rotation",
    "quaternion_to_matrix",
    "box_offsets",
]

#: Voxel size (Å) the primitive dimensions refer to.
PRIMITIVE_VOXEL_ANGSTROM = 10.0


@dataclass(frozen=True)
class Component:
    """One solid piece of a primitive, in 10 Å voxels, x-y-z order.

    ``kind`` is ``"shell"`` (``size = (r_in, r_out)``), ``"ellipsoid"``
    (``size = semi-axes x, y, z``; a sphere has three equal axes) or ``"rod"``
    (a capsule of radius ``size[0]`` between ``centre`` and ``end``).
    """

    kind: str
    centre: tuple[float, float, float]
    size: tuple[float, ...]
    contrast: float = 1.0
    end: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def reach(self) -> float:
        """Largest distance from the particle origin covered by this component."""
        c = math.hypot(*self.centre)
        if self.kind == "rod":
            return max(c, math.hypot(*self.end)) + self.size[0]
        return c + max(self.size)


def _sphere(centre: tuple[float, float, float], r: float, contrast: float = 1.0) -> Component:
    return Component("ellipsoid", centre, (r, r, r), contrast)


_O = (0.0, 0.0, 0.0)
#: Clean primitive of each class (§2.2 table): components in 10 Å voxels.
PRIMITIVES: dict[str, tuple[Component, ...]] = {
    "apo-ferritin": (Component("shell", _O, (4.0, 6.0), 1.0),),
    "beta-amylase": (Component("ellipsoid", _O, (3.5, 2.8, 2.1), 1.0),),
    "beta-galactosidase": tuple(
        _sphere((sx * 3.5, sy * 2.5, 0.0), 3.2) for sx in (-1, 1) for sy in (-1, 1)
    ),
    "ribosome": (
        Component("ellipsoid", (-2.0, 0.0, 0.0), (10.0, 9.5, 9.0), 1.3),
        Component("ellipsoid", (5.0, 0.0, 0.0), (5.0, 9.0, 6.0), 1.3),
    ),
    "thyroglobulin": (
        _sphere((-5.0, 0.0, 0.0), 5.0),
        _sphere((5.0, 0.0, 0.0), 5.0),
        Component("rod", (-5.0, 0.0, 0.0), (2.7,), 1.0, end=(5.0, 0.0, 0.0)),
    ),
    "virus-like-particle": (
        Component("shell", _O, (11.5, 13.5), 1.2),
        Component("shell", _O, (6.0, 8.0), 0.24),
    ),
}


def _check_class(class_name: str) -> tuple[Component, ...]:
    if class_name not in PRIMITIVES:
        raise InputError(
            "phantom primitive",
            f"unknown class {class_name!r}.{did_you_mean(class_name, PRIMITIVES)} "
            f"Known: {list(PRIMITIVES)}",
        )
    return PRIMITIVES[class_name]


def bounding_radius_voxels(class_name: str, voxel_size_angstrom: float = 10.0) -> float:
    """Radius (voxels of ``voxel_size_angstrom``) of the sphere enclosing the clean primitive.

    Includes the half-voxel edge ramp (ribosome: 14.5 voxels at 10 Å).
    """
    reach = max(c.reach for c in _check_class(class_name)) + 0.5
    return reach * PRIMITIVE_VOXEL_ANGSTROM / float(voxel_size_angstrom)


def evaluate_primitive(class_name: str, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Density of a clean primitive at particle-frame points.

    Parameters
    ----------
    class_name : str
        One of :data:`PRIMITIVES`.
    x, y, z : numpy.ndarray, float32, same shape
        Particle-frame coordinates in 10 Å voxels.

    Returns
    -------
    numpy.ndarray, float32, same shape
        Density (0 outside; 1.0–1.3 inside).
    """
    out = np.zeros(np.broadcast_shapes(x.shape, y.shape, z.shape), dtype=np.float32)
    for comp in _check_class(class_name):
        dx, dy, dz = x - comp.centre[0], y - comp.centre[1], z - comp.centre[2]
        if comp.kind == "shell":
            d = np.sqrt(dx * dx + dy * dy + dz * dz)
            r_in, r_out = comp.size
            value = np.clip(r_out + 0.5 - d, 0, 1) * np.clip(d - r_in + 0.5, 0, 1)
        elif comp.kind == "ellipsoid":
            a, b, c = comp.size
            norm = np.sqrt(dx * dx + dy * dy + dz * dz)
            q = np.sqrt((dx / a) ** 2 + (dy / b) ** 2 + (dz / c) ** 2)
            # signed distance along the ray from the centre: |p| - |p| / q
            value = np.clip(0.5 - norm + norm / np.maximum(q, 1e-6), 0, 1)
        else:  # rod: capsule around a segment
            seg = np.subtract(comp.end, comp.centre, dtype=np.float32)
            t = np.clip((dx * seg[0] + dy * seg[1] + dz * seg[2]) / float(seg @ seg), 0, 1)
            ex, ey, ez = dx - t * seg[0], dy - t * seg[1], dz - t * seg[2]
            d = np.sqrt(ex * ex + ey * ey + ez * ez)
            value = np.clip(comp.size[0] + 0.5 - d, 0, 1)
        np.maximum(out, (comp.contrast * value).astype(np.float32, copy=False), out=out)
    return out


def box_offsets(half: int, shift_zyx: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Open-grid coordinates (z, y, x) of a cube of side ``2·half + 1`` around a centre.

    Parameters
    ----------
    half : int
        Half side in voxels.
    shift_zyx : array_like of 3 floats, optional
        Sub-voxel position of the centre relative to the middle voxel (z, y, x).

    Returns
    -------
    tuple of 3 numpy.ndarray, float32, shapes (L,1,1), (1,L,1), (1,1,L)
        Offsets z, y, x in voxels from the centre.
    """
    base = np.arange(-half, half + 1, dtype=np.float32)
    shift = np.zeros(3) if shift_zyx is None else np.asarray(shift_zyx, dtype=np.float64)
    oz = (base - np.float32(shift[0]))[:, None, None]
    oy = (base - np.float32(shift[1]))[None, :, None]
    ox = (base - np.float32(shift[2]))[None, None, :]
    return oz, oy, ox


def to_particle_frame(
    offsets_zyx: tuple[np.ndarray, ...], rotation: np.ndarray, scale_xyz: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Particle-frame x, y, z (10 Å voxels) of lab-frame offsets: ``p = Rᵀ·lab / scale``."""
    oz, oy, ox = offsets_zyx
    r = np.asarray(rotation, dtype=np.float32)
    s = np.asarray(scale_xyz, dtype=np.float32)
    # (R^T lab)_i = sum_j R[j, i] lab_j
    return tuple(  # type: ignore[return-value]
        (r[0, i] * ox + r[1, i] * oy + r[2, i] * oz) / s[i] for i in range(3)
    )


def clean_primitive(
    class_name: str, voxel_size_angstrom: float = 10.0, rotation: np.ndarray | None = None
) -> np.ndarray:
    """Clean (unperturbed) density of a class on a small cubic grid.

    Parameters
    ----------
    class_name : str
        One of :data:`PRIMITIVES` (the competition class names).
    voxel_size_angstrom : float
        Voxel size of the output grid in Å.
    rotation : numpy.ndarray, shape (3, 3), optional
        Rotation (x-y-z convention, particle frame → tomogram frame); identity by default.

    Returns
    -------
    numpy.ndarray, float32, shape (L, L, L) indexed z, y, x
        Density with the particle centre at voxel ``(L // 2,) * 3``;
        ``L = 2·ceil(bounding radius + 1) + 1``.
    """
    if not (math.isfinite(voxel_size_angstrom) and voxel_size_angstrom > 0):
        raise InputError(
            "phantom primitive",
            f"voxel_size_angstrom must be positive, got {voxel_size_angstrom!r}",
        )
    half = int(math.ceil(bounding_radius_voxels(class_name, voxel_size_angstrom) + 1))
    rot = np.eye(3) if rotation is None else _check_rotation(rotation)
    scale = np.full(3, PRIMITIVE_VOXEL_ANGSTROM / voxel_size_angstrom)
    px, py, pz = to_particle_frame(box_offsets(half), rot, scale)
    return evaluate_primitive(class_name, px, py, pz)


def _check_rotation(rotation: np.ndarray) -> np.ndarray:
    r = np.asarray(rotation, dtype=np.float64)
    if r.shape != (3, 3) or not np.allclose(r @ r.T, np.eye(3), atol=1e-5):
        raise InputError(
            "phantom primitive", f"rotation must be a 3 × 3 rotation matrix, got {r!r}"
        )
    return r


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrix (3 × 3, float64) of a quaternion ``(w, x, y, z)`` (normalised here)."""
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """Uniformly random rotation (3 × 3, float64) from a random unit quaternion."""
    q = rng.standard_normal(4)
    while np.linalg.norm(q) < 1e-8:  # pragma: no cover - probability ~0
        q = rng.standard_normal(4)
    return quaternion_to_matrix(q)
