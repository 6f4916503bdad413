"""Dataset identity by content: no paths, equal across cache folders, changed by any data edit."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import zarr

from topcup_bench.datasets.catalog import open_dataset
from topcup_bench.datasets.dataset import CopickDataset
from topcup_bench.datasets.kaggle_layout import KaggleDataset
from topcup_bench.identity import digest_json, same_dataset

SPEC = "phantom:tiny?runs=2&test=1"


def _phantom(tmp_path, monkeypatch, name):
    monkeypatch.setenv("TOPCUP_BENCH_CACHE", str(tmp_path / name))
    return open_dataset(SPEC, progress=False)


def _strings(value):
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_a_phantom_generated_in_two_cache_folders_has_one_identity(tmp_path, monkeypatch):
    first = _phantom(tmp_path, monkeypatch, "machine-a")
    second = _phantom(tmp_path, monkeypatch, "machine-b")
    assert first.config_path != second.config_path
    assert first.identity() == second.identity()
    assert same_dataset(first.identity(), second.identity())
    identity = first.identity()
    assert not [s for s in _strings(identity) if "machine-a" in s or "/" in s]
    assert set(identity) == {
        "kind",
        "tomo_type",
        "truth_user",
        "truth_session",
        "voxel_size_angstrom",
        "runs",
        "classes",
        "truth_digest",
        "tomogram_digests",
        "digest",
    }
    assert identity["digest"] == digest_json({k: v for k, v in identity.items() if k != "digest"})
    assert set(identity["tomogram_digests"]) == set(first.runs)
    provenance = first.provenance()
    assert "machine-a" in provenance["config"] and provenance["phantom_key"]
    assert provenance["spec"] == SPEC


def test_editing_one_truth_point_or_one_chunk_changes_the_identity(tmp_path, monkeypatch):
    dataset = _phantom(tmp_path, monkeypatch, "cache")
    before = dataset.identity()
    run = dataset.runs[0]
    picks = sorted((tmp_path / "cache").rglob(f"ExperimentRuns/{run}/Picks/curation_0_*.json"))
    content = json.loads(picks[0].read_text())
    content["points"][0]["location"]["x"] += 1.0
    picks[0].write_text(json.dumps(content))
    after_truth = dataset.identity()  # the same instance sees the edit
    assert after_truth["truth_digest"] != before["truth_digest"]
    assert after_truth["digest"] != before["digest"]
    assert after_truth["tomogram_digests"] == before["tomogram_digests"]
    assert dataset.truth_digest([dataset.runs[1]]) == _reopened(dataset).truth_digest(
        [dataset.runs[1]]
    )
    assert (
        CopickDataset(dataset.config_path).identity()["truth_digest"]
        == (after_truth["truth_digest"])
    )

    array = dataset._local_array(run)
    stored = zarr.open_array(str(array), mode="r+")
    data = stored[:]
    data[0, 0, 0] += 1.0
    stored[:] = data
    after_chunk = dataset.identity()
    assert after_chunk["tomogram_digests"][run] != before["tomogram_digests"][run]
    assert (
        after_chunk["tomogram_digests"][dataset.runs[1]]
        == before["tomogram_digests"][dataset.runs[1]]
    )
    assert after_chunk["digest"] != after_truth["digest"]


def _reopened(dataset):
    return CopickDataset(dataset.config_path, name="another name")


def test_the_name_and_the_path_are_not_identity(tmp_path, monkeypatch):
    dataset = _phantom(tmp_path, monkeypatch, "cache")
    moved = tmp_path / "moved"
    shutil.copytree(tmp_path / "cache", moved)
    other = _reopened(dataset)
    assert other.identity() == dataset.identity()
    assert other.provenance()["name"] == "another name"
    changed = CopickDataset(dataset.config_path, truth_user="someone")
    assert changed.identity()["digest"] != dataset.identity()["digest"]


def _kaggle(base):
    rng = np.random.default_rng(1)
    for run in ("TS_1", "TS_2"):
        store = base / "train/static/ExperimentRuns" / run / "VoxelSpacing10.000/denoised.zarr"
        group = zarr.open_group(str(store), mode="w")
        group.create_dataset("0", data=rng.normal(size=(6, 8, 8)).astype(np.float32))
        picks = base / "train/overlay/ExperimentRuns" / run / "Picks"
        picks.mkdir(parents=True)
        point = {"location": {"x": 10.0, "y": 20.0, "z": 30.0}}
        (picks / "ribosome.json").write_text(
            json.dumps({"pickable_object_name": "ribosome", "points": [point]})
        )
    return base


def test_kaggle_identity_is_by_content(tmp_path):
    first = KaggleDataset(_kaggle(tmp_path / "a"))
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    second = KaggleDataset(tmp_path / "b")
    assert first.identity() == second.identity()
    assert first.identity()["kind"] == "kaggle"
    assert not [s for s in _strings(first.identity()) if str(tmp_path) in s]
    assert str(tmp_path / "a") in first.provenance()["folder"]
    picks = tmp_path / "b/train/overlay/ExperimentRuns/TS_2/Picks/ribosome.json"
    picks.write_text(picks.read_text().replace("10.0", "11.0"))
    assert first.identity()["digest"] != second.identity()["digest"]


@pytest.mark.parametrize("what", ["tomogram", "truth"])
def test_default_digests_of_a_plain_dataset_subclass(what, tmp_path):
    """A third-party Dataset that implements only tomogram/truth still gets an identity."""
    kaggle = KaggleDataset(_kaggle(tmp_path / "k"))

    class Plain(KaggleDataset):
        kind = "plain"

        def run_digest(self, run):  # the base class's default: decode and digest
            return super(KaggleDataset, self).run_digest(run)

    plain = Plain(kaggle.folder)
    before = plain.identity()
    assert before["kind"] == "plain" and len(before["tomogram_digests"]) == 2
    # decoding and digesting gives the digest of the stored values (float32 stored here)
    assert before["tomogram_digests"] == kaggle.identity()["tomogram_digests"]
    assert Plain(kaggle.folder).identity() == before
    if what == "truth":
        picks = kaggle.overlay / "TS_1" / "Picks" / "ribosome.json"
        picks.write_text(picks.read_text().replace("20.0", "21.0"))
        assert Plain(kaggle.folder).identity()["truth_digest"] != before["truth_digest"]
    else:
        array = kaggle.static / "TS_1/VoxelSpacing10.000/denoised.zarr/0"
        stored = zarr.open_array(str(array), mode="r+")
        stored[0, 0, 0] = 5.0
        assert (
            Plain(kaggle.folder).identity()["tomogram_digests"]["TS_1"]
            != (before["tomogram_digests"]["TS_1"])
        )
