"""Voxel ↔ Å conversions, axis order, and the units heuristics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from topcup_bench.datasets import (
    angstrom_to_voxels,
    check_units,
    check_units_against,
    voxels_to_angstrom,
    xyz_to_zyx,
    zyx_to_xyz,
)
from topcup_bench.errors import InputError, SchemaError, UnitsWarning

# The Kaggle tomograms: (x, y, z) = (630, 630, 184) voxels of 10.012 Å.
VOXEL = 10.012
EXTENT = (630 * VOXEL, 630 * VOXEL, 184 * VOXEL)


def table(xyz: np.ndarray) -> pd.DataFrame:
    xyz = np.asarray(xyz, dtype=float).reshape(-1, 3)
    return pd.DataFrame(
        {
            "experiment": "TS_5_4",
            "particle_type": "ribosome",
            "x": xyz[:, 0],
            "y": xyz[:, 1],
            "z": xyz[:, 2],
        }
    )


def realistic_angstrom(n: int = 50, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0.05, 0.95, size=(n, 3)) * np.array(EXTENT)


def test_conversions_round_trip():
    coords = np.array([[1.0, 2.0, 3.0], [630.0, 0.0, 183.5]])
    angstrom = voxels_to_angstrom(coords, VOXEL)
    np.testing.assert_allclose(angstrom, coords * VOXEL)
    np.testing.assert_allclose(angstrom_to_voxels(angstrom, VOXEL), coords)


def test_per_row_voxel_sizes():
    coords = np.ones((3, 3))
    out = voxels_to_angstrom(coords, [1.0, 2.0, 4.0])
    assert out[:, 0].tolist() == [1.0, 2.0, 4.0]
    assert out[2].tolist() == [4.0, 4.0, 4.0]


def test_single_point():
    assert voxels_to_angstrom([1.0, 2.0, 3.0], 2.0).tolist() == [2.0, 4.0, 6.0]


@pytest.mark.parametrize("size", [0.0, -1.0, np.nan, np.inf, [1.0, 0.0]])
def test_bad_voxel_size(size):
    with pytest.raises(InputError, match="voxel size"):
        voxels_to_angstrom(np.ones((2, 3)), size)
    with pytest.raises(InputError, match="voxel size"):
        angstrom_to_voxels(np.ones((2, 3)), size)


def test_wrong_number_of_voxel_sizes():
    with pytest.raises(InputError, match=r"one value per row \(2\)"):
        voxels_to_angstrom(np.ones((2, 3)), [1.0, 2.0, 3.0])


def test_bad_coordinate_shape():
    with pytest.raises(InputError, match=r"\(N, 3\)"):
        voxels_to_angstrom(np.ones((2, 2)), 1.0)


def test_axis_order():
    zyx = np.array([[3, 2, 1], [6, 5, 4]])
    assert zyx_to_xyz(zyx).tolist() == [[1, 2, 3], [4, 5, 6]]
    assert xyz_to_zyx(zyx_to_xyz(zyx)).tolist() == zyx.tolist()
    with pytest.raises(InputError, match=r"\(N, 3\)"):
        zyx_to_xyz(np.ones(3))


def test_check_units_silent_for_angstrom():
    picks = table(realistic_angstrom())
    fired = check_units(picks, extent_angstrom_xyz=EXTENT, voxel_size_angstrom=VOXEL, source="p")
    assert fired is False


def test_check_units_silent_for_empty_table():
    picks = table(np.zeros((0, 3)))
    assert not check_units(picks, extent_angstrom_xyz=EXTENT, voxel_size_angstrom=VOXEL, source="p")


def test_check_units_warns_for_voxels():
    voxels = realistic_angstrom() / VOXEL
    with pytest.warns(UnitsWarning) as record:
        fired = check_units(
            table(voxels), extent_angstrom_xyz=EXTENT, voxel_size_angstrom=VOXEL, source="picks.csv"
        )
    assert fired
    message = str(record[0].message)
    assert "picks.csv" in message
    assert "multiply them by the voxel size (10.012 Å)" in message
    assert "6308" in message  # the Å extent along x


def test_check_units_warns_for_a_single_voxel_row():
    with pytest.warns(UnitsWarning):
        check_units(
            table([[300, 300, 90]]),
            extent_angstrom_xyz=EXTENT,
            voxel_size_angstrom=VOXEL,
            source="p",
        )


def test_check_units_rejects_bad_arguments():
    picks = table(realistic_angstrom())
    with pytest.raises(InputError, match="extent_angstrom_xyz"):
        check_units(picks, extent_angstrom_xyz=(1.0, 2.0), voxel_size_angstrom=VOXEL, source="p")
    with pytest.raises(InputError, match="voxel size"):
        check_units(picks, extent_angstrom_xyz=EXTENT, voxel_size_angstrom=0.0, source="p")
    with pytest.raises(SchemaError, match="'z'"):
        check_units(
            picks.drop(columns="z"), extent_angstrom_xyz=EXTENT, voxel_size_angstrom=1.0, source="p"
        )


def test_check_units_against_silent_for_matching_units():
    truth = table(realistic_angstrom(seed=1))
    picks = table(realistic_angstrom(seed=2))
    assert check_units_against(truth, picks, source="picks") is False


def test_check_units_against_picks_in_voxels():
    truth = table(realistic_angstrom(seed=1))
    picks = table(realistic_angstrom(seed=2) / VOXEL)
    with pytest.warns(UnitsWarning, match="picks.csv are probably in voxels") as record:
        assert check_units_against(truth, picks, source="picks.csv")
    assert "ratio" in str(record[0].message)


def test_check_units_against_truth_in_voxels():
    truth = table(realistic_angstrom(seed=1) / VOXEL)
    picks = table(realistic_angstrom(seed=2))
    with pytest.warns(UnitsWarning, match="ground truth is probably in voxels"):
        assert check_units_against(truth, picks, source="picks.csv")


def test_check_units_against_needs_all_three_axes():
    truth = table(realistic_angstrom(seed=1))
    scaled = realistic_angstrom(seed=2) / VOXEL
    scaled[:, 2] *= VOXEL  # z in Å: not a units mix-up
    assert check_units_against(truth, table(scaled), source="picks") is False


def test_check_units_against_silent_for_empty_tables():
    truth = table(realistic_angstrom())
    assert check_units_against(truth, table(np.zeros((0, 3))), source="picks") is False
    assert check_units_against(table(np.zeros((0, 3))), truth, source="picks") is False
