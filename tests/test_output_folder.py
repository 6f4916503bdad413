"""Owned output folders: manifest, foreign files, stale files, staging, lock."""

from __future__ import annotations

import json
import os

import pytest

from topcup_bench.errors import InputError, OutputExistsError
from topcup_bench.folder_lock import FolderLock, lock_path
from topcup_bench.output_folder import MANIFEST_NAME, claim_output_folder


def _write(folder, files, *, command="run", overwrite=False):
    """One command writing ``files`` (relative path -> text) through the owned folder."""
    with claim_output_folder(folder, command=command, overwrite=overwrite) as owned:
        for rel, text in files.items():
            path = owned.staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        owned.commit()


def _tree(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_missing_or_empty_folder_is_written_with_a_manifest(tmp_path):
    out = tmp_path / "a" / "out"
    _write(out, {"results.json": "{}", "picks/x.csv": "x"})
    assert _tree(out) == [MANIFEST_NAME, "picks/x.csv", "results.json"]
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert manifest["command"] == "run" and manifest["complete"] is True
    assert sorted(manifest["files"]) == ["picks/x.csv", "results.json"]
    empty = tmp_path / "empty"
    empty.mkdir()
    _write(empty, {"results.json": "{}"})
    assert (empty / "results.json").read_text() == "{}"
    # no staging folder and no lock file are left beside the folder
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["out"]


def test_foreign_file_is_refused_and_left_untouched(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("my work")
    before = (out / "thesis.tex").stat().st_mtime_ns
    with pytest.raises(OutputExistsError, match=r"did not write.*'thesis\.tex'.*--overwrite"):
        _write(out, {"results.json": "{}"})
    assert _tree(out) == ["thesis.tex"]
    assert (out / "thesis.tex").stat().st_mtime_ns == before


def test_a_file_changed_since_the_run_counts_as_foreign(tmp_path):
    out = tmp_path / "out"
    _write(out, {"results.json": "{}", "leaderboard.md": "a"})
    (out / "leaderboard.md").write_text("edited by hand")
    with pytest.raises(OutputExistsError, match="leaderboard.md"):
        _write(out, {"results.json": "{}"})
    _write(out, {"results.json": "{}"}, overwrite=True)  # not produced: kept, as the user's
    assert (out / "leaderboard.md").read_text() == "edited by hand"


def test_overwrite_keeps_foreign_files_replaces_our_paths_and_remembers_them(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    (out / "results.json").write_text("old, not ours")
    _write(out, {"results.json": "new"}, overwrite=True)
    assert (out / "notes.txt").read_text() == "keep me"
    assert (out / "results.json").read_text() == "new"
    assert json.loads((out / MANIFEST_NAME).read_text())["kept"] == ["notes.txt"]
    _write(out, {"results.json": "newer"})  # accepted now without --overwrite
    assert (out / "notes.txt").read_text() == "keep me"


def test_files_of_the_previous_run_not_produced_again_are_removed(tmp_path):
    out = tmp_path / "out"
    first = {"results.json": "1", "picks/a.csv": "a", "picks/b.csv": "b", "report/f/x.png": "x"}
    _write(out, first)
    _write(out, {"results.json": "2", "picks/a.csv": "a2"})
    assert _tree(out) == [MANIFEST_NAME, "picks/a.csv", "results.json"]
    assert not (out / "report").exists()  # emptied folders go too


def test_without_commit_the_previous_outputs_stay_byte_identical(tmp_path):
    out = tmp_path / "out"
    _write(out, {"results.json": "1", "picks/a.csv": "a"})
    before = {p: (out / p).read_bytes() for p in _tree(out)}
    with pytest.raises(RuntimeError):
        with claim_output_folder(out, command="run") as owned:
            (owned.staging / "results.json").write_text("half")
            raise RuntimeError("disk full while writing")
    assert {p: (out / p).read_bytes() for p in _tree(out)} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_stale_staging_of_a_killed_run_is_removed_by_the_next(tmp_path):
    out = tmp_path / "out"
    stale = tmp_path / ".out.staging-abc123"
    (stale / "picks").mkdir(parents=True)
    (stale / "picks" / "x.csv").write_text("half")
    other = tmp_path / ".other.staging-abc123"  # another folder's staging: not ours to remove
    other.mkdir()
    _write(out, {"results.json": "{}"})
    assert not stale.exists() and other.exists()


def test_concurrent_command_gets_a_clear_error(tmp_path):
    out = tmp_path / "out"
    holder = FolderLock(out)
    assert holder.acquire(wait=False) is None
    try:
        with pytest.raises(OutputExistsError, match=rf"another topcup-bench.*pid {os.getpid()}"):
            _write(out, {"results.json": "{}"})
        assert not out.exists()
    finally:
        holder.release()
    _write(out, {"results.json": "{}"})  # released: fine again
    assert not lock_path(out).exists()


def test_another_commands_folder_is_refused_unless_overwrite(tmp_path):
    out = tmp_path / "out"
    _write(out, {"report.md": "r"}, command="report")
    with pytest.raises(OutputExistsError, match="'topcup-bench report'"):
        _write(out, {"results.json": "{}"})
    _write(out, {"results.json": "{}"}, overwrite=True)  # the report's files are kept
    assert _tree(out) == [MANIFEST_NAME, "report.md", "results.json"]


def test_out_that_is_a_file_or_blocked_path_is_an_input_error(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(InputError, match="--out: .* not a folder"):
        _write(path, {"results.json": "{}"})
    out = tmp_path / "out"
    out.mkdir()
    (out / "picks").write_text("a file where a folder goes")
    with pytest.raises(InputError, match="picks: is a file"):
        _write(out, {"picks/a.csv": "a"}, overwrite=True)
    assert (out / "picks").read_text() == "a file where a folder goes"


def test_a_crash_while_moving_into_place_is_repaired_by_the_next_run(tmp_path, monkeypatch):
    from topcup_bench import output_folder

    out = tmp_path / "out"
    _write(out, {"results.json": "1", "picks/a.csv": "a"})
    real, moved = output_folder._move, []

    def crash_after_one(source, target):
        if moved:
            raise KeyboardInterrupt  # killed between two moves
        moved.append(target)
        real(source, target)

    monkeypatch.setattr(output_folder, "_move", crash_after_one)
    with pytest.raises(KeyboardInterrupt):
        _write(out, {"results.json": "2", "picks/b.csv": "b", "picks/c.csv": "c"})
    monkeypatch.setattr(output_folder, "_move", real)
    assert json.loads((out / MANIFEST_NAME).read_text())["complete"] is False
    _write(out, {"results.json": "3", "picks/b.csv": "b"})  # all of it is ours: no refusal
    assert _tree(out) == [MANIFEST_NAME, "picks/b.csv", "results.json"]
    assert (out / "results.json").read_text() == "3"


def test_a_symlinked_out_is_written_through(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    _write(tmp_path / "link", {"results.json": "{}"})
    assert (real / "results.json").read_text() == "{}"


def test_another_commands_files_are_kept_under_overwrite_never_removed(tmp_path):
    out = tmp_path / "out"
    _write(out, {"results.json": "{}", "picks/a.csv": "a", "report/report.md": "r"})
    before = {rel: (out / rel).read_bytes() for rel in _tree(out) if rel != MANIFEST_NAME}
    _write(out, {"report.md": "mine"}, command="report", overwrite=True)
    assert {rel: (out / rel).read_bytes() for rel in before} == before
    assert (out / "report.md").read_text() == "mine"
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert manifest["command"] == "report" and list(manifest["files"]) == ["report.md"]
    assert sorted(manifest["kept"]) == sorted(before)
    _write(out, {"figures.md": "second"}, command="report")  # the kept files are still kept
    assert sorted(_tree(out)) == sorted([MANIFEST_NAME, "figures.md", *before])


def test_a_parent_that_is_a_file_is_named(tmp_path):
    (tmp_path / "userfile.txt").write_text("x")
    with pytest.raises(InputError, match=r"--out: .*userfile.txt is a file, not a folder"):
        _write(tmp_path / "userfile.txt" / "sub", {"results.json": "{}"})
    assert (tmp_path / "userfile.txt").read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["userfile.txt"]


def test_a_folder_inside_another_output_folder_is_refused(tmp_path):
    run = tmp_path / "run"
    _write(run, {"results.json": "{}", "report/report.md": "r"})
    before = {rel: (run / rel).read_bytes() for rel in _tree(run)}
    with pytest.raises(InputError, match=r"is the report of the run in .*re-run 'topcup-bench"):
        _write(run / "report", {"report.md": "x"}, command="report", overwrite=True)
    with pytest.raises(InputError, match=r"is inside .*'topcup-bench run'"):
        _write(run / "mine", {"report.md": "x"}, command="report", overwrite=True)
    assert {rel: (run / rel).read_bytes() for rel in _tree(run)} == before
