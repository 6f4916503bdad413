"""The canonical score: :func:`score_picks` and its frozen result.

``score_picks`` reproduces the official scorer of the CZII Kaggle competition
(metric.md §3–§4), including the double-cover case and the squared-distance
boundary, and reports the one-to-one matching next to it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from topcup_bench.errors import InputError
from topcup_bench.metrics.counts import RULES, RunClassCounts, count_matches
from topcup_bench.metrics.fbeta import precision_recall_fbeta, weighted_score
from topcup_bench.metrics.grouping import GroupedPicks, group_picks, require_scores
from topcup_bench.metrics.matching import (
    coverage_true_positives,
    find_pairs,
    one_to_one_true_positives,
)
from topcup_bench.metrics.sweep import best_thresholds, sweep_grouped
from topcup_bench.types import ClassCatalogue, ParticleClass

__all__ = ["ClassScore", "RuleDifference", "ScoreResult", "score_picks"]

Thresholds = Mapping[str, float] | str | None


@dataclass(frozen=True)
class ClassScore:
    """Pooled counts and rates of one class.

    ``scored`` is False for a class absent from the ground truth: it has no
    counter, contributes 0 to the score and its predictions are ignored.
    """

    name: str
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    fbeta: float
    weight: float
    radius_angstrom: float
    scored: bool

    @property
    def n_truth(self) -> int:
        """Number of ground-truth points of the class."""
        return self.tp + self.fn

    @property
    def n_picks(self) -> int:
        """Number of predictions that took part in scoring."""
        return self.tp + self.fp


@dataclass(frozen=True)
class RuleDifference:
    """An (experiment, class) group where coverage and one-to-one counts differ."""

    experiment: str
    particle_type: str
    tp_competition: int
    tp_one_to_one: int


@dataclass(frozen=True, eq=False)
class ScoreResult:
    """Result of :func:`score_picks`.

    Attributes
    ----------
    score : float
        Weighted F-beta over all classes (the leaderboard number).
    rule, beta, distance_multiplier :
        The metric parameters used.
    classes : dict of str to ClassScore
        Every catalogue class, in catalogue order.
    counts : RunClassCounts
        Additive per-(experiment, class) counts under ``rule``.
    rule_differences : tuple of RuleDifference
        Groups where the competition and one-to-one rules give different TP.
    dropped_rows : int
        Prediction rows of experiments absent from the ground truth.
    ignored_rows : int
        Prediction rows of classes absent from the ground truth.
    deduplicated_truth_rows : int
        Ground-truth duplicates dropped on request.
    thresholds : dict of str to float or None
        Per-class thresholds applied (keep ``score > threshold``), if any.
    """

    score: float
    rule: str
    beta: float
    distance_multiplier: float
    classes: dict[str, ClassScore]
    counts: RunClassCounts
    rule_differences: tuple[RuleDifference, ...]
    dropped_rows: int
    ignored_rows: int
    deduplicated_truth_rows: int
    thresholds: dict[str, float] | None = None
    total_weight: float = field(default=7.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (see ``docs/metric.md`` of the project for the keys)."""
        return {
            "score": self.score,
            "rule": self.rule,
            "beta": self.beta,
            "distance_multiplier": self.distance_multiplier,
            "classes": {
                name: {
                    "tp": c.tp,
                    "fp": c.fp,
                    "fn": c.fn,
                    "precision": c.precision,
                    "recall": c.recall,
                    "f1": c.f1,
                    "fbeta": c.fbeta,
                    "weight": c.weight,
                    "radius_angstrom": c.radius_angstrom,
                    "scored": c.scored,
                }
                for name, c in self.classes.items()
            },
            "dropped_rows": self.dropped_rows,
            "ignored_rows": self.ignored_rows,
            "deduplicated_truth_rows": self.deduplicated_truth_rows,
            "rule_differences": [vars(d).copy() for d in self.rule_differences],
            "thresholds": None if self.thresholds is None else dict(self.thresholds),
            "total_weight": self.total_weight,
        }

    def to_frame(self) -> pd.DataFrame:
        """Per-class table: one row per class, in catalogue order."""
        return pd.DataFrame(
            [{**vars(c), "n_truth": c.n_truth, "n_picks": c.n_picks} for c in self.classes.values()]
        ).set_index("name")


def score_picks(
    truth: pd.DataFrame,
    picks: pd.DataFrame,
    *,
    classes: ClassCatalogue | list[ParticleClass] | None = None,
    beta: float = 4.0,
    distance_multiplier: float = 0.5,
    rule: str = "competition",
    thresholds: Thresholds = None,
    dedupe_truth: bool = False,
) -> ScoreResult:
    """Score picks against ground truth with the competition metric.

    Parameters
    ----------
    truth : pandas.DataFrame
        Ground truth ("solution"): ``experiment, particle_type, x, y, z`` in Å.
    picks : pandas.DataFrame
        Predictions ("submission"), same schema; ``score`` needed for thresholds.
    classes : ClassCatalogue or list of ParticleClass, optional
        Classes with radius and weight (default: the competition's six).
    beta : float
        F-beta parameter (4).
    distance_multiplier : float
        Match radius as a fraction of the particle radius (0.5).
    rule : {"competition", "one-to-one"}
        Coverage counting as the official scorer, or maximum bipartite matching.
    thresholds : mapping of str to float, "best" or None
        Keep only predictions with ``score > threshold`` of their class before
        scoring; ``"best"`` uses the F-beta-maximising threshold of each class
        (an optimistic, in-sample operating point).  Classes missing from the
        mapping are not filtered.
    dedupe_truth : bool
        Drop ground-truth rows repeated on (experiment, x, y, z) instead of
        raising as the official scorer does.

    Returns
    -------
    ScoreResult

    Examples
    --------
    >>> truth = pd.DataFrame({"experiment": ["TS_1"], "particle_type": ["ribosome"],
    ...                       "x": [100.0], "y": [100.0], "z": [100.0]})
    >>> score_picks(truth, truth).classes["ribosome"].fbeta
    1.0
    """
    if not isinstance(rule, str) or rule not in RULES:
        raise InputError("--rule (rule)", f"expected one of {list(RULES)}, found {rule!r}")
    for flag, name, value in (
        ("--distance-multiplier", "distance_multiplier", distance_multiplier),
        ("--beta", "beta", beta),
    ):
        number = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not (number and math.isfinite(value) and value > 0):
            raise InputError(
                f"{flag} ({name})", f"expected a positive finite number, found {value!r}"
            )
    catalogue = ClassCatalogue.coerce(classes)
    grouped = group_picks(truth, picks, catalogue, dedupe_truth=dedupe_truth)
    radius_sq = grouped.match_radius_sq(distance_multiplier)
    pairs = find_pairs(grouped, radius_sq)
    applied = None
    if thresholds is not None:
        applied = _resolve_thresholds(thresholds, grouped, pairs, catalogue, beta)
        grouped = grouped.keep_predictions(_above_thresholds(grouped, applied))
        pairs = find_pairs(grouped, radius_sq)
    counts = count_matches(grouped, pairs, rule)
    return _build_result(
        grouped,
        counts,
        _rule_differences(grouped, pairs),
        catalogue,
        rule,
        beta,
        distance_multiplier,
        applied,
    )


def _resolve_thresholds(
    thresholds: Mapping[str, float] | str,
    grouped: GroupedPicks,
    pairs,
    catalogue: ClassCatalogue,
    beta: float,
) -> dict[str, float]:
    if isinstance(thresholds, str):
        if thresholds != "best":
            raise InputError("thresholds", f"expected a mapping or 'best', found {thresholds!r}")
        return best_thresholds(sweep_grouped(grouped, pairs, beta))
    if not isinstance(thresholds, Mapping):
        raise InputError(
            "thresholds (--thresholds)",
            f"expected a mapping {{class: threshold}} or 'best', found {type(thresholds).__name__}",
        )
    resolved: dict[str, float] = {}
    for name, value in thresholds.items():
        catalogue[name]  # unknown names raise with a did-you-mean hint
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InputError(
                "thresholds", f"threshold of {name!r} must be a finite number, found {value!r}"
            )
        resolved[name] = float(value)
    return resolved


def _above_thresholds(grouped: GroupedPicks, thresholds: Mapping[str, float]) -> np.ndarray:
    score = require_scores(grouped, "applying per-class thresholds")
    per_class = np.array([thresholds.get(c, -np.inf) for c in grouped.classes])
    pred_class = grouped.pred_group % max(len(grouped.classes), 1)
    return score > per_class[pred_class]


def _rule_differences(grouped: GroupedPicks, pairs) -> tuple[RuleDifference, ...]:
    coverage = coverage_true_positives(grouped, pairs)
    matching = one_to_one_true_positives(grouped, pairs)
    n_classes = len(grouped.classes)
    return tuple(
        RuleDifference(
            grouped.experiments[g // n_classes],
            grouped.classes[g % n_classes],
            int(coverage[g]),
            int(matching[g]),
        )
        for g in np.flatnonzero(coverage != matching)
    )


def _build_result(
    grouped: GroupedPicks,
    counts: RunClassCounts,
    rule_differences: tuple[RuleDifference, ...],
    catalogue: ClassCatalogue,
    rule: str,
    beta: float,
    distance_multiplier: float,
    thresholds: dict[str, float] | None,
) -> ScoreResult:
    pooled = counts.pooled()
    class_scores: dict[str, ClassScore] = {}
    for particle_class in catalogue:
        tp, fp, fn = pooled.get(particle_class.name, (0, 0, 0))
        precision, recall, fbeta = precision_recall_fbeta(tp, fp, fn, beta)
        class_scores[particle_class.name] = ClassScore(
            name=particle_class.name,
            tp=tp,
            fp=fp,
            fn=fn,
            precision=precision,
            recall=recall,
            f1=precision_recall_fbeta(tp, fp, fn, 1.0)[2],
            fbeta=fbeta,
            weight=particle_class.weight,
            radius_angstrom=particle_class.radius_angstrom,
            scored=particle_class.name in pooled,
        )
    score = weighted_score(
        ((class_scores[c].fbeta, class_scores[c].weight) for c in grouped.classes),
        catalogue.total_weight,
    )
    return ScoreResult(
        score=score,
        rule=rule,
        beta=float(beta),
        distance_multiplier=float(distance_multiplier),
        classes=class_scores,
        counts=counts,
        rule_differences=rule_differences,
        dropped_rows=grouped.dropped_rows,
        ignored_rows=grouped.ignored_rows,
        deduplicated_truth_rows=grouped.deduplicated_truth_rows,
        thresholds=thresholds,
        total_weight=catalogue.total_weight,
    )
