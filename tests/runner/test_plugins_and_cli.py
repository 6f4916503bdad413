"""Third-party pickers through entry points, check_picker, and ``topcup-bench run`` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from topcup_bench.errors import TopcupBenchError
from topcup_bench.pickers import create_picker
from topcup_bench.testing import check_picker

PLUGIN = textwrap.dedent(
    '''
    """A throwaway third-party picker: the ground truth shifted by 10 Å."""
    from topcup_bench.pickers import Picker


    class ShiftedOracle(Picker):
        name = "shifted"
        version = "0.1"
        description = "ground truth shifted by a few Å along x (a plugin test)"

        def __init__(self, shift_angstrom: float = 10.0) -> None:
            self.shift_angstrom = shift_angstrom
            self._truth = None

        def prepare(self, dataset):
            self._truth = dataset.truth()

        def pick(self, tomogram, classes):
            picks = self._truth[self._truth["experiment"] == tomogram.run].copy()
            picks["x"] += self.shift_angstrom
            picks["score"] = 0.5
            return picks.reset_index(drop=True)
    '''
)


@pytest.fixture
def plugin_path(tmp_path):
    package = tmp_path / "site" / "shifted_picker"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(PLUGIN)
    info = tmp_path / "site" / "shifted_picker-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shifted-picker\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[topcup_bench.pickers]\nshifted = shifted_picker:ShiftedOracle\n"
    )
    return tmp_path / "site"


def _cli(args, plugin_path, cache):
    env = dict(os.environ, PYTHONPATH=str(plugin_path), TOPCUP_BENCH_CACHE=str(cache))
    return subprocess.run(
        [sys.executable, "-m", "topcup_bench", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )


def test_entry_point_picker_is_listed_and_runs(plugin_path, tmp_path):
    listed = _cli(["list", "pickers"], plugin_path, tmp_path / "cache")
    assert listed.returncode == 0, listed.stderr
    assert "shifted" in listed.stdout and "entry point of shifted-picker" in listed.stdout
    done = _cli(
        [
            "run",
            "--dataset",
            "phantom:tiny",
            "--pickers",
            "shifted,oracle",
            "--out",
            str(tmp_path / "out"),
            "--quiet",
        ],
        plugin_path,
        tmp_path / "cache",
    )
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    scores = {e["picker"]: e["score"] for e in results["results"]}
    assert scores == {"shifted": 1.0, "oracle": 1.0}  # 10 Å is inside every match radius
    assert "shifted" in done.stdout


def test_check_picker_accepts_the_builtin_reference_pickers(tmp_path, monkeypatch):
    monkeypatch.setenv("TOPCUP_BENCH_CACHE", str(tmp_path))
    passed = check_picker(create_picker("oracle", {"jitter_angstrom": 5.0}))
    assert (
        "schema" in passed and "picklable" in passed and any("deterministic" in p for p in passed)
    )
    assert "units and axes" in check_picker(create_picker("random"))


def test_check_picker_catches_voxel_coordinates(tmp_path, monkeypatch):
    monkeypatch.setenv("TOPCUP_BENCH_CACHE", str(tmp_path))
    oracle = create_picker("oracle")

    class VoxelOracle(type(oracle)):
        name = "voxels"
        description = "returns voxel indices by mistake"

        def pick(self, tomogram, classes):
            picks = super().pick(tomogram, classes)
            picks[["x", "y", "z"]] = picks[["x", "y", "z"]] / tomogram.voxel_size_angstrom
            return picks

    with pytest.raises(TopcupBenchError, match="voxel indices"):
        check_picker(VoxelOracle())


def test_run_command_on_tiny_phantom(tmp_path):
    env = dict(os.environ, TOPCUP_BENCH_CACHE=str(tmp_path / "cache"))
    args = [
        sys.executable,
        "-m",
        "topcup_bench",
        "run",
        "--dataset",
        "phantom:tiny",
        "--pickers",
        "oracle,random",
        "--out",
        str(tmp_path / "out"),
        "--quiet",
        "--bootstrap",
        "100",
    ]
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "oracle" in done.stdout and "results.json" in done.stdout
    again = subprocess.run(args, capture_output=True, text=True, env=env, check=False, timeout=300)
    first = json.loads((tmp_path / "out" / "results.json").read_text())
    assert again.returncode == 0
    assert all(e["timings"]["cached_runs"] for e in first["results"])
    bad = subprocess.run(
        args[:6] + ["--pickers", "oracel"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    assert bad.returncode == 2 and "Did you mean 'oracle'" in bad.stderr
