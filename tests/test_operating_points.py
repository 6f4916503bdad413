"""Out-of-sample operating points: k-fold cross-validation over runs, known answers."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from topcup_bench.errors import InputError, TopcupBenchWarning
from topcup_bench.metrics import best_thresholds, bootstrap_score, score_picks, threshold_sweep
from topcup_bench.metrics.fbeta import precision_recall_fbeta
from topcup_bench.operating_points import (
    UNTUNED,
    apply_run_thresholds,
    choose_operating_points,
    cross_validated_thresholds,
    fold_runs,
    picks_at_operating_point,
)
from topcup_bench.pickers.protocol import PickerCard
from topcup_bench.results import evaluate_outcome
from topcup_bench.runner import PickerOutcome
from topcup_bench.types import ClassCatalogue, ParticleClass

RIBOSOME = ClassCatalogue((ParticleClass("ribosome", 150.0, 1.0),))
TWO = ClassCatalogue(
    (ParticleClass("ribosome", 150.0, 1.0), ParticleClass("thyroglobulin", 130.0, 2.0))
)


def _table(rows, score=True):
    columns = ["experiment", "particle_type", "x", "y", "z"] + (["score"] if score else [])
    frame = pd.DataFrame(rows, columns=columns)
    for axis in "xyz":
        frame[axis] = frame[axis].astype(float)
    return frame


# Two runs, one particle each; each run has a true pick and a far false pick.
TRUTH = _table([("A", "ribosome", 1000, 1000, 1000), ("B", "ribosome", 1000, 1000, 1000)], False)
PICKS = _table(
    [
        ("A", "ribosome", 1000, 1000, 1000, 0.9),  # true
        ("A", "ribosome", 3000, 3000, 3000, 0.5),  # false
        ("B", "ribosome", 1000, 1000, 1000, 0.4),  # true
        ("B", "ribosome", 3000, 3000, 3000, 0.8),  # false
    ]
)


def _outcome(picks, thresholds=None):
    return PickerOutcome(
        card=PickerCard(name="p", version="1"), picks=picks, thresholds=dict(thresholds or {})
    )


def test_fold_thresholds_and_pooled_counts_by_hand():
    # Fold {A} is tuned on B: keeping both of B's picks (F4 = 8.5/9) beats any
    # threshold at or above 0.4 (F4 = 0), so A keeps score > nextafter(0.4, -inf): TP 1, FP 1.
    # Fold {B} is tuned on A: score > 0.5 keeps only A's true pick (F4 = 1), so B keeps only
    # its 0.8 false pick: TP 0, FP 1, FN 1.  Pooled: TP 1, FP 2, FN 1 -> F4 = 17/35.
    folds, by_run = cross_validated_thresholds(TRUTH, PICKS, RIBOSOME, ["A", "B"])
    assert folds == [("A",), ("B",)]
    assert by_run == {"A": {"ribosome": np.nextafter(0.4, -np.inf)}, "B": {"ribosome": 0.5}}
    outcome = _outcome(PICKS)
    choose_operating_points([outcome], TRUTH, RIBOSOME, ["A", "B"], ())
    assert outcome.threshold_source == "2-fold cross-validation over runs"
    entry = evaluate_outcome(outcome, TRUTH, RIBOSOME, n_resamples=50)
    counts = entry["classes"]["ribosome"]
    assert (counts["tp"], counts["fp"], counts["fn"]) == (1, 2, 1)
    assert entry["score"] == pytest.approx(17 / 35, abs=1e-12)
    assert entry["score_best"] == pytest.approx(17 * 0.5 / (16 * 0.5 + 1))  # in-sample, beside it
    assert entry["thresholds"] is None and entry["threshold_folds"] == [["A"], ["B"]]
    assert entry["thresholds_by_run"]["B"] == {"ribosome": 0.5}
    assert entry["threshold_source"] == "2-fold cross-validation over runs"


def test_the_interval_resamples_the_held_out_counts():
    outcome = _outcome(PICKS)
    choose_operating_points([outcome], TRUTH, RIBOSOME, ["A", "B"], ())
    kept = apply_run_thresholds(PICKS, outcome.run_thresholds)
    result = score_picks(TRUTH, kept, classes=RIBOSOME)
    per_run = result.counts.to_frame().set_index("experiment")
    assert per_run.loc["A", ["tp", "fp", "fn"]].tolist() == [1, 1, 0]
    assert per_run.loc["B", ["tp", "fp", "fn"]].tolist() == [0, 1, 1]
    entry = evaluate_outcome(outcome, TRUTH, RIBOSOME, n_resamples=200, seed=3)
    interval = bootstrap_score(result, n_resamples=200, seed=3)
    assert entry["score_interval"]["low"] == interval.low
    assert entry["score_interval"]["high"] == interval.high


def _random_case(seed, n_runs):
    rng = np.random.default_rng(seed)
    truth_rows, pick_rows = [], []
    for r in range(n_runs):
        run = f"TS_{r:02d}"
        for name in ("ribosome", "thyroglobulin"):  # every class in every run
            for _ in range(int(rng.integers(2, 7))):
                point = rng.uniform(0, 4000, 3)
                truth_rows.append((run, name, *point))
                if rng.random() < 0.8:
                    pick_rows.append((run, name, *(point + rng.normal(0, 20, 3)), rng.random()))
            for _ in range(int(rng.integers(0, 8))):
                pick_rows.append((run, name, *rng.uniform(0, 4000, 3), rng.random() * 0.7))
    return _table(truth_rows, False), _table(pick_rows)


@pytest.mark.parametrize(("seed", "n_runs"), [(0, 2), (1, 5), (2, 7), (3, 11)])
def test_cross_validation_equals_a_naive_loop_over_held_out_folds(seed, n_runs):
    truth, picks = _random_case(seed, n_runs)
    runs = sorted(set(truth["experiment"]))
    k = min(5, n_runs)
    outcome = _outcome(picks)
    choose_operating_points([outcome], truth, TWO, runs, ())
    entry = evaluate_outcome(outcome, truth, TWO, n_resamples=10)
    # naive: contiguous folds, thresholds from the other folds, each fold scored on its own
    bounds = np.cumsum([0] + [len(a) for a in np.array_split(np.arange(n_runs), k)])
    pooled = {"ribosome": np.zeros(3, int), "thyroglobulin": np.zeros(3, int)}
    for i in range(k):
        held = runs[bounds[i] : bounds[i + 1]]
        others = [r for r in runs if r not in held]
        curves = threshold_sweep(
            truth[truth.experiment.isin(others)], picks[picks.experiment.isin(others)], classes=TWO
        )
        fold = score_picks(
            truth[truth.experiment.isin(held)],
            picks[picks.experiment.isin(held)],
            classes=TWO,
            thresholds=best_thresholds(curves),
        )
        for name in pooled:
            c = fold.classes[name]
            pooled[name] += (c.tp, c.fp, c.fn)
    expected = 0.0
    for name, (tp, fp, fn) in pooled.items():
        got = entry["classes"][name]
        assert (got["tp"], got["fp"], got["fn"]) == (tp, fp, fn)
        expected += precision_recall_fbeta(int(tp), int(fp), int(fn), 4.0)[2] * TWO[name].weight
    assert entry["score"] == pytest.approx(expected / TWO.total_weight, abs=1e-12)
    assert outcome.threshold_source == f"{k}-fold cross-validation over runs"


def test_a_single_run_keeps_the_defaults_and_says_so():
    truth, picks = TRUTH.iloc[:1], PICKS.iloc[:2]
    outcome = _outcome(picks, {"ribosome": 0.7})
    with pytest.warns(TopcupBenchWarning, match=r"1 run, no held-out train runs"):
        choose_operating_points([outcome], truth, RIBOSOME, ["A"], ())
    assert outcome.threshold_source == "picker default: 1 run, no cross-validation possible"
    entry = evaluate_outcome(outcome, truth, RIBOSOME, n_resamples=10)
    assert entry["thresholds"] == {"ribosome": 0.7} and entry["classes"]["ribosome"]["fp"] == 0


def test_no_tuning_on_request_is_labelled_and_silent():
    outcome = _outcome(PICKS, {"ribosome": 0.7})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        choose_operating_points([outcome], TRUTH, RIBOSOME, ["A", "B"], (), tune=False)
    assert outcome.threshold_source == UNTUNED == "picker default (--no-tune-thresholds)"
    assert outcome.run_thresholds == {}


def test_folds_are_contiguous_and_checked():
    assert fold_runs(list("abcdefg")) == [("a", "b"), ("c", "d"), ("e",), ("f",), ("g",)]
    assert fold_runs(["a", "b"]) == [("a",), ("b",)]
    with pytest.raises(InputError, match="folds"):
        fold_runs(["a"])


def test_entry_thresholds_reapply_what_was_scored():
    entry = {"thresholds": None, "thresholds_by_run": {"A": {"ribosome": 0.6}, "B": {}}}
    kept = picks_at_operating_point(PICKS, entry)
    assert kept["score"].tolist() == [0.9, 0.4, 0.8]
    own = picks_at_operating_point(PICKS, {"thresholds": {"ribosome": 0.85}})
    assert own["score"].tolist() == [0.9]
