"""asv: peak memory and time of each built-in picker on one full-size tomogram.

The tomogram is the test run of ``TOPCUP_BENCH_FULL_SPEC`` (default
``phantom:full?runs=2&test=1``: 184 × 630 × 630 voxels), generated in
``setup_cache`` together with three random-initialised resnet34 TopCUP members
(the published architecture; time and memory do not depend on the weights).
Trainable pickers (``forest``, ``octopi``) are fitted on the training run in
``setup``; ``peakmem_pick`` is the peak resident memory of the benchmark
process, fitting included.  Two threads.  ``pytme`` and ``octopi`` are skipped
when not installed.  ``benchmarks/measure_full_size.py`` measures the same with
one process per picker and writes the table of ``docs/performance.md``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from benchmarks.bench_topcup import THREADS, SlowTiming
from benchmarks.measure_full_size import full_spec, make_checkpoints, picker_params, run_child

PICKERS = ["blob", "template", "forest", "topcup", "pytme", "octopi"]


class FullSizePick(SlowTiming):
    """``pick`` of one full-size tomogram, per picker (one call per sample)."""

    params = (PICKERS,)
    param_names = ["picker"]
    repeat = 1
    timeout = 4 * 3600

    def setup_cache(self):
        spec = full_spec()
        folder = Path(os.environ.get("TOPCUP_BENCH_CACHE") or tempfile.gettempdir())
        folder = folder / "asv-full-size"
        opened = run_child(
            {"phase": "generate", "dataset": spec}, folder, threads=THREADS, timeout_s=self.timeout
        )
        if opened["status"] != "ok":
            raise RuntimeError(f"cannot open {spec}: {opened['reason']}")
        checkpoints = make_checkpoints(
            spec, folder / "checkpoints", folder, threads=THREADS, timeout_s=self.timeout
        )
        return {
            "spec": spec,
            "run": opened["run"],
            "train_runs": opened["train_runs"],
            "checkpoints": checkpoints,
        }

    def setup(self, cache, picker):
        from topcup_bench.datasets.catalog import open_dataset
        from topcup_bench.executors import limit_threads
        from topcup_bench.pickers import create_picker
        from topcup_bench.pickers.adapters.tool_process import ToolMissingError
        from topcup_bench.pickers.protocol import TrainablePicker

        limit_threads(THREADS)
        dataset = open_dataset(cache["spec"], progress=False)
        if picker == "topcup" and not cache["checkpoints"]:
            raise NotImplementedError("TopCUP needs torch and monai")
        self.picker = create_picker(picker, picker_params(picker, THREADS, cache["checkpoints"]))
        try:
            self.picker.prepare(dataset)
        except ToolMissingError as error:  # asv skips a benchmark whose setup raises this
            raise NotImplementedError(str(error)) from None
        if isinstance(self.picker, TrainablePicker):
            self.picker.fit(dataset, cache["train_runs"])
        limit_threads(THREADS)  # again: fitting may have imported torch
        self.tomogram = dataset.tomogram(cache["run"])
        self.classes = dataset.classes

    def time_pick(self, cache, picker):
        self.picker.pick(self.tomogram, self.classes)

    def peakmem_pick(self, cache, picker):
        self.picker.pick(self.tomogram, self.classes)
