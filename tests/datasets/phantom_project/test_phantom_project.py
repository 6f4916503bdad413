"""Phantom projects: written as real copick projects, cached, atomic, deterministic."""

from __future__ import annotations

import hashlib
import json

import copick
import numpy as np
import pytest

from topcup_bench.datasets.catalog import open_dataset, phantom_spec
from topcup_bench.datasets.dataset import CopickDataset
from topcup_bench.datasets.phantom import project as project_module
from topcup_bench.datasets.phantom.presets import resolve_preset
from topcup_bench.datasets.phantom.project import (
    PhantomProjectSpec,
    is_complete_project,
    write_phantom_project,
)
from topcup_bench.errors import InputError, OutputExistsError


def _spec(seed=0, n_runs=2, **overrides):
    preset = resolve_preset("tiny")
    if overrides:
        preset = preset.replace(**overrides)
    return PhantomProjectSpec(preset=preset, n_runs=n_runs, seed=seed, n_test=min(1, n_runs - 1))


@pytest.fixture(scope="module")
def tiny_project(tmp_path_factory):
    out = tmp_path_factory.mktemp("phantom") / "tiny"
    return out, write_phantom_project(out, _spec(), progress=False)


def _hash(config):
    root = copick.from_file(str(config))
    digest = hashlib.sha256()
    for run in sorted(root.runs, key=lambda r: r.name):
        digest.update(run.get_voxel_spacing(10.0).get_tomograms("denoised")[0].numpy().tobytes())
        for picks in sorted(run.picks, key=lambda p: p.pickable_object_name):
            digest.update(picks.numpy()[0].tobytes())
    return digest.hexdigest()


def test_project_reads_back_with_the_plain_copick_api(tiny_project):
    _, config = tiny_project
    preset = resolve_preset("tiny")
    root = copick.from_file(str(config))
    assert sorted(r.name for r in root.runs) == ["TS_000", "TS_001"]
    extent = np.array(preset.extent_angstrom_xyz)
    for run_name in ("TS_000", "TS_001"):
        run = root.get_run(run_name)
        spacing = run.get_voxel_spacing(10.0)
        assert spacing is not None
        volume = spacing.get_tomograms("denoised")[0].numpy()
        assert volume.shape == preset.shape_zyx and volume.dtype == np.float32
        for name, expected in preset.class_counts.items():
            (picks,) = run.get_picks(name, user_id="curation", session_id="0")
            points, transforms = picks.numpy()
            assert len(points) == expected
            assert ((points >= 0) & (points < extent)).all()
            rotations = transforms[:, :3, :3]
            assert np.allclose(rotations @ rotations.transpose(0, 2, 1), np.eye(3), atol=1e-6)
    config_json = json.loads(config.read_text())
    weights = {o["name"]: o["metadata"]["score_weight"] for o in config_json["pickable_objects"]}
    assert weights["beta-amylase"] == 0 and sum(weights.values()) == 7


def test_manifest_records_the_split_seeds_and_parameters(tiny_project):
    out, _ = tiny_project
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["split"] == {"train": ["TS_000"], "test": ["TS_001"]}
    assert manifest["preset"]["name"] == "tiny-kaggle-like"
    assert manifest["seed"] == 0 and set(manifest["run_seeds"]) == {"TS_000", "TS_001"}
    assert manifest["truth_user"] == "curation" and manifest["complete"] is True
    dataset = CopickDataset(out / "copick_config.json")
    assert dataset.split("test") == ("TS_001",)


def test_second_call_is_a_cache_hit(tiny_project, monkeypatch):
    out, config = tiny_project

    def fail(*args, **kwargs):
        raise AssertionError("regenerated")

    monkeypatch.setattr(project_module, "generate_run", fail)
    assert write_phantom_project(out, _spec(), progress=False) == config


def test_same_seed_same_project_and_different_seed_differs(tiny_project, tmp_path):
    _, config = tiny_project
    again = write_phantom_project(tmp_path / "again", _spec(), progress=False)
    other = write_phantom_project(tmp_path / "other", _spec(seed=1), progress=False)
    assert _hash(again) == _hash(config)
    assert _hash(other) != _hash(config)


def test_a_folder_of_other_files_is_refused_even_with_overwrite(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "precious.txt").write_text("user data")
    for overwrite in (False, True):
        with pytest.raises(OutputExistsError, match=r"not a topcup-bench phantom .*precious.txt"):
            write_phantom_project(out, _spec(n_runs=1), progress=False, overwrite=overwrite)
    assert (out / "precious.txt").read_text() == "user data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_another_phantom_is_refused_unless_overwrite(tmp_path):
    out = tmp_path / "mine"
    write_phantom_project(out, _spec(n_runs=2), progress=False)
    # a different phantom in the same folder is also "something else"
    with pytest.raises(OutputExistsError, match="cache key"):
        write_phantom_project(out, _spec(seed=5), progress=False)
    write_phantom_project(out, _spec(seed=5), progress=False, overwrite=True)
    assert is_complete_project(out, _spec(seed=5))


def test_interrupted_generation_leaves_nothing(tmp_path, monkeypatch):
    real = project_module.generate_run
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(project_module, "generate_run", flaky)
    with pytest.raises(KeyboardInterrupt):
        write_phantom_project(tmp_path / "p", _spec(), progress=False)
    assert list(tmp_path.iterdir()) == []


def test_named_phantom_datasets_open_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TOPCUP_BENCH_CACHE", str(tmp_path))
    dataset = open_dataset("phantom:tiny?runs=2&test=1", progress=False)
    assert dataset.runs == ("TS_000", "TS_001") and dataset.split("train") == ("TS_000",)
    tomogram, truth = next(dataset.iter_runs(["TS_001"]))
    assert tomogram.voxel_size_angstrom == 10.0 and set(truth["experiment"]) == {"TS_001"}
    assert len(list((tmp_path / "phantoms").iterdir())) == 1
    spec = phantom_spec("phantom:default")
    assert spec.preset.name == "small-kaggle-like" and spec.n_runs >= 6
    with pytest.raises(InputError, match="unknown option 'run'.*'runs'"):
        phantom_spec("phantom:tiny?run=3")
    with pytest.raises(InputError, match="unknown dataset"):
        open_dataset("nothing-here")


def test_paper_preset_extends_the_default_with_84_test_runs():
    paper, default = phantom_spec("phantom:paper"), phantom_spec("phantom:default")
    assert paper.preset == default.preset and paper.seed == default.seed
    assert (len(paper.run_names), paper.n_test) == (90, 84)
    assert paper.split["train"] == default.split["train"]  # the same train tomograms
    assert paper.split["test"][:4] == default.split["test"]
    assert paper.split["test"][-1] == "TS_089"
