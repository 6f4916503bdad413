"""Atomic, no-clobber output."""

from __future__ import annotations

import os
import stat

import pytest

from topcup_bench.datasets.atomic import atomic_output
from topcup_bench.errors import InputError, OutputExistsError


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_output(target, overwrite=True) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_new_file_gets_normal_permissions(tmp_path):
    target = tmp_path / "out.csv"
    umask = os.umask(0o022)
    try:
        with atomic_output(target) as tmp:
            tmp.write_text("new")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_refusals(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(OutputExistsError, match="out.csv: file exists"), atomic_output(target):
        pass
    with (
        pytest.raises(InputError, match="does not exist"),
        atomic_output(tmp_path / "no" / "x.csv"),
    ):
        pass
    with pytest.raises(InputError, match="is a directory"), atomic_output(tmp_path):
        pass


def test_a_parent_that_is_a_file_is_named(tmp_path):
    blocker = tmp_path / "userfile.txt"
    blocker.write_text("mine")
    for target in (blocker / "x", blocker / "a" / "b" / "x"):
        with pytest.raises(InputError) as caught, atomic_output(target):
            pass
        assert f"{str(blocker)!r} is a file, not a folder" in str(caught.value)
        assert str(caught.value).startswith(f"{target}: ")
    assert blocker.read_text() == "mine"


def test_errors_name_the_destination_not_the_temporary(tmp_path, monkeypatch):
    target = tmp_path / "out.json"

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / ".out.json.abc.tmp"))

    monkeypatch.setattr("tempfile.mkstemp", refuse)
    with pytest.raises(OSError) as caught, atomic_output(target):
        pass
    assert caught.value.filename == str(target) and caught.value.errno == 13
    monkeypatch.undo()
    with pytest.raises(OSError) as caught, atomic_output(target) as tmp:
        raise OSError(28, "No space left on device", str(tmp))  # a failed write
    assert caught.value.filename == str(target) and caught.value.errno == 28
    assert list(tmp_path.iterdir()) == []
