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
