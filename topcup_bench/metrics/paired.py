"""Paired comparison of pickers scored on the same runs.

Two pickers scored on the same experiments are paired: a hard run is hard for
both.  Comparing their marginal intervals ignores that and is a weak test, so
here the *difference* of the weighted score is studied directly:

* :func:`paired_difference`: bootstrap interval of ``score_a - score_b`` with the
  same resampled runs for both pickers (the resamples of
  :func:`~topcup_bench.metrics.bootstrap_score` with the same seed), and the
  p-value of a two-sided sign-flip permutation test over runs (each run's counts
  swapped between the two pickers or not; exact over all ``2**E`` swaps when
  there are at most :data:`EXACT_PERMUTATION_LIMIT` runs, Monte Carlo otherwise).
* :func:`compare_pickers`: every pair, Holm-adjusted p-values
  (:func:`holm_adjust`), groups of pickers not significantly different from
  their group's best (:func:`significance_groups`) and the minimal detectable
  difference (:func:`minimal_detectable_difference`).

Scores are always recomputed from micro-aggregated (pooled) counts, never
averaged over runs.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from topcup_bench.errors import InputError
from topcup_bench.memory import check_fits
from topcup_bench.metrics.bootstrap import (
    check_resampling,
    resample_multiplicities,
    resampled_fbeta,
)
from topcup_bench.metrics.counts import RunClassCounts
from topcup_bench.metrics.fbeta import precision_recall_fbeta_arrays
from topcup_bench.metrics.paired_types import PairComparison, PairedDifference, PickerComparison
from topcup_bench.metrics.score import ScoreResult
from topcup_bench.metrics.significance import (
    holm_adjust,
    minimal_detectable_difference,
    significance_groups,
)

__all__ = [
    "EXACT_PERMUTATION_LIMIT",
    "PairComparison",
    "PairedDifference",
    "PickerComparison",
    "compare_pickers",
    "holm_adjust",
    "minimal_detectable_difference",
    "paired_difference",
    "significance_groups",
]

#: Up to this many runs the permutation test enumerates all ``2**E`` swaps.
EXACT_PERMUTATION_LIMIT = 12

#: Two statistics closer than this count as equal in the permutation test.
_TIE_TOLERANCE = 1e-12


def paired_difference(
    counts_a: RunClassCounts | ScoreResult,
    counts_b: RunClassCounts | ScoreResult,
    weights: Mapping[str, float],
    total_weight: float,
    beta: float,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> PairedDifference:
    """Paired bootstrap interval and permutation p-value of ``score_a - score_b``.

    Parameters
    ----------
    counts_a, counts_b : RunClassCounts or ScoreResult
        Per-(run, class) counts of the two pickers (a ScoreResult's ``counts``);
        the same runs and classes, in any order (aligned by name).
    weights : mapping of str to float
        Weight of every class in the counts.
    total_weight : float
        Sum of the weights of all catalogue classes (the score's denominator).
    beta : float
        F-beta parameter (4 in the competition).
    n_resamples : int
        Bootstrap resamples; also the number of random swaps of the permutation
        test when it is not exact.
    seed : int
        Seed of the resamples (the ones of ``bootstrap_score`` with that seed)
        and of the random swaps.
    confidence : float
        Two-sided level of the intervals, in (0, 1).

    Returns
    -------
    PairedDifference
        Identical counts give difference 0, interval [0, 0] and p-value 1.

    Raises
    ------
    InputError
        Different runs or classes, a class without weight, no runs, or bad
        ``n_resamples``, ``seed`` or ``confidence``.
    """
    comparison = compare_pickers(
        {"a": counts_a, "b": counts_b},
        weights,
        total_weight,
        beta,
        n_resamples=n_resamples,
        seed=seed,
        confidence=confidence,
        keep_order=True,
    )
    return comparison.pairs[0].paired


def compare_pickers(
    named: Mapping[str, RunClassCounts | ScoreResult],
    weights: Mapping[str, float],
    total_weight: float,
    beta: float,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    alpha: float = 0.05,
    power: float = 0.8,
    keep_order: bool = False,
) -> PickerComparison:
    """Compare every pair of pickers scored on the same runs.

    Parameters
    ----------
    named : mapping of str to RunClassCounts or ScoreResult
        Each picker's per-(run, class) counts, same runs and classes for all.
    weights, total_weight, beta :
        As in :func:`paired_difference`.
    n_resamples, seed, confidence :
        As in :func:`paired_difference`; every picker gets the same resamples
        and every pair the same swaps.
    alpha : float
        Family-wise significance level of the Holm-adjusted tests, in (0, 1).
    power : float
        Power of the minimal detectable difference, in (0, 1).
    keep_order : bool
        Pair the pickers in the given order instead of by score (for
        :func:`paired_difference`; groups still follow the scores).

    Returns
    -------
    PickerComparison

    Raises
    ------
    InputError
        As :func:`paired_difference`; also ``alpha`` or ``power`` outside (0, 1).
    """
    check_resampling(n_resamples, seed, confidence)
    for name, value in (("alpha", alpha), ("power", power)):
        if not isinstance(value, numbers.Real) or not 0 < value < 1:
            raise InputError(name, f"expected a level between 0 and 1, found {value!r}")
    tables = _aligned(named)
    first = next(iter(tables.values())) if tables else None
    experiments = first.experiments if first is not None else ()
    classes = first.classes if first is not None else ()
    weight = _weights(weights, classes)
    n_exp = len(experiments)
    if tables and n_exp == 0:
        raise InputError("counts", "no runs to compare the pickers on (0 experiments)")
    check_fits(
        8 * n_resamples * (3 * n_exp + (len(tables) + 8) * max(len(classes), 1) + 4),
        "--bootstrap (n_resamples)",
        f"paired comparison of {len(tables)} pickers, {n_resamples} resamples of {n_exp} runs",
    )
    scores = {
        name: _score(_pooled_fbeta(t, beta), weight, total_weight) for name, t in tables.items()
    }
    order = list(tables) if keep_order else sorted(tables, key=lambda n: -scores[n])
    multiplicity = resample_multiplicities(n_exp, n_resamples, seed) if tables else None
    fbetas = {name: resampled_fbeta(t, multiplicity, beta) for name, t in tables.items()}
    masks, permutation = _swap_masks(n_exp, n_resamples, seed)
    level = (1.0 - confidence) / 2.0
    raw = []
    for i, a in enumerate(order):
        for b in order[i + 1 :]:
            raw.append(
                (a, b, _pair(tables[a], tables[b], fbetas[a], fbetas[b], masks, weight,
                             total_weight, beta, level, permutation, confidence, seed))
            )  # fmt: skip
    adjusted = holm_adjust([paired.p_value for _, _, paired in raw])
    pairs = tuple(
        PairComparison(a, b, paired, float(p), bool(p < alpha))
        for (a, b, paired), p in zip(raw, adjusted, strict=True)
    )
    by_score = sorted(tables, key=lambda n: -scores[n])
    significant = {(p.a, p.b): p.significant for p in pairs}
    significant.update({(p.b, p.a): p.significant for p in pairs})
    groups = significance_groups(by_score, significant)
    spreads = [p.paired.std for p in pairs]
    single = len(tables) == 1
    if single:
        name = order[0]
        resampled = _score(fbetas[name], weight, total_weight)
        spreads = [math.sqrt(2.0) * _std(resampled)]
    mdd = (
        minimal_detectable_difference(spreads, alpha=alpha, power=power)
        if n_exp >= 2 and spreads
        else None
    )
    comparison = PickerComparison(
        order=tuple(by_score),
        scores={name: float(value) for name, value in scores.items()},
        pairs=pairs,
        groups=tuple(tuple(g) for g in groups),
        minimal_detectable_difference=mdd,
        single_picker_bound=single,
        alpha=float(alpha),
        power=float(power),
        confidence=float(confidence),
        n_resamples=int(n_resamples),
        seed=int(seed),
        n_experiments=n_exp,
        permutation=permutation,
        n_permutations=len(masks),
    )
    if comparison.smallest_p_value >= alpha:  # too few runs: nothing is detectable
        comparison = replace(comparison, minimal_detectable_difference=None)
    return comparison


def _pair(
    table_a: RunClassCounts,
    table_b: RunClassCounts,
    fbeta_a: np.ndarray,
    fbeta_b: np.ndarray,
    masks: np.ndarray,
    weight: np.ndarray,
    total_weight: float,
    beta: float,
    level: float,
    permutation: str,
    confidence: float,
    seed: int,
) -> PairedDifference:
    """Bootstrap and permutation statistics of one pair (resamples already scored)."""
    observed_a, observed_b = _pooled_fbeta(table_a, beta), _pooled_fbeta(table_b, beta)
    difference = _score(observed_a, weight, total_weight) - _score(observed_b, weight, total_weight)
    resampled = _score(fbeta_a, weight, total_weight) - _score(fbeta_b, weight, total_weight)
    low, high = np.quantile(resampled, [level, 1.0 - level])
    per_class = np.quantile(fbeta_a - fbeta_b, [level, 1.0 - level], axis=0)  # shape (2, T)
    classes = {
        name: (
            float(observed_a[k] - observed_b[k]),
            float(per_class[0][k]),
            float(per_class[1][k]),
        )
        for k, name in enumerate(table_a.classes)
    }
    swapped = _swap_differences(table_a, table_b, masks, weight, total_weight, beta)
    extreme = int(np.count_nonzero(np.abs(swapped) >= abs(difference) - _TIE_TOLERANCE))
    if permutation == "exact":  # the identity swap is among the masks
        p_value = extreme / len(masks)
    else:
        p_value = (1 + extreme) / (1 + len(masks))
    return PairedDifference(
        difference=float(difference),
        low=float(low),
        high=float(high),
        std=_std(resampled),
        p_value=float(min(p_value, 1.0)),
        permutation=permutation,
        n_permutations=len(masks),
        classes=classes,
        confidence=float(confidence),
        n_resamples=len(resampled),
        seed=int(seed),
        n_experiments=len(table_a.experiments),
    )


def _swap_masks(n_experiments: int, n_resamples: int, seed: int) -> tuple[np.ndarray, str]:
    """Which runs swap their two pickers' counts, one row per permutation, shape (P, E).

    All ``2**E`` rows when ``E <= EXACT_PERMUTATION_LIMIT`` (row 0 swaps
    nothing), else ``n_resamples`` random rows from a generator seeded by
    ``(seed, 1)`` (a stream independent of the bootstrap's).
    """
    if n_experiments <= EXACT_PERMUTATION_LIMIT:
        codes = np.arange(2**n_experiments)[:, None]
        return (codes >> np.arange(n_experiments)) & 1, "exact"
    rng = np.random.default_rng([seed, 1])
    return rng.integers(0, 2, size=(n_resamples, n_experiments)), "monte carlo"


def _swap_differences(
    table_a: RunClassCounts,
    table_b: RunClassCounts,
    masks: np.ndarray,
    weight: np.ndarray,
    total_weight: float,
    beta: float,
) -> np.ndarray:
    """Score difference after each row of ``masks`` swapped those runs' counts, shape (P,)."""
    pooled_a, pooled_b = [], []
    for name in ("tp", "fp", "fn"):
        a, b = getattr(table_a, name), getattr(table_b, name)
        moved = masks @ (b - a)  # what run swaps add to a's pooled counts, shape (P, T)
        pooled_a.append(a.sum(axis=0) + moved)
        pooled_b.append(b.sum(axis=0) - moved)
    fbeta_a = precision_recall_fbeta_arrays(*pooled_a, beta)[2]
    fbeta_b = precision_recall_fbeta_arrays(*pooled_b, beta)[2]
    return _score(fbeta_a, weight, total_weight) - _score(fbeta_b, weight, total_weight)


def _pooled_fbeta(table: RunClassCounts, beta: float) -> np.ndarray:
    """Per-class F-beta of the counts summed over runs, shape (T,)."""
    return precision_recall_fbeta_arrays(
        table.tp.sum(axis=0), table.fp.sum(axis=0), table.fn.sum(axis=0), beta
    )[2]


def _score(fbeta: np.ndarray, weight: np.ndarray, total_weight: float) -> np.ndarray | float:
    """Weighted score of per-class F-beta (last axis); 0 when the total weight is 0."""
    if total_weight <= 0:
        return np.zeros(fbeta.shape[:-1]) if fbeta.ndim > 1 else 0.0
    return (fbeta @ weight) / total_weight


def _std(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _aligned(named: Mapping[str, RunClassCounts | ScoreResult]) -> dict[str, RunClassCounts]:
    """Every picker's counts in the first picker's run and class order.

    Raises
    ------
    InputError
        A value that is not counts, or runs or classes that differ from the first picker's.
    """
    tables: dict[str, RunClassCounts] = {}
    reference: tuple[str, RunClassCounts] | None = None
    for name, value in named.items():
        counts = value.counts if isinstance(value, ScoreResult) else value
        if not isinstance(counts, RunClassCounts):
            raise InputError(
                f"counts of {name!r}",
                f"expected RunClassCounts or a ScoreResult, found {type(value).__name__}",
            )
        if reference is None:
            reference = (name, counts)
            tables[name] = counts
            continue
        first_name, first = reference
        for what, mine, theirs in (
            ("runs", counts.experiments, first.experiments),
            ("classes", counts.classes, first.classes),
        ):
            if set(mine) != set(theirs) or len(mine) != len(theirs):
                raise InputError(
                    f"counts of {name!r}",
                    f"{what} differ from those of {first_name!r}: only in {name!r}: "
                    f"{sorted(set(mine) - set(theirs))}, only in {first_name!r}: "
                    f"{sorted(set(theirs) - set(mine))}; pickers must be scored on the same "
                    f"{what} to be compared",
                )
        rows = [counts.experiments.index(e) for e in first.experiments]
        cols = [counts.classes.index(c) for c in first.classes]
        tables[name] = RunClassCounts(
            first.experiments,
            first.classes,
            *(getattr(counts, t)[np.ix_(rows, cols)] for t in ("tp", "fp", "fn")),
        )
    return tables


def _weights(weights: Mapping[str, float], classes: tuple[str, ...]) -> np.ndarray:
    """Weights in class order, shape (T,)."""
    if not isinstance(weights, Mapping):
        raise InputError("weights", f"expected a mapping {{class: weight}}, found {weights!r}")
    missing = [c for c in classes if c not in weights]
    if missing:
        raise InputError("weights", f"no weight for class(es) {missing}; given: {list(weights)}")
    return np.array([float(weights[c]) for c in classes], dtype=np.float64)
