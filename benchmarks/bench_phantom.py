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


class WritePhantomProject:
    """Generation plus copick write (3-level OME-Zarr pyramid, picks) of one run per size.

    Targets: ``quarter`` ≤ 3 s and ``full`` ≤ 15 s per tomogram.
    """

    params = ["tiny", "small", "quarter", "full"]
    param_names = ["size"]
    timeout = 300
    number = 1
    repeat = 3
    warmup_time = 0

    def setup(self, size):
        import tempfile

        from topcup_bench.datasets.phantom.project import PhantomProjectSpec

        self.folder = tempfile.mkdtemp(prefix="asv-phantom-")
        self.spec = PhantomProjectSpec(preset=resolve_preset(size), n_runs=1, seed=0, n_test=0)
        self.calls = 0

    def teardown(self, size):
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)

    def time_write_one_run(self, size):
        from topcup_bench.datasets.phantom.project import write_phantom_project

        self.calls += 1
        write_phantom_project(f"{self.folder}/p{self.calls}", self.spec, progress=False, workers=2)
