"""Dispatch on source strings: copick:, .csv, .star."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from topcup_bench.datasets import describe_source, parse_copick_source, read_picks, write_picks
from topcup_bench.errors import InputError, OutputExistsError


def test_csv_round_trip_both_layouts(tmp_path, picks_table):
    for fmt in ("kaggle", "topcup"):
        path = tmp_path / f"{fmt}.CSV"
        write_picks(picks_table, path, fmt=fmt)
        pd.testing.assert_frame_equal(read_picks(path), picks_table)
    assert (tmp_path / "topcup.CSV").read_text().startswith("x,y,z,particle_type")


def test_star_round_trip(tmp_path, picks_table):
    path = tmp_path / "picks.star"
    write_picks(picks_table, str(path), pixel_size_angstrom=2.0)
    pd.testing.assert_frame_equal(read_picks(path), picks_table, check_exact=False, rtol=1e-13)
    table = read_picks(path, pixel_size_angstrom=2.0, experiment="TS_1", particle_type="ribosome")
    assert set(table["experiment"]) == {"TS_1"}
    with pytest.raises(InputError, match="--pixel-size 1 Å disagrees"):
        read_picks(path, pixel_size_angstrom=1.0)
    halved = read_picks(path, pixel_size_angstrom=1.0, pixel_size_override=True)
    np.testing.assert_allclose(halved["x"], picks_table["x"] / 2)


def test_copick_round_trip(make_copick_project, picks_table):
    config = make_copick_project()
    write_picks(picks_table, f"copick:{config}?user=topcup&session=1")
    back = read_picks(f"copick:{config}?user=topcup&session=1&runs=TS_6_4")
    assert back["experiment"].tolist() == ["TS_6_4", "TS_6_4"]
    assert len(read_picks(f"copick:{config}?user=topcup")) == 5
    with pytest.raises(OutputExistsError):
        write_picks(picks_table, f"copick:{config}?user=topcup&session=1")


def test_parse_copick_source():
    parsed = parse_copick_source("copick:/p/config.json?user=u&session=s&runs=a,b")
    assert (parsed.config, parsed.user, parsed.session, parsed.runs) == (
        "/p/config.json",
        "u",
        "s",
        ("a", "b"),
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("copick:?user=u", "without a config path"),
        ("copick:/c.json", "needs a user id"),
        ("copick:/c.json?user=u&sesion=1", "unknown copick source key 'sesion'.*'session'"),
        ("copick:/c.json?user=u&user=v", "expected one non-empty value"),
        ("copick:/c.json?user=", "expected one non-empty value"),
    ],
)
def test_bad_copick_sources(spec, expected):
    with pytest.raises(InputError, match=expected) as caught:
        read_picks(spec)
    assert spec in str(caught.value)


def test_missing_file(tmp_path):
    path = tmp_path / "absent.csv"
    with pytest.raises(InputError, match="file not found") as caught:
        read_picks(path)
    assert str(path) in str(caught.value)


def test_directory_and_unknown_extension(tmp_path):
    with pytest.raises(InputError, match="is a directory.*copick:CONFIG.json") as caught:
        read_picks(tmp_path)
    assert str(tmp_path) in str(caught.value)
    path = tmp_path / "picks.txt"
    path.write_text("x")
    with pytest.raises(InputError, match=r"unsupported file extension '.txt'.*PATH.star"):
        read_picks(path)
    with pytest.raises(InputError, match="unsupported file extension"):
        write_picks(pd.DataFrame(), tmp_path / "out.json")


def test_star_options_refused_for_other_sources(tmp_path, picks_table):
    path = tmp_path / "p.csv"
    write_picks(picks_table, path)
    with pytest.raises(InputError, match=r"\['pixel_size_angstrom'\] apply to STAR files only"):
        read_picks(path, pixel_size_angstrom=10.0)


def test_write_options(tmp_path, picks_table, make_copick_project):
    with pytest.raises(InputError, match="needs pixel_size_angstrom"):
        write_picks(picks_table, tmp_path / "p.star")
    with pytest.raises(InputError, match="STAR output only"):
        write_picks(picks_table, tmp_path / "p.csv", pixel_size_angstrom=1.0)
    with pytest.raises(InputError, match="fmt must be one of"):
        write_picks(picks_table, tmp_path / "p.csv", fmt="relion")
    config = make_copick_project()
    with pytest.raises(InputError, match="session=S"):
        write_picks(picks_table, f"copick:{config}?user=u")


def test_describe_source():
    assert describe_source("copick:/c.json?user=u&runs=a,b") == (
        "copick project /c.json (user 'u', all sessions, runs a, b)"
    )
    assert describe_source("x/p.star") == "RELION STAR file x/p.star"
    assert describe_source("x/p.mrc") == "unsupported picks source x/p.mrc"
