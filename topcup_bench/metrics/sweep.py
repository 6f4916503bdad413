"""Exact one-pass confidence-threshold sweep per class (metric.md §5).

For each ground-truth point let ``best`` be the highest confidence of a
same-class prediction within the match radius (``-inf`` if none).  Keeping
predictions with ``score > tau`` then gives, under the competition rule,

* ``TP(tau) = #{ground truth: best > tau}``,
* ``FP(tau) = #{predictions: score > tau} - TP(tau)``,
* ``FN(tau) = n_truth - TP(tau)``,

so two sorted arrays and :func:`numpy.searchsorted` give the whole
precision/recall/F-beta curve, identical to re-scoring at every threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from topcup_bench.metrics.fbeta import precision_recall_fbeta_arrays
from topcup_bench.metrics.grouping import GroupedPicks, group_picks, require_scores
from topcup_bench.metrics.matching import Pairs, find_pairs
from topcup_bench.types import ClassCatalogue, ParticleClass

__all__ = ["ThresholdCurve", "threshold_sweep", "sweep_grouped", "best_thresholds"]


@dataclass(frozen=True, eq=False)
class ThresholdCurve:
    """Precision, recall and F-beta of one class against the confidence threshold.

    A threshold ``tau`` keeps the predictions with ``score > tau``.  The
    thresholds are the lowest one that keeps every prediction followed by every
    distinct confidence, ascending; between two of them nothing changes.

    Attributes
    ----------
    particle_type : str
    thresholds : ndarray of float64, shape (K,)
    tp, fp, fn, n_kept : ndarray of int64, shape (K,)
    precision, recall, fbeta : ndarray of float64, shape (K,)
    """

    particle_type: str
    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    n_kept: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    fbeta: np.ndarray

    @property
    def best_index(self) -> int:
        """Index of the highest F-beta (the lowest threshold among ties)."""
        return int(np.argmax(self.fbeta))

    @property
    def best_threshold(self) -> float:
        """Threshold with the highest F-beta; keep predictions with ``score >`` this."""
        return float(self.thresholds[self.best_index])

    @property
    def best_fbeta(self) -> float:
        """The highest F-beta on the curve."""
        return float(self.fbeta[self.best_index])

    def at(self, threshold: float) -> dict[str, float]:
        """Counts and rates when keeping ``score > threshold`` (any threshold, not only knots)."""
        index = int(np.searchsorted(self.thresholds, threshold, side="right")) - 1
        index = max(index, 0)
        return {
            name: getattr(self, name)[index].item()
            for name in ("tp", "fp", "fn", "n_kept", "precision", "recall", "fbeta")
        }

    def to_frame(self) -> pd.DataFrame:
        """The curve as a table with one row per threshold."""
        return pd.DataFrame(
            {
                "particle_type": self.particle_type,
                "threshold": self.thresholds,
                "tp": self.tp,
                "fp": self.fp,
                "fn": self.fn,
                "n_kept": self.n_kept,
                "precision": self.precision,
                "recall": self.recall,
                "fbeta": self.fbeta,
            }
        )


def threshold_sweep(
    truth: pd.DataFrame,
    picks: pd.DataFrame,
    *,
    classes: ClassCatalogue | list[ParticleClass] | None = None,
    beta: float = 4.0,
    distance_multiplier: float = 0.5,
    dedupe_truth: bool = False,
) -> dict[str, ThresholdCurve]:
    """Exact threshold sweep of every ground-truth class under the competition rule.

    Parameters
    ----------
    truth, picks : pandas.DataFrame
        Picks tables (Å, x-y-z); ``picks`` needs a ``score`` column.
    classes : ClassCatalogue, optional
        Scored classes (default: the competition's six).
    beta, distance_multiplier : float
        Metric parameters.
    dedupe_truth : bool
        Drop duplicated ground-truth rows instead of raising.

    Returns
    -------
    dict of str to ThresholdCurve
        One curve per class present in the ground truth, in catalogue order.
    """
    catalogue = ClassCatalogue.coerce(classes)
    grouped = group_picks(truth, picks, catalogue, dedupe_truth=dedupe_truth)
    pairs = find_pairs(grouped, grouped.match_radius_sq(distance_multiplier))
    curves = sweep_grouped(grouped, pairs, beta)
    return {name: curves[name] for name in catalogue.names if name in curves}


def sweep_grouped(grouped: GroupedPicks, pairs: Pairs, beta: float) -> dict[str, ThresholdCurve]:
    """Threshold curves from already grouped tables and their within-radius pairs."""
    score = require_scores(grouped, "a threshold sweep")
    best = np.full(len(grouped.gt_xyz), -np.inf)
    np.maximum.at(best, pairs.gt, score[pairs.pred])
    n_classes = len(grouped.classes)
    gt_class = grouped.gt_group % n_classes
    pred_class = grouped.pred_group % n_classes
    return {
        name: _curve(name, best[gt_class == c], score[pred_class == c], beta)
        for c, name in enumerate(grouped.classes)
    }


def best_thresholds(curves: Mapping[str, ThresholdCurve]) -> dict[str, float]:
    """The F-beta-maximising threshold of every class."""
    return {name: curve.best_threshold for name, curve in curves.items()}


def _curve(name: str, best: np.ndarray, score: np.ndarray, beta: float) -> ThresholdCurve:
    distinct = np.unique(score)
    below_all = np.nextafter(distinct[0], -np.inf) if len(distinct) else 0.0
    thresholds = np.concatenate(([below_all], distinct))
    n_truth = len(best)
    tp = n_truth - np.searchsorted(np.sort(best), thresholds, side="right")
    n_kept = len(score) - np.searchsorted(np.sort(score), thresholds, side="right")
    tp, n_kept = tp.astype(np.int64), n_kept.astype(np.int64)
    fp, fn = n_kept - tp, n_truth - tp
    precision, recall, fbeta = precision_recall_fbeta_arrays(tp, fp, fn, beta)
    return ThresholdCurve(name, thresholds, tp, fp, fn, n_kept, precision, recall, fbeta)
