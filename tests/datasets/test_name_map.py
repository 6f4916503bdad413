"""Portal → competition name maps."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from topcup_bench.datasets import PORTAL_NAME_MAP, apply_name_map, load_name_map
from topcup_bench.errors import InputError, SchemaError
from topcup_bench.types import COMPETITION_CLASSES


def test_portal_map_targets_are_competition_classes():
    assert set(PORTAL_NAME_MAP.values()) <= set(COMPETITION_CLASSES.names)
    with pytest.raises(TypeError):
        PORTAL_NAME_MAP["x"] = "y"  # type: ignore[index]


def test_apply_returns_a_mapped_copy(picks_table):
    portal = picks_table.assign(
        particle_type=[
            "cytosolic-ribosome",
            "ribosome",
            "ferritin-complex",
            "beta-gal",
            "virus-like-capsid",
        ]
    )
    mapped = apply_name_map(portal, PORTAL_NAME_MAP, source="picks")
    assert mapped["particle_type"].tolist() == [
        "ribosome",
        "ribosome",
        "apo-ferritin",
        "beta-galactosidase",
        "virus-like-particle",
    ]
    assert portal["particle_type"].iloc[0] == "cytosolic-ribosome"  # input untouched
    pd.testing.assert_frame_equal(
        mapped.drop(columns="particle_type"), portal.drop(columns="particle_type")
    )


def test_apply_needs_particle_type():
    with pytest.raises(SchemaError, match="picks.csv: missing column 'particle_type'"):
        apply_name_map(pd.DataFrame({"x": [1.0]}), PORTAL_NAME_MAP, source="picks.csv")


def test_apply_rejects_bad_mapping(picks_table):
    with pytest.raises(InputError, match="entry 'ribosome'"):
        apply_name_map(picks_table, {"ribosome": ""}, source="picks")


def test_load_portal():
    assert load_name_map("portal") == dict(PORTAL_NAME_MAP)


def test_load_json_file(tmp_path):
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"big-ribosome": "ribosome"}))
    assert load_name_map(path) == {"big-ribosome": "ribosome"}
    assert load_name_map(str(path)) == {"big-ribosome": "ribosome"}


@pytest.mark.parametrize(
    ("content", "error", "expected"),
    [
        ("{oops", SchemaError, "not valid JSON"),
        ("[1, 2]", SchemaError, "must be a JSON object"),
        ('{"a": 3}', SchemaError, "entry 'a'"),
    ],
)
def test_load_bad_files(tmp_path, content, error, expected):
    path = tmp_path / "map.json"
    path.write_text(content)
    with pytest.raises(error, match=expected) as caught:
        load_name_map(path)
    assert str(path) in str(caught.value)


def test_load_missing_file(tmp_path):
    with pytest.raises(InputError, match="name map file not found") as caught:
        load_name_map(tmp_path / "absent.json")
    assert "absent.json" in str(caught.value)
