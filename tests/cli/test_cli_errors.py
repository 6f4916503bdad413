"""Every error clear: the command line never shows a Python traceback.

Disk full and read-only outputs, memory exhaustion, unexpected exceptions,
negative seeds, outputs too large for the machine, and STAR pixel sizes that
disagree with the flag: each gives one ``error:`` line with a known exit status.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import topcup_bench.cli.score as score_cli
from topcup_bench import memory
from topcup_bench.cli import main
from topcup_bench.datasets import write_kaggle_csv, write_picks_star
from topcup_bench.testing import synthetic_scoring_case


@pytest.fixture
def csv_pair(tmp_path):
    truth, picks = synthetic_scoring_case(
        n_experiments=2, truth_per_class=3, false_positives_per_class=1, seed=3
    )
    write_kaggle_csv(truth, tmp_path / "truth.csv")
    write_kaggle_csv(picks, tmp_path / "picks.csv")
    return tmp_path / "truth.csv", tmp_path / "picks.csv"


def _score(csv_pair, *extra):
    truth, picks = csv_pair
    return ["score", "--truth", str(truth), "--picks", str(picks), "--bootstrap", "0", *extra]


def _run(args, capsys):
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return status, captured.err


def _failing_write(code):
    def write_text(self, *args, **kwargs):
        raise OSError(code, os.strerror(code))  # as a write() on a full disk: no file name

    return write_text


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_disk_full_or_read_only_output_is_one_line_exit_2(
    csv_pair, tmp_path, capsys, monkeypatch, code
):
    out = tmp_path / "report.txt"
    monkeypatch.setattr(Path, "write_text", _failing_write(code))
    status, err = _run(_score(csv_pair, "--output", out), capsys)
    assert status == 2
    assert err == f"error: cannot write {out}: {os.strerror(code)}\n"
    assert not out.exists() and list(tmp_path.glob(".report.txt*")) == []  # no partial file


def test_forbidden_output_folder_names_the_path(csv_pair, tmp_path, capsys, monkeypatch):
    """We run as root, so chmod cannot forbid anything: the refusal is simulated."""
    out = tmp_path / "locked" / "report.txt"
    out.parent.mkdir()

    def refuse(*args, dir=None, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(dir))

    monkeypatch.setattr("tempfile.mkstemp", refuse)
    status, err = _run(_score(csv_pair, "--output", out), capsys)
    assert status == 2
    assert err.startswith(f"error: cannot access {out.parent}: Permission denied")
    assert not out.exists()


def test_memory_exhaustion_is_one_line_exit_2(csv_pair, capsys, monkeypatch):
    def exhausted(*args, **kwargs):
        raise MemoryError("Unable to allocate 8.00 TiB for an array")

    monkeypatch.setattr(score_cli, "score_picks", exhausted)
    status, err = _run(_score(csv_pair), capsys)
    assert status == 2
    assert err.startswith("error: out of memory (Unable to allocate 8.00 TiB")
    assert err.count("\n") == 1


def test_unexpected_exception_exit_1_asks_for_a_report(csv_pair, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("internal state " + "x" * 100_000)

    monkeypatch.setattr(score_cli, "score_picks", broken)
    monkeypatch.delenv("TOPCUP_BENCH_DEBUG", raising=False)
    status, err = _run(_score(csv_pair), capsys)
    assert status == 1
    assert err.startswith("error: unexpected RuntimeError: internal state xxx")
    assert "please report; run with TOPCUP_BENCH_DEBUG=1 for the traceback" in err
    assert len(err) < 600  # the 100 kB message is cut
    monkeypatch.setenv("TOPCUP_BENCH_DEBUG", "1")
    with pytest.raises(RuntimeError, match="internal state"):
        main(_score(csv_pair))


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--seed", "-1"],
        ["phantom", "--out", "unused", "--seed", "-1"],
        ["train", "--out", "unused", "--seed", "-1"],
        ["score", "--truth", "t.csv", "--picks", "p.csv", "--seed", "-1"],
    ],
)
def test_negative_seeds_exit_2_naming_the_flag(tmp_path, capsys, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    status, err = _run(args, capsys)
    assert status == 2
    assert "--seed" in err and "-1" in err
    assert list(tmp_path.iterdir()) == []  # nothing was created


def test_huge_bootstrap_is_refused_before_allocating(csv_pair, capsys, monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**30)
    truth, picks = csv_pair
    args = ["score", "--truth", truth, "--picks", picks, "--bootstrap", str(10**9)]
    status, err = _run(args, capsys)
    assert status == 2
    assert err.startswith("error: --bootstrap (n_resamples): 1000000000 bootstrap resamples")
    assert "GiB of memory" in err and "1.0 GiB available" in err


def test_phantom_too_large_for_memory_is_refused_before_writing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**30)
    out = tmp_path / "huge"
    args = ["phantom", "--out", out, "--preset", "tiny", "--set", "shape_zyx=[1000,1000,1000]"]
    status, err = _run(args, capsys)
    assert status == 2
    assert "shape_zyx" in err and "1000x1000x1000 voxels" in err and "GiB of memory" in err
    assert not out.exists()


@pytest.fixture
def star_file(tmp_path, csv_pair):
    from topcup_bench.datasets import read_picks

    picks = read_picks(csv_pair[1])
    path = tmp_path / "picks.star"
    write_picks_star(picks, path, pixel_size_angstrom=10.0)  # the file states 10 Å
    return path


def test_pixel_size_disagreeing_with_the_star_file_exits_2(csv_pair, star_file, capsys):
    truth = csv_pair[0]
    base = ["score", "--truth", truth, "--picks", star_file, "--bootstrap", "0"]
    status, err = _run([*base, "--pixel-size", "4"], capsys)
    assert status == 2
    assert f"error: {star_file}: --pixel-size 4 Å disagrees" in err and "(10 Å)" in err
    assert "--override-pixel-size" in err
    assert _run([*base, "--pixel-size", "10.001"], capsys)[0] == 0  # agrees within 1e-3
    assert _run([*base, "--pixel-size", "4", "--override-pixel-size"], capsys)[0] == 0
    status, err = _run([*base, "--override-pixel-size"], capsys)
    assert status == 2 and "--override-pixel-size: needs --pixel-size" in err


@pytest.mark.parametrize(
    "option, value", [("--beta", "-1"), ("--beta", "nan"), ("--distance-multiplier", "inf")]
)
def test_bad_metric_parameters_name_the_flag(csv_pair, capsys, option, value):
    status, err = _run(_score(csv_pair, option, value), capsys)
    assert status == 2
    assert err.startswith(f"error: {option} (") and "expected a positive finite number" in err


def test_report_of_a_malformed_results_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "results.json"
    bad.write_text('{"schema_version": 3, "dataset": {}, "metric": {}, "results": []}')
    status, err = _run(["report", bad, "--out", tmp_path / "rep"], capsys)
    assert status == 2
    assert err.startswith(f"error: {bad}: missing field 'dataset.identity'")
    assert not (tmp_path / "rep").exists()


def test_run_refuses_a_huge_bootstrap_before_any_picker_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**30)
    monkeypatch.setenv("TOPCUP_BENCH_CACHE", str(tmp_path / "cache"))
    args = ["run", "--dataset", "phantom:tiny", "--pickers", "oracle", "--out", tmp_path / "out"]
    status, err = _run([*map(str, args), "--bootstrap", str(10**9), "--quiet"], capsys)
    assert status == 2 and "--bootstrap" in err and "GiB of memory" in err
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "cache" / "picks").exists()  # the oracle never ran
