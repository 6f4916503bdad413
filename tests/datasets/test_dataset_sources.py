"""CopickDataset and KaggleDataset: lazy runs, truth tables, identical content, bad layouts."""

from __future__ import annotations

import json
import shutil

import copick
import numpy as np
import pandas as pd
import pytest
import zarr

from topcup_bench.datasets.dataset import CopickDataset
from topcup_bench.datasets.kaggle_layout import KaggleDataset
from topcup_bench.datasets.zarr_integrity import ZarrChunkError
from topcup_bench.errors import CopickSourceError, InputError, SchemaError, UnknownParticleError
from topcup_bench.types import COMPETITION_CLASSES

RUNS = ("TS_5_4", "TS_6_4")
SHAPE = (8, 12, 16)  # z, y, x


def _volume(run):
    rng = np.random.default_rng(len(run))
    return rng.normal(size=SHAPE).astype(np.float32)


def _points(run):
    rng = np.random.default_rng(sum(map(ord, run)))
    return {
        "ribosome": rng.uniform(0, 100, (3, 3)),
        "apo-ferritin": rng.uniform(0, 100, (2, 3)),
    }


@pytest.fixture
def copick_config(tmp_path):
    objects = [
        {
            "name": c.name,
            "is_particle": True,
            "label": c.label,
            "radius": c.radius_angstrom,
            "metadata": {"score_weight": c.weight},
        }
        for c in COMPETITION_CLASSES
    ]
    config = {
        "config_type": "filesystem",
        "name": "tiny",
        "description": "",
        "version": "1.31.0",
        "pickable_objects": objects,
        "overlay_root": f"local://{tmp_path / 'overlay'}",
        "overlay_fs_args": {"auto_mkdir": True},
    }
    path = tmp_path / "copick_config.json"
    path.write_text(json.dumps(config))
    root = copick.from_file(str(path))
    for run_name in RUNS:
        run = root.new_run(run_name)
        spacing = run.new_voxel_spacing(10.0)
        spacing.new_tomogram("denoised").from_numpy(_volume(run_name), levels=1)
        for name, xyz in _points(run_name).items():
            run.new_picks(name, "0", "curation").from_numpy(xyz)
    (tmp_path / "manifest.json").write_text(
        json.dumps({"split": {"train": ["TS_5_4"], "test": ["TS_6_4"]}})
    )
    return path


@pytest.fixture
def kaggle_dir(tmp_path):
    base = tmp_path / "kaggle"
    for run_name in RUNS:
        store = base / "train/static/ExperimentRuns" / run_name / "VoxelSpacing10.000/denoised.zarr"
        group = zarr.open_group(str(store), mode="w")
        group.create_dataset("0", data=_volume(run_name))
        picks_dir = base / "train/overlay/ExperimentRuns" / run_name / "Picks"
        picks_dir.mkdir(parents=True)
        for name, xyz in _points(run_name).items():
            points = [
                {
                    "location": dict(zip("xyz", map(float, p), strict=True)),
                    "transformation_": np.eye(4).tolist(),
                    "instance_id": 0,
                }
                for p in xyz
            ]
            (picks_dir / f"{name}.json").write_text(
                json.dumps({"pickable_object_name": name, "points": points})
            )
    return base


def _sorted(table):
    return table.sort_values(["experiment", "particle_type", "x"]).reset_index(drop=True)[
        ["experiment", "particle_type", "x", "y", "z"]
    ]


def test_copick_and_kaggle_fixtures_load_to_the_same_tables(copick_config, kaggle_dir):
    from_copick = CopickDataset(copick_config)
    from_kaggle = KaggleDataset(kaggle_dir)
    assert from_copick.runs == from_kaggle.runs == RUNS
    pd.testing.assert_frame_equal(_sorted(from_copick.truth()), _sorted(from_kaggle.truth()))
    for run in RUNS:
        a, b = from_copick.tomogram(run), from_kaggle.tomogram(run)
        assert a.data.dtype == np.float32 and a.shape_zyx == SHAPE
        np.testing.assert_array_equal(a.data, b.data)
        assert a.voxel_size_angstrom == b.voxel_size_angstrom == 10.0
        assert a.extent_angstrom_xyz == (160.0, 120.0, 80.0)


def test_kaggle_layout_is_read_only(kaggle_dir):
    before = sorted(
        (p.relative_to(kaggle_dir), p.stat().st_mtime_ns) for p in kaggle_dir.rglob("*")
    )
    dataset = KaggleDataset(kaggle_dir / "train")
    dataset.truth()
    dataset.tomogram(RUNS[0])
    after = sorted((p.relative_to(kaggle_dir), p.stat().st_mtime_ns) for p in kaggle_dir.rglob("*"))
    assert before == after


def test_copick_dataset_splits_classes_and_lazy_iteration(copick_config):
    dataset = CopickDataset(copick_config)
    assert dataset.split("train") == ("TS_5_4",) and dataset.split("all") == RUNS
    assert dataset.classes["beta-amylase"].weight == 0
    seen = [(tomogram.run, len(truth)) for tomogram, truth in dataset.iter_runs(["TS_6_4"])]
    assert seen == [("TS_6_4", 5)]
    assert dataset.identity()["kind"] == "copick"
    with pytest.raises(InputError, match="unknown split 'tset'.*'test'"):
        dataset.split("tset")
    with pytest.raises(InputError, match="TS_5_5.*Did you mean 'TS_5_4'"):
        dataset.tomogram("TS_5_5")


def test_copick_dataset_errors_name_what_is_missing(copick_config, tmp_path):
    with pytest.raises(CopickSourceError, match="wbp.*found \\['denoised'\\]"):
        CopickDataset(copick_config, tomo_type="wbp").tomogram("TS_5_4")
    with pytest.raises(CopickSourceError, match="no voxel spacing 7.5"):
        CopickDataset(copick_config, voxel_size_angstrom=7.5).tomogram("TS_5_4")
    with pytest.raises(CopickSourceError, match="not found"):
        CopickDataset(tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(CopickSourceError, match="broken.json"):
        CopickDataset(broken)
    assert CopickDataset(copick_config, truth_user="nobody").truth().empty


def test_corrupt_zarr_is_reported_with_its_path(copick_config):
    overlay = copick_config.parent / "overlay"
    chunks = [
        p
        for p in overlay.rglob("*")
        if "denoised.zarr" in str(p) and p.is_file() and not p.name.startswith(".")
    ]
    assert chunks
    for chunk in chunks:
        chunk.write_bytes(b"garbage")
    # checked before decoding: the error names the run, the array and the chunk
    with pytest.raises(ZarrChunkError, match="run 'TS_5_4', array .*denoised.zarr/0, chunk '0"):
        CopickDataset(copick_config).tomogram("TS_5_4")


def test_kaggle_layout_errors(kaggle_dir, tmp_path):
    with pytest.raises(InputError, match="missing \\['static/ExperimentRuns', 'overlay/Exp"):
        KaggleDataset(tmp_path / "empty")
    shutil.rmtree(kaggle_dir / "train/overlay")
    with pytest.raises(InputError, match="overlay/ExperimentRuns"):
        KaggleDataset(kaggle_dir)


def test_kaggle_bad_picks_files(kaggle_dir):
    picks_dir = kaggle_dir / "train/overlay/ExperimentRuns/TS_5_4/Picks"
    (picks_dir / "membrane.json").write_text(
        json.dumps({"pickable_object_name": "membrane", "points": []})
    )
    with pytest.raises(UnknownParticleError, match="membrane.json.*'membrane'"):
        KaggleDataset(kaggle_dir).truth()
    (picks_dir / "membrane.json").write_text("{oops")
    with pytest.raises(SchemaError, match="membrane.json"):
        KaggleDataset(kaggle_dir).truth()
    (picks_dir / "membrane.json").unlink()
    (picks_dir / "ribosome.json").write_text(
        json.dumps({"pickable_object_name": "ribosome", "points": [{"location": {"x": 1}}]})
    )
    with pytest.raises(SchemaError, match=r"points\[0\]"):
        KaggleDataset(kaggle_dir).truth()
