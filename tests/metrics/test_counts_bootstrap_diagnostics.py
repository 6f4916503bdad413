"""Additive counts, one-to-one matching, bootstrap and localisation diagnostics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from random_cases import random_case
from scipy.optimize import linear_sum_assignment

from topcup_bench.errors import InputError
from topcup_bench.metrics import (
    aggregation_summary,
    bootstrap_score,
    class_confusion,
    duplicate_summary,
    fbeta_at_multipliers,
    matched_distances,
    per_run_scores,
    score_picks,
)
from topcup_bench.testing import synthetic_scoring_case

APO = "apo-ferritin"


def test_counts_are_additive_over_experiments():
    truth, picks = synthetic_scoring_case(n_experiments=4, truth_per_class=8, seed=1)
    whole = score_picks(truth, picks)
    first = truth["experiment"].isin(["TS_0", "TS_1"])
    part_a = score_picks(truth[first], picks)
    part_b = score_picks(truth[~first], picks)
    summed = part_a.counts + part_b.counts
    ordered = summed.select_experiments(whole.counts.experiments)
    for name in ("tp", "fp", "fn"):
        assert np.array_equal(
            getattr(ordered, name),
            getattr(whole.counts, name)[
                :, [whole.counts.classes.index(c) for c in ordered.classes]
            ],
        )
    assert summed.pooled() == {c: whole.counts.pooled()[c] for c in summed.classes}
    frame = whole.counts.to_frame()
    assert len(frame) == 4 * 6 and frame["tp"].sum() == sum(
        v[0] for v in whole.counts.pooled().values()
    )
    with pytest.raises(InputError, match="TS_9"):
        whole.counts.select_experiments(["TS_9"])


def _matching_size(truth_xyz, pred_xyz, r):
    # independent maximum matching: Hungarian assignment on a 0/1 cost matrix
    d2 = ((truth_xyz[:, None, :] - pred_xyz[None, :, :]) ** 2).sum(-1)
    cost = np.where(d2 <= r * r, -1.0, 0.0)
    rows, cols = linear_sum_assignment(cost)
    return int(-cost[rows, cols].sum())


def test_one_to_one_matches_hungarian_assignment():
    for seed in range(150):
        truth, picks = random_case(seed)
        result = score_picks(truth, picks, rule="one-to-one")
        expected = {}
        for (experiment, name), group in truth.groupby(["experiment", "particle_type"]):
            candidates = picks[(picks.experiment == experiment) & (picks.particle_type == name)]
            r = {
                "apo-ferritin": 30,
                "beta-amylase": 32.5,
                "beta-galactosidase": 45,
                "ribosome": 75,
                "thyroglobulin": 65,
                "virus-like-particle": 67.5,
            }[name]
            tp = (
                _matching_size(
                    group[["x", "y", "z"]].to_numpy(), candidates[["x", "y", "z"]].to_numpy(), r
                )
                if len(candidates)
                else 0
            )
            expected[name] = expected.get(name, 0) + tp
        got = {n: c.tp for n, c in result.classes.items() if c.scored}
        assert got == {n: expected.get(n, 0) for n in got}, f"seed {seed}"
        competition = score_picks(truth, picks)
        differing = {(d.experiment, d.particle_type) for d in competition.rule_differences}
        for name, c in competition.classes.items():
            if c.scored and not any(n == name for _, n in differing):
                assert c.tp == result.classes[name].tp


def test_bootstrap_is_seeded_and_brackets_the_score():
    truth, picks = synthetic_scoring_case(n_experiments=12, truth_per_class=10, seed=3)
    result = score_picks(truth, picks)
    a = bootstrap_score(result, n_resamples=500, seed=7)
    b = bootstrap_score(result, n_resamples=500, seed=7)
    c = bootstrap_score(result, n_resamples=500, seed=8)
    assert a == b
    assert a != c
    assert a.low <= result.score <= a.high
    assert a.std > 0 and a.n_experiments == 12
    narrow = bootstrap_score(result, n_resamples=500, seed=7, confidence=0.5)
    assert a.low <= narrow.low <= narrow.high <= a.high
    with pytest.raises(InputError, match="n_resamples"):
        bootstrap_score(result, n_resamples=0)
    with pytest.raises(InputError, match="confidence"):
        bootstrap_score(result, confidence=1.5)


def test_bootstrap_of_a_single_experiment_has_zero_width(table):
    truth = table([("a", APO, 0, 0, 0), ("a", APO, 900, 0, 0)])
    picks = table([("a", APO, 0, 0, 0)])
    interval = bootstrap_score(score_picks(truth, picks), n_resamples=50)
    assert interval.low == interval.high == interval.score


def test_per_run_and_micro_aggregation(table):
    truth = table([("a", APO, 0, 0, 0), ("b", APO, 0, 0, 0), ("b", APO, 900, 0, 0)])
    picks = table([("a", APO, 0, 0, 0)])
    result = score_picks(truth, picks)
    runs = per_run_scores(result)
    assert runs.loc["a", APO] == 1.0 and runs.loc["b", APO] == 0.0
    assert runs.loc["a", "score"] == pytest.approx(1 / 7)
    summary = aggregation_summary(result)
    assert summary.loc["per-run mean", APO] == 0.5
    assert summary.loc["micro", APO] == result.classes[APO].fbeta


def test_fbeta_at_multipliers_grows_with_radius(table):
    truth = table([("a", APO, 0, 0, 0)])
    picks = table([("a", APO, 40, 0, 0)])  # 40 Å: outside 0.5 R = 30, inside 0.8 R = 48
    frame = fbeta_at_multipliers(truth, picks)
    assert frame.loc[0.5, APO] == 0.0 and frame.loc[0.8, APO] == 1.0 and frame.loc[1.0, APO] == 1.0
    assert list(frame.index) == [0.25, 0.5, 0.8, 1.0]


def test_matched_distances_and_duplicates(table):
    truth = table([("a", APO, 0, 0, 0), ("a", APO, 29.5, 0, 0), ("a", APO, 900, 0, 0)])
    picks = table([("a", APO, 14.75, 0, 0), ("a", APO, 903, 4, 0), ("a", APO, 900, 0, 0)])
    distances = matched_distances(truth, picks).sort_values("distance_angstrom")
    assert distances["distance_angstrom"].tolist() == [0.0, 14.75, 14.75]
    assert distances["fraction_of_radius"].iloc[1] == pytest.approx(14.75 / 60)
    dup = duplicate_summary(truth, picks)
    assert dup.loc[APO, "truth_covered_more_than_once"] == 1
    assert dup.loc[APO, "picks_covering_several"] == 1


def test_class_confusion(table):
    truth = table([("a", APO, 0, 0, 0), ("a", "ribosome", 1000, 0, 0)])
    picks = table(
        [
            ("a", "ribosome", 5, 0, 0),
            ("a", APO, 1010, 0, 0),
            ("a", APO, 0, 0, 0),
            ("b", APO, 0, 0, 0),
        ]
    )
    matrix = class_confusion(truth, picks)
    assert matrix.loc["ribosome", APO] == 1  # ribosome pick on apo-ferritin truth
    assert matrix.loc[APO, "ribosome"] == 1  # apo-ferritin pick within 75 Å of a ribosome
    assert matrix.loc[APO, APO] == 1
    assert int(matrix.to_numpy().sum()) == 3
    assert isinstance(matrix, pd.DataFrame)


def test_invalid_metric_parameters(table):
    truth = table([("a", APO, 0, 0, 0)])
    with pytest.raises(InputError, match="rule"):
        score_picks(truth, truth, rule="greedy")
    with pytest.raises(InputError, match="distance_multiplier"):
        score_picks(truth, truth, distance_multiplier=0)
    with pytest.raises(InputError, match="beta"):
        score_picks(truth, truth, beta=float("nan"))
