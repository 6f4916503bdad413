"""``report --out``: the same owned-folder rule as ``run`` and an ``--overwrite`` option."""

from __future__ import annotations

import shutil

import pytest

from topcup_bench.benchmark_config import BenchmarkConfig
from topcup_bench.cli import main
from topcup_bench.datasets.catalog import cache_dir
from topcup_bench.output_folder import MANIFEST_NAME
from topcup_bench.workflow import run_benchmark


@pytest.fixture(scope="module")
def results_path(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    config = BenchmarkConfig(
        dataset="phantom:tiny", pickers=(("oracle", {}),), out=out, bootstrap=20
    )
    run_benchmark(config, progress=False)
    return out / "results.json"


def test_report_out_refuses_foreign_files_and_overwrite_keeps_them(results_path, tmp_path, capsys):
    out = tmp_path / "report"
    out.mkdir()
    (out / "slides.pptx").write_bytes(b"\x00user")
    mtime = (out / "slides.pptx").stat().st_mtime_ns
    assert main(["report", str(results_path), "--out", str(out), "--format", "md"]) == 2
    err = capsys.readouterr().err
    assert "'slides.pptx'" in err and "--overwrite" in err
    assert sorted(p.name for p in out.iterdir()) == ["slides.pptx"]
    args = ["report", str(results_path), "--out", str(out), "--format", "md", "--overwrite"]
    assert main(args) == 0
    assert (out / "slides.pptx").read_bytes() == b"\x00user"
    assert (out / "slides.pptx").stat().st_mtime_ns == mtime
    assert (out / "report.md").is_file()


def test_a_second_report_replaces_the_first_without_mixing(results_path, tmp_path):
    out = tmp_path / "report"
    assert main(["report", str(results_path), "--out", str(out), "--format", "md,csv"]) == 0
    assert (out / "leaderboard.csv").is_file()
    assert main(["report", str(results_path), "--out", str(out), "--format", "json"]) == 0
    names = sorted(p.name for p in out.iterdir() if p.is_file())
    assert names == [".topcup-bench-manifest.json", "leaderboard.json"]


def _snapshot(folder):
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_report_into_a_run_folder_is_refused_unless_overwrite_which_keeps_the_run(
    results_path, tmp_path, capsys
):
    run_folder = tmp_path / "bc"
    shutil.copytree(results_path.parent, run_folder)
    before = _snapshot(run_folder)
    assert main(["report", str(results_path), "--out", str(run_folder), "--format", "md"]) == 2
    assert "'topcup-bench run'" in capsys.readouterr().err
    assert _snapshot(run_folder) == before
    args = ["report", str(results_path), "--out", str(run_folder), "--format", "md"]
    assert main([*args, "--overwrite"]) == 0
    after = _snapshot(run_folder)
    assert {rel: after[rel] for rel in before if rel != MANIFEST_NAME} == {
        rel: before[rel] for rel in before if rel != MANIFEST_NAME
    }  # results.json, leaderboard.md, truth.csv, picks/, report/ all kept, unchanged
    assert "report.md" in after


def test_report_out_holding_its_own_input_is_refused_even_with_overwrite(
    results_path, tmp_path, capsys
):
    run_folder = tmp_path / "bc"
    shutil.copytree(results_path.parent, run_folder)
    before = _snapshot(run_folder)
    for out in (run_folder, tmp_path):
        args = ["report", str(run_folder / "results.json"), "--out", str(out), "--format", "md"]
        assert main([*args, "--overwrite"]) == 2
        err = capsys.readouterr().err
        assert "holds the input" in err and "write the report elsewhere" in err
    assert _snapshot(run_folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bc"]


def test_report_out_in_a_run_folder_or_the_cache_is_refused(results_path, capsys):
    run_folder = results_path.parent
    before = _snapshot(run_folder)
    for out, message in [
        (run_folder / "report", "is the report of the run"),
        (run_folder / "mine", "is inside"),
        (cache_dir() / "report", "inside the cache folder"),
    ]:
        args = ["report", str(results_path), "--out", str(out), "--format", "md", "--overwrite"]
        assert main(args) == 2
        assert message in capsys.readouterr().err
        assert not (out / "report.md").exists()
    assert _snapshot(run_folder) == before
    # the run folder is still accepted by the next run (nothing foreign was left in it)
    config = BenchmarkConfig(
        dataset="phantom:tiny", pickers=(("oracle", {}),), out=run_folder, bootstrap=20
    )
    run_benchmark(config, progress=False)
