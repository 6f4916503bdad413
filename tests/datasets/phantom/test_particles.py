"""Clean primitives, rotations and perturbed instances."""

from __future__ import annotations

import math

import numpy as np
import pytest

from topcup_bench.datasets.phantom import (
    PRIMITIVES,
    bounding_radius_voxels,
    clean_primitive,
    quaternion_to_matrix,
    random_rotation,
)
from topcup_bench.datasets.phantom.particles import draw_instances, render_instance
from topcup_bench.errors import InputError
from topcup_bench.types import COMPETITION_CLASSES


def test_one_primitive_per_competition_class():
    assert set(PRIMITIVES) == set(COMPETITION_CLASSES.names)


@pytest.mark.parametrize("name", list(PRIMITIVES))
def test_clean_primitive_grid(name):
    density = clean_primitive(name, 10.0)
    size = density.shape[0]
    assert density.shape == (size, size, size) and size % 2 == 1 and density.dtype == np.float32
    assert 0 <= density.min() and density.max() <= 1.3 + 1e-6
    # nothing on the faces of the box: the bounding radius encloses the body
    for face in (
        density[0],
        density[-1],
        density[:, 0],
        density[:, -1],
        density[..., 0],
        density[..., -1],
    ):
        assert face.max() == 0
    np.testing.assert_array_equal(density, clean_primitive(name, 10.0, np.eye(3)))


def test_shells_are_hollow_and_sized():
    ferritin = clean_primitive("apo-ferritin")
    c = ferritin.shape[0] // 2
    assert ferritin[c, c, c] == 0 and ferritin[c, c, c + 5] == 1 and ferritin[c, c, c + 7] == 0
    vlp = clean_primitive("virus-like-particle")
    c = vlp.shape[0] // 2
    assert vlp[c, c, c + 12] == pytest.approx(1.2) and vlp[c, c, c + 7] == pytest.approx(0.24)
    assert vlp[c, c, c] == 0


def test_voxel_size_scales_the_grid():
    coarse, fine = clean_primitive("ribosome", 10.0), clean_primitive("ribosome", 5.0)
    assert fine.shape[0] > 1.8 * coarse.shape[0]
    assert fine.sum() * 0.125 == pytest.approx(coarse.sum(), rel=0.05)  # same mass in Å³
    assert bounding_radius_voxels("ribosome", 5.0) == 2 * bounding_radius_voxels("ribosome", 10.0)


def test_rotation_about_z_swaps_x_and_y():
    rot = quaternion_to_matrix([math.cos(math.pi / 4), 0, 0, math.sin(math.pi / 4)])
    np.testing.assert_allclose(rot, [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-12)
    flat = clean_primitive("thyroglobulin")  # long axis x
    turned = clean_primitive("thyroglobulin", 10.0, rot)
    np.testing.assert_allclose(turned, flat.transpose(0, 2, 1), atol=1e-5)


def test_random_rotation_is_proper():
    rng = np.random.default_rng(0)
    for _ in range(5):
        r = random_rotation(rng)
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(r) == pytest.approx(1.0)


def test_bad_primitive_inputs():
    with pytest.raises(InputError, match="Did you mean 'ribosome'"):
        clean_primitive("ribosom")
    with pytest.raises(InputError, match="voxel_size_angstrom"):
        clean_primitive("ribosome", 0.0)
    with pytest.raises(InputError, match="rotation"):
        clean_primitive("ribosome", 10.0, np.ones((3, 3)))


def test_instances_and_lumpy_rendering():
    rng = np.random.default_rng(3)
    inst = draw_instances(
        rng,
        {"ribosome": 3, "apo-ferritin": 2},
        voxel_size_angstrom=10.0,
        size_jitter=0.1,
        anisotropy=0.05,
    )
    assert list(inst.class_names) == ["ribosome"] * 3 + ["apo-ferritin"] * 2
    base = bounding_radius_voxels("ribosome")
    assert (
        (inst.bounding_radii[:3] >= base * 0.9 * 0.95)
        & (inst.bounding_radii[:3] <= base * 1.1 * 1.05)
    ).all()
    clean = np.zeros((40, 40, 40), np.float32)
    lumpy = np.zeros_like(clean)
    args = (
        "ribosome",
        np.array([20.0, 20.3, 19.6]),
        inst.rotations[0],
        inst.scale_xyz[0],
        inst.bounding_radii[0],
    )
    render_instance(clean, *args)
    render_instance(lumpy, *args, rng=rng, lumpiness=0.5)
    assert lumpy.sum() == pytest.approx(clean.sum(), rel=0.25)
    assert np.abs(lumpy - clean).max() > 0.3  # the lumpiness is visible
    assert ((lumpy > 0) <= (clean > 0)).all()  # multiplicative: no density outside the body
