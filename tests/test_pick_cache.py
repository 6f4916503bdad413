"""The picks cache: keyed by content, checksummed entries, corrupt entries recomputed."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import zarr

from topcup_bench.benchmark_config import BenchmarkConfig
from topcup_bench.datasets.catalog import open_dataset
from topcup_bench.errors import TopcupBenchWarning
from topcup_bench.pick_cache import PickCache
from topcup_bench.pickers import create_picker
from topcup_bench.pickers.reference import OraclePicker
from topcup_bench.runner import run_pickers
from topcup_bench.workflow import run_benchmark

SPEC = "phantom:tiny?runs=3&test=2"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private cache folder: these tests edit the generated phantom."""
    monkeypatch.setenv("TOPCUP_BENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


class CountingOracle(OraclePicker):
    """The oracle, counting the runs it picks."""

    name = "counting-oracle"
    calls: list[str] = []

    def pick(self, tomogram, classes):
        CountingOracle.calls.append(tomogram.run)
        return super().pick(tomogram, classes)


def _pick(dataset, runs, root):
    CountingOracle.calls = []
    outcome = run_pickers([CountingOracle()], dataset, runs, (), cache_root=root, progress=False)
    assert outcome[0].status == "ok", outcome[0].error
    return outcome[0]


def _entry(root, dataset, run):
    key = PickCache(root).key(CountingOracle(), dataset, run, ())
    return root / "counting-oracle" / f"{key}.csv"


def _truncate(csv, sidecar):
    csv.write_bytes(csv.read_bytes()[:-7])


def _flip_a_digit(csv, sidecar):
    data = bytearray(csv.read_bytes())
    position = data.rindex(b".") + 1
    data[position] = ord("1") if data[position] != ord("1") else ord("2")
    csv.write_bytes(bytes(data))  # same length, other value


def _corrupt_sidecar(csv, sidecar):
    sidecar.write_text('{"key": ')


def _delete_sidecar(csv, sidecar):
    sidecar.unlink()


def _delete_csv(csv, sidecar):
    csv.unlink()


def _other_key(csv, sidecar):
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**meta, "key": "0" * 20}))


@pytest.mark.parametrize(
    "damage",
    [_truncate, _flip_a_digit, _corrupt_sidecar, _delete_sidecar, _delete_csv, _other_key],
)
def test_a_damaged_entry_is_reported_discarded_and_recomputed(cache, damage):
    dataset = open_dataset(SPEC, progress=False)
    runs = dataset.split("test")
    root = cache / "picks"
    first = _pick(dataset, runs, root)
    assert CountingOracle.calls == list(runs)
    csv = _entry(root, dataset, runs[1])
    sidecar = csv.with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    assert set(meta) == {"key", "csv_sha256", "csv_bytes", "pick_seconds"}
    assert meta["key"] == csv.stem and meta["csv_bytes"] == csv.stat().st_size

    damage(csv, sidecar)
    with pytest.warns(TopcupBenchWarning, match=f"picks cache entry {csv}:.*recomputed"):
        second = _pick(dataset, runs, root)
    assert CountingOracle.calls == [runs[1]]  # only the damaged entry is recomputed
    assert second.cached_runs == [runs[0]]
    pd.testing.assert_frame_equal(second.picks, first.picks)
    assert json.loads(sidecar.read_text())["csv_sha256"] == meta["csv_sha256"]  # rewritten

    third = _pick(dataset, runs, root)  # whole again: no warning, nothing recomputed
    assert CountingOracle.calls == [] and third.cached_runs == list(runs)


def test_the_key_follows_the_content_not_the_location(cache, tmp_path, monkeypatch):
    dataset = open_dataset(SPEC, progress=False)
    run = dataset.runs[0]
    keys = PickCache(None)
    oracle, blob = CountingOracle(), create_picker("blob")
    before = {p.name: keys.key(p, dataset, run, ()) for p in (oracle, blob)}
    monkeypatch.setenv("TOPCUP_BENCH_CACHE", str(tmp_path / "elsewhere"))
    moved = open_dataset(SPEC, progress=False)
    assert moved.config_path != dataset.config_path
    assert {p.name: keys.key(p, moved, run, ()) for p in (oracle, blob)} == before

    picks = sorted(cache.rglob(f"ExperimentRuns/{run}/Picks/curation_0_*.json"))[0]
    content = json.loads(picks.read_text())
    content["points"][0]["location"]["z"] += 2.0
    picks.write_text(json.dumps(content))
    assert keys.key(oracle, dataset, run, ()) != before["counting-oracle"]  # reads the truth
    assert keys.key(blob, dataset, run, ()) == before["blob"]  # reads only the tomogram
    other_run = dataset.runs[1]
    assert keys.key(oracle, dataset, other_run, ()) == keys.key(oracle, moved, other_run, ())


def test_external_picks_are_keyed_by_the_source_content(cache, tmp_path):
    dataset = open_dataset(SPEC, progress=False)
    source = tmp_path / "picks.csv"
    source.write_text("experiment,particle_type,x,y,z\nTS_000,ribosome,1,2,3\n")
    picker = create_picker("external", {"source": str(source)})
    key = PickCache(None).key(picker, dataset, "TS_000", ())
    copy = tmp_path / "copy.csv"
    copy.write_bytes(source.read_bytes())
    same = create_picker("external", {"source": str(copy)})
    assert same.input_digest(dataset, "TS_000") == picker.input_digest(dataset, "TS_000")
    source.write_text("experiment,particle_type,x,y,z\nTS_000,ribosome,1,2,4\n")
    assert picker.input_digest(dataset, "TS_000") != same.input_digest(dataset, "TS_000")
    assert PickCache(None).key(picker, dataset, "TS_000", ()) != key


def _config(out):
    return BenchmarkConfig(
        dataset=SPEC, pickers=(("oracle", {}), ("blob", {})), out=out, bootstrap=20
    )


def _entries(results):
    return {e["picker"]: e for e in results["results"]}


def test_editing_a_chunk_or_a_truth_point_and_rerunning_scores_the_new_data(cache, tmp_path):
    first = _entries(run_benchmark(_config(tmp_path / "r1"), progress=False).results)
    assert first["oracle"]["score"] == 1.0
    again = _entries(run_benchmark(_config(tmp_path / "r2"), progress=False).results)
    assert again["blob"]["timings"]["cached_runs"] == ["TS_001", "TS_002"]
    assert again["blob"]["score"] == first["blob"]["score"]

    # one tomogram edited: blob picks it again and scores what it now finds
    dataset = open_dataset(SPEC, progress=False)
    stored = zarr.open_array(str(dataset._local_array("TS_002")), mode="r+")
    stored[:] = 0.0  # the particles are gone from the data
    edited = _entries(run_benchmark(_config(tmp_path / "r3"), progress=False).results)
    assert edited["blob"]["timings"]["cached_runs"] == ["TS_001"]
    assert edited["oracle"]["timings"]["cached_runs"] == ["TS_001"]  # keyed on the tomogram too
    assert edited["oracle"]["score"] == 1.0
    assert edited["blob"]["score"] < first["blob"]["score"]

    # one ground-truth point moved: the oracle picks the run again and still scores 1.0
    picks = sorted(cache.rglob("ExperimentRuns/TS_001/Picks/curation_0_ribosome.json"))[0]
    content = json.loads(picks.read_text())
    content["points"][0]["location"]["x"] += 400.0
    picks.write_text(json.dumps(content))
    moved = _entries(run_benchmark(_config(tmp_path / "r4"), progress=False).results)
    assert moved["oracle"]["timings"]["cached_runs"] == ["TS_002"]
    assert moved["oracle"]["score"] == 1.0  # stale cached picks would miss the moved point
    assert moved["blob"]["timings"]["cached_runs"] == ["TS_001", "TS_002"]  # blob reads no truth


def test_topcup_picks_are_keyed_by_the_content_of_their_weights(cache, tmp_path):
    dataset = open_dataset(SPEC, progress=False)
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"first network")
    picker = create_picker("topcup", {"weights": str(weights)})
    key = PickCache(None).key(picker, dataset, "TS_000", ())
    assert PickCache(None).key(picker, dataset, "TS_000", ()) == key
    weights.write_bytes(b"retrained network, same file name")
    assert PickCache(None).key(picker, dataset, "TS_000", ()) != key
