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
from topcup_bench.types import COMPETITION_CLASSES, ClassCatalogue, ParticleClass

__all__ = [
    "COMPETITION_CLASSES",
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
