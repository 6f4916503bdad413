"""The preview PNG."""

from __future__ import annotations

import pytest

from topcup_bench.datasets.phantom import save_preview
from topcup_bench.errors import InputError, OutputExistsError

pytest.importorskip("matplotlib")


def test_preview_png(tmp_path, tiny_run):
    path = tmp_path / "preview.png"
    save_preview(tiny_run, path, flavour="wbp")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["preview.png"]  # no temporary left
    with pytest.raises(OutputExistsError):
        save_preview(tiny_run, path)
    save_preview(tiny_run, path, overwrite=True)


def test_preview_unknown_flavour(tmp_path, tiny_run):
    with pytest.raises(InputError, match="isonet"):
        save_preview(tiny_run, tmp_path / "p.png", flavour="isonet")
