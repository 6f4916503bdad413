"""An --out may not be (in, or around) the dataset's folder or the cache."""

from __future__ import annotations

import json

import pytest

from topcup_bench.errors import InputError
from topcup_bench.output_location import check_out_location, dataset_folders


@pytest.mark.parametrize(
    ("rel", "relation"), [("data", "is"), ("data/sub", "is inside"), (".", "contains")]
)
def test_out_equal_inside_or_around_a_protected_folder_is_refused(tmp_path, rel, relation):
    (tmp_path / "data").mkdir()
    with pytest.raises(InputError, match=f"--out: .* {relation} the cache folder"):
        check_out_location(tmp_path / rel, {"the cache folder": tmp_path / "data"})


def test_a_sibling_is_accepted(tmp_path):
    check_out_location(tmp_path / "data-results", {"the cache folder": tmp_path / "data"})


class _Copick:
    manifest = None

    def __init__(self, config_path):
        self.config_path = str(config_path)


def test_dataset_folders_of_a_copick_project_are_its_local_roots(tmp_path):
    config = tmp_path / "copick.json"
    config.write_text(
        json.dumps({"overlay_root": f"local://{tmp_path / 'ov'}", "static_root": "s3://b/x"})
    )
    assert dataset_folders(_Copick(config)) == {
        "the dataset's copick overlay_root": tmp_path / "ov"
    }
    phantom = _Copick(config)
    phantom.manifest = {"generator": "topcup-bench phantom"}
    assert dataset_folders(phantom) == {"the dataset's copick project": tmp_path}
