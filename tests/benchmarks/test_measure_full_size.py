"""``benchmarks/measure_full_size.py`` at the tiny size: processes, figures, table, errors."""

from __future__ import annotations

import json

import pytest

from benchmarks.measure_full_size import (
    DEFAULT_SPEC,
    NOT_MEASURED,
    SPEC_VARIABLE,
    full_spec,
    gigabytes,
    main,
    markdown_table,
    measure_picker,
    picker_params,
    run_child,
)

COLUMNS = ["experiment", "particle_type", "x", "y", "z", "score"]


def test_full_spec_default_and_variable(monkeypatch):
    monkeypatch.delenv(SPEC_VARIABLE, raising=False)
    assert full_spec() == DEFAULT_SPEC == "phantom:full?runs=2&test=1"
    monkeypatch.setenv(SPEC_VARIABLE, " phantom:tiny ")
    assert full_spec() == "phantom:tiny"
    monkeypatch.setenv(SPEC_VARIABLE, "   ")
    assert full_spec() == DEFAULT_SPEC


def test_picker_params_pin_threads_and_weights():
    assert picker_params("template", 2) == {"workers": "2"}
    assert picker_params("forest", 1) == {"n_jobs": "1"}
    assert picker_params("blob", 2) == {}
    assert picker_params("topcup", 2, ["a.pt", "b.pt"]) == {"device": "cpu", "weights": "a.pt,b.pt"}


def test_gigabytes_are_decimal():
    assert gigabytes(1.5e9) == 1.5
    assert gigabytes(123_456_789) == 0.123


def test_markdown_table_of_a_known_report():
    report = {
        "dataset": "phantom:x",
        "shape_zyx": [4, 5, 6],
        "run": "TS_9",
        "cpu": "Some CPU",
        "threads": 2,
        "pickers": [
            {
                "picker": "forest",
                "status": "ok",
                "peak_gb": 3.25,
                "pick_seconds": 12.34,
                "fit_seconds": 100.4,
                "fit_peak_gb": 2.5,
                "ru_maxrss_children_gb": 0.0,
                "true_positives": {"ribosome": 2, "apo-ferritin": 1},
                "n_truth": {"ribosome": 3, "apo-ferritin": 4},
                "n_picks": 10,
            },
            {
                "picker": "topcup",
                "status": "ok",
                "peak_gb": 5.0,
                "pick_seconds": 300.0,
                "fit_seconds": 2.3,
                "true_positives": {},
                "n_truth": {},
                "n_picks": 0,
            },
            {
                "picker": "pytme",
                "status": "ok",
                "peak_gb": 1.5,
                "pick_seconds": 60.0,
                "ru_maxrss_children_gb": 1.25,
                "true_positives": {"ribosome": 1},
                "n_truth": {"ribosome": 1},
                "n_picks": 7,
            },
            {"picker": "octopi", "status": "skipped", "reason": "octopi a|b\nnot installed"},
        ],
        "not_measured": {"command": "generic"},
    }
    assert markdown_table(report) == (
        "phantom:x (4 × 5 × 6 voxels, run TS_9); Some CPU, 2 threads; limit 12 GB.\n"
        "\n"
        "| picker | peak GB | s per tomogram | notes |\n"
        "|---|---|---|---|\n"
        "| forest | 3.25 | 12.3 | fit 100 s, 2.50 GB peak; 10 picks, 3 of 7 particles found |\n"
        "| topcup | 5.00 | 300.0 | loading the weights 2.3 s; 0 picks, 0 of 0 particles found |\n"
        "| pytme | 1.50 | 60.0 | its tool's processes: 1.25 GB peak; 7 picks, 1 of 1 particles "
        "found |\n"
        "| octopi | - | - | skipped: octopi a\\|b not installed |\n"
        "| command | - | - | not measured: generic |\n"
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-measure")
    opened = run_child(
        {"phase": "generate", "dataset": "phantom:tiny"}, folder, threads=1, timeout_s=600
    )
    return folder, opened


def _measure(tiny, name, params):
    folder, opened = tiny
    return measure_picker(
        name,
        params,
        spec="phantom:tiny",
        run=opened["run"],
        train_runs=opened["train_runs"],
        folder=folder,
        threads=1,
        timeout_s=600,
    )


def test_generate_reports_the_dataset(tiny):
    _, opened = tiny
    assert opened["status"] == "ok", opened["reason"]
    assert opened["run"] == "TS_004"
    assert opened["train_runs"] == ["TS_000", "TS_001", "TS_002"]
    assert opened["shape_zyx"] == [48, 96, 96]
    assert opened["voxel_size_angstrom"] == 10.0
    assert 0 < opened["ru_maxrss_gb"] <= opened["peak_gb"]


def test_oracle_in_its_own_process(tiny):
    row = _measure(tiny, "oracle", {})
    assert row["status"] == "ok", row["reason"]
    assert row["columns"] == COLUMNS
    assert row["picks_inside_extent"]
    assert row["extent_angstrom_xyz"] == [960.0, 960.0, 480.0]
    assert row["true_positives"] == row["n_truth"]
    assert row["n_picks"] == sum(row["n_truth"].values()) > 0
    assert row["max_live_tomograms"] == 1
    assert 0 < row["ru_maxrss_gb"] <= row["peak_gb"]
    assert "fit_seconds" not in row  # not trainable


def test_trainable_picker_is_fitted_apart(tiny):
    folder, _ = tiny
    params = {"num_sigma": "2", "sigma_max": "2.0", "n_estimators": "4", "n_jobs": "1"}
    row = _measure(tiny, "forest", params)
    assert row["status"] == "ok", row["reason"]
    assert row["fit_seconds"] > 0 and row["fit_peak_gb"] > 0
    assert row["fit_max_live_tomograms"] == 1  # three training runs, one at a time
    assert row["max_live_tomograms"] == 1
    assert not (folder / "forest.fitted.pickle").exists()  # removed after picking


def test_missing_tool_is_skipped_with_its_message(tiny):
    row = _measure(tiny, "pytme", {"executable": "/nonexistent/pytme"})
    assert row["status"] == "skipped"
    assert "/nonexistent/pytme" in row["reason"]


def test_failing_picker_is_reported(tiny):
    row = _measure(tiny, "blob", {"dog_ratio": "0.5"})
    assert row["status"] == "failed"
    assert "InputError" in row["reason"] and "dog_ratio" in row["reason"]


def test_failing_fit_is_reported(tiny):
    row = _measure(tiny, "forest", {"sigma_min": "-1"})
    assert row["status"] == "failed"
    assert row["reason"].startswith("fit: InputError") and "sigma_min" in row["reason"]


def test_timeout_is_reported(tmp_path):
    result = run_child(
        {"phase": "generate", "dataset": "phantom:tiny"}, tmp_path, threads=1, timeout_s=0.01
    )
    assert result["status"] == "failed"
    assert result["reason"].startswith("timed out after 0.01 s")


def test_main_writes_json_and_table(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(SPEC_VARIABLE, "phantom:tiny")
    assert main(["--out", str(tmp_path), "--pickers", "oracle,random", "--threads", "1"]) == 0
    report = json.loads((tmp_path / "full_size.json").read_text(encoding="utf-8"))
    assert [row["picker"] for row in report["pickers"]] == ["oracle", "random"]
    assert [row["status"] for row in report["pickers"]] == ["ok", "ok"]
    assert report["not_measured"] == NOT_MEASURED
    assert report["threads"] == 1 and report["shape_zyx"] == [48, 96, 96]
    table = (tmp_path / "full_size.md").read_text(encoding="utf-8")
    assert table == markdown_table(report)
    assert len(table.splitlines()) == 4 + 2 + len(NOT_MEASURED)
    assert "| oracle |" in capsys.readouterr().out


def test_main_needs_out(capsys):
    with pytest.raises(SystemExit):
        main([])
    assert "--out" in capsys.readouterr().err


def test_main_reports_a_dataset_it_cannot_open(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(SPEC_VARIABLE, "phantom:nosuchsize")
    assert main(["--out", str(tmp_path), "--pickers", "oracle"]) == 1
    assert "cannot open phantom:nosuchsize" in capsys.readouterr().err
