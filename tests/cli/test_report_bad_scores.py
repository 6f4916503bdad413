"""``topcup-bench report`` on hand-edited scores: null renders "—", out-of-range is refused."""

from __future__ import annotations

import json

import pytest

from topcup_bench.benchmark_config import BenchmarkConfig
from topcup_bench.cli import main
from topcup_bench.workflow import run_benchmark


@pytest.fixture(scope="module")
def results_path(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    config = BenchmarkConfig(
        dataset="phantom:tiny", pickers=(("oracle", {}), ("random", {})), out=out, bootstrap=20
    )
    run_benchmark(config, progress=False)
    return out / "results.json"


def _edited(results_path, tmp_path, edit):
    document = json.loads(results_path.read_text())
    edit(document)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(document))
    return path


def _oracle(document):
    return next(e for e in document["results"] if e["picker"] == "oracle")


def test_an_ok_entry_with_a_null_score_renders_as_a_dash(results_path, tmp_path, capsys):
    def edit(document):
        _oracle(document)["score"] = None

    path = _edited(results_path, tmp_path, edit)
    out = tmp_path / "report"
    assert main(["report", str(path), "--out", str(out)]) == 0
    assert "unexpected" not in capsys.readouterr().err
    row = next(
        line for line in (out / "report.md").read_text().splitlines() if "| oracle |" in line
    )
    assert row.split("|")[3].strip() == "—"  # the score column
    records = json.loads((out / "leaderboard.json").read_text())
    assert next(r for r in records if r["picker"] == "oracle")["score"] is None
    assert (out / "figures" / "d0_speed.png").is_file()  # drawn without the oracle's point


def test_a_score_outside_its_interval_is_drawn(results_path, tmp_path):
    """Few bootstrap resamples can put the score outside its percentile interval."""

    def edit(document):
        for entry in document["results"]:
            entry["score_interval"] = {"low": 0.3, "high": 0.4, "confidence": 0.95}

    path = _edited(results_path, tmp_path, edit)
    assert main(["report", str(path), "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "figures" / "fbeta_0.png").is_file()


@pytest.mark.parametrize(
    "score, found", [(7.5, "found 7.5 (float)"), (-1, "found -1 (int)"), (1.5, "found 1.5")]
)
def test_an_out_of_range_score_exits_2_naming_file_and_field(
    results_path, tmp_path, capsys, score, found
):
    def edit(document):
        document["results"][0]["score"] = score

    path = _edited(results_path, tmp_path, edit)
    assert main(["report", str(path), "--out", str(tmp_path / "report")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: field 'results[0].score': expected a number between")
    assert found in err and "Traceback" not in err
    assert not (tmp_path / "report").exists()


def test_a_duplicate_picker_exits_2(results_path, tmp_path, capsys):
    def edit(document):
        document["results"].append(dict(_oracle(document)))

    path = _edited(results_path, tmp_path, edit)
    assert main(["report", str(path), "--out", str(tmp_path / "report")]) == 2
    assert f"error: {path}: results: picker 'oracle' appears twice" in capsys.readouterr().err


@pytest.mark.parametrize("formats", ["", " , ", ","])
def test_an_empty_format_list_exits_2(results_path, tmp_path, capsys, formats):
    out = tmp_path / "report"
    assert main(["report", str(results_path), "--out", str(out), "--format", formats]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --format: no format given")
    assert "choose from md, html, csv, json, tex" in err
    assert not out.exists()
