"""Rejection sampling of particles, crowders and vesicles."""

from __future__ import annotations

import numpy as np
import pytest

from topcup_bench.datasets.phantom.placement import (
    OVERLAP_FACTOR,
    Vesicles,
    draw_vesicles,
    place_crowders,
    place_particles,
)
from topcup_bench.errors import InputError

SHAPE = (60, 100, 100)
SLAB = (0.15, 0.85)


def test_particles_fit_exactly():
    rng = np.random.default_rng(0)
    radii = rng.uniform(3, 14, size=25)
    centres = place_particles(rng, radii, shape_zyx=SHAPE, slab=SLAB)
    top = np.array(SHAPE) - 1.0
    assert (centres >= radii[:, None]).all() and (centres <= top - radii[:, None]).all()
    assert (centres[:, 0] >= SLAB[0] * SHAPE[0]).all() and (
        centres[:, 0] <= SLAB[1] * SHAPE[0]
    ).all()
    d = np.sqrt(((centres[:, None] - centres[None]) ** 2).sum(axis=2))
    np.fill_diagonal(d, np.inf)
    assert (d >= OVERLAP_FACTOR * (radii[:, None] + radii[None])).all()


def test_vesicles_are_avoided():
    rng = np.random.default_rng(1)
    ves = Vesicles(np.array([[30.0, 50.0, 50.0]]), np.array([25.0]), 1.0)
    radii = np.full(20, 4.0)
    centres = place_particles(rng, radii, shape_zyx=SHAPE, slab=SLAB, vesicles=ves)
    d = np.sqrt(((centres - ves.centres[0]) ** 2).sum(axis=1))
    assert (np.abs(d - 25.0) >= 4.0 + 0.5).all()
    drawn = draw_vesicles(rng, SHAPE, SLAB, (2, 2), (10.0, 20.0), 1.0)
    assert drawn.centres.shape == (2, 3) and ((drawn.radii >= 10) & (drawn.radii <= 20)).all()


def test_particle_too_large_or_too_many():
    rng = np.random.default_rng(2)
    with pytest.raises(InputError, match="cannot lie wholly inside"):
        place_particles(
            rng, np.array([40.0]), shape_zyx=SHAPE, slab=SLAB, labels=np.array(["ribosome"])
        )
    with pytest.raises(InputError, match="no free position"):
        place_particles(rng, np.full(200, 12.0), shape_zyx=SHAPE, slab=SLAB, max_tries=128)


def test_crowders_avoid_particles():
    rng = np.random.default_rng(3)
    radii = np.full(10, 8.0)
    centres = place_particles(rng, radii, shape_zyx=SHAPE, slab=SLAB)
    cc, cr = place_crowders(
        rng,
        500,
        (1.8, 3.0),
        shape_zyx=SHAPE,
        slab=SLAB,
        particle_centres=centres,
        particle_radii=radii,
    )
    assert len(cc) == 500 and ((cr >= 1.8) & (cr <= 3.0)).all()
    d = np.sqrt(((cc[:, None] - centres[None]) ** 2).sum(axis=2))
    assert (d >= OVERLAP_FACTOR * (cr[:, None] + radii[None])).all()
    assert (cc[:, 0] >= SLAB[0] * SHAPE[0]).all() and (cc[:, 0] <= SLAB[1] * SHAPE[0]).all()
    none_c, none_r = place_crowders(
        rng,
        0,
        (1.8, 3.0),
        shape_zyx=SHAPE,
        slab=SLAB,
        particle_centres=centres,
        particle_radii=radii,
    )
    assert none_c.shape == (0, 3) and none_r.shape == (0,)
