"""Ball targets from points, axis helpers and per-level targets."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from topcup_bench.errors import InputError  # noqa: E402
from topcup_bench.pickers.topcup.targets import (  # noqa: E402
    ball_offsets,
    level_targets,
    network_to_zyx,
    points_to_mask,
    to_ce_target,
    zyx_to_network,
)


def voxel_set(mask, channel):
    return {tuple(v) for v in np.argwhere(mask[channel] > 0).tolist()}


def test_ball_has_33_offsets_of_norm_at_most_2():
    offsets = ball_offsets(2)
    assert len(offsets) == 33
    assert set(map(tuple, offsets.tolist())) == {
        (a, b, c)
        for a in range(-2, 3)
        for b in range(-2, 3)
        for c in range(-2, 3)
        if a * a + b * b + c * c <= 4
    }
    assert ball_offsets(0).tolist() == [[0, 0, 0]]
    with pytest.raises(InputError):
        ball_offsets(-1)


def test_ball_around_truncated_centre_in_xyz_order():
    # x = 59.9 Å -> 5 (truncation), y = 30 -> 3, z = 71 -> 7, voxel 10 Å
    mask = points_to_mask([[59.9, 30.0, 71.0]], [1], 2, (12, 10, 14), 10.0)
    assert mask.shape == (2, 12, 10, 14) and mask.dtype == np.float32
    expected = {(5 + a, 3 + b, 7 + c) for a, b, c in ball_offsets(2).tolist()}
    assert voxel_set(mask, 1) == expected
    assert mask[0].sum() == 0


def test_overlapping_voxels_are_dropped_across_classes():
    # centres (3,5,5) and (6,5,5): 3 voxels apart along x, the balls share exactly two voxels
    mask = points_to_mask([[30.0, 50.0, 50.0], [60.0, 50.0, 50.0]], [0, 1], 2, (10, 10, 10), 10.0)
    ball_a = {(3 + a, 5 + b, 5 + c) for a, b, c in ball_offsets(2).tolist()}
    ball_b = {(6 + a, 5 + b, 5 + c) for a, b, c in ball_offsets(2).tolist()}
    assert ball_a & ball_b == {(4, 5, 5), (5, 5, 5)}
    assert voxel_set(mask, 0) == ball_a - {(4, 5, 5), (5, 5, 5)}
    assert voxel_set(mask, 1) == ball_b - {(4, 5, 5), (5, 5, 5)}
    assert len(voxel_set(mask, 0)) == len(voxel_set(mask, 1)) == 31


def test_crop_origin_and_points_outside_the_crop_still_drop_overlaps():
    # voxels (1,1,1) and (4,1,1); they share (2,1,1) and (3,1,1); the crop is x = 3..6
    points = [[10.0, 10.0, 10.0], [40.0, 10.0, 10.0]]
    mask = points_to_mask(points, [0, 0], 1, (4, 4, 4), 10.0, origin_xyz=(3, 0, 0))
    ball_b = {(1 + a, 1 + b, 1 + c) for a, b, c in ball_offsets(2).tolist()}  # crop coordinates
    inside = {v for v in ball_b if all(0 <= i < 4 for i in v)}
    assert voxel_set(mask, 0) == inside - {(0, 1, 1)}
    assert len(inside) == 30  # the three offsets with a -2 component fall outside


def test_single_voxel_option_keeps_duplicates():
    mask = points_to_mask(
        [[10.0, 20.0, 30.0], [10.0, 20.0, 30.0]], [0, 1], 2, (5, 5, 5), 10.0,
        radius=0, drop_overlaps=False,
    )  # fmt: skip
    assert voxel_set(mask, 0) == voxel_set(mask, 1) == {(1, 2, 3)}


def test_bad_labels_are_rejected():
    with pytest.raises(InputError, match="labels"):
        points_to_mask([[0.0, 0.0, 0.0]], [2], 2, (4, 4, 4), 10.0)
    with pytest.raises(InputError, match="labels"):
        points_to_mask([[0.0, 0.0, 0.0]], [0, 1], 2, (4, 4, 4), 10.0)


def test_axis_helpers_round_trip_numpy_and_torch():
    volume = np.arange(2 * 3 * 4).reshape(2, 3, 4)  # (z, y, x)
    net = zyx_to_network(volume)
    assert net.shape == (4, 3, 2) and net[3, 1, 0] == volume[0, 1, 3]
    assert np.array_equal(network_to_zyx(net), volume)
    batch = torch.arange(2 * 2 * 3 * 4).reshape(1, 2, 2, 3, 4)
    assert torch.equal(network_to_zyx(zyx_to_network(batch)), batch)
    assert zyx_to_network(batch).shape == (1, 2, 4, 3, 2)
    with pytest.raises(InputError):
        zyx_to_network(np.zeros((3, 3)))


def test_mask_matches_network_transpose_of_a_zyx_rasterisation():
    mask = points_to_mask([[20.0, 30.0, 40.0]], [0], 1, (6, 7, 8), 10.0, radius=0)
    zyx = network_to_zyx(mask)  # (1, Z, Y, X)
    assert zyx.shape == (1, 8, 7, 6) and zyx[0, 4, 3, 2] == 1.0


def test_level_targets_max_pool_and_renormalise():
    mask = torch.zeros(1, 2, 4, 4, 4)
    mask[0, 0, 0, 0, 0] = 1.0
    mask[0, 1, 1, 1, 1] = 1.0  # same 2x2x2 cell as the class-0 voxel
    mask[0, 1, 3, 3, 3] = 0.5
    (half,) = level_targets(mask, [(2, 2, 2)])
    assert half.shape == (1, 3, 2, 2, 2)
    torch.testing.assert_close(half.sum(dim=1), torch.ones(1, 2, 2, 2))
    torch.testing.assert_close(half[0, :, 0, 0, 0], torch.tensor([0.5, 0.5, 0.0]))
    torch.testing.assert_close(half[0, :, 1, 1, 1], torch.tensor([0.0, 0.5, 0.5]))
    torch.testing.assert_close(half[0, :, 1, 0, 0], torch.tensor([0.0, 0.0, 1.0]))
    assert to_ce_target(mask).shape == (1, 3, 4, 4, 4)
