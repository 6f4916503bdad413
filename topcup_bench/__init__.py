"""topcup-bench: honest, reproducible benchmarks of cryo-ET particle pickers.

The public API is re-exported here; see the README for the command line.
"""

from topcup_bench._version import __version__
from topcup_bench.errors import InputError, TopcupBenchError
from topcup_bench.metrics import (
    ScoreResult,
    bootstrap_score,
    score_picks,
    threshold_sweep,
)
from topcup_bench.types import COMPETITION_CLASSES, ClassCatalogue, ParticleClass, Tomogram


def __getattr__(name: str):
    """Lazy access to the heavier entry points (datasets, pickers, workflow)."""
    lazy = {
        "open_dataset": "topcup_bench.datasets.catalog",
        "create_picker": "topcup_bench.pickers",
        "run_benchmark": "topcup_bench.workflow",
        "BenchmarkConfig": "topcup_bench.benchmark_config",
    }
    if name in lazy:
        import importlib

        return getattr(importlib.import_module(lazy[name]), name)
    raise AttributeError(f"module 'topcup_bench' has no attribute {name!r}")


__all__ = [
    "BenchmarkConfig",
    "COMPETITION_CLASSES",
    "Tomogram",
    "create_picker",
    "open_dataset",
    "run_benchmark",
    "ClassCatalogue",
    "InputError",
    "ParticleClass",
    "ScoreResult",
    "TopcupBenchError",
    "__version__",
    "bootstrap_score",
    "score_picks",
    "threshold_sweep",
]
