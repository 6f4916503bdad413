"""``topcup-bench score`` end to end on small Kaggle-format CSV files."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from naive_metric import naive_score

from topcup_bench.cli import main
from topcup_bench.datasets import read_picks, write_kaggle_csv, write_topcup_csv
from topcup_bench.testing import synthetic_scoring_case


@pytest.fixture
def csv_pair(tmp_path):
    truth, picks = synthetic_scoring_case(
        n_experiments=3, truth_per_class=6, false_positives_per_class=4, seed=11
    )
    write_kaggle_csv(truth, tmp_path / "truth.csv")
    write_kaggle_csv(picks, tmp_path / "picks.csv")
    return tmp_path / "truth.csv", tmp_path / "picks.csv", truth, picks


def run(args, capsys):
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_table_output_shows_every_class_and_the_score(csv_pair, capsys):
    truth_path, picks_path, truth, picks = csv_pair
    status, out, _ = run(["score", "--truth", truth_path, "--picks", picks_path], capsys)
    assert status == 0
    for name in ("apo-ferritin", "beta-amylase (weight 0)", "ribosome", "virus-like-particle"):
        assert name in out
    expected, _ = naive_score(truth, picks)
    assert f"score {expected:.5f}" in out
    assert "95% bootstrap interval" in out


def test_json_output_parses_and_equals_the_reference(csv_pair, capsys):
    truth_path, picks_path, truth, picks = csv_pair
    status, out, _ = run(
        ["score", "--truth", truth_path, "--picks", picks_path, "--format", "json"], capsys
    )
    assert status == 0
    payload = json.loads(out)
    expected, counts = naive_score(truth, picks)
    assert payload["score"] == expected
    assert {k: (v["tp"], v["fp"], v["fn"]) for k, v in payload["classes"].items()} == counts
    assert set(payload) >= {
        "score",
        "rule",
        "beta",
        "distance_multiplier",
        "classes",
        "dropped_rows",
        "bootstrap",
    }
    assert set(payload["classes"]["ribosome"]) >= {
        "tp",
        "fp",
        "fn",
        "precision",
        "recall",
        "fbeta",
        "weight",
    }


def test_markdown_output_and_atomic_report_file(csv_pair, tmp_path, capsys):
    truth_path, picks_path, *_ = csv_pair
    report = tmp_path / "report.md"
    args = [
        "score",
        "--truth",
        truth_path,
        "--picks",
        picks_path,
        "--format",
        "markdown",
        "--output",
        report,
        "--bootstrap",
        "0",
    ]
    status, out, _ = run(args, capsys)
    assert status == 0
    assert out.startswith("| class | R (Å) |")
    assert report.read_text() == out
    status, _, err = run(args, capsys)  # refuses to overwrite
    assert status == 2 and "exists" in err
    assert report.read_text() == out
    assert run(args + ["--overwrite"], capsys)[0] == 0


def test_topcup_csv_picks_and_best_thresholds(csv_pair, tmp_path, capsys):
    truth_path, _, truth, picks = csv_pair
    topcup = tmp_path / "topcup.csv"
    write_topcup_csv(picks, topcup)
    status, out, _ = run(
        [
            "score",
            "--truth",
            truth_path,
            "--picks",
            topcup,
            "--thresholds",
            "best",
            "--format",
            "json",
        ],
        capsys,
    )
    assert status == 0
    payload = json.loads(out)
    assert set(payload["thresholds"]) == set(truth["particle_type"])


def test_thresholds_file_and_one_to_one_rule(csv_pair, tmp_path, capsys):
    truth_path, picks_path, *_ = csv_pair
    thresholds = tmp_path / "thr.json"
    thresholds.write_text(json.dumps({"ribosome": 2.0}))
    status, out, _ = run(
        [
            "score",
            "--truth",
            truth_path,
            "--picks",
            picks_path,
            "--thresholds",
            thresholds,
            "--rule",
            "one-to-one",
            "--format",
            "json",
        ],
        capsys,
    )
    payload = json.loads(out)
    assert status == 0 and payload["rule"] == "one-to-one"
    assert payload["classes"]["ribosome"]["tp"] == 0 and payload["thresholds"] == {"ribosome": 2.0}


def test_portal_names_need_the_explicit_map(tmp_path, capsys, table):
    truth = table(
        [("TS_1", "cytosolic-ribosome", 0, 0, 0), ("TS_1", "ferritin-complex", 500, 0, 0)]
    )
    write_kaggle_csv(truth, tmp_path / "t.csv")
    args = [
        "score",
        "--truth",
        tmp_path / "t.csv",
        "--picks",
        tmp_path / "t.csv",
        "--format",
        "json",
    ]
    status, _, err = run(args, capsys)
    assert status == 2 and "cytosolic-ribosome" in err and str(tmp_path / "t.csv") in err
    status, out, _ = run(args + ["--map-names", "portal"], capsys)
    assert status == 0 and json.loads(out)["classes"]["ribosome"]["fbeta"] == 1.0


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "empty"),
        ("id,experiment,particle_type,x,y\n0,TS_1,ribosome,1,2\n", "missing column"),
        (
            "experiment,particle_type,x,y,z\nTS_0,ribosome,1,2,3\nTS_1,ribosome,1,nan,3\n",
            "non-finite (NaN or infinite) coordinates x, y, z in 1 row (file lines 3)",
        ),
        (
            "experiment,particle_type,x,y,z\nTS_1,ribosome,1,2,3\nTS_1,ribosom,1,2,3\n",
            "unknown value(s) ['ribosom'] in 1 row (file lines 3)",
        ),
        (
            "experiment,particle_type,x,y,z\nTS_1,ribosome,1,2,3\nTS_1,ribosom,1,2,3\n",
            "Did you mean 'ribosome'",
        ),
    ],
)
def test_bad_picks_exit_2_naming_the_file(csv_pair, tmp_path, capsys, content, message):
    truth_path, *_ = csv_pair
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    status, out, err = run(["score", "--truth", truth_path, "--picks", bad], capsys)
    assert status == 2
    assert str(bad) in err and message in err
    assert out == ""


def test_duplicate_truth_fails_unless_deduplicated(tmp_path, capsys, table):
    truth = table([("TS_1", "ribosome", 0, 0, 0), ("TS_1", "apo-ferritin", 0, 0, 0)])
    write_kaggle_csv(truth, tmp_path / "t.csv")
    args = ["score", "--truth", tmp_path / "t.csv", "--picks", tmp_path / "t.csv"]
    status, _, err = run(args, capsys)
    assert status == 2 and "--dedupe-truth" in err
    assert run(args + ["--dedupe-truth"], capsys)[0] == 0


def test_picks_in_voxels_warn(csv_pair, tmp_path, capsys):
    truth_path, _, truth, _ = csv_pair
    voxels = truth.copy()
    voxels[["x", "y", "z"]] = voxels[["x", "y", "z"]] / 10.0
    write_kaggle_csv(voxels, tmp_path / "vox.csv")
    status, _, err = run(["score", "--truth", truth_path, "--picks", tmp_path / "vox.csv"], capsys)
    assert status == 0 and "warning:" in err and "voxel" in err


def test_usage_errors_and_help(capsys):
    assert run(["score"], capsys)[0] == 2
    status, out, _ = run(["score", "--help"], capsys)
    assert status == 0 and "--truth" in out
    assert run(["--version"], capsys)[0] == 0


def test_python_dash_m_entry_point(csv_pair):
    truth_path, picks_path, *_ = csv_pair
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "topcup_bench",
            "score",
            "--truth",
            str(truth_path),
            "--picks",
            str(picks_path),
            "--format",
            "json",
            "--bootstrap",
            "10",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["score"] == pytest.approx(
        json.loads(done.stdout)["bootstrap"]["score"]
    )
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "topcup_bench",
            "score",
            "--truth",
            "nope.csv",
            "--picks",
            "nope.csv",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 2 and "nope.csv" in missing.stderr
    assert read_picks(truth_path).shape[0] > 0
