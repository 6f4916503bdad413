"""Determinism, geometry and output format of generate_run."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from topcup_bench.datasets.phantom import (
    bounding_radius_voxels,
    generate_run,
    particle_radii_voxels,
    run_seed,
)
from topcup_bench.errors import InputError


def digest(run) -> str:
    h = hashlib.sha256()
    for name in sorted(run.volumes):
        h.update(name.encode())
        h.update(np.ascontiguousarray(run.volumes[name]).tobytes())
    h.update(run.transforms.tobytes())
    return h.hexdigest()


def test_same_seed_identical(tiny, tiny_run):
    again = generate_run(tiny, 11, flavours=("wbp", "denoised"))
    assert digest(again) == digest(tiny_run)
    pd.testing.assert_frame_equal(again.picks, tiny_run.picks)
    assert again.defocus_angstrom == tiny_run.defocus_angstrom


def test_workers_do_not_change_output(tiny, tiny_run):
    assert digest(generate_run(tiny, 11, flavours=("denoised", "wbp"), workers=2)) == digest(
        tiny_run
    )


def test_different_seeds_differ(tiny, tiny_run):
    other = generate_run(tiny, 12, flavours=("denoised", "wbp"))
    assert digest(other) != digest(tiny_run)
    assert not np.allclose(other.picks[["x", "y", "z"]], tiny_run.picks[["x", "y", "z"]])


def test_geometry_shared_across_difficulties(tiny, tiny_run):
    hard = generate_run(tiny.replace(noise_sigma=6.0, crowder_density=0.4), 11)
    pd.testing.assert_frame_equal(hard.picks, tiny_run.picks)


def test_volumes_format(tiny, tiny_run):
    assert set(tiny_run.volumes) == {"denoised", "wbp"}
    for volume in tiny_run.volumes.values():
        assert volume.dtype == np.float32 and volume.shape == tiny.shape_zyx
        assert volume.flags.c_contiguous and np.isfinite(volume).all()
        assert abs(float(volume.mean())) < 1e-3 and float(volume.std()) == pytest.approx(1, 1e-3)
    assert set(generate_run(tiny, 1).volumes) == {"denoised"}


def test_counts_match_preset(tiny, tiny_run):
    counts = tiny_run.picks["particle_type"].value_counts().to_dict()
    assert counts == tiny.class_counts
    assert list(tiny_run.picks.columns) == ["particle_type", "x", "y", "z"]
    assert list(dict.fromkeys(tiny_run.picks["particle_type"])) == list(tiny.class_counts)


def _min_radii(run) -> np.ndarray:
    """Smallest possible bounding radius of each pick's instance, voxels."""
    p = run.preset
    shrink = (1 - p.size_jitter) * (1 - p.anisotropy)
    return (
        np.array(
            [bounding_radius_voxels(c, p.voxel_size_angstrom) for c in run.picks["particle_type"]]
        )
        * shrink
    )


def test_particles_inside_volume_and_slab(tiny, tiny_run):
    v = tiny.voxel_size_angstrom
    xyz = tiny_run.picks[["x", "y", "z"]].to_numpy() / v
    r = _min_radii(tiny_run)[:, None]
    size_xyz = np.array(tiny.shape_zyx[::-1], dtype=float)
    assert (xyz >= r).all() and (xyz <= size_xyz - 1 - r).all()
    nz = tiny.shape_zyx[0]
    assert (xyz[:, 2] >= tiny.slab[0] * nz).all() and (xyz[:, 2] <= tiny.slab[1] * nz).all()


def test_no_overlaps(tiny_run):
    xyz = tiny_run.picks[["x", "y", "z"]].to_numpy() / tiny_run.preset.voxel_size_angstrom
    r = _min_radii(tiny_run)
    d = np.sqrt(((xyz[:, None] - xyz[None]) ** 2).sum(axis=2))
    limit = 0.95 * (r[:, None] + r[None])
    np.fill_diagonal(d, np.inf)
    assert (d >= limit).all()


def test_transforms_are_rotations(tiny_run):
    t = tiny_run.transforms
    assert t.shape == (len(tiny_run.picks), 4, 4)
    rot = t[:, :3, :3]
    np.testing.assert_allclose(
        rot @ rot.transpose(0, 2, 1), np.broadcast_to(np.eye(3), rot.shape), atol=1e-12
    )
    np.testing.assert_allclose(np.linalg.det(rot), 1.0)
    assert (t[:, :3, 3] == 0).all() and (t[:, 3, :3] == 0).all() and (t[:, 3, 3] == 1).all()


def test_parameters_and_radii(tiny, tiny_run):
    params = tiny_run.parameters
    assert params["seed"] == 11 and params["preset"]["name"] == "tiny-kaggle-like"
    assert 2e4 <= tiny_run.defocus_angstrom <= 5e4
    assert params["n_crowders"] > 0
    radii = particle_radii_voxels(tiny_run)
    assert radii[tiny_run.picks["particle_type"].eq("ribosome").to_numpy()][0] == 15.0


def test_protein_dark_is_a_sign_switch(tiny, tiny_run):
    bright = generate_run(tiny.replace(protein_dark=False), 11)
    np.testing.assert_array_equal(bright.volumes["denoised"], -tiny_run.volumes["denoised"])


def test_run_seed_spawn_derivation():
    seeds = [run_seed(42, i) for i in range(4)]
    assert seeds == [run_seed(42, i) for i in range(4)]  # stable
    assert len(set(seeds)) == 4 and seeds != [run_seed(43, i) for i in range(4)]
    child = np.random.SeedSequence(42).spawn(3)[2]
    assert seeds[2] == int(child.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
    assert all(0 <= s < 2**63 for s in seeds)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(seed=-1), "seed"),
        (dict(seed=1.5), "seed"),
        (dict(seed=1, workers=0), "workers"),
        (dict(seed=1, flavours=("isonet",)), "flavours"),
    ],
)
def test_bad_arguments(tiny, kwargs, match):
    with pytest.raises(InputError, match=match):
        generate_run(tiny, **kwargs)


def test_bad_preset_and_run_seed_args():
    with pytest.raises(InputError, match="Did you mean 'tiny'"):
        generate_run("tinny", 1)
    with pytest.raises(InputError, match="expected a PhantomPreset"):
        generate_run(3, 1)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="run_index"):
        run_seed(1, -2)


def test_overcrowded_preset_fails_clearly(tiny):
    with pytest.raises(InputError, match="no free position|cannot lie"):
        generate_run(tiny.replace(counts={"ribosome": 40}), 1)
