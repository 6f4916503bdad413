"""Localisation diagnostics beyond the canonical score.

* :func:`fbeta_at_multipliers`: score and per-class F-beta at several match radii.
* :func:`matched_distances`: distance from each covered ground-truth point to
  its nearest prediction within the radius (Å and fraction of R).
* :func:`duplicate_summary`: ground truth covered more than once, predictions
  covering two or more ground-truth points.
* :func:`class_confusion`: predictions of class A within the radius of
  ground truth of class B, for every (A, B).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from topcup_bench.metrics.grouping import GroupedPicks, group_picks
from topcup_bench.metrics.matching import Pairs, find_pairs
from topcup_bench.metrics.score import score_picks
from topcup_bench.types import ClassCatalogue, ParticleClass

__all__ = [
    "DEFAULT_MULTIPLIERS",
    "fbeta_at_multipliers",
    "matched_distances",
    "duplicate_summary",
    "class_confusion",
]

#: Match radii of the usual evaluators (× R): 0.5 Kaggle, 0.8 octopi, 1.0 "inside the particle".
DEFAULT_MULTIPLIERS = (0.25, 0.5, 0.8, 1.0)

Classes = ClassCatalogue | list[ParticleClass] | None


def fbeta_at_multipliers(
    truth: pd.DataFrame,
    picks: pd.DataFrame,
    *,
    multipliers: Sequence[float] = DEFAULT_MULTIPLIERS,
    classes: Classes = None,
    beta: float = 4.0,
) -> pd.DataFrame:
    """Score and per-class F-beta at several distance multipliers.

    Returns
    -------
    pandas.DataFrame
        Index: the multipliers; columns: ``score`` then one F-beta column per class.
    """
    rows = {}
    for multiplier in multipliers:
        result = score_picks(
            truth, picks, classes=classes, beta=beta, distance_multiplier=multiplier
        )
        rows[float(multiplier)] = {
            "score": result.score,
            **{name: c.fbeta for name, c in result.classes.items()},
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "distance_multiplier"
    return frame


def matched_distances(
    truth: pd.DataFrame,
    picks: pd.DataFrame,
    *,
    classes: Classes = None,
    distance_multiplier: float = 0.5,
) -> pd.DataFrame:
    """Distance of every covered ground-truth point to its nearest prediction within r.

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment, particle_type, distance_angstrom,
        fraction_of_radius``; one row per covered ground-truth point.
    """
    grouped, pairs = _grouped_pairs(truth, picks, classes, distance_multiplier)
    nearest = np.full(len(grouped.gt_xyz), np.inf)
    np.minimum.at(nearest, pairs.gt, pairs.d2)
    covered = np.flatnonzero(np.isfinite(nearest))
    experiment, particle_type = _labels(grouped, grouped.gt_group[covered])
    distance = np.sqrt(nearest[covered])
    radius = grouped.radius_angstrom[grouped.gt_group[covered] % len(grouped.classes)]
    return pd.DataFrame(
        {
            "experiment": experiment,
            "particle_type": particle_type,
            "distance_angstrom": distance,
            "fraction_of_radius": distance / radius,
        }
    )


def duplicate_summary(
    truth: pd.DataFrame,
    picks: pd.DataFrame,
    *,
    classes: Classes = None,
    distance_multiplier: float = 0.5,
) -> pd.DataFrame:
    """Per-class counts of multiple coverage.

    Returns
    -------
    pandas.DataFrame
        Index: ground-truth classes; columns ``truth_covered_more_than_once``
        (ground-truth points with two or more predictions within r: each extra
        prediction is an FP) and ``picks_covering_several`` (predictions within
        r of two or more ground-truth points: the double-cover case where the
        competition and one-to-one rules differ).
    """
    grouped, pairs = _grouped_pairs(truth, picks, classes, distance_multiplier)
    n_classes = len(grouped.classes)
    gt_hits = np.bincount(pairs.gt, minlength=len(grouped.gt_xyz))
    pred_hits = np.bincount(pairs.pred, minlength=len(grouped.pred_xyz))
    gt_class = grouped.gt_group % n_classes
    pred_class = grouped.pred_group % n_classes
    return pd.DataFrame(
        {
            "truth_covered_more_than_once": np.bincount(gt_class[gt_hits > 1], minlength=n_classes),
            "picks_covering_several": np.bincount(pred_class[pred_hits > 1], minlength=n_classes),
        },
        index=pd.Index(grouped.classes, name="particle_type"),
    )


def class_confusion(
    truth: pd.DataFrame,
    picks: pd.DataFrame,
    *,
    classes: Classes = None,
    distance_multiplier: float = 0.5,
) -> pd.DataFrame:
    """Cross-class confusion: predictions of class A within r_B of ground truth of class B.

    Returns
    -------
    pandas.DataFrame
        Rows: predicted class A; columns: ground-truth class B (catalogue order);
        entry: number of A-predictions within ``distance_multiplier * R_B`` of at
        least one B-point of the same experiment.  The diagonal is the number of
        predictions that cover a same-class point.
    """
    catalogue = ClassCatalogue.coerce(classes)
    names = list(catalogue.names)
    matrix = pd.DataFrame(
        0, index=pd.Index(names, name="predicted"), columns=pd.Index(names, name="truth")
    )
    for truth_class in names:
        truth_of_class = truth.loc[truth["particle_type"] == truth_class]
        if truth_of_class.empty:
            continue
        relabelled = picks.assign(particle_type=truth_class)
        grouped, pairs = _grouped_pairs(truth_of_class, relabelled, catalogue, distance_multiplier)
        hit_rows = np.unique(grouped.pred_row[pairs.pred])
        predicted = picks["particle_type"].to_numpy()[hit_rows]
        counts = pd.Series(predicted).value_counts()
        for predicted_class, n in counts.items():
            if predicted_class in matrix.index:
                matrix.loc[predicted_class, truth_class] = int(n)
    return matrix


def _grouped_pairs(
    truth: pd.DataFrame, picks: pd.DataFrame, classes: Classes, distance_multiplier: float
) -> tuple[GroupedPicks, Pairs]:
    grouped = group_picks(truth, picks, ClassCatalogue.coerce(classes))
    return grouped, find_pairs(grouped, grouped.match_radius_sq(distance_multiplier))


def _labels(grouped: GroupedPicks, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n_classes = len(grouped.classes)
    experiments = np.array(grouped.experiments, dtype=object)[groups // n_classes]
    particle_types = np.array(grouped.classes, dtype=object)[groups % n_classes]
    return experiments, particle_types
