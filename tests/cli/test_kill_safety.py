"""SIGKILL in the middle of ``run`` and ``phantom``: no partial output; the next run is whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import zarr

RUN = [
    "run",
    "--dataset",
    "phantom:tiny",
    "--pickers",
    "oracle,random,blob",
    "--quiet",
    "--bootstrap",
    "20",
]
PHANTOM = ["phantom", "--preset", "tiny", "--runs", "6", "--test-runs", "2", "--seed", "3"]


def _cli(args, cache, **kwargs):
    env = dict(os.environ, TOPCUP_BENCH_CACHE=str(cache))
    return subprocess.run(
        [sys.executable, "-m", "topcup_bench", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        **kwargs,
    )


def _kill_when(args, cache, ready, timeout=120):
    """Start the CLI, SIGKILL it as soon as ``ready()`` is true; return whether it was."""
    env = dict(os.environ, TOPCUP_BENCH_CACHE=str(cache))
    process = subprocess.Popen(
        [sys.executable, "-m", "topcup_bench", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None and not ready():
        time.sleep(0.01)
    was_running = process.poll() is None
    process.kill()
    process.wait()
    return was_running


def _scores(folder):
    results = json.loads((folder / "results.json").read_text())
    return {e["picker"]: (e["score"], e["score_best"]) for e in results["results"]}


def _picks(folder):
    return {p.name: p.read_bytes() for p in sorted((folder / "picks").iterdir())}


def test_a_killed_run_leaves_no_partial_output_and_the_next_equals_an_uninterrupted_one(
    tmp_path,
):
    cache = tmp_path / "cache"
    reference = _cli([*RUN, "--out", str(tmp_path / "ref"), "--no-cache"], cache)
    assert reference.returncode == 0, reference.stderr
    out = tmp_path / "runs" / "out"
    out.parent.mkdir()

    def picking_started():
        staged = list(out.parent.glob(".out.staging-*"))
        return bool(staged) and any((cache / "picks").rglob("*.csv"))

    assert _kill_when([*RUN, "--out", str(out)], cache, picking_started)
    assert not out.exists()  # no partial output
    assert list(out.parent.glob(".out.staging-*"))  # the killed run's staging is left...
    again = _cli([*RUN, "--out", str(out)], cache)
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]  # ...and removed by the next
    assert _scores(out) == _scores(tmp_path / "ref")
    assert _picks(out) == _picks(tmp_path / "ref")


def test_a_killed_phantom_generation_leaves_nothing_and_the_next_is_complete(tmp_path):
    reference = _cli([*PHANTOM, "--out", str(tmp_path / "ref" / "p")], tmp_path / "cache")
    assert reference.returncode == 0, reference.stderr
    parent = tmp_path / "gen"
    parent.mkdir()

    def second_run_started():
        return any(parent.glob(".p.partial-*/ExperimentRuns/TS_001"))

    args = [*PHANTOM, "--out", str(parent / "p")]
    assert _kill_when(args, tmp_path / "cache", second_run_started)
    assert not (parent / "p").exists() and list(parent.glob(".p.partial-*"))
    again = _cli([*PHANTOM, "--out", str(parent / "p")], tmp_path / "cache")
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in parent.iterdir()) == ["p"]
    assert _tree(parent / "p") == _tree(tmp_path / "ref" / "p")
    mine, theirs = _arrays(parent / "p"), _arrays(tmp_path / "ref" / "p")
    assert mine.keys() == theirs.keys() and len(mine) == 6 * 3  # runs x pyramid levels
    for key, data in mine.items():
        np.testing.assert_array_equal(data, theirs[key])


def _is_chunk(path: Path) -> bool:
    return path.name.isdigit() and any(part.endswith(".zarr") for part in path.parts)


def _tree(folder: Path):
    """Every file's bytes but the zarr chunks' (blosc's compressed bytes may vary from one
    process to the next; :func:`_arrays` compares their data); the config without its
    overlay_root (the folder's own path)."""
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not _is_chunk(path):
            data = path.read_bytes()
            if path.name == "copick_config.json":
                config = json.loads(data)
                assert config.pop("overlay_root") == f"local://{folder.resolve()}"
                data = json.dumps(config, sort_keys=True).encode()
            files[path.relative_to(folder).as_posix()] = data
    return files


def _arrays(folder: Path):
    """Decoded data of every pyramid level of every tomogram."""
    found = {}
    for store in sorted(folder.rglob("*.zarr")):
        group = zarr.open_group(str(store), mode="r")
        for level in sorted(group.array_keys()):
            found[f"{store.relative_to(folder)}/{level}"] = group[level][:]
    return found
