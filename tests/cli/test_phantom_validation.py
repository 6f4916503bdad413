"""``topcup-bench phantom`` and ``phantom:`` specs: a split or flavour list given is never clamped
or replaced silently, and a project that cannot fit on the disk is refused before writing."""

from __future__ import annotations

import pytest

from topcup_bench.cli import main
from topcup_bench.datasets.catalog import phantom_spec
from topcup_bench.datasets.phantom.presets import resolve_preset
from topcup_bench.datasets.phantom.project import (
    PhantomProjectSpec,
    phantom_disk_bytes,
    write_phantom_project,
)
from topcup_bench.errors import InputError
from topcup_bench.memory import check_disk_fits


def _phantom(tmp_path, capsys, *options):
    out = tmp_path / "proj"
    code = main(["phantom", "--out", str(out), "--preset", "tiny", *map(str, options)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err, out


@pytest.mark.parametrize("test_runs", [5, 2])
def test_test_runs_not_below_runs_exit_2(tmp_path, capsys, test_runs):
    code, err, out = _phantom(tmp_path, capsys, "--runs", 2, "--test-runs", test_runs)
    assert code == 2
    assert err.startswith(
        f"error: --test-runs {test_runs}: must be less than --runs 2 (at least one train run)"
    )
    assert not out.exists()


@pytest.mark.parametrize("flavours", ["", " , "])
def test_empty_flavours_exit_2(tmp_path, capsys, flavours):
    code, err, out = _phantom(tmp_path, capsys, "--runs", 2, "--flavours", flavours)
    assert code == 2
    assert err.startswith("error: --flavours: no flavour given")
    assert not out.exists()


def test_spec_test_not_below_runs_is_refused():
    with pytest.raises(InputError, match=r"^phantom:tiny\?test=9: test=9 must be less than runs=5"):
        phantom_spec("phantom:tiny?test=9")
    with pytest.raises(InputError, match="test=2 must be less than runs=2"):
        phantom_spec("phantom:tiny?runs=2&test=2")
    with pytest.raises(InputError, match="flavours: no flavour given"):
        phantom_spec("phantom:tiny?flavours=")


def test_defaults_still_fit_fewer_runs():
    assert phantom_spec("phantom:tiny?runs=2").n_test == 1  # the default 2, fitted: not given
    assert phantom_spec("phantom:tiny?runs=5&test=4").n_test == 4


def test_run_with_a_bad_spec_split_exits_2(tmp_path, capsys):
    code = main(
        [
            "run",
            "--dataset",
            "phantom:tiny?test=9",
            "--pickers",
            "oracle",
            "--quiet",
            "--no-report",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    assert "test=9 must be less than runs=5" in capsys.readouterr().err


def test_disk_estimate_is_the_uncompressed_pyramid():
    spec = PhantomProjectSpec(
        resolve_preset("tiny"), n_runs=3, n_test=1, flavours=("denoised", "wbp")
    )
    assert phantom_disk_bytes(spec) == pytest.approx(3 * 2 * 48 * 96 * 96 * 4 * 1.15)


def test_too_many_runs_for_the_disk_are_refused_before_writing(tmp_path, capsys):
    code, err, out = _phantom(tmp_path, capsys, "--runs", 10**9)
    assert code == 2
    assert err.startswith("error: --runs: 1000000000 runs x 1 flavours of 48 x 96 x 96 voxels")
    assert "of disk" in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_disk_check_from_a_spec_names_the_spec(tmp_path, monkeypatch):
    monkeypatch.setattr("topcup_bench.memory.free_disk_bytes", lambda folder: 1000)
    with pytest.raises(InputError, match=r"^phantom:tiny: runs: 5 runs x 1 flavours"):
        write_phantom_project(
            tmp_path / "p",
            phantom_spec("phantom:tiny"),
            progress=False,
            size_source="phantom:tiny: runs",
        )
    assert not (tmp_path / "p").exists()


def test_check_disk_fits_passes_what_fits(tmp_path):
    check_disk_fits(1, tmp_path / "missing" / "deeper", "--runs", "one byte")
    with pytest.raises(InputError, match=r"^--runs: 2 things need up to"):
        check_disk_fits(2.0**80, tmp_path, "--runs", "2 things")
