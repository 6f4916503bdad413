"""The complete picker example of docs/adding_a_picker.md runs and passes check_picker."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

from topcup_bench.testing import check_picker

DOC = Path(__file__).resolve().parents[2] / "docs" / "adding_a_picker.md"


def test_documented_example_picker_conforms(tmp_path, monkeypatch):
    text = DOC.read_text(encoding="utf-8")
    code = re.search(r"```python\n# my_picker/__init__.py\n(.*?)```", text, re.S).group(1)
    package = tmp_path / "my_picker"
    package.mkdir()
    (package / "__init__.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("my_picker")
    try:
        picker = module.SmoothedMaximaPicker(max_peaks=20)
        passed = check_picker(picker)
    finally:
        sys.modules.pop("my_picker", None)
    assert {"card", "schema", "units and axes", "picklable"} <= set(passed)
