"""asv benchmarks of the ``blob`` and ``forest`` baselines on ``small-kaggle-like`` runs.

Tomograms are 92 × 160 × 160 voxels.  Targets (two CPU cores): ``BlobPicker().pick``
for the six classes ≤ 5 s per tomogram; ``forest`` fit on two runs plus pick on one:
tens of seconds.
"""

from __future__ import annotations

from topcup_bench.datasets.dataset import Dataset
from topcup_bench.datasets.phantom import generate_run, resolve_preset
from topcup_bench.pickers.blob import BlobPicker
from topcup_bench.pickers.forest import ForestPicker
from topcup_bench.types import COMPETITION_CLASSES, Tomogram


class _InMemory(Dataset):
    """Generated runs held in memory (no copick write)."""

    def __init__(self, seeds):
        preset = resolve_preset("small")
        self.name, self.classes, self.voxel_size_angstrom = "bench", COMPETITION_CLASSES, 10.0
        self.runs = tuple(f"TS_{s}" for s in seeds)
        self.splits = {}
        self._runs = {f"TS_{s}": generate_run(preset, s, flavours=("denoised",)) for s in seeds}

    def tomogram(self, run):
        return Tomogram(run, self._runs[run].volumes["denoised"], self.voxel_size_angstrom)

    def truth(self, runs=None):
        import pandas as pd

        return pd.concat(
            [self._runs[r].picks.assign(experiment=r) for r in (runs or self.runs)],
            ignore_index=True,
        )


class BlobSmall:
    """``BlobPicker().pick`` on one small tomogram, six classes."""

    timeout = 120
    number = 1
    repeat = 3

    def setup(self):
        self.tomogram = _InMemory([0]).tomogram("TS_0")

    def time_blob_pick(self):
        BlobPicker().pick(self.tomogram, COMPETITION_CLASSES)

    def peakmem_blob_pick(self):
        BlobPicker().pick(self.tomogram, COMPETITION_CLASSES)


class ForestSmall:
    """``ForestPicker`` (defaults, ``n_jobs=2``): fit on two small runs, pick on a third."""

    timeout = 600
    number = 1
    repeat = 1

    def setup(self):
        self.dataset = _InMemory([0, 1, 2])

    def time_forest_fit_and_pick(self):
        picker = ForestPicker()
        picker.fit(self.dataset, ["TS_0", "TS_1"])
        picker.pick(self.dataset.tomogram("TS_2"), COMPETITION_CLASSES)

    def peakmem_forest_fit_and_pick(self):
        picker = ForestPicker()
        picker.fit(self.dataset, ["TS_0", "TS_1"])
        picker.pick(self.dataset.tomogram("TS_2"), COMPETITION_CLASSES)
