"""``--quiet`` hides progress bars only: our warnings still reach stderr, one line each."""

from __future__ import annotations

from topcup_bench.cli import main


def test_quiet_run_still_prints_the_cache_checksum_warning(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TOPCUP_BENCH_CACHE", str(tmp_path / "cache"))
    args = [
        "run",
        "--dataset",
        "phantom:tiny",
        "--pickers",
        "random",
        "--bootstrap",
        "20",
        "--no-report",
        "--quiet",
        "--out",
        str(tmp_path / "o"),
    ]
    assert main(args) == 0
    capsys.readouterr()
    entries = sorted((tmp_path / "cache" / "picks").rglob("*.csv"))
    assert entries
    with entries[0].open("a") as handle:
        handle.write("junk\n")
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"warning: picks cache entry {entries[0]}: checksum mismatch" in err
    assert "%|" not in err  # and no progress bar
