"""asv benchmarks of the phantom generator (one ``denoised`` tomogram per run).

Targets (§2.9 of the phantom specification, two CPU cores): ``tiny`` under 0.2 s;
``quarter`` within 3 s and ``full`` within 15 s including the copick write
(not measured here).
"""

from __future__ import annotations

from topcup_bench.datasets.phantom import generate_run, resolve_preset


class GeneratePhantom:
    """Build, image and return one run of each size preset (``kaggle-like``)."""

    params = ["tiny", "small", "quarter", "full"]
    param_names = ["size"]
    timeout = 300
    number = 1
    repeat = 3
    warmup_time = 0

    def setup(self, size):
        self.preset = resolve_preset(size)

    def time_generate_run(self, size):
        generate_run(self.preset, 0, flavours=("denoised",), workers=2)

    def peakmem_generate_run(self, size):
        generate_run(self.preset, 0, flavours=("denoised",), workers=2)


class GeneratePhantomFlavours:
    """Both flavours (``denoised`` and ``wbp``) of a ``small`` run."""

    timeout = 120
    number = 1
    repeat = 3

    def setup(self):
        self.preset = resolve_preset("small")

    def time_generate_two_flavours(self):
        generate_run(self.preset, 0, flavours=("denoised", "wbp"), workers=2)
