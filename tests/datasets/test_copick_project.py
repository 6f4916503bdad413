"""Class catalogues and tomogram extents from copick projects."""

from __future__ import annotations

import copick
import numpy as np
import pytest

from topcup_bench.datasets import catalogue_from_copick_config, copick_tomogram_extent
from topcup_bench.datasets.copick_project import check_copick_id
from topcup_bench.errors import CopickSourceError, InputError


def test_catalogue_weights_thresholds_and_labels(make_copick_project):
    catalogue = catalogue_from_copick_config(make_copick_project())
    assert catalogue.names == (
        "apo-ferritin",
        "ribosome",
        "thyroglobulin",
    )  # membrane is no particle
    assert catalogue["ribosome"].radius_angstrom == 150.0
    assert catalogue["ribosome"].score_threshold == 0.4
    assert catalogue["ribosome"].label == 4
    assert catalogue["apo-ferritin"].score_threshold is None
    # no metadata.score_weight: the competition weight of the same name
    assert catalogue["thyroglobulin"].weight == 2.0


def test_catalogue_defaults_to_weight_one_and_skips_objects_without_radius(make_copick_project):
    objects = [
        {"name": "mystery", "is_particle": True, "label": 1, "radius": 80},
        {"name": "blob", "is_particle": True, "label": 2},
        {
            "name": "zero",
            "is_particle": True,
            "label": 3,
            "radius": 50,
            "metadata": {"score_weight": 0},
        },
    ]
    catalogue = catalogue_from_copick_config(make_copick_project(objects=objects))
    assert catalogue.names == ("mystery", "zero")
    assert catalogue["mystery"].weight == 1.0
    assert catalogue["zero"].weight == 0.0


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            {"name": "a", "is_particle": True, "radius": 10, "metadata": {"score_weight": "x"}},
            "'a': metadata.score_weight must be a finite number, found 'x'",
        ),
        (
            {"name": "a", "is_particle": True, "radius": 10, "metadata": {"score_weight": -1}},
            "'a': metadata.score_weight must be >= 0",
        ),
        (
            {"name": "a", "is_particle": True, "radius": 10, "metadata": {"score_threshold": None}},
            None,
        ),
        ({"name": "a", "is_particle": True, "radius": -5}, "'a': radius must be positive"),
        ({"name": "a", "is_particle": False, "radius": 10}, "no pickable object with is_particle"),
    ],
)
def test_catalogue_errors(make_copick_project, obj, expected):
    config = make_copick_project(objects=[obj])
    if expected is None:
        assert catalogue_from_copick_config(config)["a"].score_threshold is None
        return
    with pytest.raises(CopickSourceError, match=expected) as caught:
        catalogue_from_copick_config(config)
    assert str(config) in str(caught.value)


def test_catalogue_bad_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("[1, 2")
    with pytest.raises(CopickSourceError, match="cannot open as a copick config") as caught:
        catalogue_from_copick_config(path)
    assert str(path) in str(caught.value)


def test_tomogram_extent(make_copick_project):
    config = make_copick_project()
    root = copick.from_file(str(config))
    spacing = root.get_run("TS_5_4").new_voxel_spacing(10.0)
    spacing.new_tomogram("denoised").from_numpy(np.zeros((4, 5, 6), np.float32), levels=1)
    assert copick_tomogram_extent(config, "TS_5_4", 10.0, "denoised") == (60.0, 50.0, 40.0)
    with pytest.raises(CopickSourceError, match="no tomogram 'wbp'.*\\['denoised'\\]"):
        copick_tomogram_extent(config, "TS_5_4", 10.0, "wbp")
    with pytest.raises(CopickSourceError, match="no voxel spacing 7.0"):
        copick_tomogram_extent(config, "TS_5_4", 7.0, "denoised")
    with pytest.raises(CopickSourceError, match="no run named 'TS_0'"):
        copick_tomogram_extent(config, "TS_0", 10.0, "denoised")


@pytest.mark.parametrize("bad", ["a_b", "", "a b", "a/b", 3])
def test_check_copick_id(bad):
    with pytest.raises(InputError, match="session_id") as caught:
        check_copick_id(bad, "session_id", "config.json")
    assert "config.json" in str(caught.value)
