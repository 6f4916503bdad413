"""Additive true-positive / false-positive / false-negative counts per (run, class).

Counts add; scores derive.  A :class:`RunClassCounts` holds integer counts for
every (experiment, class) pair; pooled (micro) counts, per-run scores and
bootstrap resamples are all computed from it, never by averaging scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from topcup_bench.errors import InputError
from topcup_bench.metrics.grouping import GroupedPicks
from topcup_bench.metrics.matching import (
    Pairs,
    coverage_true_positives,
    one_to_one_true_positives,
)

__all__ = ["RunClassCounts", "count_matches", "RULES"]

#: Matching rules: ``"competition"`` (coverage, the official scorer) and ``"one-to-one"``.
RULES = ("competition", "one-to-one")


@dataclass(frozen=True, eq=False)
class RunClassCounts:
    """Integer TP/FP/FN counts for every (experiment, class) pair.

    Attributes
    ----------
    experiments : tuple of str
        Row labels, length E.
    classes : tuple of str
        Column labels, length T.
    tp, fp, fn : ndarray of int64, shape (E, T)
        Counts.  Under the competition rule ``fp`` may be negative when one
        prediction covers two ground-truth points (metric.md §4 row 2).
    """

    experiments: tuple[str, ...]
    classes: tuple[str, ...]
    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray

    def pooled(self) -> dict[str, tuple[int, int, int]]:
        """Micro-aggregated ``(tp, fp, fn)`` per class, summed over experiments."""
        tp, fp, fn = self.tp.sum(axis=0), self.fp.sum(axis=0), self.fn.sum(axis=0)
        return {c: (int(tp[i]), int(fp[i]), int(fn[i])) for i, c in enumerate(self.classes)}

    def to_frame(self) -> pd.DataFrame:
        """Long table with columns ``experiment, particle_type, tp, fp, fn``."""
        n_exp, n_cls = len(self.experiments), len(self.classes)
        return pd.DataFrame(
            {
                "experiment": np.repeat(np.array(self.experiments, dtype=object), n_cls),
                "particle_type": np.tile(np.array(self.classes, dtype=object), n_exp),
                "tp": self.tp.ravel(),
                "fp": self.fp.ravel(),
                "fn": self.fn.ravel(),
            }
        )

    def __add__(self, other: RunClassCounts) -> RunClassCounts:
        """Sum two count tables over the union of their experiments and classes."""
        if not isinstance(other, RunClassCounts):
            return NotImplemented
        experiments = tuple(dict.fromkeys(self.experiments + other.experiments))
        classes = tuple(dict.fromkeys(self.classes + other.classes))
        totals = []
        for name in ("tp", "fp", "fn"):
            total = np.zeros((len(experiments), len(classes)), dtype=np.int64)
            for part in (self, other):
                rows = [experiments.index(e) for e in part.experiments]
                cols = [classes.index(c) for c in part.classes]
                total[np.ix_(rows, cols)] += getattr(part, name)
            totals.append(total)
        return RunClassCounts(experiments, classes, *totals)

    def select_experiments(self, experiments: list[str] | tuple[str, ...]) -> RunClassCounts:
        """Return the counts of the given experiments only (in the given order)."""
        index = {e: i for i, e in enumerate(self.experiments)}
        missing = [e for e in experiments if e not in index]
        if missing:
            raise InputError("counts", f"unknown experiment(s) {missing}; known: {list(index)}")
        rows = [index[e] for e in experiments]
        return RunClassCounts(
            tuple(experiments), self.classes, self.tp[rows], self.fp[rows], self.fn[rows]
        )


def count_matches(grouped: GroupedPicks, pairs: Pairs, rule: str = "competition") -> RunClassCounts:
    """Count TP/FP/FN per (experiment, class) from within-radius pairs.

    Parameters
    ----------
    grouped : GroupedPicks
    pairs : Pairs
        Pairs within the match radius.
    rule : {"competition", "one-to-one"}
        Coverage counting (official) or maximum bipartite matching.

    Returns
    -------
    RunClassCounts
    """
    if rule not in RULES:
        raise InputError("rule", f"expected one of {list(RULES)}, found {rule!r}")
    if rule == "competition":
        tp = coverage_true_positives(grouped, pairs)
    else:
        tp = one_to_one_true_positives(grouped, pairs)
    n_pred = np.diff(grouped.pred_offsets)
    n_gt = np.diff(grouped.gt_offsets)
    shape = (len(grouped.experiments), len(grouped.classes))
    return RunClassCounts(
        grouped.experiments,
        grouped.classes,
        tp.reshape(shape),
        (n_pred - tp).reshape(shape),
        (n_gt - tp).reshape(shape),
    )
