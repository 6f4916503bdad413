"""One phantom generated in two cache folders is one dataset for `run --out` and `compare`."""

from __future__ import annotations

import json

from topcup_bench.cli import main

SPEC = "phantom:tiny?runs=3&test=2"


def _run(cache, out, monkeypatch, *extra):
    monkeypatch.setenv("TOPCUP_BENCH_CACHE", str(cache))
    return main(
        ["run", "--dataset", SPEC, "--pickers", "oracle,random", "--out", str(out),
         "--bootstrap", "20", "--no-report", *extra]
    )  # fmt: skip


def test_two_machines_same_phantom_compare_and_share_an_out_folder(tmp_path, monkeypatch):
    assert _run(tmp_path / "cache-a", tmp_path / "a", monkeypatch) == 0
    assert _run(tmp_path / "cache-b", tmp_path / "b", monkeypatch) == 0
    first = json.loads((tmp_path / "a" / "results.json").read_text())["dataset"]
    second = json.loads((tmp_path / "b" / "results.json").read_text())["dataset"]
    assert first["identity"] == second["identity"]
    assert first["source"]["config"] != second["source"]["config"]
    assert "cache-a" not in json.dumps(first["identity"])
    results = [str(tmp_path / name / "results.json") for name in ("a", "b")]
    assert main(["compare", *results]) == 0
    # the other machine's folder is accepted without --overwrite: same data
    assert _run(tmp_path / "cache-b", tmp_path / "a", monkeypatch) == 0
    assert (
        "cache-b"
        in json.loads((tmp_path / "a" / "results.json").read_text())["dataset"]["source"]["config"]
    )
