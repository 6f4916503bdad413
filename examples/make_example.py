"""Regenerate the bundled example: ``python examples/make_example.py``.

Writes ``examples/truth.csv`` and ``examples/picks.csv`` (Kaggle CSV format, Å):
three runs, the six competition classes, picks with jittered true positives,
duplicates, false positives and a confidence column.
"""

from pathlib import Path

from topcup_bench.datasets import write_kaggle_csv
from topcup_bench.testing import synthetic_scoring_case

HERE = Path(__file__).parent

truth, picks = synthetic_scoring_case(
    n_experiments=3,
    truth_per_class=12,
    false_positives_per_class=6,
    recall=0.85,
    jitter_fraction=0.12,
    seed=2024,
)
write_kaggle_csv(truth, HERE / "truth.csv", overwrite=True)
write_kaggle_csv(picks, HERE / "picks.csv", overwrite=True)
