"""``topcup-bench run`` never loses or overwrites a user's data (issue 10, section 2)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import zarr

from topcup_bench import workflow
from topcup_bench.benchmark_config import BenchmarkConfig
from topcup_bench.cli import main
from topcup_bench.datasets.catalog import cache_dir, open_dataset, phantom_spec
from topcup_bench.datasets.dataset import CopickDataset
from topcup_bench.folder_lock import FolderLock
from topcup_bench.output_folder import MANIFEST_NAME

ARGS = ["run", "--dataset", "phantom:tiny", "--quiet", "--bootstrap", "20", "--no-report"]


@pytest.fixture
def picking(monkeypatch):
    """Record every call of the runner: an empty list means no picker ran."""
    calls = []
    real = workflow.run_pickers

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(workflow, "run_pickers", spy)
    return calls


def _snapshot(folder):
    """Every file under ``folder``: relative path -> (bytes, mtime)."""
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_foreign_file_in_out_is_untouched_and_the_run_exits_2(tmp_path, capsys, picking):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("months of work")
    before = _snapshot(out)
    assert main([*ARGS, "--pickers", "oracle", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "'thesis.tex'" in err and "--overwrite" in err
    assert _snapshot(out) == before and picking == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging, no lock left


def test_rerun_removes_stale_picks_and_another_dataset_needs_overwrite(tmp_path, capsys, picking):
    out = tmp_path / "out"
    assert main([*ARGS, "--pickers", "oracle,random", "--out", str(out)]) == 0
    assert sorted(p.name for p in (out / "picks").iterdir()) == ["oracle.csv", "random.csv"]
    assert main([*ARGS, "--pickers", "oracle", "--out", str(out)]) == 0  # same dataset: ours
    assert sorted(p.name for p in (out / "picks").iterdir()) == ["oracle.csv"]
    picking.clear()
    before = _snapshot(out)
    other = [*ARGS, "--dataset", "phantom:tiny?seed=1", "--pickers", "random", "--out", str(out)]
    assert main(other) == 2
    assert "another dataset" in capsys.readouterr().err
    assert _snapshot(out) == before and picking == []
    assert main([*other, "--overwrite"]) == 0
    assert sorted(p.name for p in (out / "picks").iterdir()) == ["random.csv"]
    results = json.loads((out / "results.json").read_text())
    assert results["dataset"]["spec"] == "phantom:tiny?seed=1"
    assert [e["picker"] for e in results["results"]] == ["random"]
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert "picks/oracle.csv" not in manifest["files"] and "picks/random.csv" in manifest["files"]


def test_a_failing_run_leaves_the_previous_results_byte_identical(tmp_path, monkeypatch):
    out = tmp_path / "out"
    config = BenchmarkConfig(
        dataset="phantom:tiny", pickers=(("oracle", {}), ("random", {})), out=out, bootstrap=20
    )
    workflow.run_benchmark(config, progress=False, report_formats=("md",))
    before = _snapshot(out)
    assert "report/report.md" in before

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(workflow, "write_results", disk_full)
    with pytest.raises(OSError, match="No space left"):
        workflow.run_benchmark(
            BenchmarkConfig(dataset="phantom:tiny", pickers=(("oracle", {}),), out=out),
            progress=False,
        )
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_concurrent_run_gets_a_clear_error(tmp_path, capsys, picking):
    out = tmp_path / "out"
    other_run = FolderLock(out)
    assert other_run.acquire(wait=False) is None
    try:
        assert main([*ARGS, "--pickers", "oracle", "--out", str(out)]) == 2
    finally:
        other_run.release()
    err = capsys.readouterr().err
    assert "another topcup-bench command is writing to this --out folder" in err
    assert f"(pid {os.getpid()})" in err
    assert picking == [] and not out.exists()


@pytest.mark.parametrize(
    "pickers",
    [
        "oracle:label=../x",
        "oracle:label=a/b",
        "oracle:label=",
        "oracle:label=.x",
        "external:source=picks.csv;label=../../etc/x",
    ],
)
def test_bad_labels_exit_2_before_anything_runs(tmp_path, capsys, picking, pickers):
    spec = "phantom:tiny?seed=99"  # never generated: the error comes first
    out = tmp_path / "out"
    assert main([*ARGS, "--dataset", spec, "--pickers", pickers, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--pickers: picker label" in err and "is not a plain name" in err
    assert picking == [] and not out.exists()
    never_generated = cache_dir() / "phantoms" / f"tiny-{phantom_spec(spec).cache_key()}"
    assert not never_generated.exists()


def test_write_copick_under_the_truth_user_is_refused_before_picking(tmp_path, capsys, picking):
    out = tmp_path / "out"
    args = [*ARGS, "--pickers", "oracle:label=curation", "--write-copick", "--out", str(out)]
    assert main(args) == 2
    assert "ground truth" in capsys.readouterr().err
    assert picking == [] and not out.exists()


def _kaggle_layout(base):
    run = "TS_1"
    store = base / "train/static/ExperimentRuns" / run / "VoxelSpacing10.000/denoised.zarr"
    zarr.open_group(str(store), mode="w").create_dataset("0", data=np.zeros((8, 8, 8), "f4"))
    picks = base / "train/overlay/ExperimentRuns" / run / "Picks"
    picks.mkdir(parents=True)
    point = {"location": {"x": 10.0, "y": 10.0, "z": 10.0}, "transformation_": np.eye(4).tolist()}
    (picks / "ribosome.json").write_text(
        json.dumps({"pickable_object_name": "ribosome", "points": [point]})
    )
    return base


def test_write_copick_on_a_kaggle_layout_is_refused_before_picking(tmp_path, capsys, picking):
    kaggle = _kaggle_layout(tmp_path / "kaggle")
    before = _snapshot(kaggle)
    out = tmp_path / "out"
    args = [*ARGS, "--dataset", f"kaggle:{kaggle}", "--split", "all", "--pickers", "oracle"]
    assert main([*args, "--write-copick", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--write-copick: the dataset" in err and "is not a copick project" in err
    assert picking == [] and not out.exists() and _snapshot(kaggle) == before


def test_write_copick_writes_into_a_copied_project_and_never_over_existing_picks(
    tmp_path, capsys, picking
):
    original = open_dataset("phantom:tiny", progress=False)
    source = Path(original.config_path).parent
    before = _snapshot(source)
    copy = tmp_path / "project"
    shutil.copytree(source, copy)
    config = str(copy / "copick_config.json")
    args = [*ARGS, "--dataset", config, "--pickers", "random:label=my_random", "--write-copick"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    written = sorted(p.name for p in copy.rglob("my-random_0_*.json"))
    assert written, "the picks are in the copied project (user my-random: '_' becomes '-')"
    assert _snapshot(source) == before  # the original is untouched
    picking.clear()
    assert main([*args, "--out", str(tmp_path / "b")]) == 2
    assert "would replace existing picks" in capsys.readouterr().err
    assert picking == []
    assert main([*args, "--out", str(tmp_path / "b"), "--overwrite"]) == 0
    truth = CopickDataset(config, tomo_type=original.tomo_type).truth()
    assert len(truth) == len(original.truth())  # the ground truth is untouched


def test_a_run_in_which_no_picker_succeeded_writes_nothing(tmp_path, capsys):
    out = tmp_path / "o30"
    assert main([*ARGS, "--pickers", "oracle", "--out", str(out)]) == 0
    capsys.readouterr()
    before = _snapshot(out)
    assert "picks/oracle.csv" in before
    bad = f"external:source={tmp_path / 'missing.csv'};label=oracle"  # fails while set up
    assert main([*ARGS, "--pickers", bad, "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert _snapshot(out) == before
    assert f"nothing written: no picker succeeded; {out} is left as it was" in captured.out
    assert "results:" not in captured.out and "picks:" not in captured.out
    assert "file not found" in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o30"]


def test_a_run_with_one_failed_picker_still_replaces_the_results(tmp_path, capsys):
    out = tmp_path / "out"
    bad = f"external:source={tmp_path / 'missing.csv'};label=broken"
    assert main([*ARGS, "--pickers", f"random,{bad}", "--out", str(out)]) == 1
    assert "results:" in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    assert [(e["picker"], e["status"]) for e in results["results"]] == [
        ("random", "ok"),
        ("broken", "failed"),
    ]


def test_out_in_the_dataset_or_the_cache_is_refused_even_with_overwrite(tmp_path, capsys, picking):
    project = Path(open_dataset("phantom:tiny").config_path).parent
    before = _snapshot(project)
    outs = [project, project / "results", cache_dir(), cache_dir() / "picks", cache_dir().parent]
    for out in outs:
        assert main([*ARGS, "--pickers", "oracle", "--out", str(out), "--overwrite"]) == 2
        err = capsys.readouterr().err
        assert "even with --overwrite" in err and ("cache folder" in err or "copick" in err)
    assert _snapshot(project) == before and picking == []
    assert not (project / "results").exists()
    assert not list(cache_dir().rglob("results.json"))
    assert not list(cache_dir().rglob(MANIFEST_NAME))
