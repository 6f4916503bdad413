"""A phantom project uses its own folder; killed generations leave nothing behind."""

from __future__ import annotations

import json

import numpy as np

from topcup_bench.datasets import read_copick_picks, write_copick_picks
from topcup_bench.datasets.dataset import CopickDataset
from topcup_bench.datasets.phantom.presets import resolve_preset
from topcup_bench.datasets.phantom.project import PhantomProjectSpec, write_phantom_project


def _spec(seed=0):
    return PhantomProjectSpec(preset=resolve_preset("tiny"), n_runs=2, seed=seed, n_test=1)


def test_a_moved_project_reads_and_writes_its_own_folder(tmp_path):
    config = write_phantom_project(tmp_path / "a" / "p", _spec(), progress=False)
    before = CopickDataset(config)
    data, truth = before.tomogram("TS_000").data.copy(), before.truth()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "p").rename(tmp_path / "b" / "p")  # the original location is gone
    moved = tmp_path / "b" / "p" / "copick_config.json"
    assert str(tmp_path / "a") in json.loads(moved.read_text())["overlay_root"]
    dataset = CopickDataset(moved)
    np.testing.assert_array_equal(dataset.tomogram("TS_000").data, data)
    assert dataset.truth().equals(truth)
    picks = truth.assign(score=0.5).iloc[:3]
    write_copick_picks(picks, moved, user_id="someone", session_id="1")
    assert not (tmp_path / "a" / "p").exists()  # nothing written at the old location
    assert len(list((tmp_path / "b" / "p").rglob("someone_1_*.json"))) >= 1
    assert len(read_copick_picks(moved, user_id="someone", session_id="1")) == 3


def test_stale_partial_folders_of_killed_generations_are_removed(tmp_path):
    stale = tmp_path / ".p.partial-abc123"
    (stale / "ExperimentRuns" / "TS_000").mkdir(parents=True)
    old = tmp_path / ".p.old-4242"
    old.mkdir()
    unrelated = tmp_path / ".other.partial-abc123"
    unrelated.mkdir()
    write_phantom_project(tmp_path / "p", _spec(), progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.partial-abc123", "p"]
    # beside a complete project, the next open tidies up too (nobody is generating it)
    stale.mkdir()
    write_phantom_project(tmp_path / "p", _spec(), progress=False)
    assert not stale.exists() and unrelated.exists()
