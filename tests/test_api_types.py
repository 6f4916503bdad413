"""The public API (``topcup_bench.__all__``) refuses arguments of the wrong type clearly.

A wrong type gives a ``TypeError`` (or our ``InputError``) naming the argument
and the type found, at the entry point, never a deep ``AttributeError``.
"""

from __future__ import annotations

import numpy as np
import pytest

import topcup_bench as tb
from topcup_bench.errors import InputError
from topcup_bench.testing import synthetic_scoring_case


@pytest.fixture(scope="module")
def tables():
    return synthetic_scoring_case(
        n_experiments=2, truth_per_class=3, false_positives_per_class=1, seed=5
    )


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda t, p: tb.score_picks("x", p), TypeError, "truth must be a pandas DataFrame"),
        (lambda t, p: tb.score_picks(t, 5), TypeError, "picks must be a pandas DataFrame .*int"),
        (lambda t, p: tb.score_picks(t, p, classes=3), TypeError, "classes must be a"),
        (lambda t, p: tb.score_picks(t, p, thresholds=3), InputError, "expected a mapping"),
        (lambda t, p: tb.threshold_sweep(None, p), TypeError, "truth must be a pandas DataFrame"),
        (lambda t, p: tb.bootstrap_score("x"), TypeError, "result must be a ScoreResult"),
        (
            lambda t, p: tb.bootstrap_score(tb.score_picks(t, p), n_resamples=1.5),
            InputError,
            "--bootstrap",
        ),
        (lambda t, p: tb.bootstrap_score(tb.score_picks(t, p), seed=-1), InputError, "--seed"),
        (lambda t, p: tb.run_benchmark("x"), TypeError, "config must be a BenchmarkConfig"),
        (lambda t, p: tb.open_dataset(3), TypeError, "spec must be a string"),
        (lambda t, p: tb.create_picker("blob", 3), TypeError, "params must be a mapping"),
        (lambda t, p: tb.Tomogram("r", 3, 10.0), TypeError, "Tomogram.data must be a 3-d array"),
    ],
)
def test_wrong_types_are_refused_at_the_entry_point(tables, call, error, message):
    truth, picks = tables
    with pytest.raises(error, match=message):
        call(truth, picks)


def test_right_types_still_work(tables):
    truth, picks = tables
    result = tb.score_picks(truth, picks, classes=list(tb.COMPETITION_CLASSES.classes))
    assert 0 <= result.score <= 1
    assert tb.bootstrap_score(result, n_resamples=10, seed=np.int64(1)).n_resamples == 10
