"""Kaggle and TopCUP CSV reading and writing."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topcup_bench.datasets import read_picks_csv, write_kaggle_csv, write_topcup_csv
from topcup_bench.errors import (
    EmptyInputError,
    InputError,
    NonFiniteCoordinatesError,
    OutputExistsError,
    SchemaError,
    UnknownParticleError,
)
from topcup_bench.types import COMPETITION_CLASSES

KAGGLE = (
    "id,experiment,particle_type,x,y,z\n"
    "0,TS_5_4,ribosome,1.5,2.5,3.5\n"
    "1,TS_6_4,apo-ferritin,4,5,6\n"
)


def write(tmp_path: Path, text: str, name: str = "picks.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_kaggle_layout(tmp_path):
    table = read_picks_csv(write(tmp_path, KAGGLE))
    assert list(table.columns) == ["experiment", "particle_type", "x", "y", "z"]
    assert table["x"].tolist() == [1.5, 4.0]
    assert table["experiment"].tolist() == ["TS_5_4", "TS_6_4"]
    assert table["x"].dtype == np.float64


def test_reads_kaggle_without_id_and_with_score(tmp_path):
    text = "experiment,particle_type,x,y,z,score\nTS_5_4,ribosome,1,2,3,0.75\n"
    table = read_picks_csv(write(tmp_path, text))
    assert table["score"].tolist() == [0.75]


def test_reads_topcup_layout_and_renames_conf(tmp_path):
    text = "x,y,z,particle_type,experiment,conf\n1,2,3,ribosome,TS_5_4,0.5\n"
    table = read_picks_csv(write(tmp_path, text))
    assert list(table.columns) == ["experiment", "particle_type", "x", "y", "z", "score"]
    assert table.loc[0, "score"] == 0.5
    assert table.loc[0, "experiment"] == "TS_5_4"


def test_score_wins_over_conf(tmp_path):
    text = "experiment,particle_type,x,y,z,score,conf\nTS_5_4,ribosome,1,2,3,0.9,0.1\n"
    table = read_picks_csv(write(tmp_path, text))
    assert table["score"].tolist() == [0.9]
    assert "conf" not in table.columns


def test_string_columns_survive_na_like_names(tmp_path):
    text = (
        "experiment,particle_type,x,y,z\n"
        "NA,ribosome,1,2,3\nnan,ribosome,4,5,6\n007,ribosome,7,8,9\n"
    )
    table = read_picks_csv(write(tmp_path, text))
    assert table["experiment"].tolist() == ["NA", "nan", "007"]


def test_header_only_is_an_empty_table(tmp_path):
    table = read_picks_csv(write(tmp_path, "id,experiment,particle_type,x,y,z\n"))
    assert len(table) == 0
    assert table["x"].dtype == np.float64


def test_read_does_not_modify_the_file(tmp_path):
    path = write(tmp_path, KAGGLE)
    before = (path.read_bytes(), os.stat(path).st_mtime_ns)
    read_picks_csv(path)
    assert (path.read_bytes(), os.stat(path).st_mtime_ns) == before


def test_classes_are_checked(tmp_path):
    path = write(tmp_path, "experiment,particle_type,x,y,z\nTS_5_4,ribosom,1,2,3\n")
    with pytest.raises(UnknownParticleError) as caught:
        read_picks_csv(path, classes=COMPETITION_CLASSES)
    assert str(path) in str(caught.value)
    assert "'ribosome'" in str(caught.value)
    assert "file lines 2" in str(caught.value)


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_file(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(EmptyInputError) as caught:
        read_picks_csv(path)
    assert str(path) in str(caught.value)
    assert "file is empty" in str(caught.value)


def test_ragged_rows_are_a_schema_error(tmp_path):
    path = write(tmp_path, "experiment,particle_type,x,y,z\nTS_5_4,ribosome,1,2,3,4,5\n")
    with pytest.raises(SchemaError) as caught:
        read_picks_csv(path)
    assert str(path) in str(caught.value)
    assert "cannot parse as CSV" in str(caught.value)
    assert "more fields than the header" in str(caught.value)


def test_ragged_rows_in_the_middle_are_a_schema_error(tmp_path):
    text = "experiment,particle_type,x,y,z\nTS,ribosome,1,2,3\nTS,ribosome,1,2,3,4\n"
    path = write(tmp_path, text)
    with pytest.raises(SchemaError) as caught:
        read_picks_csv(path)
    assert str(path) in str(caught.value)
    assert "Expected 5 fields in line 3" in str(caught.value)


def test_short_row_is_reported(tmp_path):
    path = write(tmp_path, "x,y,z,particle_type,experiment\n1,2,3,ribosome\n")
    with pytest.raises(SchemaError) as caught:
        read_picks_csv(path)
    assert str(path) in str(caught.value)
    assert "'experiment' is empty" in str(caught.value) and "file lines 2" in str(caught.value)


def test_missing_columns_lists_expected_and_found(tmp_path):
    path = write(tmp_path, "experiment,type,x,y,z\nTS_5_4,ribosome,1,2,3\n")
    with pytest.raises(SchemaError) as caught:
        read_picks_csv(path)
    message = str(caught.value)
    assert str(path) in message
    assert "['particle_type']" in message
    assert "found ['experiment', 'type', 'x', 'y', 'z']" in message


def test_non_number_cites_the_file_line(tmp_path):
    path = write(
        tmp_path, "experiment,particle_type,x,y,z\nTS,ribosome,1,2,3\nTS,ribosome,1,two,3\n"
    )
    with pytest.raises(SchemaError) as caught:
        read_picks_csv(path)
    message = str(caught.value)
    assert str(path) in message and "'y'" in message and "'two'" in message
    assert "file lines 3" in message


def test_empty_coordinate_cell_is_reported(tmp_path):
    path = write(tmp_path, "experiment,particle_type,x,y,z\nTS,ribosome,1,,3\n")
    with pytest.raises(SchemaError) as caught:
        read_picks_csv(path)
    assert "'y'" in str(caught.value) and "file lines 2" in str(caught.value)


def test_nan_coordinate_is_reported(tmp_path):
    path = write(tmp_path, "experiment,particle_type,x,y,z\nTS,ribosome,1,nan,3\n")
    with pytest.raises(NonFiniteCoordinatesError) as caught:
        read_picks_csv(path)
    assert str(path) in str(caught.value) and "file lines 2" in str(caught.value)


def test_missing_file(tmp_path):
    path = tmp_path / "absent.csv"
    with pytest.raises(InputError, match="file not found") as caught:
        read_picks_csv(path)
    assert str(path) in str(caught.value)


def test_kaggle_round_trip(tmp_path, picks_table):
    path = tmp_path / "out.csv"
    write_kaggle_csv(picks_table, path)
    header = path.read_text().splitlines()[0]
    assert header == "id,experiment,particle_type,x,y,z,score"
    back = read_picks_csv(path)
    pd.testing.assert_frame_equal(back, picks_table)
    assert pd.read_csv(path)["id"].tolist() == [0, 1, 2, 3, 4]


def test_kaggle_without_score(tmp_path, picks_table):
    path = tmp_path / "out.csv"
    write_kaggle_csv(picks_table.drop(columns="score"), path)
    assert path.read_text().splitlines()[0] == "id,experiment,particle_type,x,y,z"


def test_topcup_round_trip(tmp_path, picks_table):
    path = tmp_path / "out.csv"
    write_topcup_csv(picks_table, path)
    assert path.read_text().splitlines()[0] == "x,y,z,particle_type,experiment,conf"
    pd.testing.assert_frame_equal(read_picks_csv(path), picks_table)


def test_topcup_without_score_writes_conf_one(tmp_path, picks_table):
    path = tmp_path / "out.csv"
    write_topcup_csv(picks_table.drop(columns="score"), path)
    assert read_picks_csv(path)["score"].tolist() == [1.0] * 5


@pytest.mark.parametrize("writer", [write_kaggle_csv, write_topcup_csv])
def test_writers_refuse_to_overwrite(tmp_path, picks_table, writer):
    path = write(tmp_path, "keep me")
    with pytest.raises(OutputExistsError) as caught:
        writer(picks_table, path)
    assert str(path) in str(caught.value)
    assert path.read_text() == "keep me"
    writer(picks_table, path, overwrite=True)
    assert len(read_picks_csv(path)) == 5
    assert [p.name for p in tmp_path.iterdir()] == ["picks.csv"]  # no temp file left


def test_writer_rejects_invalid_table(tmp_path, picks_table):
    with pytest.raises(SchemaError, match="table to write"):
        write_kaggle_csv(picks_table.drop(columns="z"), tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(finite, finite, finite, finite), min_size=1, max_size=8))
def test_float64_round_trip_is_lossless(rows):
    array = np.array(rows, dtype=np.float64)
    table = pd.DataFrame(
        {
            "experiment": ["run"] * len(rows),
            "particle_type": ["ribosome"] * len(rows),
            "x": array[:, 0],
            "y": array[:, 1],
            "z": array[:, 2],
            "score": array[:, 3],
        }
    )
    with tempfile.TemporaryDirectory() as folder:
        for writer in (write_kaggle_csv, write_topcup_csv):
            path = Path(folder) / f"{writer.__name__}.csv"
            writer(table, path)
            back = read_picks_csv(path)
            for column in ("x", "y", "z", "score"):
                assert back[column].to_numpy().tobytes() == table[column].to_numpy().tobytes()
