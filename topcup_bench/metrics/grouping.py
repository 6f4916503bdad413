"""Validate ground truth and picks once and sort them into (experiment, class) groups.

The official scorer re-filters both whole tables for every (experiment,
particle type) pair.  Here the keys are factorised once and both tables are
sorted by group, so that every later step (matching, counting, sweeps)
slices contiguous arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from topcup_bench.errors import DuplicateTruthError, SchemaError
from topcup_bench.types import (
    COORDINATE_COLUMNS,
    SCORE_COLUMN,
    ClassCatalogue,
    check_particle_types,
    describe_rows,
    validate_picks_table,
)

__all__ = ["GroupedPicks", "group_picks"]


@dataclass(frozen=True, eq=False)
class GroupedPicks:
    """Ground truth and predictions sorted into (experiment, class) groups.

    Group ``g = e * n_classes + c`` holds experiment ``experiments[e]`` and
    class ``classes[c]``.  Rows of each table are sorted by group; the rows of
    group ``g`` are ``gt_offsets[g]:gt_offsets[g + 1]`` (and likewise for
    predictions).

    Attributes
    ----------
    experiments : tuple of str
        Experiments of the ground truth, in order of first appearance.
    classes : tuple of str
        Particle types present in the ground truth, in order of first appearance
        (the official scorer's summation order).
    radius_angstrom : ndarray, shape (n_classes,)
        Particle radius R of each class, Å.
    gt_xyz, pred_xyz : ndarray, shapes (N_gt, 3) and (N_pred, 3)
        Coordinates in Å, x-y-z, float64, sorted by group.
    pred_score : ndarray, shape (N_pred,), or None
        Prediction confidences, when the picks have a ``score`` column.
    gt_offsets, pred_offsets : ndarray, shape (n_groups + 1,)
        Group boundaries.
    gt_row, pred_row : ndarray
        Row of each sorted point in the validated input table.
    dropped_rows : int
        Prediction rows of experiments absent from the ground truth (dropped).
    ignored_rows : int
        Prediction rows of known classes that are absent from the ground truth.
    deduplicated_truth_rows : int
        Ground-truth rows dropped as duplicates (only with ``dedupe_truth``).
    """

    experiments: tuple[str, ...]
    classes: tuple[str, ...]
    radius_angstrom: np.ndarray
    gt_xyz: np.ndarray
    gt_offsets: np.ndarray
    gt_row: np.ndarray
    pred_xyz: np.ndarray
    pred_score: np.ndarray | None
    pred_offsets: np.ndarray
    pred_row: np.ndarray
    dropped_rows: int
    ignored_rows: int
    deduplicated_truth_rows: int

    @property
    def n_groups(self) -> int:
        """Number of (experiment, class) groups."""
        return len(self.experiments) * len(self.classes)

    @property
    def gt_group(self) -> np.ndarray:
        """Group of every ground-truth point, shape (N_gt,)."""
        return np.repeat(np.arange(self.n_groups), np.diff(self.gt_offsets))

    @property
    def pred_group(self) -> np.ndarray:
        """Group of every prediction, shape (N_pred,)."""
        return np.repeat(np.arange(self.n_groups), np.diff(self.pred_offsets))

    def match_radius_sq(self, distance_multiplier: float) -> np.ndarray:
        """Squared match radius ``(multiplier * R) ** 2`` per class, Å², shape (n_classes,).

        Computed as the official scorer does: ``r = R * multiplier`` in float64,
        then ``r * r``.
        """
        radius = self.radius_angstrom * float(distance_multiplier)
        return radius * radius

    def keep_predictions(self, keep: np.ndarray) -> GroupedPicks:
        """Return a copy holding only the predictions where ``keep`` (shape (N_pred,)) is True."""
        counts = np.bincount(self.pred_group[keep], minlength=self.n_groups)
        return replace(
            self,
            pred_xyz=self.pred_xyz[keep],
            pred_score=None if self.pred_score is None else self.pred_score[keep],
            pred_row=self.pred_row[keep],
            pred_offsets=_offsets(counts),
        )


def group_picks(
    truth: pd.DataFrame,
    picks: pd.DataFrame,
    classes: ClassCatalogue,
    *,
    dedupe_truth: bool = False,
    truth_source: str = "truth",
    picks_source: str = "picks",
) -> GroupedPicks:
    """Validate both tables (metric.md §3 steps 1–4) and group them.

    Parameters
    ----------
    truth, picks : pandas.DataFrame
        Ground truth and predictions (picks-table schema, Å, x-y-z).
    classes : ClassCatalogue
        Scored classes; every ground-truth type and every kept prediction type
        must belong to it.
    dedupe_truth : bool
        Drop ground-truth rows duplicated on (experiment, x, y, z), keeping the
        first, instead of raising as the official scorer does.
    truth_source, picks_source : str
        Names used in error messages.

    Returns
    -------
    GroupedPicks

    Raises
    ------
    SchemaError, NonFiniteCoordinatesError, UnknownParticleError, EmptyInputError
        Invalid tables.
    DuplicateTruthError
        Repeated ground-truth rows and ``dedupe_truth`` is False.
    """
    for role, table in (("truth", truth), ("picks", picks)):
        if not isinstance(table, pd.DataFrame):
            raise TypeError(
                f"{role} must be a pandas DataFrame (a picks table: experiment, particle_type, "
                f"x, y, z in Å; read files with topcup_bench.datasets.read_picks), "
                f"got {type(table).__name__}"
            )
    truth_source = truth.attrs.get("source", truth_source)
    picks_source = picks.attrs.get("source", picks_source)
    truth = validate_picks_table(truth, source=truth_source, classes=classes, allow_empty=False)
    picks = validate_picks_table(picks, source=picks_source)
    truth, n_deduplicated = _check_truth_duplicates(truth, truth_source, dedupe_truth)

    experiment_codes, pred_experiment, experiments = _joint_codes(truth, picks, "experiment")
    class_codes, pred_class, scored_classes = _joint_codes(truth, picks, "particle_type")
    in_split = pred_experiment >= 0
    _check_kept_types(picks, in_split, classes, picks_source)
    pred_class = pred_class[in_split]
    scored = pred_class >= 0
    n_classes = len(scored_classes)

    gt_key = experiment_codes.astype(np.int64) * n_classes + class_codes
    pred_key = pred_experiment[in_split][scored].astype(np.int64) * n_classes + pred_class[scored]
    n_groups = len(experiments) * n_classes
    gt_order = _group_order(gt_key, n_groups)
    pred_rows = np.flatnonzero(in_split)[scored][_group_order(pred_key, n_groups)]
    has_score = SCORE_COLUMN in picks.columns
    return GroupedPicks(
        experiments=experiments,
        classes=scored_classes,
        radius_angstrom=np.array([classes[c].radius_angstrom for c in scored_classes], float),
        gt_xyz=np.take(truth[list(COORDINATE_COLUMNS)].to_numpy(np.float64), gt_order, axis=0),
        gt_offsets=_offsets(np.bincount(gt_key, minlength=n_groups)),
        gt_row=gt_order,
        pred_xyz=np.take(picks[list(COORDINATE_COLUMNS)].to_numpy(np.float64), pred_rows, axis=0),
        pred_score=picks[SCORE_COLUMN].to_numpy(np.float64)[pred_rows] if has_score else None,
        pred_offsets=_offsets(np.bincount(pred_key, minlength=n_groups)),
        pred_row=pred_rows,
        dropped_rows=int((~in_split).sum()),
        ignored_rows=int((~scored).sum()),
        deduplicated_truth_rows=n_deduplicated,
    )


def require_scores(grouped: GroupedPicks, purpose: str) -> np.ndarray:
    """Return the prediction confidences or raise a :class:`SchemaError` naming ``purpose``."""
    if grouped.pred_score is None:
        raise SchemaError(
            "picks",
            f"{purpose} needs a confidence column {SCORE_COLUMN!r} (or 'conf' in CSV files); "
            "the picks have none",
        )
    return grouped.pred_score


def _check_truth_duplicates(
    truth: pd.DataFrame, source: str, dedupe: bool
) -> tuple[pd.DataFrame, int]:
    duplicated = truth.duplicated(subset=["experiment", *COORDINATE_COLUMNS]).to_numpy()
    if not duplicated.any():
        return truth, 0
    if not dedupe:
        raise DuplicateTruthError(
            source,
            f"ground truth repeats (experiment, x, y, z) in {describe_rows(truth, duplicated)}, "
            "which the official scorer rejects; pass --dedupe-truth (dedupe_truth=True from "
            "Python) to keep the first",
        )
    return truth.loc[~duplicated], int(duplicated.sum())


def _check_kept_types(
    picks: pd.DataFrame, in_split: np.ndarray, classes: ClassCatalogue, source: str
) -> None:
    """Raise for unknown particle types among the kept (in-split) predictions."""
    distinct = pd.unique(picks["particle_type"])
    if all(name in classes for name in distinct):
        return
    check_particle_types(picks.loc[in_split], classes, source=source)


def _group_order(key: np.ndarray, n_groups: int) -> np.ndarray:
    """Stable order of rows by group; 16-bit keys let numpy use a linear-time radix sort."""
    if n_groups <= np.iinfo(np.int16).max:
        key = key.astype(np.int16)
    return np.argsort(key, kind="stable")


def _joint_codes(
    truth: pd.DataFrame, picks: pd.DataFrame, column: str
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Factorise ``column`` of both tables in one pass.

    Returns the truth codes, the picks codes (-1 for values absent from the
    truth) and the truth's distinct values in order of first appearance.
    """
    codes, uniques = pd.factorize(pd.concat([truth[column], picks[column]], ignore_index=True))
    truth_codes = codes[: len(truth)]
    n_truth_values = int(truth_codes.max()) + 1 if len(truth_codes) else 0
    pick_codes = codes[len(truth) :].astype(np.int64)
    pick_codes[pick_codes >= n_truth_values] = -1
    return truth_codes.astype(np.int64), pick_codes, tuple(str(u) for u in uniques[:n_truth_values])


def _offsets(counts: np.ndarray) -> np.ndarray:
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets
