"""One test per row of the edge-case table of metric.md §4."""

from __future__ import annotations

import math

import numpy as np
import pytest
from naive_metric import naive_score

from topcup_bench.errors import (
    DuplicateTruthError,
    NonFiniteCoordinatesError,
    UnknownParticleError,
)
from topcup_bench.metrics import score_picks

APO = "apo-ferritin"  # r = 30 Å, weight 1
RIBO = "ribosome"  # r = 75 Å, weight 1


def counts(result, name):
    c = result.classes[name]
    return c.tp, c.fp, c.fn


def test_row1_several_predictions_near_one_point(table):
    truth = table([("a", APO, 0, 0, 0)])
    picks = table([("a", APO, 1, 0, 0), ("a", APO, 0, 2, 0), ("a", APO, 0, 0, 3)])
    assert counts(score_picks(truth, picks), APO) == (1, 2, 0)


def test_row2_one_prediction_covering_two_points_gives_negative_fp(table):
    # two apo-ferritin points 29.5 Å apart (as in TS_73_6); one pick between them
    truth = table([("TS_73_6", APO, 0, 0, 0), ("TS_73_6", APO, 29.5, 0, 0)])
    picks = table([("TS_73_6", APO, 14.75, 0, 0)])
    result = score_picks(truth, picks)
    assert counts(result, APO) == (2, -1, 0)
    assert result.classes[APO].precision == 2.0
    # F = 17 P R / (16 P + R) with P = 2, R = 1
    assert result.classes[APO].fbeta == pytest.approx(17 * 2 / 33)
    assert result.classes[APO].fbeta > 1
    (difference,) = result.rule_differences
    assert (difference.experiment, difference.particle_type) == ("TS_73_6", APO)
    assert (difference.tp_competition, difference.tp_one_to_one) == (2, 1)
    one_to_one = score_picks(truth, picks, rule="one-to-one")
    assert counts(one_to_one, APO) == (1, 0, 1)


@pytest.mark.parametrize(
    "offset, expected_tp",
    [
        ((30.0, 0.0, 0.0), 1),  # exactly r: d² = 900 ≤ 900
        ((18.0, 24.0, 0.0), 1),  # 3-4-5 triangle, d² = 324 + 576 = 900 exactly
        ((20.0, 20.0, 10.0), 1),  # d² = 400 + 400 + 100 = 900
        ((30.000000000000004, 0.0, 0.0), 0),  # next float above r
    ],
)
def test_row3_distance_exactly_r_is_a_match(table, offset, expected_tp):
    truth = table([("a", APO, 0.0, 0.0, 0.0)])
    picks = table([("a", APO, *offset)])
    assert score_picks(truth, picks).classes[APO].tp == expected_tp


def test_row3_squared_distance_differs_from_sqrt_comparison(table):
    # a point 1 ulp outside r² = 4556.25 (virus-like-particle, r = 67.5 Å) whose
    # sqrt still rounds to r: the official d² rule says FP, a sqrt rule would say TP
    r = 67.5
    rng = np.random.default_rng(0)
    for _ in range(100_000):
        direction = rng.normal(size=3)
        p = direction / np.linalg.norm(direction) * r
        d2 = (p[0] * p[0] + p[1] * p[1]) + p[2] * p[2]
        if d2 > r * r and math.sqrt(d2) <= r:
            break
    else:
        raise AssertionError("no disagreeing boundary point found")
    truth = table([("a", "virus-like-particle", 0.0, 0.0, 0.0)])
    picks = table([("a", "virus-like-particle", *p)])
    assert score_picks(truth, picks).classes["virus-like-particle"].tp == 0
    assert naive_score(truth, picks)[1]["virus-like-particle"][0] == 0


def test_row4_right_place_wrong_class(table):
    truth = table([("a", APO, 0, 0, 0), ("a", RIBO, 500, 500, 500)])
    picks = table([("a", RIBO, 0, 0, 0)])
    result = score_picks(truth, picks)
    assert counts(result, RIBO) == (0, 1, 1)
    assert counts(result, APO) == (0, 0, 1)


def test_row5_predictions_of_a_class_absent_from_the_solution_are_ignored(table):
    truth = table([("a", APO, 0, 0, 0)])
    picks = table([("a", APO, 0, 0, 0), ("a", RIBO, 10, 10, 10), ("a", RIBO, 20, 20, 20)])
    result = score_picks(truth, picks)
    assert counts(result, RIBO) == (0, 0, 0)
    assert not result.classes[RIBO].scored
    assert result.ignored_rows == 2
    assert result.score == pytest.approx(1 / 7)


def test_row6_class_without_truth_in_this_experiment_counts_all_fp(table):
    truth = table([("a", APO, 0, 0, 0), ("b", RIBO, 0, 0, 0)])
    picks = table([("a", RIBO, 0, 0, 0), ("a", RIBO, 9, 9, 9), ("b", RIBO, 0, 0, 0)])
    assert counts(score_picks(truth, picks), RIBO) == (1, 2, 0)


def test_row7_prediction_experiments_outside_the_solution_are_dropped(table):
    truth = table([("a", APO, 0, 0, 0)])
    picks = table([("a", APO, 0, 0, 0), ("zzz", APO, 0, 0, 0), ("zzz", "not-a-class", 0, 0, 0)])
    result = score_picks(truth, picks)
    assert result.dropped_rows == 2
    assert counts(result, APO) == (1, 0, 0)


def test_row8_solution_experiment_without_predictions_is_all_fn(table):
    truth = table([("a", APO, 0, 0, 0), ("b", APO, 0, 0, 0), ("b", APO, 500, 0, 0)])
    picks = table([("a", APO, 0, 0, 0)])
    assert counts(score_picks(truth, picks), APO) == (1, 0, 2)


def test_row9_unknown_particle_type_in_kept_predictions_is_an_error(table):
    truth = table([("a", APO, 0, 0, 0)])
    picks = table([("a", "ribosom", 0, 0, 0)])
    with pytest.raises(UnknownParticleError, match=r"ribosom.*Did you mean 'ribosome'"):
        score_picks(truth, picks)


def test_row10_unknown_particle_type_in_the_solution_is_an_error(table):
    truth = table([("a", "cytosolic-ribosome", 0, 0, 0)])
    with pytest.raises(UnknownParticleError, match=r"truth.*cytosolic-ribosome.*--map-names"):
        score_picks(truth, truth)


def test_row11_duplicate_truth_rows_of_any_type_are_an_error(table):
    truth = table([("a", APO, 1, 2, 3), ("a", RIBO, 1, 2, 3)])
    with pytest.raises(DuplicateTruthError, match=r"truth.*rows 1\)"):
        score_picks(truth, truth.iloc[:1])
    result = score_picks(truth, truth.iloc[:1], dedupe_truth=True)
    assert result.deduplicated_truth_rows == 1
    assert counts(result, APO) == (1, 0, 0)


def test_row12_identical_duplicate_predictions(table):
    truth = table([("a", APO, 0, 0, 0)])
    picks = table([("a", APO, 5, 5, 5), ("a", APO, 5, 5, 5)])
    assert counts(score_picks(truth, picks), APO) == (1, 1, 0)


def test_row13_empty_predictions_score_zero(table):
    truth = table([("a", APO, 0, 0, 0)])
    result = score_picks(truth, truth.iloc[:0])
    assert result.score == 0.0
    assert counts(result, APO) == (0, 0, 1)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_row14_non_finite_coordinates_are_rejected_with_rows(table, bad):
    truth = table([("a", APO, 0, 0, 0)])
    picks = table([("a", APO, 0, 0, 0), ("a", APO, bad, 0, 0), ("b", APO, 0, bad, 0)])
    with pytest.raises(NonFiniteCoordinatesError, match=r"picks.*2 rows \(rows 1, 2\)"):
        score_picks(truth, picks)
    with pytest.raises(NonFiniteCoordinatesError, match=r"truth"):
        score_picks(picks, truth)


def test_row15_coordinates_outside_the_tomogram_are_ordinary(table):
    truth = table([("a", APO, -1000, 99999, -5)])
    picks = table([("a", APO, -1000, 99999, -5), ("a", APO, -1e6, 0, 0)])
    assert counts(score_picks(truth, picks), APO) == (1, 1, 0)


def test_row16_beta_amylase_is_listed_but_never_changes_the_score(table):
    truth = table([("a", APO, 0, 0, 0), ("a", "beta-amylase", 500, 0, 0)])
    with_amylase = table([("a", APO, 0, 0, 0), ("a", "beta-amylase", 500, 0, 0)])
    without = table([("a", APO, 0, 0, 0)])
    a, b = score_picks(truth, with_amylase), score_picks(truth, without)
    assert a.classes["beta-amylase"].fbeta == 1.0
    assert b.classes["beta-amylase"].fbeta == 0.0
    assert a.score == b.score == 1 / 7


def test_row17_class_missing_from_the_solution_keeps_denominator_seven(table):
    truth = table([("a", RIBO, 0, 0, 0)])
    result = score_picks(truth, truth)
    assert result.score == 1 / 7
    assert result.total_weight == 7.0


def test_row18_perfect_predictions_score_one(table):
    rows = [
        ("a", name, 100.0 * i, 0, 0)
        for i, name in enumerate(
            [
                "apo-ferritin",
                "beta-amylase",
                "beta-galactosidase",
                "ribosome",
                "thyroglobulin",
                "virus-like-particle",
            ]
        )
    ]
    truth = table(rows)
    assert score_picks(truth, truth).score == 1.0


def test_edge_cases_agree_with_naive_reference(table):
    truth = table([("TS_73_6", APO, 0, 0, 0), ("TS_73_6", APO, 29.5, 0, 0), ("b", RIBO, 0, 0, 0)])
    picks = table([("TS_73_6", APO, 14.75, 0, 0), ("b", RIBO, 75, 0, 0), ("x", RIBO, 1, 1, 1)])
    naive, _ = naive_score(truth, picks)
    assert score_picks(truth, picks).score == naive


def test_class_order_of_truth_sets_the_summation_order(table):
    # the same rows in another order give the same score to the last bit here
    truth = table([("a", APO, 0, 0, 0), ("a", "thyroglobulin", 900, 0, 0), ("a", RIBO, 0, 900, 0)])
    picks = table([("a", APO, 0, 0, 0), ("a", APO, 500, 500, 500), ("a", RIBO, 0, 900, 0)])
    assert score_picks(truth, picks).score == naive_score(truth, picks)[0]
    reordered = truth.iloc[::-1].reset_index(drop=True)
    assert score_picks(reordered, picks).score == naive_score(reordered, picks)[0]
