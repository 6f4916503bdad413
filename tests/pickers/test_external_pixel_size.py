"""The ``external`` picker: a pixel size that disagrees with the STAR file needs the override."""

from __future__ import annotations

import pytest

from topcup_bench import create_picker
from topcup_bench.datasets import write_picks_star
from topcup_bench.errors import InputError
from topcup_bench.testing import synthetic_scoring_case


@pytest.fixture
def star_file(tmp_path):
    _, picks = synthetic_scoring_case(
        n_experiments=1, truth_per_class=2, false_positives_per_class=0, seed=2
    )
    path = tmp_path / "picks.star"
    write_picks_star(picks, path, pixel_size_angstrom=10.0)  # the file states 10 Å
    return path, picks


def test_disagreeing_pixel_size_is_refused_unless_overridden(star_file):
    path, picks = star_file
    refused = create_picker("external", {"source": str(path), "pixel_size_angstrom": "5"})
    with pytest.raises(InputError, match=r"--pixel-size 5 Å disagrees.*pixel_size_override=true"):
        refused.prepare(None)
    forced = create_picker(
        "external",
        {"source": str(path), "pixel_size_angstrom": "5", "pixel_size_override": "true"},
    )
    forced.prepare(None)
    assert forced._picks["x"].tolist() == pytest.approx((picks["x"] / 2).tolist())
    agreeing = create_picker("external", {"source": str(path), "pixel_size_angstrom": "10"})
    agreeing.prepare(None)
    assert agreeing._picks["x"].tolist() == pytest.approx(picks["x"].tolist())
