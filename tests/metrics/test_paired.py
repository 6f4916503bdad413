"""Paired statistics: bootstrap of score differences, permutation p-values, Holm, groups, MDD.

Known answers come from hand computation (2 runs, one class, F1) and from naive
references written here: all ``n**n`` ordered bootstrap resamples of 3 runs, and
all ``2**E`` run swaps with pooled counts summed in plain Python.
"""

from __future__ import annotations

import itertools
import math
from statistics import NormalDist

import numpy as np
import pytest

from topcup_bench.errors import InputError
from topcup_bench.metrics import (
    RunClassCounts,
    bootstrap_score,
    compare_pickers,
    holm_adjust,
    minimal_detectable_difference,
    paired_difference,
    score_picks,
    significance_groups,
)
from topcup_bench.metrics.fbeta import precision_recall_fbeta
from topcup_bench.testing import synthetic_scoring_case

ONE = {"x": 1.0}


def _counts(rows, runs=None, classes=("x",)):
    """RunClassCounts from ``rows[run][class] = (tp, fp, fn)``."""
    table = np.array(rows, dtype=np.int64).reshape(len(rows), len(classes), 3)
    names = tuple(runs or (f"r{i}" for i in range(len(rows))))
    return RunClassCounts(names, tuple(classes), table[..., 0], table[..., 1], table[..., 2])


# Two runs, one class, F1 (beta 1):
#   A: run 0 (2, 0, 0), run 1 (1, 1, 1)  -> pooled (3, 1, 1): P = R = 0.75, F1 = 0.75
#   B: run 0 (1, 1, 1), run 1 (0, 0, 2)  -> pooled (1, 1, 3): P 0.5, R 0.25, F1 = 1/3
A2 = _counts([[(2, 0, 0)], [(1, 1, 1)]])
B2 = _counts([[(1, 1, 1)], [(0, 0, 2)]])


def _naive_score(rows_by_run, weights, total_weight, beta):
    """Weighted F-beta of counts pooled with Python ints, class by class."""
    classes = list(weights)
    score = 0.0
    for k, name in enumerate(classes):
        tp = sum(run[k][0] for run in rows_by_run)
        fp = sum(run[k][1] for run in rows_by_run)
        fn = sum(run[k][2] for run in rows_by_run)
        score += weights[name] * precision_recall_fbeta(tp, fp, fn, beta)[2]
    return score / total_weight


def _rows(counts):
    return [
        [(int(counts.tp[i, k]), int(counts.fp[i, k]), int(counts.fn[i, k]))
         for k in range(len(counts.classes))]
        for i in range(len(counts.experiments))
    ]  # fmt: skip


def _naive_permutation_p(a, b, weights, total_weight, beta):
    """Exact two-sided sign-flip p-value: every subset of runs swapped, by brute force."""
    rows_a, rows_b = _rows(a), _rows(b)
    observed = _naive_score(rows_a, weights, total_weight, beta) - _naive_score(
        rows_b, weights, total_weight, beta
    )
    extreme = 0
    swaps = list(itertools.product([False, True], repeat=len(rows_a)))
    for swap in swaps:
        new_a = [rb if s else ra for ra, rb, s in zip(rows_a, rows_b, swap, strict=True)]
        new_b = [ra if s else rb for ra, rb, s in zip(rows_a, rows_b, swap, strict=True)]
        d = _naive_score(new_a, weights, total_weight, beta) - _naive_score(
            new_b, weights, total_weight, beta
        )
        extreme += abs(d) >= abs(observed) - 1e-12
    return extreme / len(swaps)


def test_two_runs_by_hand():
    result = paired_difference(A2, B2, ONE, 1.0, 1.0, n_resamples=4000, seed=5)
    # resamples: runs (0, 0) -> 1 - 0.5 = 0.5; (1, 1) -> 0.5 - 0 = 0.5; (0, 1) -> 5/12;
    # half of them are 0.5, half 5/12: the 2.5 % and 97.5 % quantiles are 5/12 and 0.5
    assert result.difference == pytest.approx(0.75 - 1 / 3, abs=1e-15)
    assert (result.low, result.high) == pytest.approx((5 / 12, 0.5), abs=1e-15)
    assert result.std == pytest.approx(1 / 24, rel=0.03)  # two values 1/12 apart, 50/50
    assert result.classes == {"x": pytest.approx((5 / 12, 5 / 12, 0.5), abs=1e-15)}
    # swaps: none 5/12, run 0 0.5 - 2/3 = -1/6, run 1 2/3 - 0.5 = 1/6, both -5/12 -> p 2/4
    assert result.p_value == 0.5 and result.permutation == "exact"
    assert result.n_permutations == 4 and result.n_experiments == 2 and result.seed == 5
    reverse = paired_difference(B2, A2, ONE, 1.0, 1.0, n_resamples=4000, seed=5)
    assert reverse.difference == -result.difference and reverse.p_value == 0.5
    assert (reverse.low, reverse.high) == pytest.approx((-0.5, -5 / 12), abs=1e-15)


def _random_counts(rng, n_runs, n_classes):
    tp = rng.integers(0, 6, size=(n_runs, n_classes))
    fp = rng.integers(0, 4, size=(n_runs, n_classes))
    fn = rng.integers(0, 4, size=(n_runs, n_classes))
    runs = tuple(f"r{i}" for i in range(n_runs))
    classes = tuple(f"c{k}" for k in range(n_classes))
    return RunClassCounts(runs, classes, tp, fp, fn)


def test_three_runs_against_all_27_resamples():
    rng = np.random.default_rng(3)
    a, b = _random_counts(rng, 3, 2), _random_counts(rng, 3, 2)
    weights, total, beta = {"c0": 1.0, "c1": 2.0}, 4.0, 4.0
    rows_a, rows_b = _rows(a), _rows(b)
    values = []
    for draw in itertools.product(range(3), repeat=3):  # 27 equally likely resamples
        values.append(
            _naive_score([rows_a[i] for i in draw], weights, total, beta)
            - _naive_score([rows_b[i] for i in draw], weights, total, beta)
        )
    values = np.array(values)
    result = paired_difference(a, b, weights, total, beta, n_resamples=20000, seed=1)
    assert result.difference == pytest.approx(values[5], abs=1e-12)  # draw (0, 1, 2)
    assert result.std == pytest.approx(values.std(), rel=0.03)
    # the smallest and the largest difference each have probability >= 1/27 > 2.5 %: they are
    # the percentile bounds (20000 resamples put the 2.5 % point well inside them)
    assert (result.low, result.high) == pytest.approx((values.min(), values.max()), abs=1e-12)
    assert result.p_value == _naive_permutation_p(a, b, weights, total, beta)


@pytest.mark.parametrize("seed", range(6))
def test_exact_permutation_p_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n_runs = 1 + seed % 5
    a, b = _random_counts(rng, n_runs, 3), _random_counts(rng, n_runs, 3)
    weights, total = {"c0": 1.0, "c1": 0.0, "c2": 2.0}, 4.0
    result = paired_difference(a, b, weights, total, 4.0, n_resamples=50, seed=seed)
    assert result.n_permutations == 2**n_runs
    assert result.p_value == pytest.approx(_naive_permutation_p(a, b, weights, total, 4.0))


def test_paired_resamples_are_those_of_bootstrap_score():
    truth, picks = synthetic_scoring_case(n_experiments=5, truth_per_class=6, seed=2)
    result = score_picks(truth, picks)
    counts = result.counts
    nothing = RunClassCounts(  # finds nothing: score 0 in every resample
        counts.experiments, counts.classes, 0 * counts.tp, 0 * counts.fp, counts.tp + counts.fn
    )
    weights = {c: result.classes[c].weight for c in counts.classes}
    paired = paired_difference(result, nothing, weights, result.total_weight, 4.0,
                               n_resamples=300, seed=9)  # fmt: skip
    marginal = bootstrap_score(result, n_resamples=300, seed=9)
    assert paired.difference == pytest.approx(result.score, abs=1e-12)
    assert (paired.low, paired.high, paired.std) == pytest.approx(
        (marginal.low, marginal.high, marginal.std), abs=1e-12
    )


def test_a_planted_difference_is_detected():
    # 12 runs: A finds all 10 particles of every run, B half of them (no false positive)
    a = _counts([[(10, 0, 0)]] * 12)
    b = _counts([[(5, 0, 5)]] * 12)
    result = paired_difference(a, b, ONE, 1.0, 4.0, n_resamples=500, seed=0)
    # only "no swap" and "swap all" reach |d|: p = 2 / 4096
    assert result.permutation == "exact" and result.p_value == 2 / 4096
    assert result.difference == pytest.approx(1 - precision_recall_fbeta(5, 0, 5, 4.0)[2])
    assert result.low == result.high == result.difference  # every run is the same
    # 20 runs: Monte Carlo swaps; no random swap reaches |d| (probability 2 / 2**20)
    result = paired_difference(
        _counts([[(10, 0, 0)]] * 20), _counts([[(5, 0, 5)]] * 20), ONE, 1.0, 4.0,
        n_resamples=999, seed=0,
    )  # fmt: skip
    assert result.permutation == "monte carlo" and result.n_permutations == 999
    assert result.p_value == 1 / 1000
    comparison = compare_pickers({"b": b, "a": a}, ONE, 1.0, 4.0, n_resamples=200)
    assert comparison.order == ("a", "b") and comparison.groups == (("a",), ("b",))
    assert comparison.pair("a", "b").significant


@pytest.mark.parametrize("seed", range(5))
def test_a_picker_compared_with_itself_is_never_significant(seed):
    rng = np.random.default_rng(seed)
    n_runs = [2, 5, 12, 13, 30][seed]  # exact and Monte Carlo permutations
    a = _random_counts(rng, n_runs, 3)
    weights = {"c0": 1.0, "c1": 1.0, "c2": 3.0}
    result = paired_difference(a, a, weights, 5.0, 4.0, n_resamples=200, seed=seed)
    assert (result.difference, result.low, result.high, result.std) == (0.0, 0.0, 0.0, 0.0)
    assert result.p_value == 1.0
    assert all(values == (0.0, 0.0, 0.0) for values in result.classes.values())
    same = compare_pickers({"x": a, "y": a}, weights, 5.0, 4.0, n_resamples=200, seed=seed)
    assert same.groups == (("x", "y"),) and not same.pairs[0].significant
    assert same.pairs[0].p_adjusted == 1.0


def test_runs_are_aligned_by_name():
    rng = np.random.default_rng(7)
    a, b = _random_counts(rng, 4, 2), _random_counts(rng, 4, 2)
    order, cols = [2, 0, 3, 1], [1, 0]
    shuffled = RunClassCounts(
        tuple(b.experiments[i] for i in order),
        tuple(b.classes[k] for k in cols),
        *(getattr(b, t)[np.ix_(order, cols)] for t in ("tp", "fp", "fn")),
    )
    weights = {"c0": 1.0, "c1": 2.0}
    assert paired_difference(a, shuffled, weights, 3.0, 4.0, n_resamples=100) == paired_difference(
        a, b, weights, 3.0, 4.0, n_resamples=100
    )


def test_holm_on_hand_made_p_values():
    # sorted 0.01, 0.03, 0.04, 0.5 times 4, 3, 2, 1 -> 0.04, 0.09, 0.08 -> 0.09 (monotone), 0.5
    assert holm_adjust([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm_adjust([0.6, 0.7]).tolist() == [1.0, 1.0]  # 1.2 capped at 1
    assert holm_adjust([0.02]).tolist() == [0.02]
    assert holm_adjust([]).tolist() == []
    for bad in ([1.5], [float("nan")], [-0.1]):
        with pytest.raises(InputError, match="p_values"):
            holm_adjust(bad)


def test_groups_on_hand_made_significance():
    significant = {
        ("a", "b"): False,
        ("a", "c"): True,  # c opens group 2 ...
        ("b", "c"): True,  # ... (b-c is not what decides)
        ("c", "d"): False,
        ("c", "e"): True,
        ("a", "d"): True,
        ("a", "e"): True,
    }
    assert significance_groups(list("abcde"), significant) == [["a", "b"], ["c", "d"], ["e"]]
    # b and c differ, but neither differs from the group's best, a: one group
    chained = {("a", "b"): False, ("a", "c"): False, ("b", "c"): True}
    assert significance_groups(list("abc"), chained) == [["a", "b", "c"]]
    assert significance_groups([], {}) == []
    with pytest.raises(InputError, match=r"\('b', 'c'\)"):
        significance_groups(list("abc"), {("a", "b"): True})  # b opened a group


def test_compare_pickers_holm_and_groups_together():
    # three pickers on 12 runs: a and b equal on 11 runs, c far behind
    a = _counts([[(10, 0, 0)]] * 12)
    b = _counts([[(10, 0, 0)]] * 11 + [[(9, 0, 1)]])
    c = _counts([[(3, 0, 7)]] * 12)
    comparison = compare_pickers({"c": c, "b": b, "a": a}, ONE, 1.0, 4.0, n_resamples=200)
    assert comparison.order == ("a", "b", "c")
    assert [(p.a, p.b) for p in comparison.pairs] == [("a", "b"), ("a", "c"), ("b", "c")]
    raw = [p.paired.p_value for p in comparison.pairs]
    assert raw == [1.0, 2 / 4096, 2 / 4096]  # a-b differ on one run only: every swap ties
    assert [p.p_adjusted for p in comparison.pairs] == pytest.approx([1.0, 6 / 4096, 6 / 4096])
    assert comparison.groups == (("a", "b"), ("c",))
    assert [comparison.group_of(n) for n in "abc"] == [1, 1, 2]
    document = comparison.to_dict()
    assert document["groups"] == [["a", "b"], ["c"]] and document["adjustment"] == "holm"
    assert document["pairs"][0] == {
        "a": "a",
        "b": "b",
        "difference": comparison.pairs[0].paired.difference,
        "low": comparison.pairs[0].paired.low,
        "high": comparison.pairs[0].paired.high,
        "p_value": 1.0,
        "p_adjusted": 1.0,
        "significant": False,
        "classes": {"x": dict(zip(("difference", "low", "high"),
                                  comparison.pairs[0].paired.classes["x"], strict=True))},
    }  # fmt: skip
    assert document["smallest_p_value"] == 2 / 4096 and document["n_experiments"] == 12
    assert "Holm" in document["method"] and "exact" in document["method"]
    with pytest.raises(InputError, match="unknown picker 'z'"):
        comparison.group_of("z")
    with pytest.raises(InputError, match="no comparison of 'a' with 'a'"):
        comparison.pair("a", "a")


def test_minimal_detectable_difference_by_hand():
    factor = NormalDist().inv_cdf(0.975) + NormalDist().inv_cdf(0.8)
    assert factor == pytest.approx(1.959964 + 0.841621, abs=1e-6)
    assert minimal_detectable_difference([0.01, 0.04, 0.02]) == pytest.approx(0.02 * factor)
    assert minimal_detectable_difference([0.02], alpha=0.01, power=0.9) == pytest.approx(
        0.02 * (NormalDist().inv_cdf(0.995) + NormalDist().inv_cdf(0.9))
    )
    for bad in ([], [-0.1], [float("inf")]):
        with pytest.raises(InputError, match="spreads"):
            minimal_detectable_difference(bad)
    with pytest.raises(InputError, match="alpha"):
        minimal_detectable_difference([0.1], alpha=1.5)
    with pytest.raises(InputError, match="power"):
        minimal_detectable_difference([0.1], power=0)


def test_minimal_detectable_difference_shrinks_like_one_over_sqrt_n():
    rng = np.random.default_rng(11)
    a, b = _random_counts(rng, 6, 2), _random_counts(rng, 6, 2)
    weights = {"c0": 1.0, "c1": 1.0}

    def repeated(counts, times):
        runs = tuple(f"{r}-{k}" for k in range(times) for r in counts.experiments)
        tables = (np.tile(getattr(counts, t), (times, 1)) for t in ("tp", "fp", "fn"))
        return RunClassCounts(runs, counts.classes, *tables)

    def mdd(times):
        named = {"a": repeated(a, times), "b": repeated(b, times)}
        comparison = compare_pickers(named, weights, 2.0, 4.0, n_resamples=4000, seed=2)
        assert comparison.minimal_detectable_difference == pytest.approx(
            minimal_detectable_difference([comparison.pairs[0].paired.std])
        )
        return comparison.minimal_detectable_difference

    assert mdd(1) / mdd(4) == pytest.approx(2.0, rel=0.1)  # 4x the runs: half the MDD


def test_minimal_detectable_difference_of_one_picker_and_of_one_run():
    truth, picks = synthetic_scoring_case(n_experiments=8, truth_per_class=6, seed=4)
    result = score_picks(truth, picks)
    weights = {c: result.classes[c].weight for c in result.counts.classes}
    alone = compare_pickers({"p": result}, weights, result.total_weight, 4.0, n_resamples=300)
    marginal = bootstrap_score(result, n_resamples=300)
    assert alone.pairs == () and alone.groups == (("p",),) and alone.single_picker_bound
    assert alone.minimal_detectable_difference == pytest.approx(
        minimal_detectable_difference([math.sqrt(2) * marginal.std])
    )
    assert "independent-samples bound" in alone.method()
    one_run = result.counts.select_experiments(result.counts.experiments[:1])
    single = compare_pickers({"p": one_run, "q": one_run}, weights, 7.0, 4.0, n_resamples=50)
    assert single.minimal_detectable_difference is None
    assert single.smallest_p_value == 1.0
    empty = compare_pickers({}, weights, 7.0, 4.0)
    assert empty.groups == () and empty.minimal_detectable_difference is None


def test_mismatched_inputs_are_refused():
    a = _counts([[(1, 0, 0)], [(1, 0, 0)]], runs=("r0", "r1"))
    other_runs = _counts([[(1, 0, 0)], [(1, 0, 0)]], runs=("r0", "r9"))
    with pytest.raises(InputError, match=r"runs differ .* only in 'b': \['r9'\], only in 'a': "):
        paired_difference(a, other_runs, ONE, 1.0, 4.0)
    fewer = _counts([[(1, 0, 0)]], runs=("r0",))
    with pytest.raises(InputError, match="runs differ"):
        paired_difference(a, fewer, ONE, 1.0, 4.0)
    other_class = _counts([[(1, 0, 0)], [(1, 0, 0)]], classes=("y",))
    with pytest.raises(InputError, match=r"classes differ .* only in 'b': \['y'\]"):
        paired_difference(a, other_class, ONE, 1.0, 4.0)
    with pytest.raises(InputError, match=r"no weight for class\(es\) \['x'\]"):
        paired_difference(a, a, {"y": 1.0}, 1.0, 4.0)
    with pytest.raises(InputError, match="expected a mapping"):
        paired_difference(a, a, [1.0], 1.0, 4.0)
    with pytest.raises(InputError, match="counts of 'b'.*found list"):
        paired_difference(a, [1, 2], ONE, 1.0, 4.0)
    nothing = RunClassCounts((), ("x",), *(np.zeros((0, 1), dtype=np.int64),) * 3)
    with pytest.raises(InputError, match="0 experiments"):
        paired_difference(nothing, nothing, ONE, 1.0, 4.0)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("n_resamples", 0, "--bootstrap"),
        ("seed", -1, "--seed"),
        ("confidence", 1.0, "confidence"),
        ("alpha", 0.0, "alpha"),
        ("power", 1.2, "power"),
    ],
)
def test_bad_options_are_refused(option, value, message):
    with pytest.raises(InputError, match=message):
        compare_pickers({"a": A2, "b": B2}, ONE, 1.0, 1.0, **{option: value})


@pytest.mark.parametrize(("n_runs", "detectable"), [(5, False), (6, True)])
def test_no_detectable_difference_when_the_permutation_test_cannot_reach_alpha(n_runs, detectable):
    # exact swaps: the smallest p is 2 / 2**E, 0.0625 for 5 runs (>= 0.05), 0.03125 for 6
    rng = np.random.default_rng(5)
    named = {"a": _random_counts(rng, n_runs, 2), "b": _random_counts(rng, n_runs, 2)}
    comparison = compare_pickers(named, {"c0": 1.0, "c1": 1.0}, 2.0, 4.0, n_resamples=200)
    assert comparison.smallest_p_value == 2 / 2**n_runs
    assert (comparison.minimal_detectable_difference is not None) is detectable
