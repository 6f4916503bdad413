"""``topcup-bench score``: refusals that protect the inputs and name the flag.

--output onto an input, --pixel-size that is not > 0 or has no input in pixels,
output paths under a file or in an unwritable place, unknown classes in a
--thresholds file, duplicated truth rows.
"""

from __future__ import annotations

import json
import os

import pytest

from topcup_bench.cli import main
from topcup_bench.datasets import read_picks, write_kaggle_csv, write_picks_star
from topcup_bench.testing import synthetic_scoring_case


@pytest.fixture
def csv_pair(tmp_path):
    truth, picks = synthetic_scoring_case(
        n_experiments=2, truth_per_class=3, false_positives_per_class=2, seed=3
    )
    write_kaggle_csv(truth, tmp_path / "truth.csv")
    write_kaggle_csv(picks, tmp_path / "picks.csv")
    return tmp_path / "truth.csv", tmp_path / "picks.csv"


def _run(args, capsys):
    status = main([str(a) for a in args])
    return status, capsys.readouterr().err


def _score(csv_pair, *extra):
    return ["score", "--truth", csv_pair[0], "--picks", csv_pair[1], "--bootstrap", "0", *extra]


def _fingerprint(path):
    return path.read_bytes(), path.stat().st_mtime_ns


@pytest.mark.parametrize("which, flag", [(1, "--picks"), (0, "--truth")])
def test_output_onto_an_input_is_refused_even_with_overwrite(csv_pair, capsys, which, flag):
    target = csv_pair[which]
    before = _fingerprint(target)
    status, err = _run(_score(csv_pair, "--output", target, "--overwrite"), capsys)
    assert status == 2
    assert err.startswith(f"error: --output: {str(target)!r} is the {flag} file")
    assert "refused even with --overwrite" in err
    assert _fingerprint(target) == before


def test_output_through_a_link_or_dot_path_to_an_input_is_refused(csv_pair, tmp_path, capsys):
    picks = csv_pair[1]
    before = _fingerprint(picks)
    link = tmp_path / "link.csv"
    link.symlink_to(picks)
    for output in (link, tmp_path / "." / "picks.csv"):
        status, err = _run(_score(csv_pair, "--output", output, "--overwrite"), capsys)
        assert status == 2 and "is the --picks file" in err
    assert _fingerprint(picks) == before


def test_output_onto_the_thresholds_file_is_refused(csv_pair, tmp_path, capsys):
    thresholds = tmp_path / "th.json"
    thresholds.write_text(json.dumps({"ribosome": 0.5}))
    before = _fingerprint(thresholds)
    args = _score(csv_pair, "--thresholds", thresholds, "--output", thresholds, "--overwrite")
    status, err = _run(args, capsys)
    assert status == 2 and "is the --thresholds file" in err
    assert _fingerprint(thresholds) == before


def test_output_elsewhere_is_written(csv_pair, tmp_path, capsys):
    out = tmp_path / "report.txt"
    assert _run(_score(csv_pair, "--output", out), capsys)[0] == 0
    assert "score" in out.read_text()


@pytest.mark.parametrize("value, shown", [("-3", "-3"), ("0", "0"), ("nan", "nan"), ("inf", "inf")])
def test_pixel_size_must_be_positive_and_finite(csv_pair, capsys, value, shown):
    status, err = _run(_score(csv_pair, "--pixel-size", value), capsys)
    assert status == 2
    assert err.startswith(f"error: --pixel-size: must be > 0 (Å per pixel), found {shown}")


def test_pixel_size_without_an_input_in_pixels_is_refused(csv_pair, capsys):
    status, err = _run(_score(csv_pair, "--pixel-size", "10"), capsys)
    assert status == 2
    assert err.startswith("error: --pixel-size: applies to files in pixels (STAR, Dynamo .tbl")


def test_pixel_size_zero_with_a_star_file_says_so(csv_pair, tmp_path, capsys):
    star = tmp_path / "p10.star"
    write_picks_star(read_picks(csv_pair[1]), star, pixel_size_angstrom=10.0)
    args = ["score", "--truth", csv_pair[0], "--picks", star, "--bootstrap", "0"]
    status, err = _run([*args, "--pixel-size", "0"], capsys)
    assert status == 2 and "--pixel-size: must be > 0 (Å per pixel), found 0" in err
    assert "cannot tell the pixel size" not in err
    assert _run([*args, "--pixel-size", "10"], capsys)[0] == 0  # a STAR input: accepted


def test_output_under_a_file_names_the_file(csv_pair, tmp_path, capsys):
    blocker = tmp_path / "userfile.txt"
    blocker.write_text("mine")
    for output in (blocker / "x", blocker / "a" / "b.txt"):
        status, err = _run(_score(csv_pair, "--output", output), capsys)
        assert status == 2
        assert f"{str(blocker)!r} is a file, not a folder" in err
    assert blocker.read_text() == "mine"
    status, err = _run(_score(csv_pair, "--output", tmp_path / "nowhere" / "x"), capsys)
    assert status == 2 and "output directory" in err and "does not exist" in err


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_an_unwritable_output_names_the_destination_not_the_temporary(csv_pair, capsys):
    status, err = _run(_score(csv_pair, "--output", "/proc/nope.json"), capsys)
    assert status == 2
    assert err.startswith("error: ") and "/proc/nope.json" in err
    assert ".tmp" not in err and ".nope.json." not in err


def test_an_unknown_class_in_the_thresholds_file_names_the_file(csv_pair, tmp_path, capsys):
    thresholds = tmp_path / "th2.json"
    thresholds.write_text(json.dumps({"apo-feritin": 0.5}))
    status, err = _run(_score(csv_pair, "--thresholds", thresholds), capsys)
    assert status == 2
    assert err.startswith(f"error: {thresholds}: --thresholds: unknown class 'apo-feritin'")
    assert "Did you mean 'apo-ferritin'?" in err and "class catalogue" not in err


def test_duplicated_truth_names_the_flag_first(tmp_path, capsys):
    truth, _ = synthetic_scoring_case(n_experiments=1, truth_per_class=2, seed=1)
    doubled = tmp_path / "t.csv"
    write_kaggle_csv(truth.iloc[[0, 0, 1]], doubled)
    status, err = _run(["score", "--truth", doubled, "--picks", doubled], capsys)
    assert status == 2
    assert "pass --dedupe-truth (dedupe_truth=True from Python)" in err
