"""pytest-benchmark micro-benchmarks of the metric.

Normal runs (``--benchmark-disable`` is the default in pyproject) execute each
benchmark once as a test.  Measure with ``--benchmark-enable``; the
full-size competition case (485 experiments, 30 ground-truth points per class
per experiment, about 582,000 picks) needs ``--run-slow``.  The full-size
comparison with the naive reference is a benchmark gate, not a unit test: it
checks the speed-up the project promises (at least 100x) in one run.
"""

from __future__ import annotations

import statistics
import time

import pytest
from naive_metric import naive_score

from topcup_bench.metrics import score_picks, threshold_sweep
from topcup_bench.testing import synthetic_scoring_case

SMALL = dict(n_experiments=20, truth_per_class=30, false_positives_per_class=170, seed=0)
FULL = dict(n_experiments=485, truth_per_class=30, false_positives_per_class=175, seed=0)


@pytest.fixture(scope="module")
def small_case():
    return synthetic_scoring_case(**SMALL)


@pytest.fixture(scope="module")
def full_case():
    return synthetic_scoring_case(**FULL)


def test_score_picks_small(benchmark, small_case):
    truth, picks = small_case
    result = benchmark(score_picks, truth, picks)
    assert result.score == naive_score(truth, picks)[0]


def test_threshold_sweep_small(benchmark, small_case):
    truth, picks = small_case
    curves = benchmark(threshold_sweep, truth, picks)
    assert set(curves) == set(truth["particle_type"])


@pytest.mark.slow
def test_score_picks_full(benchmark, full_case):
    truth, picks = full_case
    result = benchmark.pedantic(score_picks, args=(truth, picks), rounds=5, iterations=1)
    assert len(picks) > 570_000
    assert result.score == naive_score(truth, picks)[0]


@pytest.mark.slow
def test_threshold_sweep_full(benchmark, full_case):
    truth, picks = full_case
    benchmark.pedantic(threshold_sweep, args=(truth, picks), rounds=5, iterations=1)


def _median_seconds(function, *args, rounds):
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@pytest.mark.slow
def test_full_size_speedup_over_naive_and_sweep_cost(full_case, record_property):
    truth, picks = full_case
    fast = _median_seconds(score_picks, truth, picks, rounds=5)
    sweep = _median_seconds(threshold_sweep, truth, picks, rounds=5)
    start = time.perf_counter()
    expected, _ = naive_score(truth, picks)
    naive = time.perf_counter() - start
    assert score_picks(truth, picks).score == expected
    record_property("score_picks_s", fast)
    record_property("threshold_sweep_s", sweep)
    record_property("naive_s", naive)
    print(
        f"\nscore_picks {fast:.3f} s, threshold_sweep {sweep:.3f} s, naive {naive:.1f} s, "
        f"speed-up {naive / fast:.0f}x, sweep = {sweep / fast:.2f} re-scorings"
    )
    assert naive / fast >= 100
    assert sweep < 3 * fast
