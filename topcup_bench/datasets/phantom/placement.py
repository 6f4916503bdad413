"""Placement of particles, vesicles and crowders by rejection sampling.

All positions are fractional voxel indices in z, y, x order.  Particles are placed
largest first; a candidate is accepted when its distance to every placed particle
is at least ``0.95·(r1 + r2)`` (bounding radii), its centre lies in the slab, the
whole particle lies inside the volume (centre at least its bounding radius from
every face) and it does not cut a vesicle membrane.  Crowders come afterwards and
avoid particles and membranes but may touch each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from topcup_bench.errors import InputError

__all__ = ["Vesicles", "OVERLAP_FACTOR", "draw_vesicles", "place_particles", "place_crowders"]

#: Minimum centre distance as a fraction of the summed bounding radii.
OVERLAP_FACTOR = 0.95
_BATCH = 64


@dataclass(frozen=True)
class Vesicles:
    """Spherical membrane shells.

    Attributes
    ----------
    centres : numpy.ndarray, float64, shape (V, 3)
        Centres, voxel indices z, y, x (may lie near or beyond a face).
    radii : numpy.ndarray, float64, shape (V,)
        Shell radii in voxels.
    thickness : float
        Membrane thickness in voxels.
    """

    centres: np.ndarray
    radii: np.ndarray
    thickness: float

    def clear_of(self, points: np.ndarray, radii: np.ndarray) -> np.ndarray:
        """Mask (M,) of points (M, 3) whose sphere of ``radii`` (M,) misses every membrane."""
        ok = np.ones(len(points), dtype=bool)
        for centre, radius in zip(self.centres, self.radii, strict=True):
            d = np.sqrt(((points - centre) ** 2).sum(axis=1))
            ok &= np.abs(d - radius) >= radii + 0.5 * self.thickness + 0.5
        return ok


def draw_vesicles(
    rng: np.random.Generator,
    shape_zyx: tuple[int, int, int],
    slab: tuple[float, float],
    count_range: tuple[int, int],
    radius_range: tuple[float, float],
    thickness: float,
) -> Vesicles:
    """Draw the number, radii and centres of the vesicles (centre z inside the slab)."""
    n = int(rng.integers(count_range[0], count_range[1] + 1))
    radii = rng.uniform(radius_range[0], radius_range[1], size=n)
    nz, ny, nx = shape_zyx
    low = np.array([slab[0] * nz, 0.0, 0.0])
    high = np.array([slab[1] * nz, ny - 1.0, nx - 1.0])
    centres = rng.uniform(low, high, size=(n, 3))
    return Vesicles(centres.reshape(n, 3), radii, float(thickness))


def _bounds(shape_zyx, slab, radius: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper allowed centre per axis (z, y, x) for particles of ``radius``."""
    nz, ny, nx = shape_zyx
    r = np.asarray(radius, dtype=np.float64)[..., None]
    top = np.array([nz - 1.0, ny - 1.0, nx - 1.0])
    low = np.maximum(r, np.array([slab[0] * nz, 0.0, 0.0]))
    high = np.minimum(top - r, np.array([slab[1] * nz, top[1], top[2]]))
    return low, high


def place_particles(
    rng: np.random.Generator,
    radii: np.ndarray,
    *,
    shape_zyx: tuple[int, int, int],
    slab: tuple[float, float],
    vesicles: Vesicles | None = None,
    labels: np.ndarray | None = None,
    max_tries: int = 4000,
) -> np.ndarray:
    """Place non-overlapping particles inside the slab.

    Parameters
    ----------
    rng : numpy.random.Generator
    radii : numpy.ndarray, shape (N,)
        Bounding radius of each particle, voxels.
    shape_zyx : tuple of 3 int
        Volume shape.
    slab : (float, float)
        Allowed centre z range as fractions of nz.
    vesicles : Vesicles, optional
        Membranes to keep clear of.
    labels : numpy.ndarray of str, shape (N,), optional
        Class names, used in error messages.
    max_tries : int
        Candidates tried per particle before giving up.

    Returns
    -------
    numpy.ndarray, float64, shape (N, 3)
        Centres in voxel indices z, y, x, in the order of ``radii``.

    Raises
    ------
    InputError
        A particle cannot fit (slab too thin or volume too small) or no free
        position was found after ``max_tries`` candidates.
    """
    radii = np.asarray(radii, dtype=np.float64)
    centres = np.zeros((len(radii), 3))
    placed = np.zeros(len(radii), dtype=bool)
    for index in np.argsort(-radii, kind="stable"):
        r = radii[index]
        low, high = _bounds(shape_zyx, slab, r)
        what = f"{labels[index]!s} " if labels is not None else ""
        if (high < low).any():
            raise InputError(
                "phantom placement",
                f"a {what}particle of bounding radius {r:.1f} voxels cannot lie wholly inside a "
                f"{tuple(shape_zyx)} volume with its centre in the slab {tuple(slab)}",
            )
        others, other_r = centres[placed], radii[placed]
        for _ in range(0, max_tries, _BATCH):
            cand = rng.uniform(low, high, size=(_BATCH, 3))
            ok = np.ones(_BATCH, dtype=bool)
            if len(others):
                d2 = ((cand[:, None, :] - others[None, :, :]) ** 2).sum(axis=2)
                ok &= (d2 >= (OVERLAP_FACTOR * (r + other_r[None, :])) ** 2).all(axis=1)
            if vesicles is not None and len(vesicles.radii):
                ok &= vesicles.clear_of(cand, np.full(_BATCH, r))
            hits = np.flatnonzero(ok)
            if len(hits):
                centres[index] = cand[hits[0]]
                placed[index] = True
                break
        else:
            raise InputError(
                "phantom placement",
                f"no free position for a {what}particle (bounding radius {r:.1f} voxels) after "
                f"{max_tries} candidates; reduce the counts or enlarge the volume",
            )
    return centres


def place_crowders(
    rng: np.random.Generator,
    count: int,
    radius_range: tuple[float, float],
    *,
    shape_zyx: tuple[int, int, int],
    slab: tuple[float, float],
    particle_centres: np.ndarray,
    particle_radii: np.ndarray,
    vesicles: Vesicles | None = None,
    rounds: int = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """Place crowders in the slab, clear of particles and membranes.

    Candidates are drawn in batches and checked against the particles with a
    KD-tree; up to ``rounds`` batches are drawn, so a very crowded volume may get
    fewer than ``count`` crowders (the caller records the number placed).

    Returns
    -------
    centres : numpy.ndarray, float64, shape (M, 3)
        Voxel indices z, y, x; M ≤ ``count``.
    radii : numpy.ndarray, float64, shape (M,)
        Crowder radii in voxels.
    """
    tree = cKDTree(particle_centres) if len(particle_centres) else None
    reach = float(particle_radii.max()) + radius_range[1] if len(particle_radii) else 0.0
    got_c, got_r, total = [], [], 0
    for _ in range(rounds):
        need = count - total
        if need <= 0:
            break
        n = int(need * 1.3) + 16
        radii = rng.uniform(radius_range[0], radius_range[1], size=n)
        low, high = _bounds(shape_zyx, slab, radius_range[1])
        cand = rng.uniform(low, high, size=(n, 3))
        ok = np.ones(n, dtype=bool)
        if tree is not None:
            pairs = cKDTree(cand).sparse_distance_matrix(tree, reach, output_type="ndarray")
            i, j, d = pairs["i"], pairs["j"], pairs["v"]
            bad = d < OVERLAP_FACTOR * (radii[i] + particle_radii[j])
            ok[i[bad]] = False
        if vesicles is not None and len(vesicles.radii):
            ok &= vesicles.clear_of(cand, radii)
        keep = np.flatnonzero(ok)[:need]
        got_c.append(cand[keep])
        got_r.append(radii[keep])
        total += len(keep)
    if not got_c:
        return np.zeros((0, 3)), np.zeros(0)
    return np.concatenate(got_c), np.concatenate(got_r)
