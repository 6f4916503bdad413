"""Bootstrap confidence interval of the score over experiments.

Experiments are resampled with replacement and the micro-aggregated counts
recomputed from the additive per-(run, class) counts; no score is averaged.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from topcup_bench.errors import InputError
from topcup_bench.memory import check_fits
from topcup_bench.metrics.counts import RunClassCounts
from topcup_bench.metrics.fbeta import precision_recall_fbeta_arrays
from topcup_bench.metrics.score import ScoreResult

__all__ = [
    "BootstrapInterval",
    "bootstrap_score",
    "check_bootstrap_fits",
    "check_resampling",
    "resample_multiplicities",
    "resampled_fbeta",
]


@dataclass(frozen=True)
class BootstrapInterval:
    """Percentile bootstrap interval of the aggregate score.

    Attributes
    ----------
    score : float
        The score on the original experiments.
    low, high : float
        Interval bounds at ``confidence``.
    std : float
        Standard deviation of the resampled scores.
    confidence : float
        Two-sided confidence level, e.g. 0.95.
    n_resamples, seed, n_experiments : int
    """

    score: float
    low: float
    high: float
    std: float
    confidence: float
    n_resamples: int
    seed: int
    n_experiments: int

    def to_dict(self) -> dict[str, float | int]:
        """JSON-ready dictionary."""
        return dict(vars(self))


def bootstrap_score(
    result: ScoreResult,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapInterval:
    """Bootstrap interval of ``result.score`` by resampling experiments.

    Parameters
    ----------
    result : ScoreResult
        A scored result; its per-(run, class) counts are resampled.
    n_resamples : int
        Number of bootstrap resamples.
    confidence : float
        Two-sided level in (0, 1).
    seed : int
        Seed of the resampling; the same seed gives the same interval.

    Returns
    -------
    BootstrapInterval

    Raises
    ------
    InputError
        ``n_resamples`` not a positive integer or too large for this machine's
        memory (refused before allocating, with the estimate), a negative seed,
        or ``confidence`` outside (0, 1).
    TypeError
        ``result`` is not a :class:`ScoreResult`.
    """
    if not isinstance(result, ScoreResult):
        raise TypeError(
            f"bootstrap_score: result must be a ScoreResult (from score_picks), "
            f"got {type(result).__name__}"
        )
    check_resampling(n_resamples, seed, confidence)
    counts = result.counts
    check_bootstrap_fits(int(n_resamples), len(counts.experiments), len(counts.classes))
    weights = np.array([result.classes[c].weight for c in counts.classes])
    resampled = resampled_scores(
        counts, weights, result.total_weight, result.beta, n_resamples, seed
    )
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(resampled, [alpha, 1.0 - alpha])
    return BootstrapInterval(
        score=result.score,
        low=float(low),
        high=float(high),
        std=float(resampled.std(ddof=1)) if n_resamples > 1 else 0.0,
        confidence=float(confidence),
        n_resamples=int(n_resamples),
        seed=int(seed),
        n_experiments=len(counts.experiments),
    )


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_resampling(n_resamples: object, seed: object, confidence: object) -> None:
    """Refuse a non-positive resample count, a negative seed or a level outside (0, 1).

    Raises
    ------
    InputError
        Naming the option (``--bootstrap``, ``--seed``, ``confidence``) and the value.
    """
    if not _is_int(n_resamples) or n_resamples < 1:
        raise InputError(
            "--bootstrap (n_resamples)", f"expected a positive integer, found {n_resamples!r}"
        )
    if not _is_int(seed) or seed < 0:
        raise InputError("--seed (seed)", f"expected an integer >= 0, found {seed!r}")
    if not isinstance(confidence, numbers.Real) or not 0 < confidence < 1:
        raise InputError("confidence", f"expected a level between 0 and 1, found {confidence!r}")


def check_bootstrap_fits(n_resamples: int, n_experiments: int, n_classes: int) -> None:
    """Refuse, before any work, a bootstrap too large for this machine's memory.

    Raises
    ------
    InputError
        Naming ``--bootstrap``, the estimate and the memory available.
    """
    check_fits(
        _peak_bytes(n_resamples, n_experiments, n_classes),
        "--bootstrap (n_resamples)",
        f"{n_resamples} bootstrap resamples of {n_experiments} runs",
    )


def _peak_bytes(n_resamples: int, n_experiments: int, n_classes: int) -> int:
    """Peak memory of :func:`resampled_scores`, in bytes (int64/float64 arrays).

    Draws and multiplicities, shape (n_resamples, n_experiments) each; TP, FP,
    FN and the F-beta arrays, shape (n_resamples, n_classes), about eight of them.
    """
    return 8 * n_resamples * (2 * n_experiments + 8 * max(n_classes, 1) + 2)


def resampled_scores(
    counts: RunClassCounts,
    weights: np.ndarray,
    total_weight: float,
    beta: float,
    n_resamples: int,
    seed: int,
) -> np.ndarray:
    """Scores of ``n_resamples`` bootstrap resamples of the experiments, shape (n_resamples,)."""
    multiplicity = resample_multiplicities(len(counts.experiments), n_resamples, seed)
    if total_weight <= 0:
        return np.zeros(n_resamples)
    return (resampled_fbeta(counts, multiplicity, beta) @ weights) / total_weight


def resample_multiplicities(n_experiments: int, n_resamples: int, seed: int) -> np.ndarray:
    """How often each experiment is drawn in each bootstrap resample.

    Every resample draws ``n_experiments`` experiments with replacement
    (``numpy.random.default_rng(seed)``); the same seed gives the same resamples,
    so pickers scored on the same experiments share them (a paired bootstrap).

    Returns
    -------
    ndarray of int64, shape (n_resamples, n_experiments)
        Each row sums to ``n_experiments``.
    """
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_experiments, size=(n_resamples, n_experiments))
    multiplicity = np.zeros((n_resamples, n_experiments), dtype=np.int64)
    np.add.at(multiplicity, (np.arange(n_resamples)[:, None], draws), 1)
    return multiplicity


def resampled_fbeta(counts: RunClassCounts, multiplicity: np.ndarray, beta: float) -> np.ndarray:
    """Per-class F-beta of the micro-aggregated counts of each resample.

    Parameters
    ----------
    counts : RunClassCounts
        Counts of E experiments and T classes.
    multiplicity : ndarray of int, shape (R, E)
        From :func:`resample_multiplicities`.
    beta : float

    Returns
    -------
    ndarray of float64, shape (R, T)
    """
    tp, fp, fn = (multiplicity @ table for table in (counts.tp, counts.fp, counts.fn))
    return precision_recall_fbeta_arrays(tp, fp, fn, beta)[2]
