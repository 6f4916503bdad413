"""Hypothesis property tests of the canonical score and the sweep."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from naive_metric import naive_score

from topcup_bench.metrics import score_picks, threshold_sweep
from topcup_bench.types import COMPETITION_CLASSES

NAMES = list(COMPETITION_CLASSES.names)
# Coordinates on a 1/8 Å grid below 2**12 Å: differences and their squares
# are exact in float64, so translations by whole Å change no rounding.
coordinate = st.integers(0, 8 * 2000).map(lambda v: v / 8)
row = st.tuples(
    st.sampled_from(["a", "b", "c"]), st.sampled_from(NAMES), coordinate, coordinate, coordinate
)
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def frame(rows, scores=None):
    table = pd.DataFrame(rows, columns=["experiment", "particle_type", "x", "y", "z"])
    if scores is not None:
        table["score"] = scores
    return table


@st.composite
def case(draw):
    truth_rows = draw(st.lists(row, min_size=1, max_size=25, unique_by=lambda r: (r[0], r[2:])))
    near = []
    for experiment, name, x, y, z in truth_rows:
        if draw(st.booleans()):
            dx, dy, dz = (draw(st.integers(-300, 300)) / 8 for _ in range(3))
            near.append((experiment, name, x + dx, y + dy, z + dz))
    far = draw(st.lists(row, max_size=15))
    picks = near + far
    scores = draw(
        st.lists(st.integers(0, 20).map(lambda v: v / 20), min_size=len(picks), max_size=len(picks))
    )
    return frame(truth_rows), frame(picks, scores)


@SETTINGS
@given(case(), st.randoms(use_true_random=False))
def test_row_order_does_not_change_the_result(tables, random):
    truth, picks = tables
    result = score_picks(truth, picks)
    truth_order = list(range(len(truth)))
    picks_order = list(range(len(picks)))
    random.shuffle(truth_order)
    random.shuffle(picks_order)
    # picks order: no effect at all
    assert score_picks(truth, picks.iloc[picks_order]).to_dict() == result.to_dict()
    # truth order: identical counts and rates; the official scorer sums the
    # weighted F-beta in order of first appearance of each class in the truth,
    # so the score may differ in the last bit (and equals the reference's).
    shuffled_truth = truth.iloc[truth_order]
    shuffled = score_picks(shuffled_truth, picks.iloc[picks_order])
    assert shuffled.to_dict()["classes"] == result.to_dict()["classes"]
    assert shuffled.score == naive_score(shuffled_truth, picks)[0]
    assert abs(shuffled.score - result.score) <= 4 * np.finfo(float).eps


@SETTINGS
@given(case(), st.tuples(*(st.integers(-1000, 1000),) * 3))
def test_common_translation_does_not_change_the_result(tables, shift):
    truth, picks = tables
    moved_truth, moved_picks = truth.copy(), picks.copy()
    for axis, delta in zip("xyz", shift, strict=True):
        moved_truth[axis] += delta
        moved_picks[axis] += delta
    assert score_picks(moved_truth, moved_picks).to_dict() == score_picks(truth, picks).to_dict()


@SETTINGS
@given(case())
def test_perfect_picks_score_one_per_class(tables):
    truth, _ = tables
    result = score_picks(truth, truth)
    for name in set(truth["particle_type"]):
        assert result.classes[name].fbeta == 1.0
    present_weight = sum(COMPETITION_CLASSES[n].weight for n in set(truth["particle_type"]))
    assert np.isclose(result.score, present_weight / 7)
    full = frame([("a", n, 500.0 * i, 0.0, 0.0) for i, n in enumerate(NAMES)])
    assert score_picks(full, full).score == 1.0


@SETTINGS
@given(case())
def test_sweep_equals_rescoring_at_every_threshold(tables):
    truth, picks = tables
    curves = threshold_sweep(truth, picks)
    for name, curve in curves.items():
        for i, threshold in enumerate(curve.thresholds):
            kept = picks.loc[picks["score"] > threshold]
            rescored = score_picks(truth, kept).classes[name]
            assert (curve.tp[i], curve.fp[i], curve.fn[i]) == (
                rescored.tp,
                rescored.fp,
                rescored.fn,
            )
            assert curve.fbeta[i] == rescored.fbeta
