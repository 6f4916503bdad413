"""find_peaks: the fast ball test equals plain ball-footprint filters."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from topcup_bench.errors import InputError
from topcup_bench.pickers.peaks import _suppress, ball, find_peaks


def _reference(volume, min_distance, threshold=-np.inf, border=0):
    footprint = ball(min_distance)
    maxima = ndimage.maximum_filter(volume, footprint=footprint, mode="nearest")
    minima = ndimage.minimum_filter(volume, footprint=footprint, mode="nearest")
    candidate = (volume == maxima) & (volume > threshold) & (volume > minima)
    if border > 0:
        inner = np.zeros_like(candidate)
        inner[border:-border, border:-border, border:-border] = True
        candidate &= inner
    indices = np.argwhere(candidate)
    values = volume[candidate].astype(np.float64)
    order = np.lexsort((indices[:, 2], indices[:, 1], indices[:, 0], -values))
    indices, values = indices[order], values[order]
    keep = _suppress(indices, min_distance)
    return indices[keep], values[keep]


@pytest.mark.parametrize("min_distance", [0.9, 1.5, 2.0, 3.7, 6.0])
@pytest.mark.parametrize("smooth", [0.0, 1.5])
def test_find_peaks_matches_ball_filters(min_distance, smooth):
    rng = np.random.default_rng(3)
    volume = rng.normal(size=(20, 27, 31)).astype(np.float32)
    if smooth:
        volume = ndimage.gaussian_filter(volume, smooth)
    volume[5:9, 5:9, 5:9] = volume.max() + 1  # a plateau
    volume = np.round(volume, 1)  # ties
    for threshold, border in [(-np.inf, 0), (0.0, 2)]:
        got = find_peaks(volume, min_distance, threshold=threshold, border=border)
        want = _reference(volume, min_distance, threshold, border)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_find_peaks_flat_volume_has_no_peaks():
    assert len(find_peaks(np.ones((8, 8, 8)), 3)[0]) == 0


def test_find_peaks_rejects_bad_distance():
    with pytest.raises(InputError, match="min_distance"):
        find_peaks(np.zeros((4, 4, 4)), 0)
