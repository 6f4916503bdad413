"""Native picks formats: RELION 5, Dynamo, DeepFinder, crYOLO/TomoTwin, portal ndjson.

Every fixture is written by hand in the tool's documented layout, with
positions whose Å values are worked out in the comments (10 Å pixels unless
stated otherwise).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from topcup_bench.datasets import (
    PICKS_FORMATS,
    SUPPORTED_SOURCES,
    PicksContext,
    describe_source,
    read_picks,
    read_picks_cbox,
    read_picks_coords,
    read_picks_deepfinder,
    read_picks_dynamo,
    read_picks_ndjson,
    read_picks_star,
    write_picks,
)
from topcup_bench.datasets.picks import format_for_path, picks_format
from topcup_bench.errors import (
    EmptyInputError,
    InputError,
    NonFiniteCoordinatesError,
    SchemaError,
    UnknownParticleError,
)

CONTEXT = PicksContext(experiment="TS_1", particle_type="ribosome", pixel_size_angstrom=10.0)


def _xyz(table: pd.DataFrame) -> np.ndarray:
    return table[["x", "y", "z"]].to_numpy()


def _write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- RELION 4 / 5

#: Tomogram sizes in pixels (x, y, z) at 10 Å: TS_1 is 200 × 100 × 50, TS_2 is 630 × 630 × 184.
EXTENTS = {"TS_1": (2000.0, 1000.0, 500.0), "TS_2": (6300.0, 6300.0, 1840.0)}
#: The same three picks in Å from the corner (x, y, z).
EXPECTED_ANGSTROM = np.array([[200.0, 300.0, 400.0], [1505.0, 990.0, 0.0], [3150.0, 0.0, 920.0]])

RELION4 = """
# version 30001
data_optics

loop_
_rlnOpticsGroup #1
_rlnOpticsGroupName #2
_rlnTomoTiltSeriesPixelSize #3
1 opticsGroup1 10.0

# version 30001
data_particles

loop_
_rlnTomoName #1
_rlnCoordinateX #2
_rlnCoordinateY #3
_rlnCoordinateZ #4
_rlnOpticsGroup #5
_rlnLCCmax #6
TS_1 20.0 30.0 40.0 1 0.9
TS_1 150.5 99.0 0.0 1 0.5
TS_2 315.0 0.0 92.0 1 0.7
"""

# centred Å = pixels × 10 − extent / 2: TS_1 centre (1000, 500, 250), TS_2 centre (3150, 3150, 920)
RELION5 = """
# version 50001
data_general

_rlnTomoSubTomosAre2DStacks 1

# version 50001
data_optics

loop_
_rlnOpticsGroup #1
_rlnOpticsGroupName #2
_rlnTomoTiltSeriesPixelSize #3
1 opticsGroup1 10.0

# version 50001
data_particles

loop_
_rlnTomoName #1
_rlnCenteredCoordinateXAngst #2
_rlnCenteredCoordinateYAngst #3
_rlnCenteredCoordinateZAngst #4
_rlnOpticsGroup #5
_rlnLCCmax #6
TS_1 -800.0 -200.0 150.0 1 0.9
TS_1 505.0 490.0 -250.0 1 0.5
TS_2 0.0 -3150.0 0.0 1 0.7
"""


def test_relion5_centred_and_relion4_pixels_give_the_same_table(tmp_path):
    context = PicksContext(particle_type="ribosome", tomogram_extent_angstrom=EXTENTS)
    four = read_picks(_write(tmp_path / "r4.star", RELION4), context=context)
    five = read_picks(_write(tmp_path / "r5.star", RELION5), context=context)
    pd.testing.assert_frame_equal(four, five)
    np.testing.assert_allclose(_xyz(five), EXPECTED_ANGSTROM)
    assert five["experiment"].tolist() == ["TS_1", "TS_1", "TS_2"]
    assert five["score"].tolist() == [0.9, 0.5, 0.7]


def test_relion5_origins_are_subtracted(tmp_path):
    text = RELION5.replace(
        "_rlnLCCmax #6",
        "_rlnLCCmax #6\n_rlnOriginXAngst #7\n_rlnOriginYAngst #8\n_rlnOriginZAngst #9",
    )
    text = text.replace(" 1 0.9\n", " 1 0.9 5.0 -5.0 10.0\n").replace(" 1 0.5\n", " 1 0.5 0 0 0\n")
    text = text.replace(" 1 0.7\n", " 1 0.7 0 0 0\n")
    context = PicksContext(particle_type="ribosome", tomogram_extent_angstrom=EXTENTS)
    table = read_picks(_write(tmp_path / "r5.star", text), context=context)
    np.testing.assert_allclose(_xyz(table)[0], [195.0, 305.0, 390.0])


def test_relion5_without_extent_names_file_and_run(tmp_path):
    path = _write(tmp_path / "r5.star", RELION5)
    context = PicksContext(
        particle_type="ribosome", tomogram_extent_angstrom={"TS_1": EXTENTS["TS_1"]}
    )
    with pytest.raises(SchemaError, match=r"extent of run\(s\) \['TS_2'\] is unknown") as caught:
        read_picks(path, context=context)
    assert str(path) in str(caught.value)


def test_relion5_with_pixel_columns_too(tmp_path):
    """With extents the centred columns win; without, the pixel columns are used."""
    text = RELION5.replace(
        "_rlnLCCmax #6", "_rlnLCCmax #6\n_rlnCoordinateX #7\n_rlnCoordinateY #8\n_rlnCoordinateZ #9"
    )
    # pixel columns deliberately one pixel off, to tell which set was read
    text = text.replace(" 1 0.9\n", " 1 0.9 21 31 41\n").replace(" 1 0.5\n", " 1 0.5 151.5 100 1\n")
    text = text.replace(" 1 0.7\n", " 1 0.7 316 1 93\n")
    path = _write(tmp_path / "both.star", text)
    with_extents = PicksContext(particle_type="ribosome", tomogram_extent_angstrom=EXTENTS)
    np.testing.assert_allclose(_xyz(read_picks(path, context=with_extents)), EXPECTED_ANGSTROM)
    without = PicksContext(particle_type="ribosome")
    np.testing.assert_allclose(_xyz(read_picks(path, context=without)), EXPECTED_ANGSTROM + 10.0)


def test_relion5_partial_centred_columns(tmp_path):
    text = RELION5.replace("_rlnCenteredCoordinateZAngst #4", "_rlnSomethingElse #4")
    with pytest.raises(SchemaError, match="centred coordinates need all of") as caught:
        read_picks(_write(tmp_path / "r5.star", text), context=CONTEXT)
    assert "r5.star" in str(caught.value)


def test_star_context_fallbacks(tmp_path):
    body = "data_particles\n\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n_rlnCoordinateZ #3\n"
    silent = _write(tmp_path / "silent.star", body + "1 2 3\n")
    table = read_picks(silent, context=CONTEXT)
    assert table.loc[0, ["experiment", "particle_type"]].tolist() == ["TS_1", "ribosome"]
    np.testing.assert_allclose(_xyz(table), [[10.0, 20.0, 30.0]])
    # a pixel size the file states wins over the context's (no disagreement check)
    stated = _write(
        tmp_path / "stated.star",
        body.replace("#3\n", "#3\n_rlnDetectorPixelSize #4\n") + "1 2 3 4.0\n",
    )
    np.testing.assert_allclose(_xyz(read_picks(stated, context=CONTEXT)), [[4.0, 8.0, 12.0]])
    # explicit options still win over the context
    table = read_picks(silent, context=CONTEXT, experiment="TS_9", pixel_size_angstrom=2.0)
    assert table.loc[0, "experiment"] == "TS_9"
    np.testing.assert_allclose(_xyz(table), [[2.0, 4.0, 6.0]])
    with pytest.raises(SchemaError, match="cannot tell the pixel size"):
        read_picks_star(silent, context=PicksContext(experiment="a", particle_type="b"))
    with pytest.raises(SchemaError, match="pass particle_type"):
        read_picks_star(silent, context=PicksContext(experiment="a", pixel_size_angstrom=1.0))


# --------------------------------------------------------------------------- Dynamo


def _dynamo_row(**columns: float) -> str:
    """A 35-column Dynamo table line; ``columns`` maps 'c<number>' (1-based) to values."""
    values = [0.0] * 35
    for key, value in columns.items():
        values[int(key[1:]) - 1] = value
    return " ".join(f"{v:g}" for v in values)


# Particle 1: (x, y, z) = (11, 21, 31) + (dx, dy, dz) = (0.5, 0, -1) → 1-based (11.5, 21, 30)
#   → 0-based (10.5, 20, 29) → (105, 200, 290) Å. Particle 2: (101, 1, 1) → (1000, 0, 0) Å.
DYNAMO = (
    _dynamo_row(
        c1=1,
        c2=1,
        c3=1,
        c4=0.5,
        c6=-1,
        c7=30,
        c8=60,
        c9=90,
        c10=0.8,
        c20=3,
        c22=1,
        c24=11,
        c25=21,
        c26=31,
    )
    + "\n"
    + _dynamo_row(c1=2, c2=1, c3=1, c10=0.3, c20=3, c22=1, c24=101, c25=1, c26=1)
    + "\n"
)


def test_dynamo_positions_shifts_and_one_based_voxels(tmp_path):
    table = read_picks_dynamo(_write(tmp_path / "p.tbl", DYNAMO), context=CONTEXT)
    np.testing.assert_allclose(_xyz(table), [[105.0, 200.0, 290.0], [1000.0, 0.0, 0.0]])
    assert table["score"].tolist() == [0.8, 0.3]
    assert set(table["experiment"]) == {"TS_1"} and set(table["particle_type"]) == {"ribosome"}
    pd.testing.assert_frame_equal(read_picks(tmp_path / "p.tbl", context=CONTEXT), table)


@pytest.mark.parametrize(
    ("change", "context", "error", "match"),
    [
        ({"c20": 4}, CONTEXT, SchemaError, r"column 20 'tomo' holds 2 values \(3, 4\)"),
        ({"c22": 2}, CONTEXT, SchemaError, r"column 22 'class' holds 2 values \(1, 2\)"),
        (
            {},
            PicksContext(particle_type="r", pixel_size_angstrom=1.0),
            SchemaError,
            r"tomogram 3.*PicksContext\(experiment=RUN\)",
        ),
        (
            {},
            PicksContext(experiment="a", pixel_size_angstrom=1.0),
            SchemaError,
            r"class 1.*PicksContext\(particle_type=CLASS\)",
        ),
        (
            {},
            PicksContext(experiment="a", particle_type="r"),
            SchemaError,
            r"columns 24-26.*are in pixels.*pixel_size_angstrom",
        ),
    ],
)
def test_dynamo_refusals(tmp_path, change, context, error, match):
    second = _dynamo_row(**{"c1": 2, "c20": 3, "c22": 1, "c24": 5, "c25": 5, "c26": 5, **change})
    path = _write(tmp_path / "p.tbl", DYNAMO.splitlines()[0] + "\n" + second + "\n")
    with pytest.raises(error, match=match) as caught:
        read_picks_dynamo(path, context=context)
    assert str(path) in str(caught.value)


def test_dynamo_bad_files(tmp_path):
    short = _write(tmp_path / "short.tbl", "1 1 1 0 0 0 0 0 0 0.5\n")
    with pytest.raises(SchemaError, match="at least 26 columns.*found 10"):
        read_picks_dynamo(short, context=CONTEXT)
    text = _write(tmp_path / "text.tbl", DYNAMO.replace(" 101 ", " oops ", 1))
    with pytest.raises(SchemaError, match=r"column 24 'x' must hold numbers; found 'oops'.*\[2\]"):
        read_picks_dynamo(text, context=CONTEXT)
    with pytest.raises(EmptyInputError, match="file is empty"):
        read_picks_dynamo(_write(tmp_path / "empty.tbl", ""), context=CONTEXT)
    ragged = _write(tmp_path / "ragged.tbl", "1 2 3\n1 2 3 4 5\n")
    with pytest.raises(SchemaError, match="cannot parse as a Dynamo table"):
        read_picks_dynamo(ragged, context=CONTEXT)
    with pytest.raises(InputError, match="file not found"):
        read_picks_dynamo(tmp_path / "absent.tbl", context=CONTEXT)
    with pytest.raises(InputError, match="is a directory"):
        read_picks_dynamo(tmp_path, context=CONTEXT)
    nan = _write(tmp_path / "nan.tbl", DYNAMO.replace(" 101 ", " nan ", 1))
    with pytest.raises(NonFiniteCoordinatesError, match="non-finite"):
        read_picks_dynamo(nan, context=CONTEXT)


def test_dynamo_unknown_class(tmp_path, picks_table):
    path = _write(tmp_path / "p.tbl", DYNAMO)
    context = PicksContext(experiment="a", particle_type="ribosom", pixel_size_angstrom=1.0)
    classes = [_class("ribosome")]
    with pytest.raises(UnknownParticleError, match="'ribosom'"):
        read_picks_dynamo(path, context=context, classes=classes)


def _class(name):
    from topcup_bench.types import ParticleClass

    return ParticleClass(name=name, radius_angstrom=100.0)


# --------------------------------------------------------------------------- DeepFinder

# voxels (x, y, z) → Å × 10; cluster_size is the score
DEEPFINDER = """<objlist>
  <object tomo_idx="0" obj_id="0" class_label="1" x="12.000" y="40.500" z="7.000"
          psi="10.0" phi="20.0" the="30.0" cluster_size="57"/>
  <object tomo_idx="0" obj_id="1" class_label="1" x="0.000" y="3.000" z="99.250"
          cluster_size="12"/>
</objlist>
"""


def test_deepfinder_object_list(tmp_path):
    path = _write(tmp_path / "objl.xml", DEEPFINDER)
    table = read_picks(path, context=CONTEXT)
    np.testing.assert_allclose(_xyz(table), [[120.0, 405.0, 70.0], [0.0, 30.0, 992.5]])
    assert table["score"].tolist() == [57.0, 12.0]
    assert set(table["experiment"]) == {"TS_1"}
    no_scores = _write(
        tmp_path / "plain.xml", '<objlist><object class_label="2" x="1" y="2" z="3"/></objlist>'
    )
    table = read_picks_deepfinder(no_scores, context=CONTEXT)
    assert "score" not in table.columns
    np.testing.assert_allclose(_xyz(table), [[10.0, 20.0, 30.0]])
    empty = read_picks_deepfinder(_write(tmp_path / "none.xml", "<objlist/>"))
    assert len(empty) == 0


@pytest.mark.parametrize(
    ("text", "error", "match"),
    [
        ("<objects/>", SchemaError, r"root element is <objects>"),
        ("<objlist><obj x='1'/></objlist>", SchemaError, r"element\(s\) \['obj'\]"),
        (
            "<objlist><object class_label='1' x='1' y='2'/></objlist>",
            SchemaError,
            r"number 0 \(0-based\) has no attribute 'z'",
        ),
        (
            "<objlist><object class_label='1' x='1' y='two' z='3'/></objlist>",
            SchemaError,
            r"attribute 'y' must be a number, found 'two'",
        ),
        (
            "<objlist><object class_label='1' x='1' y='2' z='3' cluster_size='4'/>"
            "<object class_label='1' x='1' y='2' z='3'/></objlist>",
            SchemaError,
            r"'cluster_size' \(the score\) is on some objects only.*\[1\]",
        ),
        (
            "<objlist><object class_label='1' x='1' y='2' z='3'/>"
            "<object class_label='2' x='1' y='2' z='3'/></objlist>",
            SchemaError,
            r"attribute 'class_label' holds 2 values",
        ),
        (
            "<objlist><object tomo_idx='0' class_label='1' x='1' y='2' z='3'/>"
            "<object tomo_idx='1' class_label='1' x='1' y='2' z='3'/></objlist>",
            SchemaError,
            r"attribute 'tomo_idx' holds 2 values",
        ),
        ("<objlist><object", SchemaError, "cannot parse as XML"),
        ("", EmptyInputError, "file is empty"),
    ],
)
def test_deepfinder_refusals(tmp_path, text, error, match):
    path = _write(tmp_path / "objl.xml", text)
    with pytest.raises(error, match=match) as caught:
        read_picks_deepfinder(path, context=CONTEXT)
    assert str(path) in str(caught.value)


def test_deepfinder_needs_the_context(tmp_path):
    path = _write(tmp_path / "objl.xml", DEEPFINDER)
    with pytest.raises(SchemaError, match=r"label 1.*particle_type=CLASS"):
        read_picks_deepfinder(path, context=PicksContext(experiment="a"))
    with pytest.raises(SchemaError, match=r"tomo_idx 0.*experiment=RUN"):
        read_picks_deepfinder(path)
    with pytest.raises(InputError, match="file not found"):
        read_picks_deepfinder(tmp_path / "absent.xml", context=CONTEXT)
    with pytest.raises(InputError, match="is a directory"):
        read_picks_deepfinder(tmp_path, context=CONTEXT)


# --------------------------------------------------------------------------- crYOLO / TomoTwin

# Box 1 (TomoTwin style, box 37): corner (81.5, 181.5), centre z 30 → centre (100, 200, 30) px.
# Box 2 (crYOLO style, 40 × 30): corner (10, 20), z 5 → centre (30, 35, 5) px.
CBOX = """
data_global

_cbox_format_version 1.0

data_cryolo

loop_
_CoordinateX #1
_CoordinateY #2
_CoordinateZ #3
_Width #4
_Height #5
_Depth #6
_EstWidth #7
_EstHeight #8
_Confidence #9
_NumBoxes #10
_Angle #11
81.5 181.5 30.0 37.0 37.0 37.0 37.0 37.0 0.91 <NA> <NA>
10.0 20.0 5.0 40.0 30.0 40.0 <NA> <NA> 0.25 <NA> <NA>

data_cryolo_include

loop_
_slice_index #1
5.0
30.0
"""
COORDS = "100 200 30\n\n30.0 35.0 5.0 0.25 extra\n"
CENTRES_ANGSTROM = [[1000.0, 2000.0, 300.0], [300.0, 350.0, 50.0]]


def test_cbox_corner_plus_half_box_and_coords_centres(tmp_path):
    cbox = read_picks(_write(tmp_path / "TS_1.cbox", CBOX), context=CONTEXT)
    np.testing.assert_allclose(_xyz(cbox), CENTRES_ANGSTROM)
    assert cbox["score"].tolist() == [0.91, 0.25]
    coords = read_picks(_write(tmp_path / "TS_1.coords", COORDS), context=CONTEXT)
    pd.testing.assert_frame_equal(coords, cbox.drop(columns="score"))
    empty = read_picks_coords(_write(tmp_path / "none.coords", "\n"))
    assert len(empty) == 0


def test_cbox_refusals(tmp_path):
    flat = _write(tmp_path / "flat.cbox", CBOX.replace("10.0 20.0 5.0", "10.0 20.0 <NA>"))
    with pytest.raises(SchemaError, match=r"'_CoordinateZ' is empty in 1 box.*\[1\].*2D"):
        read_picks_cbox(flat, context=CONTEXT)
    missing = _write(tmp_path / "missing.cbox", CBOX.replace("_Width #4", "_Wide #4"))
    with pytest.raises(SchemaError, match=r"missing column\(s\) \['_Width'\]"):
        read_picks_cbox(missing, context=CONTEXT)
    old = _write(tmp_path / "old.cbox", "81 181 37 37 0.9 37 37\n")
    with pytest.raises(SchemaError, match="crYOLO < 1.8"):
        read_picks_cbox(old, context=CONTEXT)
    other = _write(tmp_path / "other.cbox", "data_particles\n\nloop_\n_rlnCoordinateX #1\n1\n")
    with pytest.raises(SchemaError, match=r"no loop block 'data_cryolo'.*data_particles"):
        read_picks_cbox(other, context=CONTEXT)
    text = _write(tmp_path / "text.cbox", CBOX.replace("81.5 181.5", "81.5 oops"))
    with pytest.raises(SchemaError, match=r"'CoordinateY' must hold numbers; found 'oops'"):
        read_picks_cbox(text, context=CONTEXT)
    with pytest.raises(EmptyInputError):
        read_picks_cbox(_write(tmp_path / "empty.cbox", ""), context=CONTEXT)
    path = _write(tmp_path / "ok.cbox", CBOX)
    with pytest.raises(SchemaError, match=r"_Coordinate\* are in pixels.*pixel_size_angstrom"):
        read_picks_cbox(path, context=PicksContext(experiment="a", particle_type="b"))
    with pytest.raises(SchemaError, match=r"one tomogram per file.*experiment=RUN"):
        read_picks_cbox(path, context=PicksContext(pixel_size_angstrom=1.0, particle_type="b"))


@pytest.mark.parametrize(
    ("text", "error", "match"),
    [
        ("1 2 3\n4 5\n", SchemaError, r"line 2: expected at least 3 fields"),
        ("1 2 3\n\n4 x 6\n", SchemaError, r"line 3: 'x y z' must be numbers, found '4 x 6'"),
        ("1 2 3\n4 nan 6\n", NonFiniteCoordinatesError, r"file lines 2\)"),
        (b"\xff\xfe1 2 3\n", SchemaError, "not a UTF-8 text file"),
    ],
)
def test_coords_refusals(tmp_path, text, error, match):
    path = tmp_path / "p.coords"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(error, match=match) as caught:
        read_picks_coords(path, context=CONTEXT)
    assert str(path) in str(caught.value)


# --------------------------------------------------------------------------- portal ndjson

NDJSON = (
    '{"type": "orientedPoint", "location": {"x": 12.0, "y": 40.5, "z": 7.0}, '
    '"xyz_rotation_matrix": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}\n'
    "\n"
    '{"type": "point", "location": {"x": 3, "y": 4, "z": 5}, "instance_id": 2}\n'
)


def test_ndjson_points_in_voxels(tmp_path):
    table = read_picks(_write(tmp_path / "ribosome.ndjson", NDJSON), context=CONTEXT)
    np.testing.assert_allclose(_xyz(table), [[120.0, 405.0, 70.0], [30.0, 40.0, 50.0]])
    assert "score" not in table.columns
    assert len(read_picks_ndjson(_write(tmp_path / "none.ndjson", ""))) == 0


@pytest.mark.parametrize(
    ("text", "error", "match"),
    [
        ('{"location": {"x": 1, "y": 2, "z": 3}}\n{"location": ', SchemaError, r"line 2: not JSON"),
        ("[1, 2, 3]\n", SchemaError, r"line 1: expected a JSON object"),
        (
            '{"type": "segmentationMask", "location": {"x": 1, "y": 2, "z": 3}}\n',
            SchemaError,
            r"line 1: 'type' is 'segmentationMask'",
        ),
        (
            '{"type": "point", "location": {"x": 1, "y": 2}}\n',
            SchemaError,
            r"line 1: expected 'location'",
        ),
        (
            '{"type": "point", "location": {"x": 1, "y": "2", "z": 3}}\n',
            SchemaError,
            r"line 1: 'location' x, y, z must be numbers",
        ),
        (
            '{"location": {"x": 1, "y": 2, "z": 3}}\n{"location": {"x": NaN, "y": 2, "z": 3}}\n',
            NonFiniteCoordinatesError,
            r"file lines 2\)",
        ),
    ],
)
def test_ndjson_refusals(tmp_path, text, error, match):
    path = _write(tmp_path / "p.ndjson", text)
    with pytest.raises(error, match=match) as caught:
        read_picks_ndjson(path, context=CONTEXT)
    assert str(path) in str(caught.value)


def test_ndjson_needs_voxel_spacing_run_and_class(tmp_path):
    path = _write(tmp_path / "p.ndjson", NDJSON)
    with pytest.raises(SchemaError, match=r"'location'.*in pixels.*pixel_size_angstrom"):
        read_picks_ndjson(path, context=PicksContext(experiment="a", particle_type="b"))
    with pytest.raises(SchemaError, match=r"one object per annotation file.*particle_type"):
        read_picks_ndjson(path, context=PicksContext(experiment="a", pixel_size_angstrom=1.0))
    with pytest.raises(InputError, match="file not found"):
        read_picks_ndjson(tmp_path / "absent.ndjson", context=CONTEXT)


# --------------------------------------------------------------------------- dispatch


def test_registry_and_extensions():
    assert PICKS_FORMATS.names() == sorted(
        ["csv", "star", "dynamo", "deepfinder", "cbox", "coords", "ndjson"]
    )
    assert format_for_path("a/B.NDJSON").name == "ndjson"
    assert format_for_path("a/b.mrc") is None
    assert picks_format("dynamo").extensions == (".tbl",)
    with pytest.raises(InputError, match=r"unknown picks format 'dynamoo'.*Did you mean 'dynamo'"):
        picks_format("dynamoo")
    assert "PATH.tbl (Dynamo table)" in SUPPORTED_SOURCES
    assert describe_source("x/p.tbl") == "Dynamo table x/p.tbl"
    assert describe_source("x/p.ndjson") == "CryoET Data Portal point annotation x/p.ndjson"


def test_format_keyword(tmp_path):
    path = _write(tmp_path / "picks.txt", COORDS)
    table = read_picks(path, format="coords", context=CONTEXT)
    np.testing.assert_allclose(_xyz(table), CENTRES_ANGSTROM)
    with pytest.raises(InputError, match=r"unknown picks format 'box'; known: \[") as caught:
        read_picks(path, format="box")
    assert str(path) in str(caught.value)
    with pytest.raises(InputError, match=r"unsupported file extension '.txt'.*format="):
        read_picks(path)
    with pytest.raises(InputError, match="a copick: source has no file format"):
        read_picks("copick:/c.json?user=u", format="csv")


def test_star_options_and_bad_context(tmp_path):
    path = _write(tmp_path / "p.tbl", DYNAMO)
    with pytest.raises(InputError, match=r"\['experiment'\] apply to STAR files only.*context="):
        read_picks(path, experiment="TS_1")
    with pytest.raises(InputError, match="context must be a PicksContext, found dict"):
        read_picks(path, context={"experiment": "TS_1"})


def test_native_formats_are_read_only(tmp_path, picks_table):
    with pytest.raises(InputError, match=r"Dynamo tables are read only.*PATH.csv"):
        write_picks(picks_table, tmp_path / "out.tbl")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"experiment": " "}, "experiment must be a non-empty string"),
        ({"particle_type": 3}, "particle_type must be a non-empty string"),
        ({"pixel_size_angstrom": 0.0}, "pixel_size_angstrom must be a positive finite"),
        ({"pixel_size_angstrom": "ten"}, "pixel_size_angstrom must be a positive finite"),
        ({"tomogram_extent_angstrom": [1, 2, 3]}, "must map run names"),
        ({"tomogram_extent_angstrom": {"a": (1, 2)}}, r"\['a'\] must be 3 positive finite"),
        ({"tomogram_extent_angstrom": {"a": (1, 2, np.inf)}}, r"\['a'\] must be 3 positive"),
        ({"tomogram_extent_angstrom": {"a": "big"}}, r"\['a'\] must be 3 positive"),
    ],
)
def test_context_validation(kwargs, match):
    with pytest.raises(InputError, match=match) as caught:
        PicksContext(**kwargs)
    assert "picks context" in str(caught.value)


def test_context_extents_are_read_only_tuples():
    context = PicksContext(tomogram_extent_angstrom={"a": [1, 2, 3]})
    assert context.tomogram_extent_angstrom["a"] == (1.0, 2.0, 3.0)
    with pytest.raises(TypeError):
        context.tomogram_extent_angstrom["b"] = (1.0, 1.0, 1.0)  # type: ignore[index]


class _StubDataset:
    """What the external picker asks of a dataset: runs, extents, voxel size."""

    runs = ("TS_1", "TS_2")
    voxel_size_angstrom = 10.0

    def extent_angstrom_xyz(self, run):
        return EXTENTS[run]


def test_external_picker_passes_the_dataset_extents(tmp_path):
    from topcup_bench.pickers.external import ExternalPicker

    text = RELION5.replace("_rlnLCCmax #6", "_rlnLCCmax #6\n_rlnParticleName #7")
    for score in ("0.9", "0.5", "0.7"):
        text = text.replace(f" 1 {score}\n", f" 1 {score} ribosome\n")
    picker = ExternalPicker(source=str(_write(tmp_path / "r5.star", text)))
    picker.prepare(_StubDataset())
    assert picker.unplaced_picks(["TS_1"]) == {"TS_2": 1}
    np.testing.assert_allclose(_xyz(picker._picks), EXPECTED_ANGSTROM)
    dynamo = ExternalPicker(
        source=str(_write(tmp_path / "p.tbl", DYNAMO)), pixel_size_angstrom=10.0
    )
    with pytest.raises(SchemaError, match="experiment=RUN"):
        dynamo.prepare(_StubDataset())
