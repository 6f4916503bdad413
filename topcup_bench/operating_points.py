"""How each picker's operating point (per-class thresholds) is set, out of sample.

A picker scores at thresholds chosen without the runs they are applied to:

* with held-out train runs (``tune_runs``), the best thresholds on them
  (:func:`tune_operating_points`);
* otherwise (``--split all``, or no train runs to spare), by k-fold
  cross-validation over the scored runs (:func:`cross_validate_operating_points`):
  the runs are split into ``k = min(5, n_runs)`` folds in their order, each
  fold's picks are kept at the best thresholds of the *other* folds (the exact
  one-pass sweep), and the thresholded per-(run, class) counts are pooled
  over all folds into one score;
* with a single run nothing can be held out: the picker's own default
  thresholds are used, and a warning says so.

Every outcome records how its thresholds were set (``threshold_source``),
shown on the leaderboard next to the in-sample best-threshold score.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from topcup_bench.errors import InputError, TopcupBenchWarning
from topcup_bench.metrics import best_thresholds, threshold_sweep
from topcup_bench.runner import PickerOutcome
from topcup_bench.types import ClassCatalogue

__all__ = [
    "MAX_FOLDS",
    "choose_operating_points",
    "tune_operating_points",
    "cross_validate_operating_points",
    "cross_validated_thresholds",
    "fold_runs",
    "apply_run_thresholds",
    "picks_at_operating_point",
]

#: Largest number of cross-validation folds (k = min(MAX_FOLDS, number of runs)).
MAX_FOLDS = 5

#: ``threshold_source`` of pickers scored at their defaults on request.
UNTUNED = "picker default (--no-tune-thresholds)"


def choose_operating_points(
    outcomes: list[PickerOutcome],
    truth: pd.DataFrame,
    classes: ClassCatalogue,
    runs: Sequence[str],
    tune_runs: Sequence[str],
    tune_truth: pd.DataFrame | None = None,
    *,
    tune: bool = True,
) -> None:
    """Set every successful outcome's operating point and ``threshold_source``, in place.

    Parameters
    ----------
    outcomes : list of PickerOutcome
        Picks of ``runs`` (and of ``tune_runs``, which are dropped here).
    truth : pandas.DataFrame
        Ground truth of the scored ``runs`` (Å, x-y-z).
    classes : ClassCatalogue
    runs : sequence of str
        The scored runs.
    tune_runs : sequence of str
        Held-out train runs to choose thresholds on; empty: cross-validate over ``runs``.
    tune_truth : pandas.DataFrame, optional
        Ground truth of ``tune_runs`` (needed when there are any).
    tune : bool
        False keeps each picker's default thresholds (``--no-tune-thresholds``).
    """
    if tune_runs:
        if tune_truth is None:
            raise InputError("tune_truth", "the ground truth of the tuning runs is required")
        tune_operating_points(outcomes, tune_truth, classes, runs, tune_runs)
        return
    if not tune:
        for outcome in outcomes:
            outcome.threshold_source = UNTUNED
        return
    with_truth = _runs_with_truth(truth, runs)
    if len(with_truth) < 2:
        reason = (
            f"{len(with_truth)} run" + ("" if len(with_truth) == 1 else "s")
            if len(with_truth) == len(runs)
            else f"{len(with_truth)} of {len(runs)} scored runs with ground truth"
        )
        source = f"picker default: {reason}, no cross-validation possible"
        warnings.warn(
            f"thresholds cannot be chosen out of sample ({reason}, no held-out train runs): "
            "every picker scores at its default thresholds; the best-threshold score beside "
            "it is in-sample (optimistic)",
            TopcupBenchWarning,
            stacklevel=2,
        )
        for outcome in outcomes:
            outcome.threshold_source = source
        return
    cross_validate_operating_points(outcomes, truth, classes, with_truth)


def tune_operating_points(
    outcomes: list[PickerOutcome],
    tune_truth: pd.DataFrame,
    classes: ClassCatalogue,
    runs: Sequence[str],
    tune_runs: Sequence[str],
) -> None:
    """Set each picker's own thresholds to its best thresholds on the tuning runs.

    The picks of the tuning runs are then dropped, so that the leaderboard
    scores only ``runs``, at thresholds chosen without them: an out-of-sample
    operating point, unlike the in-sample "best thresholds" score beside it.
    """
    for outcome in outcomes:
        if outcome.status != "ok":
            continue
        on_train = outcome.picks["experiment"].isin(list(tune_runs)).to_numpy()
        if len(tune_truth) and on_train.any():
            curves = threshold_sweep(tune_truth, outcome.picks.loc[on_train], classes=classes)
            outcome.thresholds = {**outcome.thresholds, **best_thresholds(curves)}
            outcome.threshold_source = f"best on {len(tune_runs)} held-out train run(s)"
        outcome.picks = outcome.picks.loc[~on_train].reset_index(drop=True)
        outcome.pick_seconds = {run: s for run, s in outcome.pick_seconds.items() if run in runs}
        outcome.cached_runs = [run for run in outcome.cached_runs if run in runs]


def cross_validate_operating_points(
    outcomes: list[PickerOutcome],
    truth: pd.DataFrame,
    classes: ClassCatalogue,
    runs: Sequence[str],
    k: int | None = None,
) -> None:
    """Give every successful outcome per-run thresholds chosen by k-fold cross-validation.

    Sets ``outcome.run_thresholds`` (run → class → threshold), ``outcome.folds``
    and ``outcome.threshold_source``; the picker's own thresholds stay for the
    classes a fold's training runs cannot tune (no ground truth of that class).
    """
    for outcome in outcomes:
        if outcome.status != "ok":
            continue
        folds, by_run = cross_validated_thresholds(
            truth, outcome.picks, classes, runs, default=outcome.thresholds, k=k
        )
        outcome.run_thresholds = by_run
        outcome.folds = [list(fold) for fold in folds]
        outcome.threshold_source = f"{len(folds)}-fold cross-validation over runs"


def fold_runs(runs: Sequence[str], k: int | None = None) -> list[tuple[str, ...]]:
    """Split ``runs`` into ``k`` contiguous folds in their given order (sizes differ by ≤ 1).

    Parameters
    ----------
    runs : sequence of str
    k : int, optional
        Number of folds; default ``min(MAX_FOLDS, len(runs))``.

    Examples
    --------
    >>> fold_runs(["a", "b", "c"], 2)
    [('a', 'b'), ('c',)]
    """
    runs = list(runs)
    k = min(MAX_FOLDS, len(runs)) if k is None else int(k)
    if not 2 <= k <= len(runs):
        raise InputError("k", f"expected 2 <= folds <= {len(runs)} runs, found {k!r}")
    return [tuple(str(r) for r in fold) for fold in np.array_split(np.array(runs, object), k)]


def cross_validated_thresholds(
    truth: pd.DataFrame,
    picks: pd.DataFrame,
    classes: ClassCatalogue,
    runs: Sequence[str],
    *,
    default: Mapping[str, float] | None = None,
    k: int | None = None,
) -> tuple[list[tuple[str, ...]], dict[str, dict[str, float]]]:
    """The thresholds of every run, chosen on the other folds by the exact sweep.

    Parameters
    ----------
    truth, picks : pandas.DataFrame
        Ground truth and scored picks (Å, x-y-z; ``picks`` with ``score``).
    classes : ClassCatalogue
    runs : sequence of str
        Runs to fold, in order.
    default : mapping of str to float, optional
        Thresholds of classes a fold cannot tune (non-finite values are ignored).
    k : int, optional
        Number of folds (default ``min(5, len(runs))``).

    Returns
    -------
    folds : list of tuple of str
    thresholds : dict of str to dict of str to float
        Run → class → threshold (keep ``score >``).
    """
    folds = fold_runs(runs, k)
    base = {c: float(v) for c, v in (default or {}).items() if math.isfinite(v)}
    by_run: dict[str, dict[str, float]] = {}
    for index, held_out in enumerate(folds):
        others = [run for j, fold in enumerate(folds) if j != index for run in fold]
        chosen = dict(base)
        fold_truth = truth.loc[truth["experiment"].isin(others)]
        if len(fold_truth):
            fold_picks = picks.loc[picks["experiment"].isin(others)]
            chosen.update(best_thresholds(threshold_sweep(fold_truth, fold_picks, classes=classes)))
        by_run.update({run: dict(chosen) for run in held_out})
    return folds, by_run


def apply_run_thresholds(
    picks: pd.DataFrame,
    by_run: Mapping[str, Mapping[str, float]],
    default: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Keep the picks with ``score >`` the threshold of their run and class.

    Runs missing from ``by_run`` use ``default``; classes without a threshold are kept.

    Parameters
    ----------
    picks : pandas.DataFrame
        Picks table with ``score``.
    by_run : mapping of str to mapping of str to float
    default : mapping of str to float, optional

    Returns
    -------
    pandas.DataFrame
        The kept rows (index reset).
    """
    limits = np.full(len(picks), -np.inf)
    for run, rows in picks.groupby("experiment", sort=False).indices.items():
        mapping = by_run.get(run, default or {})
        types = picks["particle_type"].to_numpy()[rows]
        limits[rows] = [float(mapping.get(t, -np.inf)) for t in types]
    keep = picks["score"].to_numpy(dtype=float) > limits
    return picks.loc[keep].reset_index(drop=True)


def picks_at_operating_point(picks: pd.DataFrame, entry: Mapping[str, Any]) -> pd.DataFrame:
    """The picks a results entry was scored with: per-run (cross-validated) or own thresholds."""
    own = {k: v for k, v in (entry.get("thresholds") or {}).items() if v is not None}
    by_run = entry.get("thresholds_by_run") or {}
    if not own and not by_run:
        return picks
    return apply_run_thresholds(picks, by_run, own)


def _runs_with_truth(truth: pd.DataFrame, runs: Sequence[str]) -> list[str]:
    present = set(truth["experiment"]) if len(truth) else set()
    return [run for run in runs if run in present]
