"""Third-party pickers through entry points, check_picker, and ``topcup-bench run`` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from topcup_bench.errors import TopcupBenchError
from topcup_bench.pickers import DEFAULT_PICKERS, create_picker
from topcup_bench.testing import check_picker

#: TopCUP parameters for tests: one small network, two training steps, 32³ windows.
TINY_TOPCUP = "members=1;steps=2;backbone=resnet10;decoder_channels=32,16,16,8,8;roi=32;tta=false"

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


def _run_cli(args, cache, **kwargs):
    env = dict(os.environ, TOPCUP_BENCH_CACHE=str(cache))
    command = [sys.executable, "-m", "topcup_bench", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False, **kwargs)


def _scores(path):
    results = json.loads(path.read_text())
    return {e["picker"]: (e["score"], e["score_best"]) for e in results["results"]}


#: The default pickers, with TopCUP shrunk (one small network, two steps) to keep tests fast.
FAST_DEFAULTS = ",".join(p if p != "topcup" else "topcup:" + TINY_TOPCUP for p in DEFAULT_PICKERS)


def test_run_command_with_default_pickers_on_tiny_phantom(tmp_path):
    """The README's main job on phantom:tiny: all default pickers, then a cached re-run."""
    args = [
        "run",
        "--dataset",
        "phantom:tiny",
        "--pickers",
        FAST_DEFAULTS,
        "--out",
        str(tmp_path / "out"),
        "--quiet",
        "--bootstrap",
        "100",
    ]
    start = time.perf_counter()
    done = _run_cli(args, tmp_path / "cache", timeout=300)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    for picker in DEFAULT_PICKERS:
        assert picker in done.stdout
    first = _scores(tmp_path / "out" / "results.json")
    assert first["oracle"] == (1.0, 1.0) and first["random"][0] <= 0.1
    again = _run_cli(args, tmp_path / "cache", timeout=300)
    assert again.returncode == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert all(e["timings"]["cached_runs"] for e in results["results"])
    assert _scores(tmp_path / "out" / "results.json") == first
    print(f"phantom:tiny with the default pickers: {elapsed:.1f} s")
    bad = _run_cli(["run", "--dataset", "phantom:tiny", "--pickers", "oracel"], tmp_path / "c2")
    assert bad.returncode == 2 and "Did you mean 'oracle'" in bad.stderr


def test_a_killed_run_resumes_from_the_cache_with_identical_results(tmp_path):
    args = [
        "run",
        "--dataset",
        "phantom:tiny",
        "--pickers",
        "oracle,blob,template",
        "--quiet",
        "--bootstrap",
        "50",
    ]
    reference = _run_cli(
        [*args, "--out", str(tmp_path / "ref"), "--no-cache"], tmp_path / "c0", timeout=300
    )
    assert reference.returncode == 0, reference.stderr
    env = dict(os.environ, TOPCUP_BENCH_CACHE=str(tmp_path / "cache"))
    process = subprocess.Popen(
        [sys.executable, "-m", "topcup_bench", *args, "--out", str(tmp_path / "out")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    picks = tmp_path / "cache" / "picks"
    deadline = time.time() + 120
    while time.time() < deadline and not list(picks.glob("template/*.csv")):
        time.sleep(0.05)
    process.kill()  # midway: oracle and blob done, template started
    process.wait()
    cached_before = {p.name for p in picks.rglob("*.csv")}
    assert cached_before
    resumed = _run_cli([*args, "--out", str(tmp_path / "out")], tmp_path / "cache", timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert any(e["timings"]["cached_runs"] for e in results["results"])
    assert _scores(tmp_path / "out" / "results.json") == _scores(tmp_path / "ref" / "results.json")


def test_run_writes_the_markdown_and_html_report_unless_told_not_to(tmp_path, capsys):
    from html.parser import HTMLParser

    from topcup_bench.cli import main

    args = ["run", "--dataset", "phantom:tiny", "--pickers", "oracle,random", "--quiet"]
    out = tmp_path / "out"
    assert main([*args, "--bootstrap", "20", "--out", str(out)]) == 0
    report = out / "report"
    assert sorted(p.name for p in report.iterdir()) == ["figures", "report.html", "report.md"]
    text = (report / "report.md").read_text()
    assert "# Leaderboard: phantom:tiny (test split, 2 runs)" in text
    assert "| 1 | oracle | 1.0000 [1.000, 1.000] | 1 | 1.0000 |" in text
    assert "Missing data" not in text and "(figures/slices_0.png)" in text
    images = []

    class Images(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag == "img":
                images.append(dict(attrs)["src"])

    Images().feed((report / "report.html").read_text())
    assert len(images) == 7 and all(src.startswith("data:image/png;base64,") for src in images)
    assert f"report: {report}/ (report.md, report.html)" in capsys.readouterr().out
    quiet = tmp_path / "no-report"
    assert main([*args, "--bootstrap", "20", "--out", str(quiet), "--no-report"]) == 0
    assert (quiet / "results.json").is_file() and not (quiet / "report").exists()
