"""Threshold sweep and per-class thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from topcup_bench.errors import InputError, SchemaError, UnknownParticleError
from topcup_bench.metrics import best_thresholds, score_picks, threshold_sweep
from topcup_bench.testing import synthetic_scoring_case

APO = "apo-ferritin"


def test_hand_computed_curve(table):
    truth = table([("a", APO, 0, 0, 0), ("a", APO, 500, 0, 0), ("a", APO, 1000, 0, 0)])
    picks = table(
        [
            ("a", APO, 0, 0, 0, 0.9),  # covers point 0
            ("a", APO, 500, 0, 0, 0.4),  # covers point 1
            ("a", APO, 3000, 0, 0, 0.6),  # false positive
        ]
    )
    curve = threshold_sweep(truth, picks)[APO]
    # thresholds: below everything, then each distinct score (keep score > t)
    assert curve.thresholds[1:].tolist() == [0.4, 0.6, 0.9]
    assert curve.thresholds[0] < 0.4
    assert curve.tp.tolist() == [2, 1, 1, 0]
    assert curve.fp.tolist() == [1, 1, 0, 0]
    assert curve.fn.tolist() == [1, 2, 2, 3]
    assert curve.n_kept.tolist() == [3, 2, 1, 0]
    # F4 = 17 P R / (16 P + R): at t0 P = 2/3, R = 2/3 -> 2/3
    assert curve.fbeta[0] == pytest.approx(2 / 3)
    assert curve.best_index == 0
    assert curve.at(0.5)["tp"] == 1 and curve.at(0.5)["fp"] == 1
    assert curve.at(-100.0)["tp"] == 2
    frame = curve.to_frame()
    assert list(frame.columns)[:2] == ["particle_type", "threshold"] and len(frame) == 4


def test_best_threshold_rescored_equals_curve_maximum():
    truth, picks = synthetic_scoring_case(
        n_experiments=4, truth_per_class=15, false_positives_per_class=30, seed=5
    )
    curves = threshold_sweep(truth, picks)
    chosen = best_thresholds(curves)
    result = score_picks(truth, picks, thresholds="best")
    assert result.thresholds == chosen
    for name, curve in curves.items():
        assert result.classes[name].fbeta == curve.best_fbeta
        assert curve.best_fbeta == curve.fbeta.max()
    assert result.score >= score_picks(truth, picks).score


def test_mapping_thresholds_filter_only_named_classes(table):
    truth = table([("a", APO, 0, 0, 0), ("a", "ribosome", 900, 0, 0)])
    picks = table([("a", APO, 0, 0, 0, 0.2), ("a", "ribosome", 900, 0, 0, 0.2)])
    result = score_picks(truth, picks, thresholds={APO: 0.5})
    assert result.classes[APO].tp == 0
    assert result.classes["ribosome"].tp == 1
    assert result.thresholds == {APO: 0.5}


def test_threshold_errors(table):
    truth = table([("a", APO, 0, 0, 0)])
    no_score = table([("a", APO, 0, 0, 0)])
    with pytest.raises(SchemaError, match="score"):
        score_picks(truth, no_score, thresholds="best")
    with pytest.raises(SchemaError, match="score"):
        threshold_sweep(truth, no_score)
    scored = table([("a", APO, 0, 0, 0, 0.5)])
    with pytest.raises(UnknownParticleError, match="ribosom"):
        score_picks(truth, scored, thresholds={"ribosom": 0.1})
    with pytest.raises(InputError, match="finite"):
        score_picks(truth, scored, thresholds={APO: float("nan")})
    with pytest.raises(InputError, match="'best'"):
        score_picks(truth, scored, thresholds="worst")


def test_sweep_of_class_without_predictions(table):
    truth = table([("a", APO, 0, 0, 0), ("a", "ribosome", 900, 0, 0)])
    picks = table([("a", APO, 0, 0, 0, 0.3)])
    curve = threshold_sweep(truth, picks)["ribosome"]
    assert curve.tp.tolist() == [0] and curve.fn.tolist() == [1]
    assert np.isfinite(curve.thresholds).all()
