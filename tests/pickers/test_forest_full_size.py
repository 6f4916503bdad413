"""The forest's feature slabs give exactly the whole volume's features (issue 14, full size)."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.feature import multiscale_basic_features

from topcup_bench.pickers.forest import ForestPicker
from topcup_bench.testing import track_loaded_tomograms

SHAPE = (24, 120, 160)  # z, y, x


def _volume() -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.standard_normal(SHAPE).astype(np.float32)


def _slabs(picker: ForestPicker, volume: np.ndarray) -> list[tuple[slice, np.ndarray]]:
    return list(picker.features(volume))


@pytest.mark.parametrize("sigma_max", [2.0, 3.0])
def test_slabs_equal_whole_volume_features(sigma_max):
    # 2 scales, texture: 10 features; 24 x 160 x 10 x 4 B x 2 = 307 kB per row, so the
    # 16 MB budget holds 54 rows; the halo is int(4 sigma + 0.5) + 2 = 10 (or 14) rows.
    small = ForestPicker(sigma_max=sigma_max, num_sigma=2, max_feature_mb=16, n_jobs=1)
    whole = ForestPicker(sigma_max=sigma_max, num_sigma=2, max_feature_mb=100_000, n_jobs=1)
    assert small.feature_halo == {2.0: 10, 3.0: 14}[sigma_max]
    volume = _volume()
    slabs = _slabs(small, volume)
    (rows, reference), *more = _slabs(whole, volume)
    assert not more and rows == slice(0, SHAPE[1])
    assert len(slabs) > 2  # really chunked
    assert slabs[0][0].start == 0 and slabs[-1][0].stop == SHAPE[1]
    for (a, _), (b, _) in zip(slabs, slabs[1:], strict=False):
        assert a.stop == b.start  # contiguous, no gap, no overlap
    chunked = np.concatenate([block for _, block in slabs], axis=1)
    np.testing.assert_array_equal(chunked, reference)
    # and the reference is skimage's features of the whole volume
    direct = multiscale_basic_features(
        volume, sigma_min=1.0, sigma_max=sigma_max, num_sigma=2, workers=1
    )
    np.testing.assert_array_equal(reference, direct)


def test_slab_rows_keep_twice_the_halo():
    # budget rows 54 - 2 x 10 = 34 useful rows at sigma_max 2 (more than 2 x halo = 20)
    picker = ForestPicker(sigma_max=2.0, num_sigma=2, max_feature_mb=16, n_jobs=1)
    sizes = [rows.stop - rows.start for rows, _ in picker.features(_volume())]
    assert sizes == [34, 34, 34, 18]
    # with sigma_max 8 the halo (34) leaves no useful row of the budget: 2 x 34 = 68 rows
    wide = ForestPicker(sigma_max=8.0, num_sigma=2, max_feature_mb=16, n_jobs=1)
    assert wide.feature_halo == 34
    sizes = [rows.stop - rows.start for rows, _ in wide.features(_volume())]
    assert sizes == [68, 52]


def test_too_narrow_halo_would_differ():
    """The old halo of 3 sigma (6 rows at sigma 2) does not reproduce the whole volume."""
    volume = _volume()
    whole = multiscale_basic_features(volume, sigma_min=1.0, sigma_max=2.0, num_sigma=2, workers=1)
    narrow = multiscale_basic_features(
        volume[:, 34 - 6 : 68 + 6], sigma_min=1.0, sigma_max=2.0, num_sigma=2, workers=1
    )[:, 6:-6]
    assert not np.array_equal(narrow, whole[:, 34:68])
    exact = multiscale_basic_features(
        volume[:, 34 - 10 : 68 + 10], sigma_min=1.0, sigma_max=2.0, num_sigma=2, workers=1
    )[:, 10:-10]
    np.testing.assert_array_equal(exact, whole[:, 34:68])


def test_fit_holds_one_tomogram_at_a_time():
    """Each training run's tomogram is released before the next one is loaded."""

    from topcup_bench.datasets.catalog import open_dataset

    dataset = open_dataset("phantom:tiny", progress=False)
    counts = track_loaded_tomograms(dataset)
    picker = ForestPicker(num_sigma=2, sigma_max=2.0, n_estimators=4, voxels_per_class=60, n_jobs=1)
    picker.fit(dataset, dataset.splits["train"])
    assert counts == [1, 1, 1]
    assert picker.trained_on == ("TS_000", "TS_001", "TS_002")
