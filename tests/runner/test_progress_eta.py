"""The runs bar's clock starts when picking starts: training and cached runs leave the ETA alone.

A fake clock drives tqdm (its module-level ``time``): training takes 1000 s and
each picked run 2 s of that clock, so the rate and ETA tqdm computes are known.
"""

from __future__ import annotations

import io

import pytest
import tqdm.std

from topcup_bench import runner
from topcup_bench.pickers.protocol import TrainablePicker
from topcup_bench.types import empty_picks_table

TRAINING_SECONDS = 1000.0
PICK_SECONDS = 2.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 50_000.0

    def __call__(self) -> float:
        return self.now


class SlowlyTrained(TrainablePicker):
    """Training and picking advance the fake clock; it picks nothing."""

    name = "slowly-trained"
    clock: FakeClock | None = None

    def fit(self, dataset, runs) -> None:
        SlowlyTrained.clock.now += TRAINING_SECONDS
        self.trained_on = tuple(runs)

    def pick(self, tomogram, classes):
        SlowlyTrained.clock.now += PICK_SECONDS
        return empty_picks_table()


@pytest.fixture
def bars(monkeypatch):
    """The bars the runner creates (writing to a string), each with its state after every update."""
    clock = FakeClock()
    monkeypatch.setattr(tqdm.std, "time", clock)
    SlowlyTrained.clock = clock
    created = []

    class RecordingBar(runner.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, file=io.StringIO(), **kwargs)
            self.snapshots = []
            created.append(self)

        def update(self, n=1):
            shown = super().update(n)
            self.snapshots.append(dict(self.format_dict))
            return shown

    monkeypatch.setattr(runner, "tqdm", RecordingBar)
    return created


def eta(snapshot) -> float:
    """The seconds left that tqdm shows: (total - n) / rate, rate = (n - initial) / elapsed."""
    rate = (snapshot["n"] - snapshot["initial"]) / snapshot["elapsed"]
    return (snapshot["total"] - snapshot["n"]) / rate


def test_training_time_is_not_in_the_rate(dataset, bars):
    runs, train = dataset.split("test"), dataset.split("train")
    outcome = runner.run_pickers([SlowlyTrained()], dataset, runs, train, progress=True)[0]
    assert outcome.status == "ok", outcome.error
    (bar,) = bars
    assert bar.initial == 0 and [s["n"] for s in bar.snapshots] == [1, 2]
    first, second = bar.snapshots
    assert first["elapsed"] == PICK_SECONDS  # not TRAINING_SECONDS + PICK_SECONDS
    assert first["rate"] == pytest.approx(1 / PICK_SECONDS)  # tqdm's smoothed rate
    assert eta(first) == pytest.approx(PICK_SECONDS)  # one run left, 2 s each
    assert second["elapsed"] == 2 * PICK_SECONDS


def test_cached_runs_count_as_initial_and_stay_out_of_the_rate(dataset, bars, tmp_path):
    runs, train = dataset.split("all"), dataset.split("train")
    cache = tmp_path / "picks"
    runner.run_pickers([SlowlyTrained()], dataset, runs[:1], train, cache_root=cache)
    bars.clear()
    outcome = runner.run_pickers([SlowlyTrained()], dataset, runs, train, cache_root=cache)[0]
    assert outcome.cached_runs == [runs[0]]
    (bar,) = bars
    assert bar.initial == 1 and bar.total == len(runs) == 3
    first = bar.snapshots[0]
    assert first["n"] == 2 and first["elapsed"] == PICK_SECONDS
    assert first["rate"] == pytest.approx(1 / PICK_SECONDS)
    assert eta(first) == pytest.approx(PICK_SECONDS)
