"""``report --out``: the same owned-folder rule as ``run`` and an ``--overwrite`` option."""

from __future__ import annotations

import pytest

from topcup_bench.benchmark_config import BenchmarkConfig
from topcup_bench.cli import main
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


def test_report_into_a_run_folder_is_refused_unless_overwrite(results_path, capsys):
    run_folder = results_path.parent
    before = sorted(p.name for p in run_folder.iterdir())
    assert main(["report", str(results_path), "--out", str(run_folder), "--format", "md"]) == 2
    assert "'topcup-bench run'" in capsys.readouterr().err
    assert sorted(p.name for p in run_folder.iterdir()) == before
