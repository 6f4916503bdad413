"""``topcup-bench cache info|clear`` and the cache folder's marker (topcup_bench.cache_folder)."""

from __future__ import annotations

import io
import os
import re

import pytest

import topcup_bench.cli.cache as cache_cli
from topcup_bench.cache_folder import (
    MARKER_NAME,
    cache_usage,
    check_is_cache,
    clear_cache,
    format_bytes,
    is_marked,
    mark_cache,
)
from topcup_bench.cli import main
from topcup_bench.errors import InputError
from topcup_bench.folder_lock import FolderLock

#: A fake cache: path -> bytes.  Hand-computed sizes and entries per kind below.
FILES = {
    "phantoms/default-abc/copick_config.json": 3000,
    "phantoms/.default-abc.partial-x1/manifest.json": 1000,  # a killed generation: size only
    "picks/blob/k1.csv": 100,
    "picks/blob/k1.json": 50,
    "picks/blob/k2.csv": 100,
    "picks/blob/k2.json": 50,
    "picks/forest/k3.csv": 200,
    "topcup/quick-0123/member-0/model.pt": 5000,
    "logs/pytme/TS_1.log": 10,
    "logs/pytme/sub/TS_2.log": 20,
    "command-models/mytool/abc/model.bin": 7,
}
#: kind -> (bytes, entries)
EXPECTED = {
    "phantoms": (4000, 1),
    "picks": (500, 3),
    "topcup": (5000, 1),
    "logs": (30, 2),
    "command": (7, 1),
}
TOTAL = 9537


def build(root, files=FILES):
    for relative, size in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("TOPCUP_BENCH_CACHE", str(root))
    return root


def run(args, capsys):
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# ----------------------------------------------------------------------------- the library


def test_usage_counts_bytes_and_entries_per_kind(cache):
    build(cache)
    usage = cache_usage(cache)
    assert usage.exists and not usage.marked
    assert {k.kind: (k.bytes, k.entries) for k in usage.kinds} == EXPECTED
    assert usage.other_names == () and usage.other_bytes == 0
    assert usage.total_bytes == TOTAL


def test_usage_of_a_missing_folder_is_zero(cache):
    usage = cache_usage(cache)
    assert not usage.exists and usage.total_bytes == 0
    assert all(k.entries == 0 for k in usage.kinds)


def test_hard_links_are_counted_once(cache):
    build(cache, {"picks/blob/k1.csv": 300})
    os.link(cache / "picks/blob/k1.csv", cache / "picks/blob/k2.csv")
    usage = {k.kind: (k.bytes, k.entries) for k in cache_usage(cache).kinds}
    assert usage["picks"] == (300, 2)


def test_mark_cache_marks_a_new_folder_once(cache):
    mark_cache(cache)
    text = (cache / MARKER_NAME).read_text()
    assert text.startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert is_marked(cache)
    mark_cache(cache)  # idempotent
    assert (cache / MARKER_NAME).read_text() == text


def test_mark_cache_leaves_a_folder_with_other_files_unmarked(cache):
    cache.mkdir()
    (cache / "thesis.tex").write_text("mine")
    mark_cache(cache)
    assert not (cache / MARKER_NAME).exists()


def test_another_programs_cachedir_tag_is_not_ours(cache):
    cache.mkdir()
    (cache / MARKER_NAME).write_text("Signature: 8a477f597d28d172789f06886806bc55\n# other tool\n")
    assert not is_marked(cache)


def test_opening_a_phantom_marks_the_cache_before_generating(cache, monkeypatch):
    import topcup_bench.datasets.catalog as catalog

    class Stop(Exception):
        pass

    def stop(*args, **kwargs):
        raise Stop

    monkeypatch.setattr(catalog, "write_phantom_project", stop)
    with pytest.raises(Stop):
        catalog.open_dataset("phantom:tiny")
    assert is_marked(cache)


def test_check_is_cache_refuses_a_folder_with_other_files(cache):
    build(cache, {"picks/blob/k1.csv": 10, "notes.txt": 5})
    with pytest.raises(InputError, match=r"does not look like a topcup-bench cache.*notes\.txt"):
        check_is_cache(cache)


def test_check_is_cache_refuses_a_file(cache):
    cache.write_text("not a folder")
    with pytest.raises(InputError, match="is not a folder"):
        check_is_cache(cache)


def test_clear_cache_refuses_an_unknown_kind(cache):
    build(cache)
    with pytest.raises(InputError, match="unknown kind 'models'"):
        clear_cache(cache, ["models"])
    assert cache_usage(cache).total_bytes == TOTAL


def test_clear_cache_of_one_kind(cache):
    build(cache)
    result = clear_cache(cache, ["picks"])
    assert result.freed_bytes == 500 and result.busy == ()
    assert sorted(result.removed) == ["picks/blob", "picks/forest"]
    assert not (cache / "picks").exists()
    left = {k.kind: (k.bytes, k.entries) for k in cache_usage(cache).kinds}
    assert left == {**EXPECTED, "picks": (0, 0)}


def test_format_bytes():
    assert format_bytes(0) == "0 B"
    assert format_bytes(9537) == "9.54 kB"
    assert format_bytes(639_000) == "639 kB"
    assert format_bytes(112_400_000) == "112 MB"
    assert format_bytes(2_540_000_000) == "2.54 GB"


# ----------------------------------------------------------------------------- cache info


def test_info_of_a_missing_cache(cache, capsys):
    status, out, _ = run(["cache", "info"], capsys)
    assert status == 0
    assert f"cache folder: {cache} (from TOPCUP_BENCH_CACHE)" in out
    assert "does not exist yet" in out


def test_info_lists_every_kind(cache, capsys):
    build(cache)
    status, out, _ = run(["cache", "info"], capsys)
    assert status == 0
    rows = {m[0]: (m[1], m[2]) for m in re.findall(r"^(\w+)\s+([\d.]+ k?B)\s+(\d+) ", out, re.M)}
    assert rows == {
        "phantoms": ("4.00 kB", "1"),
        "picks": ("500 B", "3"),
        "topcup": ("5.00 kB", "1"),
        "logs": ("30 B", "2"),
        "command": ("7 B", "1"),
    }
    assert "1 phantom project\n" in out and "3 picks tables\n" in out
    assert re.search(r"^total\s+9\.54 kB$", out, re.M)


def test_info_names_other_files_of_a_marked_cache(cache, capsys):
    mark_cache(cache)
    build(cache, {"picks/blob/k1.csv": 100, "mine.txt": 40})
    status, out, _ = run(["cache", "info"], capsys)
    assert status == 0
    assert re.search(
        r"^other\s+\d+ B\s+1 not written by topcup-bench, never cleared: mine.txt", out, re.M
    )


def test_info_names_the_source_of_the_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TOPCUP_BENCH_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    status, out, _ = run(["cache", "info"], capsys)
    assert status == 0
    assert (
        f"cache folder: {tmp_path / 'xdg' / 'topcup-bench'} ($XDG_CACHE_HOME/topcup-bench)" in out
    )


def test_info_of_a_file_is_one_line_error(cache, capsys):
    cache.write_text("x")
    status, out, err = run(["cache", "info"], capsys)
    assert status == 2
    assert err.strip().count("\n") == 0 and "is not a folder" in err
    assert "Traceback" not in err


# ----------------------------------------------------------------------------- cache clear


def test_clear_without_yes_off_a_terminal_refuses(cache, capsys):
    build(cache)
    status, out, err = run(["cache", "clear"], capsys)
    assert status == 2
    assert err.strip().count("\n") == 0
    assert "not a terminal" in err and "--yes" in err and "9.54 kB" in err
    assert "Traceback" not in err
    assert cache_usage(cache).total_bytes == TOTAL


def test_clear_yes_deletes_every_kind_and_keeps_the_rest(cache, capsys):
    mark_cache(cache)
    build(cache, {**FILES, "mine.txt": 40})
    status, out, _ = run(["cache", "clear", "--yes"], capsys)
    assert status == 0
    assert "9.54 kB freed" in out
    assert sorted(p.name for p in cache.iterdir()) == [MARKER_NAME, "mine.txt"]


def test_clear_one_kind(cache, capsys):
    build(cache)
    status, out, _ = run(["cache", "clear", "--kind", "topcup", "--kind", "logs", "--yes"], capsys)
    assert status == 0 and "5.03 kB freed" in out
    assert sorted(p.name for p in cache.iterdir()) == ["command-models", "phantoms", "picks"]


def test_clear_an_unknown_kind_is_a_usage_error(cache, capsys):
    build(cache)
    status, _, err = run(["cache", "clear", "--kind", "models", "--yes"], capsys)
    assert status == 2 and "models" in err
    assert cache_usage(cache).total_bytes == TOTAL


def test_clear_asks_on_a_terminal(cache, capsys, monkeypatch):
    build(cache)
    monkeypatch.setattr(cache_cli, "_interactive", lambda: True)
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    status, out, _ = run(["cache", "clear"], capsys)
    assert status == 1 and "nothing deleted" in out
    assert cache_usage(cache).total_bytes == TOTAL
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    status, out, _ = run(["cache", "clear", "--kind", "picks"], capsys)
    assert status == 0 and "Delete 500 B (picks)" in out
    assert not (cache / "picks").exists() and (cache / "phantoms").exists()


def test_clear_refuses_a_folder_that_is_not_a_cache(cache, capsys):
    build(cache, {"picks/blob/k1.csv": 10, "thesis/chapter1.tex": 50})
    status, _, err = run(["cache", "clear", "--yes"], capsys)
    assert status == 2
    assert "does not look like a topcup-bench cache" in err and "thesis" in err
    assert (cache / "thesis/chapter1.tex").exists() and (cache / "picks/blob/k1.csv").exists()


def test_clear_never_follows_links_out_of_the_cache(cache, tmp_path, capsys):
    outside = tmp_path / "outside"
    build(outside, {"precious.txt": 10, "picks-elsewhere/keep.csv": 20})
    build(cache, {"phantoms/p-1/a.json": 30})
    (cache / "phantoms" / "link").symlink_to(outside)  # a link inside a kind folder
    (cache / "picks").symlink_to(outside / "picks-elsewhere")  # a kind folder that is a link
    status, out, _ = run(["cache", "clear", "--yes"], capsys)
    assert status == 0
    assert (outside / "precious.txt").read_bytes() == b"x" * 10
    assert (outside / "picks-elsewhere/keep.csv").exists()
    assert not (cache / "picks").is_symlink() and not (cache / "phantoms").exists()


def test_clear_leaves_a_phantom_being_generated(cache, capsys):
    build(cache, {"phantoms/busy-1/a.json": 30, "phantoms/idle-2/b.json": 40})
    lock = FolderLock(cache / "phantoms" / "busy-1")
    assert lock.acquire(wait=False) is None
    try:
        status, out, err = run(["cache", "clear", "--kind", "phantoms", "--yes"], capsys)
    finally:
        lock.release()
    assert status == 1
    assert "left in place, being generated by another process: phantoms/busy-1" in err
    assert "40 B freed" in out
    assert (cache / "phantoms/busy-1/a.json").exists() and not (cache / "phantoms/idle-2").exists()


def test_clear_a_missing_or_empty_cache(cache, capsys):
    status, out, _ = run(["cache", "clear"], capsys)
    assert status == 0 and "does not exist" in out
    mark_cache(cache)
    status, out, _ = run(["cache", "clear"], capsys)
    assert status == 0 and "nothing to clear" in out
