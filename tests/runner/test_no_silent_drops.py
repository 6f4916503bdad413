"""No silent drops, no silent defaults: dropped picks, runs without truth, set-up failures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from topcup_bench.benchmark_config import BenchmarkConfig
from topcup_bench.cli import main
from topcup_bench.datasets import write_kaggle_csv
from topcup_bench.errors import InputError, TopcupBenchWarning
from topcup_bench.pickers import Picker, create_picker
from topcup_bench.pickers.registry import PICKERS
from topcup_bench.results import read_results
from topcup_bench.runner import run_pickers
from topcup_bench.workflow import run_benchmark

from .conftest import TINY


def _external_source(dataset, path, rename):
    """The test runs' truth as picks, with the experiment names of some rows rewritten."""
    picks = dataset.truth(dataset.split("test")).assign(score=1.0).reset_index(drop=True)
    for rows, name in rename:
        picks.loc[rows, "experiment"] = name
    write_kaggle_csv(picks, path)
    return picks


def test_external_rows_of_other_runs_are_counted_warned_and_recorded(dataset, tmp_path):
    runs = dataset.split("test")
    source = tmp_path / "tool.csv"
    picks = _external_source(dataset, source, [([0, 1, 2], f"{runs[0]} "), ([3], "TS_999")])
    config = BenchmarkConfig(
        dataset=TINY,
        pickers=(("oracle", {}), ("external", {"source": str(source), "label": "tool"})),
        out=tmp_path / "out",
        bootstrap=20,
    )
    with pytest.warns(TopcupBenchWarning) as caught:
        run_benchmark(config, progress=False)
    lines = [str(w.message) for w in caught if "'tool'" in str(w.message)]
    assert len(lines) == 1
    assert f"dropped 4 of its {len(picks)} picks" in lines[0]
    assert f"'{runs[0]} ': 3" in lines[0] and "'TS_999': 1" in lines[0]
    entry = read_results(tmp_path / "out" / "results.json")["results"][1]
    assert entry["status"] == "ok" and entry["n_picks"] == len(picks) - 4
    assert entry["dropped"] == {
        "rows": 4,
        "of": len(picks),
        "runs": {f"{runs[0]} ": 3, "TS_999": 1},
    }
    board = (tmp_path / "out" / "leaderboard.md").read_text()
    assert f"tool: 4 of its {len(picks)} picks name runs that are not scored" in board
    assert f"'{runs[0]} ': 3" in board and "4 picks dropped (runs not scored)" in board


def test_a_picker_matching_no_scored_run_fails_with_the_reason(dataset, tmp_path, capsys):
    runs = dataset.split("test")
    source = tmp_path / "tool.csv"
    picks = _external_source(dataset, source, [])
    picks["experiment"] = picks["experiment"] + " "  # every name with a trailing space
    write_kaggle_csv(picks, source, overwrite=True)
    status = main(
        [
            "run",
            "--dataset",
            TINY,
            "--pickers",
            f"oracle,external:source={source};label=tool",
            "--out",
            str(tmp_path / "out"),
            "--bootstrap",
            "20",
            "--no-report",
            "--quiet",
        ]
    )
    assert status == 1
    entries = {e["picker"]: e for e in read_results(tmp_path / "out" / "results.json")["results"]}
    assert entries["oracle"]["status"] == "ok" and entries["oracle"]["score"] == 1.0
    tool = entries["tool"]
    assert tool["status"] == "failed"
    assert tool["error"] == (
        f"tool: none of its {len(picks)} picks name a scored run; its runs: "
        f"{[r + ' ' for r in runs]}; scored runs: {list(runs)}"
    )
    assert tool["dropped"]["rows"] == len(picks)
    assert "none of its" in capsys.readouterr().err


def test_picks_a_picker_returns_for_another_run_are_dropped_not_fatal(dataset, tmp_path):
    class Mislabelled(Picker):
        name = "mislabelled"

        def __init__(self) -> None:
            self._inner = create_picker("oracle")

        def prepare(self, dataset):
            self._inner.prepare(dataset)

        def pick(self, tomogram, classes):
            picks = self._inner.pick(tomogram, classes)
            picks.loc[picks.index[:2], "experiment"] = "elsewhere"
            return picks

    runs = dataset.split("test")
    for attempt in ("picked", "cached"):  # the count survives the picks cache
        with pytest.warns(TopcupBenchWarning, match=r"dropped 4 of its \d+ picks.*'elsewhere': 4"):
            outcome = run_pickers(
                [Mislabelled()], dataset, runs, (), cache_root=tmp_path / "c", progress=False
            )[0]
        assert outcome.status == "ok" and outcome.dropped == {"elsewhere": 4}
        assert set(outcome.picks["experiment"]) == set(runs)
        assert outcome.cached_runs == ([] if attempt == "picked" else list(runs))


def test_scored_runs_without_ground_truth_are_named(dataset, tmp_path):
    project = tmp_path / "project"
    source = Path(dataset.config_path)
    shutil.copytree(source.parent / "ExperimentRuns", project / "ExperimentRuns")
    config = json.loads(source.read_text(encoding="utf-8"))
    config["overlay_root"] = f"local://{project}"
    (project / "copick_config.json").write_text(json.dumps(config), encoding="utf-8")
    for picks_file in (project / "ExperimentRuns" / "TS_001" / "Picks").glob("curation_0_*"):
        picks_file.unlink()
    out = tmp_path / "out"
    bench = BenchmarkConfig(
        dataset=str(project / "copick_config.json"),
        pickers=(("oracle", {}),),
        split="all",
        out=out,
        bootstrap=20,
    )
    with pytest.warns(TopcupBenchWarning, match=r"1 of 3 scored runs have no ground-truth.*TS_001"):
        run_benchmark(bench, progress=False)
    results = read_results(out / "results.json")
    assert results["dataset"]["runs_without_truth"] == ["TS_001"]
    assert results["results"][0]["threshold_folds"] == [["TS_000"], ["TS_002"]]
    board = (out / "leaderboard.md").read_text()
    assert "1 scored run(s) have no ground-truth picks and are not scored: ['TS_001']" in board


def test_split_all_cross_validates_and_a_single_run_says_it_cannot(tmp_path):
    config = BenchmarkConfig(
        dataset=TINY,
        pickers=(("oracle", {"jitter_angstrom": 10.0}),),
        split="all",
        out=tmp_path / "all",
        bootstrap=20,
    )
    entry = run_benchmark(config, progress=False).results["results"][0]
    assert entry["threshold_source"] == "3-fold cross-validation over runs"
    assert sorted(entry["thresholds_by_run"]) == ["TS_000", "TS_001", "TS_002"]
    board = (tmp_path / "all" / "leaderboard.md").read_text()
    assert "3-fold cross-validation over runs" in board and "best-threshold score" in board
    single = config.with_overrides(dataset="phantom:tiny?runs=2&test=1", split="test")
    single = single.with_overrides(out=tmp_path / "one")
    with pytest.warns(TopcupBenchWarning, match="cannot be chosen out of sample"):
        one = run_benchmark(single, progress=False).results["results"][0]
    assert one["threshold_source"] == "picker default: 1 run, no cross-validation possible"
    assert "no cross-validation possible" in (tmp_path / "one" / "leaderboard.md").read_text()


def test_a_picker_failing_in_set_up_fails_alone_with_exit_1(tmp_path, capsys):
    missing = tmp_path / "nonexistent.csv"
    status = main(
        [
            "run",
            "--dataset",
            TINY,
            "--pickers",
            f"oracle,external:source={missing}",
            "--out",
            str(tmp_path / "out"),
            "--bootstrap",
            "20",
            "--no-report",
            "--quiet",
        ]
    )
    assert status == 1
    entries = read_results(tmp_path / "out" / "results.json")["results"]
    assert [e["status"] for e in entries] == ["ok", "failed"]
    assert entries[0]["score"] == 1.0
    assert str(missing) in entries[1]["error"] and "not found" in entries[1]["error"]
    assert "failed pickers" in capsys.readouterr().err


def test_a_missing_weights_file_fails_the_picker_not_the_run(dataset):
    pytest.importorskip("torch")
    topcup, oracle = run_pickers(
        [create_picker("topcup", {"weights": "/nonexistent.pt"}), create_picker("oracle")],
        dataset,
        dataset.split("test"),
        dataset.splits["train"],
        progress=False,
    )
    assert topcup.status == "failed"
    assert topcup.error == "picker 'topcup': /nonexistent.pt: checkpoint file not found"
    assert oracle.status == "ok" and len(oracle.picks) == len(dataset.truth(dataset.split("test")))


class _Crashing(Picker):
    """A plug-in whose constructor fails in its own way (not an input error)."""

    name = "crashing-test"

    def __init__(self, model: str = "") -> None:
        raise RuntimeError(f"cannot load model {model!r}")

    def pick(self, tomogram, classes):  # pragma: no cover - never created
        return pd.DataFrame()


def test_an_unexpected_creation_failure_fails_only_that_picker(tmp_path, monkeypatch):
    monkeypatch.setitem(PICKERS._entries, "crashing-test", _Crashing)
    config = BenchmarkConfig(
        dataset=TINY,
        pickers=(("oracle", {}), ("crashing-test", {"model": "m.pt"})),
        out=tmp_path / "out",
        bootstrap=20,
    )
    summary = run_benchmark(config, progress=False)
    assert summary.failed == {
        "crashing-test": "picker 'crashing-test' could not be created: "
        "RuntimeError: cannot load model 'm.pt'"
    }
    assert summary.results["results"][0]["score"] == 1.0


@pytest.mark.parametrize(
    ("pickers", "message"),
    [
        ("oracle,templat", "Did you mean 'template'"),
        ("oracle,random:seed=many", "parameter 'seed' expects int"),
        ("oracle,external", "parameter 'source' is required"),
        ("oracle,oracle", "unique"),
    ],
)
def test_input_errors_stop_before_any_work_with_exit_2(tmp_path, capsys, pickers, message):
    status = main(["run", "--dataset", "phantom:nonexistent-preset", "--pickers", pickers,
                   "--out", str(tmp_path / "out"), "--quiet"])  # fmt: skip
    assert status == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out" / "results.json").exists()


def test_input_errors_raise_in_python():
    from topcup_bench.pickers.unavailable import create_run_pickers

    with pytest.raises(InputError, match="unknown parameter"):
        create_run_pickers([("oracle", {}), ("random", {"sed": 1})])
