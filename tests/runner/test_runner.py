"""The runner and the benchmark workflow: caching, resume, failures, executors, outputs."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest

from topcup_bench.benchmark_config import BenchmarkConfig, load_config
from topcup_bench.errors import InputError, OutputExistsError, SchemaError
from topcup_bench.pickers import PICKERS, Picker, create_picker
from topcup_bench.results import read_results
from topcup_bench.runner import run_pickers
from topcup_bench.workflow import run_benchmark

from .conftest import TINY


class CountingOracle(Picker):
    """The oracle, counting its calls and optionally failing or misbehaving on one run."""

    name = "counting"
    calls: list[str] = []
    interrupt_on = ""  # a run where the process "dies" (not a parameter: same cache key)

    def __init__(self, malformed: bool = False) -> None:
        self.malformed = malformed
        self._inner = create_picker("oracle")

    def prepare(self, dataset):
        self._inner.prepare(dataset)

    def pick(self, tomogram, classes):
        CountingOracle.calls.append(tomogram.run)
        if tomogram.run == CountingOracle.interrupt_on:
            raise RuntimeError("boom")
        picks = self._inner.pick(tomogram, classes)
        return picks.drop(columns="z") if self.malformed else picks


def test_picks_are_cached_and_a_rerun_resumes(dataset, cache):
    runs = dataset.split("test")
    CountingOracle.calls = []
    CountingOracle.interrupt_on = runs[1]
    first = run_pickers(
        [CountingOracle()], dataset, runs, (), cache_root=cache / "p", progress=False
    )[0]
    assert first.status == "failed" and "boom" in first.error and "counting" in first.error
    assert CountingOracle.calls == list(runs)
    CountingOracle.calls = []
    CountingOracle.interrupt_on = ""
    second = run_pickers(
        [CountingOracle()], dataset, runs, (), cache_root=cache / "p", progress=False
    )[0]
    assert second.status == "ok"
    assert CountingOracle.calls == [runs[1]]  # the first run came from the cache
    assert second.cached_runs == [runs[0]]
    CountingOracle.calls = []
    third = run_pickers(
        [CountingOracle()], dataset, runs, (), cache_root=cache / "p", progress=False
    )[0]
    assert CountingOracle.calls == [] and third.cached_runs == list(runs)
    pd.testing.assert_frame_equal(third.picks, second.picks)


def test_malformed_tables_fail_one_picker_and_the_others_finish(dataset):
    runs = dataset.split("test")
    bad, good = run_pickers(
        [CountingOracle(malformed=True), create_picker("oracle")], dataset, runs, (), progress=False
    )
    assert bad.status == "failed" and "'counting'" in bad.error and "'z'" in bad.error
    assert good.status == "ok" and len(good.picks) > 0


def _scores(results):
    return {e["picker"]: (e["score"], e["score_best"]) for e in results["results"]}


def test_run_benchmark_writes_versioned_results(tmp_path):
    config = BenchmarkConfig(
        dataset=TINY,
        pickers=(("oracle", {}), ("random", {"seed": 3})),
        out=tmp_path / "out",
        bootstrap=200,
    )
    summary = run_benchmark(config, progress=False)
    results = read_results(tmp_path / "out" / "results.json")
    assert results["schema_version"] == 3
    assert results["dataset"]["split"] == "test" and results["dataset"]["runs"] == [
        "TS_001",
        "TS_002",
    ]
    assert results["provenance"]["topcup_bench_version"]
    oracle, random = results["results"]
    assert oracle["score"] == 1.0 and oracle["classes"]["ribosome"]["fbeta"] == 1.0
    assert random["score"] <= 0.1 and random["card"]["parameters"] == {"seed": 3}
    assert set(oracle["timings"]) >= {"fit_s", "pick_s", "pick_s_per_tomogram"}
    assert (tmp_path / "out" / "leaderboard.md").read_text().count("| oracle |") == 1
    picks = pd.read_csv(tmp_path / "out" / "picks" / "oracle.csv")
    assert list(picks.columns) == ["id", "experiment", "particle_type", "x", "y", "z", "score"]
    assert not summary.failed


def test_output_folder_of_another_dataset_is_refused(tmp_path):
    out = tmp_path / "out"
    run_benchmark(
        BenchmarkConfig(dataset=TINY, pickers=(("oracle", {}),), out=out, bootstrap=50),
        progress=False,
    )
    other = BenchmarkConfig(
        dataset="phantom:tiny?runs=3&test=1&seed=4",
        pickers=(("oracle", {}),),
        out=out,
        bootstrap=50,
    )
    with pytest.raises(OutputExistsError, match="another dataset"):
        run_benchmark(other, progress=False)
    run_benchmark(other, progress=False, overwrite=True)
    assert read_results(out / "results.json")["dataset"]["spec"].endswith("seed=4")


def test_processes_and_dask_executors_match_serial(tmp_path):
    pickers = (("oracle", {"jitter_angstrom": 15.0}), ("random", {}), ("blob", {}))
    scores = {}
    for executor in ("serial", "processes", "dask"):
        config = BenchmarkConfig(
            dataset=TINY,
            pickers=pickers,
            out=tmp_path / executor,
            executor=executor,
            workers=2,
            bootstrap=100,
            cache=False,
        )
        scores[executor] = _scores(run_benchmark(config, progress=False).results)
    assert scores["serial"] == scores["processes"] == scores["dask"]


def test_unreachable_dask_scheduler_fails_fast(tmp_path):
    config = BenchmarkConfig(
        dataset=TINY,
        pickers=(("oracle", {}),),
        out=tmp_path / "o",
        executor="dask",
        scheduler="tcp://127.0.0.1:9",
        cache=False,
    )
    start = time.perf_counter()
    with pytest.raises(InputError, match="cannot reach the dask scheduler"):
        run_benchmark(config, progress=False)
    assert time.perf_counter() - start < 30


def test_picker_names_and_parameters_are_checked():
    with pytest.raises(InputError, match="Did you mean 'template'"):
        create_picker("templat")
    with pytest.raises(InputError, match="parameter 'seed' expects int"):
        create_picker("random", {"seed": "many"})
    with pytest.raises(InputError, match="unknown parameter 'sed'"):
        create_picker("random", {"sed": 1})
    assert create_picker("oracle", {"label": "o2"}).display_name == "o2"
    assert "oracle" in PICKERS


def test_toml_config(tmp_path):
    path = tmp_path / "bench.toml"
    path.write_text(
        '[dataset]\nspec = "phantom:tiny"\nsplit = "all"\n[run]\nbootstrap = 10\nout = "x"\n'
        '[[pickers]]\nname = "random"\nparams = { seed = 2 }\n'
    )
    config = load_config(path)
    assert config.dataset == "phantom:tiny" and config.split == "all" and config.bootstrap == 10
    assert config.pickers == (("random", {"seed": 2}),)
    path.write_text("[run]\nbootstrapp = 10\n")
    with pytest.raises(SchemaError, match="bootstrapp.*Did you mean 'bootstrap'"):
        load_config(path)
    path.write_text("[run\n")
    with pytest.raises(SchemaError, match="TOML"):
        load_config(path)
    assert json.dumps(str(config.out)) == '"x"'


def test_operating_points_are_tuned_on_the_train_split(tmp_path):
    config = BenchmarkConfig(
        dataset="phantom:tiny?runs=5&test=2",
        pickers=(("oracle", {"jitter_angstrom": 10.0}),),
        out=tmp_path / "o",
        bootstrap=20,
    )
    summary = run_benchmark(config, progress=False)
    entry = summary.results["results"][0]
    assert entry["threshold_source"] == "best on 1 held-out train run(s)"
    assert summary.results["dataset"]["train_runs"] == ["TS_000", "TS_001"]
    assert summary.results["dataset"]["tune_runs"] == ["TS_002"]
    assert set(entry["timings"]["pick_s"]) == {"TS_003", "TS_004"}  # tuning picks dropped
    untuned = run_benchmark(
        config.with_overrides(tune_thresholds=False, out=tmp_path / "u"), progress=False
    ).results["results"][0]
    assert untuned["threshold_source"] == "picker default (--no-tune-thresholds)"
    assert untuned["thresholds"] is None


def test_external_picks_are_never_cached(dataset, tmp_path, cache):
    from topcup_bench.datasets import write_kaggle_csv

    source = tmp_path / "picks.csv"
    truth = dataset.truth(dataset.split("test"))
    write_kaggle_csv(truth.assign(score=1.0), source)
    picker = create_picker("external", {"source": str(source), "label": "tool"})
    runs = dataset.split("test")
    first = run_pickers([picker], dataset, runs, (), cache_root=cache / "e", progress=False)[0]
    assert len(first.picks) == len(truth) and first.cached_runs == []
    write_kaggle_csv(truth.iloc[:1].assign(score=1.0), source, overwrite=True)  # tool re-run
    second = run_pickers(
        [create_picker("external", {"source": str(source), "label": "tool"})],
        dataset,
        runs,
        (),
        cache_root=cache / "e",
        progress=False,
    )[0]
    assert len(second.picks) == 1 and not (cache / "e").exists()
