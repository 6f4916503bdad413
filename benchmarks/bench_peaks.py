"""asv benchmarks of peak extraction with non-maximum suppression.

Two volume sizes: 92 × 160 × 160 (the ``small-kaggle-like`` phantom) and
184 × 315 × 315 (a Kaggle tomogram binned to 20 Å, or a quarter of one at
10 Å).  The maps are smoothed Gaussian noise (σ = 2.5 voxels): a density of
local maxima like a blob or template response, unlike white noise.

* ``FindPeaks``: :func:`topcup_bench.pickers.peaks.find_peaks` (ball-footprint
  maxima, then greedy suppression, as the blob, template and forest pickers
  call it: threshold at the map's median, at most 1000 peaks) at the NMS
  radius of apo-ferritin (4.8 voxels) and of the ribosome (12 voxels).
* ``ExtractPicks``: TopCUP's max-pool NMS
  :func:`topcup_bench.pickers.topcup.infer.extract_picks` on six probability
  maps (sigmoid of the smoothed noise, shifted per class), CPU, two threads; skipped when PyTorch
  is not installed.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from topcup_bench.pickers.peaks import find_peaks

SHAPES = {"92x160x160": (92, 160, 160), "184x315x315": (184, 315, 315)}
SIGMA_VOXELS = 2.5
THREADS = 2
CLASSES = {  # name: radius in Å (the competition classes)
    "apo-ferritin": 60.0,
    "beta-amylase": 65.0,
    "beta-galactosidase": 90.0,
    "ribosome": 150.0,
    "thyroglobulin": 130.0,
    "virus-like-particle": 135.0,
}


def _score_map(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """Smoothed Gaussian noise, z-scored, float32, shape (nz, ny, nx)."""
    noise = np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)
    smooth = ndimage.gaussian_filter(noise, SIGMA_VOXELS)
    return ((smooth - smooth.mean()) / smooth.std()).astype(np.float32)


class FindPeaks:
    """``find_peaks`` on a smooth score map: ball maxima, then greedy suppression."""

    params = (list(SHAPES), [4.8, 12.0])
    param_names = ["shape", "min_distance_voxels"]
    timeout = 300
    number = 1
    repeat = 5
    warmup_time = 0

    def setup_cache(self):
        return {name: _score_map(shape) for name, shape in SHAPES.items()}

    def setup(self, maps, shape, min_distance):
        self.volume = maps[shape]
        self.threshold = float(np.median(self.volume))

    def time_find_peaks(self, maps, shape, min_distance):
        find_peaks(self.volume, min_distance, threshold=self.threshold, max_peaks=1000)

    def track_n_peaks(self, maps, shape, min_distance):
        """Peaks kept (checks that both sizes do comparable work per voxel)."""
        self.setup(maps, shape, min_distance)
        return len(find_peaks(self.volume, min_distance, threshold=self.threshold)[1])

    track_n_peaks.unit = "peaks"


class ExtractPicks:
    """TopCUP's max-pool NMS (``extract_picks``) on six probability maps, CPU, two threads."""

    params = list(SHAPES)
    param_names = ["shape"]
    timeout = 300
    number = 1
    repeat = 3
    warmup_time = 0

    def setup(self, shape):
        try:
            import torch

            from topcup_bench.pickers.topcup.infer import extract_picks
        except ImportError as error:  # asv skips a benchmark whose setup raises this
            raise NotImplementedError(f"extract_picks needs torch: {error}") from None
        torch.set_num_threads(THREADS)
        self.extract_picks = extract_picks
        # one smooth map, shifted per class (six independent maps cost 10 s of setup at 184 × 315²)
        heat = 1 / (1 + np.exp(8 - 3 * _score_map(SHAPES[shape])))
        shifts = [(7 * i, 11 * i, 13 * i) for i in range(len(CLASSES))]
        self.probabilities = np.stack([np.roll(heat, k, axis=(0, 1, 2)) for k in shifts])

    def time_extract_picks(self, shape):
        self.extract_picks(
            self.probabilities, list(CLASSES), CLASSES, voxel_size=10.0, device="cpu"
        )
