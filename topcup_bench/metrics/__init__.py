"""The competition metric and what topcup-bench reports next to it.

Pure functions over picks tables (pandas DataFrames in Å, x-y-z order):

* :func:`score_picks`: the canonical score (bit-identical to the official
  Kaggle scorer) or the one-to-one variant, with per-class counts.
* :func:`threshold_sweep`: exact per-class precision/recall/F-beta curves.
* :func:`bootstrap_score`: confidence interval over experiments.
* :func:`paired_difference`, :func:`compare_pickers`: paired bootstrap interval
  and permutation p-value of score differences, Holm-adjusted significance
  groups (:func:`holm_adjust`, :func:`significance_groups`) and the minimal
  detectable difference (:func:`minimal_detectable_difference`).
* :func:`fbeta_at_multipliers`, :func:`matched_distances`,
  :func:`duplicate_summary`, :func:`class_confusion`: localisation diagnostics.
* :func:`per_run_scores`, :func:`aggregation_summary`: per-run aggregation.
"""

from topcup_bench.metrics.aggregation import aggregation_summary, per_run_scores
from topcup_bench.metrics.bootstrap import BootstrapInterval, bootstrap_score
from topcup_bench.metrics.counts import RULES, RunClassCounts
from topcup_bench.metrics.fbeta import precision_recall_fbeta
from topcup_bench.metrics.localisation import (
    DEFAULT_MULTIPLIERS,
    class_confusion,
    duplicate_summary,
    fbeta_at_multipliers,
    matched_distances,
)
from topcup_bench.metrics.paired import (
    PairComparison,
    PairedDifference,
    PickerComparison,
    compare_pickers,
    holm_adjust,
    minimal_detectable_difference,
    paired_difference,
    significance_groups,
)
from topcup_bench.metrics.score import ClassScore, RuleDifference, ScoreResult, score_picks
from topcup_bench.metrics.sweep import ThresholdCurve, best_thresholds, threshold_sweep

__all__ = [
    "RULES",
    "DEFAULT_MULTIPLIERS",
    "BootstrapInterval",
    "ClassScore",
    "PairComparison",
    "PairedDifference",
    "PickerComparison",
    "RuleDifference",
    "RunClassCounts",
    "ScoreResult",
    "ThresholdCurve",
    "aggregation_summary",
    "best_thresholds",
    "bootstrap_score",
    "class_confusion",
    "compare_pickers",
    "duplicate_summary",
    "fbeta_at_multipliers",
    "holm_adjust",
    "matched_distances",
    "minimal_detectable_difference",
    "paired_difference",
    "per_run_scores",
    "precision_recall_fbeta",
    "score_picks",
    "significance_groups",
    "threshold_sweep",
]
