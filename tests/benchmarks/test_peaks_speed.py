"""pytest-benchmark micro-benchmark of peak extraction (``find_peaks``).

A 92 × 160 × 160 map (the ``small-kaggle-like`` size) with 60 planted Gaussian
peaks (σ = 2 voxels, at least 16 voxels apart) on faint smooth noise; the
benchmark checks that exactly the planted positions come back with their
heights, strongest first.  In ordinary test runs (``--benchmark-disable``) it runs once as a test.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from topcup_bench.pickers.peaks import find_peaks

SHAPE = (92, 160, 160)
N_PEAKS = 60
MIN_DISTANCE = 4.8  # voxels: the blob picker's NMS radius of apo-ferritin at 10 Å


def _planted_case(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Map (z, y, x), planted peak positions (N, 3) and their heights (N,)."""
    rng = np.random.default_rng(seed)
    positions: list[np.ndarray] = []
    while len(positions) < N_PEAKS:  # rejection sampling: 16 voxels apart, 8 from the faces
        point = rng.integers(8, np.array(SHAPE) - 8)
        if all(np.abs(point - p).max() >= 16 for p in positions):
            positions.append(point)
    planted = np.array(positions)
    heights = rng.uniform(0.5, 1.0, N_PEAKS)
    spikes = np.zeros(SHAPE, dtype=np.float32)
    spikes[tuple(planted.T)] = heights
    peaks = ndimage.gaussian_filter(spikes, 2.0) * (2 * np.pi * 4.0) ** 1.5  # height × Gaussian
    noise = ndimage.gaussian_filter(rng.standard_normal(SHAPE, dtype=np.float32), 2.5)
    volume = (peaks + 0.01 * noise / noise.std()).astype(np.float32)
    return volume, planted, heights


@pytest.fixture(scope="module")
def planted_case():
    return _planted_case()


def test_find_peaks_planted(benchmark, planted_case):
    volume, planted, heights = planted_case
    indices, values = benchmark(find_peaks, volume, MIN_DISTANCE, threshold=0.25)
    found = np.lexsort(indices.T[::-1])  # both in z, y, x order to compare positions
    order = np.lexsort(planted.T[::-1])
    np.testing.assert_array_equal(indices[found], planted[order])
    np.testing.assert_allclose(values[found], heights[order], atol=0.03)  # the planted heights
    assert np.all(np.diff(values) <= 0)  # strongest first
