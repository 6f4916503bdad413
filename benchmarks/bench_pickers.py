"""asv benchmarks of the pickers on phantom tomograms.

Each picker has its own self-contained class.  Target for ``template``: one
``small-kaggle-like`` tomogram (92 × 160 × 160), all six classes, within 60 s
on two CPU cores (§4.1 of the phantom specification).
"""

from __future__ import annotations

from topcup_bench.datasets.phantom import generate_run, resolve_preset
from topcup_bench.pickers.template import TemplatePicker
from topcup_bench.types import Tomogram


class TemplatePick:
    """``TemplatePicker().pick`` on one ``small-kaggle-like`` tomogram, six classes.

    ``workers`` is the number of scipy.fft threads (1: as the runner runs pickers,
    one thread per process; 2: the two-core target).
    """

    params = [1, 2]
    param_names = ["workers"]
    timeout = 300
    number = 1
    repeat = 3
    warmup_time = 0

    def setup(self, workers):
        preset = resolve_preset("small-kaggle-like")
        run = generate_run(preset, 0, flavours=("denoised",), workers=2)
        self.tomogram = Tomogram("TS_bench", run.volumes["denoised"], preset.voxel_size_angstrom)
        self.classes = preset.catalogue
        self.picker = TemplatePicker(workers=workers)

    def time_template_pick(self, workers):
        self.picker.pick(self.tomogram, self.classes)

    def peakmem_template_pick(self, workers):
        self.picker.pick(self.tomogram, self.classes)
