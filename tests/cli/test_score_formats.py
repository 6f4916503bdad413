"""``topcup-bench score`` on native picks formats: --picks-format, --run, --particle-type,
--pixel-size for every format in pixels, and --tomogram-size for RELION 5 centred picks.

Every file is written by hand. The ground truth is two ribosomes of run TS_1
(match radius 0.5 × 150 Å = 75 Å) at (1000, 2000, 300) and (300, 350, 50) Å,
that is (100, 200, 30) and (30, 35, 5) voxels of 10 Å; each native file below
puts its two picks at exactly these places once read with a 10 Å pixel size.
"""

from __future__ import annotations

import json

import pytest

from tests.datasets.test_picks_native_formats import _dynamo_row
from topcup_bench.cli import main

TRUTH = "experiment,particle_type,x,y,z\nTS_1,ribosome,1000,2000,300\nTS_1,ribosome,300,350,50\n"
COORDS = "100 200 30\n30 35 5\n"
#: Boxes of 40 × 40 pixels: lower-left corner = centre − 20 in x and y; z is the centre.
CBOX = """
data_cryolo

loop_
_CoordinateX #1
_CoordinateY #2
_CoordinateZ #3
_Width #4
_Height #5
_Confidence #6
80.0 180.0 30.0 40.0 40.0 0.9
10.0 15.0 5.0 40.0 40.0 0.4
"""
#: Dynamo counts from 1: the centres are (101, 201, 31) and (31, 36, 6); score in column 10.
DYNAMO = "".join(
    _dynamo_row(c1=tag, c10=score, c20=7, c22=1, c24=x, c25=y, c26=z) + "\n"
    for tag, score, x, y, z in ((1, 0.9, 101, 201, 31), (2, 0.4, 31, 36, 6))
)
DEEPFINDER = (
    '<objlist><object tomo_idx="0" class_label="1" x="100" y="200" z="30" cluster_size="9"/>'
    '<object tomo_idx="0" class_label="1" x="30" y="35" z="5" cluster_size="4"/></objlist>\n'
)
NDJSON = (
    '{"type": "point", "location": {"x": 100, "y": 200, "z": 30}}\n'
    '{"type": "point", "location": {"x": 30, "y": 35, "z": 5}}\n'
)
#: RELION 4 without run, class or pixel size: all three come from the flags.
RELION4 = (
    "data_particles\n\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n_rlnCoordinateZ #3\n"
    "100 200 30\n30 35 5\n"
)
#: One file of every format in pixels, with the same two picks: name → (file name, text).
NATIVE_FILES = {
    "coords": ("picks.coords", COORDS),
    "cbox": ("picks.cbox", CBOX),
    "dynamo": ("picks.tbl", DYNAMO),
    "deepfinder": ("picks.xml", DEEPFINDER),
    "ndjson": ("picks.ndjson", NDJSON),
    "star": ("picks.star", RELION4),
}
CONTEXT_FLAGS = ["--run", "TS_1", "--particle-type", "ribosome", "--pixel-size", "10"]

# RELION 5: Å from the tomogram centre. A tomogram of 200 × 300 × 60 voxels of 10 Å spans
# (2000, 3000, 600) Å, centre (1000, 1500, 300): the truth is at (0, 500, 0) and
# (-700, -1150, -250) from it.
RELION5_OPTICS = """
data_optics

loop_
_rlnOpticsGroup #1
_rlnTomoTiltSeriesPixelSize #2
1 10.0
"""
RELION5_PARTICLES = """
data_particles

loop_
_rlnTomoName #1
_rlnParticleName #2
_rlnCenteredCoordinateXAngst #3
_rlnCenteredCoordinateYAngst #4
_rlnCenteredCoordinateZAngst #5
_rlnOpticsGroup #6
TS_1 ribosome 0.0 500.0 0.0 1
TS_1 ribosome -700.0 -1150.0 -250.0 1
"""


@pytest.fixture
def truth(tmp_path):
    path = tmp_path / "truth.csv"
    path.write_text(TRUTH, encoding="utf-8")
    return path


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def _score(capsys, truth, picks, *flags):
    """Run ``score --format json``; (exit status, ribosome counts or None, stderr)."""
    args = ["score", "--truth", truth, "--picks", picks, "--bootstrap", "0", "--format", "json"]
    status = main([str(a) for a in [*args, *flags]])
    captured = capsys.readouterr()
    if status != 0:
        return status, None, captured.err
    ribosome = json.loads(captured.out)["classes"]["ribosome"]
    return status, (ribosome["tp"], ribosome["fp"], ribosome["fn"], ribosome["fbeta"]), ""


def _one_line_error(status, err):
    assert status == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_coords_with_run_class_and_pixel_size_scores_one(capsys, truth, tmp_path):
    picks = _write(tmp_path / "picks.coords", COORDS)
    status, counts, _ = _score(capsys, truth, picks, *CONTEXT_FLAGS)
    assert status == 0 and counts == (2, 0, 0, 1.0)
    # the same file at 5 Å per pixel lands at half the distance: no pick within 75 Å
    flags = [*CONTEXT_FLAGS[:-1], "5"]
    assert _score(capsys, truth, picks, *flags)[1] == (0, 2, 2, 0.0)


@pytest.mark.parametrize("name", sorted(NATIVE_FILES))
def test_every_format_in_pixels_takes_the_flags(capsys, truth, tmp_path, name):
    file_name, text = NATIVE_FILES[name]
    picks = _write(tmp_path / file_name, text)
    assert _score(capsys, truth, picks, *CONTEXT_FLAGS)[1] == (2, 0, 0, 1.0)


def test_picks_format_names_the_format_of_any_file_name(capsys, truth, tmp_path):
    picks = _write(tmp_path / "picks.txt", DYNAMO)
    err = _one_line_error(*_score(capsys, truth, picks, *CONTEXT_FLAGS)[::2])
    assert f"error: {picks}: no picks format has the extension '.txt'" in err
    assert "--picks-format NAME" in err and "'dynamo'" in err
    flags = [*CONTEXT_FLAGS, "--picks-format", "dynamo"]
    assert _score(capsys, truth, picks, *flags)[1] == (2, 0, 0, 1.0)
    # read as another format it is refused by that format's reader, naming the file
    flags = [*CONTEXT_FLAGS, "--picks-format", "deepfinder"]
    err = _one_line_error(*_score(capsys, truth, picks, *flags)[::2])
    assert err.startswith(f"error: {picks}: cannot parse as XML")


def test_truth_format_and_the_flags_apply_to_the_truth_too(capsys, tmp_path):
    truth = _write(tmp_path / "truth.txt", COORDS)  # the truth as a .coords file of TS_1
    picks = _write(tmp_path / "picks.csv", TRUTH)
    flags = [*CONTEXT_FLAGS, "--truth-format", "coords"]
    assert _score(capsys, truth, picks, *flags)[1] == (2, 0, 0, 1.0)


def test_relion5_centred_picks_with_tomogram_size(capsys, truth, tmp_path):
    picks = _write(tmp_path / "r5.star", RELION5_OPTICS + RELION5_PARTICLES)
    # the pixel size the file states (10 Å) turns voxels into Å
    assert _score(capsys, truth, picks, "--tomogram-size", "200,300,60")[1] == (2, 0, 0, 1.0)
    # a wrong size moves the centre: (1000, 1500, 300) → (500, 1500, 300) Å, both picks miss
    assert _score(capsys, truth, picks, "--tomogram-size", "100,300,60")[1] == (0, 2, 2, 0.0)
    # a pixel size that disagrees with the file's is refused, unless overridden
    flags = ["--tomogram-size", "400,600,120", "--pixel-size", "5"]
    err = _one_line_error(*_score(capsys, truth, picks, *flags)[::2])
    assert "--pixel-size 5 Å disagrees" in err and "--override-pixel-size" in err
    flags.append("--override-pixel-size")
    assert _score(capsys, truth, picks, *flags)[1] == (2, 0, 0, 1.0)


def test_relion5_without_a_stated_pixel_size_uses_pixel_size(capsys, truth, tmp_path):
    picks = _write(tmp_path / "r5.star", RELION5_PARTICLES)
    flags = ["--tomogram-size", "200, 300, 60", "--pixel-size", "10"]
    assert _score(capsys, truth, picks, *flags)[1] == (2, 0, 0, 1.0)
    err = _one_line_error(*_score(capsys, truth, picks, "--tomogram-size", "200,300,60")[::2])
    assert err.startswith(f"error: --tomogram-size: {picks} states no pixel size")
    assert "give --pixel-size" in err


def test_relion5_without_tomogram_size_names_the_flag(capsys, truth, tmp_path):
    picks = _write(tmp_path / "r5.star", RELION5_OPTICS + RELION5_PARTICLES)
    err = _one_line_error(*_score(capsys, truth, picks)[::2])
    assert err.startswith(f"error: {picks}: ")
    assert "extent of run(s) ['TS_1'] is unknown" in err and "--tomogram-size X,Y,Z" in err
    assert "PicksContext" not in err


def test_relion5_with_several_pixel_sizes_needs_pixel_size(capsys, truth, tmp_path):
    text = RELION5_PARTICLES.replace("_rlnOpticsGroup #6", "_rlnImagePixelSize #6")
    picks = _write(
        tmp_path / "r5.star",
        text.replace(" 0.0 1\n", " 0.0 10\n", 1).replace(" -250.0 1\n", " -250.0 5\n"),
    )
    err = _one_line_error(*_score(capsys, truth, picks, "--tomogram-size", "200,300,60")[::2])
    assert "states 2 pixel sizes [5.0, 10.0] Å; give --pixel-size" in err


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--run", "TS_1", "--particle-type", "ribosome"], "--pixel-size ANGSTROM"),
        (["--run", "TS_1", "--pixel-size", "10"], "--particle-type CLASS"),
        (["--particle-type", "ribosome", "--pixel-size", "10"], "--run RUN"),
    ],
)
def test_what_a_file_leaves_out_is_asked_for_by_its_flag(capsys, truth, tmp_path, flags, expected):
    picks = _write(tmp_path / "picks.coords", COORDS)
    err = _one_line_error(*_score(capsys, truth, picks, *flags)[::2])
    assert err.startswith(f"error: {picks}: ") and expected in err
    assert "PicksContext" not in err


def test_star_without_run_or_class_names_the_flags(capsys, truth, tmp_path):
    picks = _write(tmp_path / "picks.star", RELION4)
    err = _one_line_error(*_score(capsys, truth, picks, "--pixel-size", "10")[::2])
    assert "pass --run RUN" in err and "PicksContext" not in err
    flags = ["--pixel-size", "10", "--run", "TS_1"]
    err = _one_line_error(*_score(capsys, truth, picks, *flags)[::2])
    assert "pass --particle-type CLASS" in err


@pytest.mark.parametrize(
    ("flags", "start"),
    [
        (["--tomogram-size", "200,300"], "--tomogram-size: expected X,Y,Z: the tomogram's size"),
        (["--tomogram-size", "200,300,60,1"], "--tomogram-size: expected X,Y,Z"),
        (["--tomogram-size", "a,b,c"], "--tomogram-size: expected X,Y,Z"),
        (["--tomogram-size", "200,0,60"], "--tomogram-size: sizes must be > 0 voxels"),
        (["--tomogram-size", "200,-3,60"], "--tomogram-size: sizes must be > 0 voxels"),
        (["--tomogram-size", "inf,3,60"], "--tomogram-size: sizes must be > 0 voxels"),
        (["--pixel-size", "ten"], "--pixel-size: must be a number of Å per pixel, found 'ten'"),
        (["--pixel-size", "-1"], "--pixel-size: must be > 0 (Å per pixel), found -1"),
        (["--picks-format", "dynamoo"], "--picks-format: unknown picks format 'dynamoo'"),
        (["--truth-format", "xml"], "--truth-format: unknown picks format 'xml'"),
        (["--run", " "], "--run: must be a non-empty name, found ' '"),
        (["--particle-type", ""], "--particle-type: must be a non-empty name, found ''"),
    ],
)
def test_bad_flag_values_exit_2_with_one_line(capsys, truth, tmp_path, flags, start):
    picks = _write(tmp_path / "picks.coords", COORDS)
    err = _one_line_error(*_score(capsys, truth, picks, *CONTEXT_FLAGS[:4], *flags)[::2])
    assert err.startswith(f"error: {start}"), err


def test_unknown_format_suggests_the_near_name(capsys, truth, tmp_path):
    picks = _write(tmp_path / "picks.coords", COORDS)
    err = _score(capsys, truth, picks, "--picks-format", "dynamoo")[2]
    assert "Did you mean 'dynamo'?" in err and "'ndjson'" in err


@pytest.mark.parametrize(
    ("flags", "start"),
    [
        (["--pixel-size", "10"], "--pixel-size: applies to files in pixels"),
        (["--run", "TS_1"], "--run: applies to files that may not name it"),
        (["--particle-type", "ribosome"], "--particle-type: applies to files that may not name it"),
        (["--tomogram-size", "1,2,3"], "--tomogram-size: applies to RELION 5 STAR files only"),
    ],
)
def test_flags_that_csv_inputs_cannot_use_are_refused(capsys, truth, flags, start):
    err = _one_line_error(*_score(capsys, truth, truth, *flags)[::2])
    assert err.startswith(f"error: {start}") and "--truth is csv, --picks is csv" in err


def test_override_and_tomogram_size_need_a_star_input(capsys, truth, tmp_path):
    picks = _write(tmp_path / "picks.coords", COORDS)
    flags = [*CONTEXT_FLAGS, "--override-pixel-size"]
    err = _one_line_error(*_score(capsys, truth, picks, *flags)[::2])
    assert err.startswith("error: --override-pixel-size: applies to STAR files only")
    flags = [*CONTEXT_FLAGS, "--tomogram-size", "200,300,60"]
    err = _one_line_error(*_score(capsys, truth, picks, *flags)[::2])
    assert "--picks is coords" in err
    relion4 = _write(tmp_path / "r4.star", RELION4)
    err = _one_line_error(*_score(capsys, truth, relion4, *flags)[::2])
    assert err.startswith("error: --tomogram-size: applies to RELION 5 coordinates")
    assert str(relion4) in err


def test_a_format_for_a_copick_source_is_refused(capsys, tmp_path):
    picks = _write(tmp_path / "picks.csv", TRUTH)
    args = ["score", "--truth", "copick:/none/c.json?user=u", "--picks", picks]
    status = main([*args, "--truth-format", "csv"])
    err = _one_line_error(status, capsys.readouterr().err)
    assert err.startswith("error: --truth-format: applies to files; 'copick:/none/c.json")


def test_help_names_the_new_flags(capsys):
    assert main(["score", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for flag in ("--truth-format", "--picks-format", "--run", "--particle-type", "--tomogram-size"):
        assert flag in out
    assert "Refused when both inputs are in Å (CSV, copick)" in out
