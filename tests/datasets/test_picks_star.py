"""RELION STAR reading and writing: pixel sizes, origins, names, blocks, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from topcup_bench.datasets import read_picks_star, write_picks_star
from topcup_bench.errors import EmptyInputError, InputError, OutputExistsError, SchemaError


def loop(name: str, columns: list[str], rows: list[list[object]]) -> str:
    header = "".join(f"_{c} #{i + 1}\n" for i, c in enumerate(columns))
    body = "".join(" ".join(str(v) for v in row) + "\n" for row in rows)
    return f"data_{name}\n\nloop_\n{header}{body}\n"


def star(tmp_path: Path, *blocks: str, name: str = "picks.star") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(blocks))
    return path


COORDS = ["rlnCoordinateX", "rlnCoordinateY", "rlnCoordinateZ"]


def test_pixel_size_column_tomo_name_and_particle_name(tmp_path):
    path = star(
        tmp_path,
        loop(
            "particles",
            [*COORDS, "rlnTomoName", "rlnParticleName", "rlnTomoTiltSeriesPixelSize"],
            [[10, 20, 30, "TS_5_4", "ribosome", 2.5], [1, 2, 3, "01", "apo-ferritin", 2.5]],
        ),
    )
    table = read_picks_star(path)
    assert table[["x", "y", "z"]].to_numpy().tolist() == [[25, 50, 75], [2.5, 5, 7.5]]
    assert table["experiment"].tolist() == ["TS_5_4", "01"]
    assert table["particle_type"].tolist() == ["ribosome", "apo-ferritin"]
    assert "score" not in table.columns


def test_pixel_size_argument_overrides_the_file_only_when_asked(tmp_path):
    path = star(
        tmp_path,
        loop("particles", [*COORDS, "rlnTomoName", "rlnImagePixelSize"], [[1, 2, 3, "a", 99]]),
    )
    with pytest.raises(InputError, match=r"--pixel-size 10 Å disagrees .* \(99 Å\)") as caught:
        read_picks_star(path, pixel_size_angstrom=10.0, particle_type="ribosome")
    assert str(path) in str(caught.value) and "--override-pixel-size" in str(caught.value)
    table = read_picks_star(
        path, pixel_size_angstrom=10.0, particle_type="ribosome", pixel_size_override=True
    )
    assert table[["x", "y", "z"]].to_numpy().tolist() == [[10, 20, 30]]
    assert table["particle_type"].tolist() == ["ribosome"]


@pytest.mark.parametrize("given", [99.0, 99.05])  # within a relative 1e-3: the same size
def test_pixel_size_argument_agreeing_with_the_file_is_accepted(tmp_path, given):
    path = star(
        tmp_path,
        loop("optics", ["rlnOpticsGroup", "rlnImagePixelSize"], [[1, 99.0]]),
        loop("particles", [*COORDS, "rlnTomoName", "rlnOpticsGroup"], [[1, 2, 3, "a", 1]]),
    )
    table = read_picks_star(path, pixel_size_angstrom=given, particle_type="ribosome")
    assert table["x"].tolist() == [given]


@pytest.mark.parametrize("column", ["rlnImagePixelSize", "rlnDetectorPixelSize", "rlnPixelSize"])
def test_each_particle_pixel_size_column(tmp_path, column):
    path = star(tmp_path, loop("particles", [*COORDS, "rlnTomoName", column], [[1, 1, 1, "a", 4]]))
    assert read_picks_star(path, particle_type="ribosome")["x"].tolist() == [4.0]


def test_pixel_size_from_optics_block(tmp_path):
    path = star(
        tmp_path,
        loop("optics", ["rlnOpticsGroup", "rlnImagePixelSize"], [[1, 8.0]]),
        loop("particles", [*COORDS, "rlnTomoName", "rlnOpticsGroup"], [[1, 2, 3, "a", 1]]),
    )
    table = read_picks_star(path, particle_type="ribosome")
    assert table[["x", "y", "z"]].to_numpy().tolist() == [[8, 16, 24]]


def test_pixel_size_per_optics_group(tmp_path):
    path = star(
        tmp_path,
        loop("optics", ["rlnOpticsGroup", "rlnTomoTiltSeriesPixelSize"], [[1, 2.0], [2, 5.0]]),
        loop(
            "particles",
            [*COORDS, "rlnTomoName", "rlnOpticsGroup"],
            [[1, 1, 1, "a", 2], [1, 1, 1, "b", 1]],
        ),
    )
    assert read_picks_star(path, particle_type="ribosome")["x"].tolist() == [5.0, 2.0]


def test_optics_groups_without_group_column(tmp_path):
    path = star(
        tmp_path,
        loop("optics", ["rlnOpticsGroup", "rlnImagePixelSize"], [[1, 2.0], [2, 5.0]]),
        loop("particles", [*COORDS, "rlnTomoName"], [[1, 1, 1, "a"]]),
    )
    with pytest.raises(SchemaError) as caught:
        read_picks_star(path, particle_type="ribosome")
    message = str(caught.value)
    assert str(path) in message and "rlnOpticsGroup" in message and "pixel_size_angstrom" in message


def test_unknown_optics_group(tmp_path):
    path = star(
        tmp_path,
        loop("optics", ["rlnOpticsGroup", "rlnImagePixelSize"], [[1, 2.0], [2, 5.0]]),
        loop("particles", [*COORDS, "rlnTomoName", "rlnOpticsGroup"], [[1, 1, 1, "a", 3]]),
    )
    with pytest.raises(SchemaError, match=r"optics group\(s\) \[3.0\]") as caught:
        read_picks_star(path, particle_type="ribosome")
    assert str(path) in str(caught.value)


def test_no_pixel_size_anywhere(tmp_path):
    path = star(tmp_path, loop("particles", [*COORDS, "rlnTomoName"], [[1, 2, 3, "a"]]))
    with pytest.raises(SchemaError) as caught:
        read_picks_star(path, particle_type="ribosome")
    message = str(caught.value)
    assert str(path) in message and "pixel_size_angstrom" in message
    assert "rlnImagePixelSize" in message and "found ['rlnCoordinateX'" in message


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), "abc"])
def test_bad_pixel_size_argument(tmp_path, value):
    path = star(tmp_path, loop("particles", [*COORDS, "rlnTomoName"], [[1, 2, 3, "a"]]))
    with pytest.raises(InputError) as caught:
        read_picks_star(path, pixel_size_angstrom=value, particle_type="ribosome")
    assert str(path) in str(caught.value) and "--pixel-size" in str(caught.value)
    assert f"pixel size must be > 0 (a finite number of Å), found {value!r}" in str(caught.value)


def test_bad_pixel_size_column(tmp_path):
    path = star(
        tmp_path, loop("particles", [*COORDS, "rlnTomoName", "rlnPixelSize"], [[1, 2, 3, "a", 0]])
    )
    with pytest.raises(InputError) as caught:
        read_picks_star(path, particle_type="ribosome")
    assert str(path) in str(caught.value) and "'rlnPixelSize'" in str(caught.value)


def test_origin_in_angstrom_is_subtracted(tmp_path):
    columns = [*COORDS, "rlnOriginXAngst", "rlnOriginYAngst", "rlnOriginZAngst", "rlnTomoName"]
    path = star(tmp_path, loop("particles", columns, [[10, 10, 10, 1.5, -2, 0, "a"]]))
    table = read_picks_star(path, pixel_size_angstrom=2.0, particle_type="ribosome")
    assert table[["x", "y", "z"]].to_numpy().tolist() == [[18.5, 22.0, 20.0]]


def test_partial_origin_columns_are_an_error(tmp_path):
    columns = [*COORDS, "rlnOriginXAngst", "rlnTomoName"]
    path = star(tmp_path, loop("particles", columns, [[10, 10, 10, 1.5, "a"]]))
    with pytest.raises(SchemaError, match=r"found only \['rlnOriginXAngst'\]") as caught:
        read_picks_star(path, pixel_size_angstrom=2.0, particle_type="ribosome")
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("micrograph", "run"),
    [
        ("Tomograms/TS_5_4.mrc", "TS_5_4"),
        ("a/b/TS_6_4.tomostar", "TS_6_4"),
        ("TS_1.rec", "TS_1"),
        ("tomo.ST", "tomo"),
        ("x/run.zarr", "run"),
        ("stack.mrcs", "stack"),
        ("TS_9_10.00Apx", "TS_9_10.00Apx"),
    ],
)
def test_run_from_micrograph_name(tmp_path, micrograph, run):
    path = star(
        tmp_path,
        loop(
            "particles",
            [*COORDS, "rlnMicrographName", "particle_type"],
            [[1, 2, 3, micrograph, "ribosome"]],
        ),
    )
    assert read_picks_star(path, pixel_size_angstrom=1.0)["experiment"].tolist() == [run]


def test_experiment_argument(tmp_path):
    path = star(tmp_path, loop("particles", [*COORDS, "rlnTomoName"], [[1, 2, 3, "other"]]))
    table = read_picks_star(path, pixel_size_angstrom=1.0, particle_type="r", experiment="TS_1")
    assert table["experiment"].tolist() == ["TS_1"]


def test_missing_run_name(tmp_path):
    path = star(tmp_path, loop("particles", [*COORDS, "rlnParticleName"], [[1, 2, 3, "r"]]))
    with pytest.raises(SchemaError) as caught:
        read_picks_star(path, pixel_size_angstrom=1.0)
    message = str(caught.value)
    assert str(path) in message and "rlnTomoName" in message and "pass experiment" in message


def test_missing_particle_type(tmp_path):
    path = star(tmp_path, loop("particles", [*COORDS, "rlnTomoName"], [[1, 2, 3, "a"]]))
    with pytest.raises(SchemaError) as caught:
        read_picks_star(path, pixel_size_angstrom=1.0)
    message = str(caught.value)
    assert str(path) in message and "rlnParticleName" in message and "pass particle_type" in message


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (["rlnScore", "rlnLCCmax"], 0.2),
        (["rlnScore", "rlnAutopickFigureOfMerit"], 0.2),
        (["rlnScore"], 0.1),
    ],
)
def test_score_column_precedence(tmp_path, columns, expected):
    values = [0.1, 0.2][: len(columns)]
    path = star(
        tmp_path, loop("particles", [*COORDS, "rlnTomoName", *columns], [[1, 2, 3, "a", *values]])
    )
    table = read_picks_star(path, pixel_size_angstrom=1.0, particle_type="r")
    assert table["score"].tolist() == [expected]


def test_single_unnamed_block(tmp_path):
    path = star(tmp_path, loop("", [*COORDS, "rlnTomoName"], [[1, 2, 3, "a"]]))
    assert len(read_picks_star(path, pixel_size_angstrom=1.0, particle_type="r")) == 1


def test_particles_block_preferred(tmp_path):
    path = star(
        tmp_path,
        loop("other", [*COORDS, "rlnTomoName"], [[9, 9, 9, "x"]]),
        loop("particles", [*COORDS, "rlnTomoName"], [[1, 2, 3, "a"]]),
    )
    table = read_picks_star(path, pixel_size_angstrom=1.0, particle_type="r")
    assert table["experiment"].tolist() == ["a"]


def test_ambiguous_blocks(tmp_path):
    path = star(
        tmp_path,
        loop("one", [*COORDS, "rlnTomoName"], [[1, 2, 3, "a"]]),
        loop("two", [*COORDS, "rlnTomoName"], [[1, 2, 3, "b"]]),
    )
    with pytest.raises(SchemaError) as caught:
        read_picks_star(path, pixel_size_angstrom=1.0, particle_type="r")
    message = str(caught.value)
    assert str(path) in message and "data_one" in message and "data_two" in message


def test_missing_coordinates(tmp_path):
    path = star(tmp_path, loop("particles", ["rlnCoordinateX", "rlnTomoName"], [[1, "a"]]))
    with pytest.raises(SchemaError) as caught:
        read_picks_star(path, pixel_size_angstrom=1.0, particle_type="r")
    message = str(caught.value)
    assert str(path) in message and "['rlnCoordinateY', 'rlnCoordinateZ']" in message


def test_centred_coordinates_need_the_extent(tmp_path):
    columns = [f"rlnCenteredCoordinate{a}Angst" for a in "XYZ"] + ["rlnTomoName"]
    path = star(tmp_path, loop("particles", columns, [[1, 2, 3, "a"]]))
    with pytest.raises(SchemaError, match=r"extent of run\(s\) \['a'\] is unknown") as caught:
        read_picks_star(path, pixel_size_angstrom=1.0, particle_type="r")
    assert str(path) in str(caught.value)


def test_non_number_coordinate(tmp_path):
    path = star(tmp_path, loop("particles", [*COORDS, "rlnTomoName"], [[1, "oops", 3, "a"]]))
    with pytest.raises(SchemaError) as caught:
        read_picks_star(path, pixel_size_angstrom=1.0, particle_type="r")
    message = str(caught.value)
    assert str(path) in message and "'rlnCoordinateY'" in message and "'oops'" in message


def test_empty_file(tmp_path):
    path = star(tmp_path, "")
    with pytest.raises(EmptyInputError) as caught:
        read_picks_star(path)
    assert str(path) in str(caught.value) and "file is empty" in str(caught.value)


def test_unparsable_file(tmp_path):
    path = star(tmp_path, "data_x\nloop_\n_rlnCoordinateX #1\n_rlnB #2\n1 2 3\n4\n")
    with pytest.raises(SchemaError, match="cannot parse as a STAR file") as caught:
        read_picks_star(path)
    assert str(path) in str(caught.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_picks_star(tmp_path / "absent.star")


def test_empty_loop_is_an_empty_table(tmp_path):
    path = star(tmp_path, loop("particles", [*COORDS, "rlnTomoName", "rlnParticleName"], []))
    table = read_picks_star(path, pixel_size_angstrom=1.0)
    assert len(table) == 0 and list(table.columns)[:5] == [
        "experiment",
        "particle_type",
        "x",
        "y",
        "z",
    ]


def test_round_trip(tmp_path, picks_table):
    path = tmp_path / "out.star"
    write_picks_star(picks_table, path, pixel_size_angstrom=10.012)
    back = read_picks_star(path)
    pd.testing.assert_frame_equal(back, picks_table, check_exact=False, rtol=1e-13, atol=1e-12)
    written = path.read_text()
    for column in ["rlnTomoName", "rlnParticleName", "rlnLCCmax", "rlnDetectorPixelSize"]:
        assert f"_{column}" in written


def test_round_trip_without_score(tmp_path, picks_table):
    path = tmp_path / "out.star"
    write_picks_star(picks_table.drop(columns="score"), path, pixel_size_angstrom=1.0)
    back = read_picks_star(path)
    assert "score" not in back.columns
    np.testing.assert_array_equal(back["x"].to_numpy(), picks_table["x"].to_numpy())


def test_writer_converts_to_pixels(tmp_path, picks_table):
    path = tmp_path / "out.star"
    write_picks_star(picks_table.iloc[:1], path, pixel_size_angstrom=0.5)
    assert read_picks_star(path).equals(read_picks_star(path, pixel_size_angstrom=0.5))
    with pytest.raises(InputError, match="disagrees"):  # the file states 0.5 Å
        read_picks_star(path, pixel_size_angstrom=1.0)
    back = read_picks_star(path, pixel_size_angstrom=1.0, pixel_size_override=True)
    assert back[["x", "y", "z"]].to_numpy().tolist() == [[201.0, 400.5, 600.0]]


def test_writer_refuses_to_overwrite(tmp_path, picks_table):
    path = star(tmp_path, "keep", name="out.star")
    with pytest.raises(OutputExistsError) as caught:
        write_picks_star(picks_table, path, pixel_size_angstrom=1.0)
    assert str(path) in str(caught.value) and path.read_text() == "keep"
    write_picks_star(picks_table, path, pixel_size_angstrom=1.0, overwrite=True)
    assert len(read_picks_star(path)) == 5


def test_writer_rejects_bad_pixel_size(tmp_path, picks_table):
    with pytest.raises(InputError, match="pixel_size_angstrom"):
        write_picks_star(picks_table, tmp_path / "out.star", pixel_size_angstrom=0.0)
    assert not (tmp_path / "out.star").exists()
