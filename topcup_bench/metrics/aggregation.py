"""Micro (official) and per-run (macro over experiments) aggregation, side by side.

The official score pools counts over all experiments (micro).  Some
evaluators (octopi) average per-run scores instead; that weighs sparse
tomograms more.  Both derive from the same additive counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from topcup_bench.metrics.fbeta import precision_recall_fbeta_arrays
from topcup_bench.metrics.score import ScoreResult

__all__ = ["per_run_scores", "aggregation_summary"]


def per_run_scores(result: ScoreResult) -> pd.DataFrame:
    """Score and per-class F-beta of every experiment on its own.

    Parameters
    ----------
    result : ScoreResult

    Returns
    -------
    pandas.DataFrame
        Index: experiments; columns: ``score`` then one F-beta column per
        ground-truth class.  The score uses the same weights and denominator
        as the canonical score.
    """
    counts = result.counts
    fbeta = precision_recall_fbeta_arrays(counts.tp, counts.fp, counts.fn, result.beta)[2]
    weights = np.array([result.classes[c].weight for c in counts.classes])
    frame = pd.DataFrame(
        fbeta, index=pd.Index(counts.experiments, name="experiment"), columns=counts.classes
    )
    frame.insert(0, "score", fbeta @ weights / result.total_weight if result.total_weight else 0.0)
    return frame


def aggregation_summary(result: ScoreResult) -> pd.DataFrame:
    """The micro score next to the per-run mean and standard deviation, labelled.

    Returns
    -------
    pandas.DataFrame
        Rows ``micro`` (official: counts pooled over runs), ``per-run mean`` and
        ``per-run std`` (ddof=1; NaN with one run); columns ``score`` and the
        per-class F-beta.
    """
    runs = per_run_scores(result)
    micro = {"score": result.score, **{c: result.classes[c].fbeta for c in runs.columns[1:]}}
    return pd.DataFrame(
        [micro, runs.mean(axis=0).to_dict(), runs.std(axis=0, ddof=1).to_dict()],
        index=pd.Index(["micro", "per-run mean", "per-run std"], name="aggregation"),
    )
