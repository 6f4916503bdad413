"""asv benchmarks of the metric at the size of the Kaggle hidden test set.

485 experiments, 30 ground-truth points per class per experiment (87,300
rows) and about 582,000 picks.  ``time_naive_score`` runs the deliberately
naive reference scorer of the test suite (the official scorer's algorithm)
on the same case, so that the speed-up can be read from one asv run.
"""

from __future__ import annotations

import sys
from pathlib import Path

from topcup_bench.metrics import bootstrap_score, score_picks, threshold_sweep
from topcup_bench.testing import synthetic_scoring_case

FULL = dict(n_experiments=485, truth_per_class=30, false_positives_per_class=175, seed=0)


class CompetitionSizeMetric:
    """Score, sweep and bootstrap on a competition-size case."""

    timeout = 600
    number = 1
    repeat = 5

    def setup_cache(self):
        return synthetic_scoring_case(**FULL)

    def time_score_picks(self, case):
        score_picks(*case)

    def time_score_picks_one_to_one(self, case):
        score_picks(*case, rule="one-to-one")

    def time_threshold_sweep(self, case):
        threshold_sweep(*case)

    def time_score_with_best_thresholds(self, case):
        score_picks(*case, thresholds="best")

    def time_bootstrap_1000(self, case):
        bootstrap_score(score_picks(*case), n_resamples=1000)

    def peakmem_score_picks(self, case):
        score_picks(*case)

    def track_picks_rows(self, case):
        return len(case[1])


class NaiveReference:
    """The naive reference scorer (tests/metrics/naive_metric.py) on the same case."""

    timeout = 900
    number = 1
    repeat = 1

    def setup_cache(self):
        return synthetic_scoring_case(**FULL)

    def time_naive_score(self, case):
        tests = Path(__file__).resolve().parents[1] / "tests" / "metrics"
        sys.path.insert(0, str(tests))
        from naive_metric import naive_score

        naive_score(*case)
