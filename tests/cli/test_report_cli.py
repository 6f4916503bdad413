"""``topcup-bench report``: every renderer's output parses; figures are embedded."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser

import pytest

from topcup_bench.benchmark_config import BenchmarkConfig
from topcup_bench.cli import main
from topcup_bench.reports.leaderboard import leaderboard_frame
from topcup_bench.results import read_results
from topcup_bench.workflow import run_benchmark


@pytest.fixture(scope="module")
def results_path(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    config = BenchmarkConfig(
        dataset="phantom:tiny", pickers=(("oracle", {}), ("random", {})), out=out, bootstrap=50
    )
    run_benchmark(config, progress=False)
    return out / "results.json"


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.images = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"])


def test_report_formats_parse(results_path, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", str(results_path), str(results_path), "--out", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO((out / "leaderboard.csv").read_text())))
    assert {r["picker"] for r in rows} == {"oracle", "random"} and len(rows) == 4
    records = json.loads((out / "leaderboard.json").read_text())
    assert records[0]["picker"] == "oracle" and records[0]["score"] == 1.0
    tex = (out / "leaderboard.tex").read_text()
    for environment in ("table", "tabular"):
        assert tex.count(f"\\begin{{{environment}}}") == tex.count(f"\\end{{{environment}}}") == 2
    assert tex.count("\\toprule") == 2 and "\\_" in tex
    parser = _Collector()
    parser.feed((out / "report.html").read_text())
    assert parser.tags.count("table") == 2
    assert all(src.startswith("data:image/png;base64,") for src in parser.images)
    assert "http" not in (out / "report.html").read_text()
    assert (out / "figures" / "fbeta_0.svg").is_file()
    for kind in ("pr", "threshold", "distances", "multipliers", "speed"):
        assert (out / "figures" / f"d0_{kind}.png").is_file(), kind
    assert len(parser.images) == 2 * 6
    assert "| 1 | oracle |" in (out / "report.md").read_text()


def test_leaderboard_frame_of_a_hand_made_results_file():
    results = {
        "dataset": {
            "spec": "x",
            "split": "test",
            "runs": ["a"],
            "classes": {
                "ribosome": {"radius_angstrom": 150, "weight": 1},
                "apo-ferritin": {"radius_angstrom": 60, "weight": 0},
            },
        },
        "metric": {"beta": 4, "rule": "competition", "distance_multiplier": 0.5},
        "results": [
            {
                "picker": "b",
                "status": "ok",
                "score": 0.5,
                "score_best": 0.6,
                "score_interval": {"low": 0.4, "high": 0.6},
                "classes": {"ribosome": {"fbeta": 0.5}, "apo-ferritin": {"fbeta": 0.1}},
                "timings": {"pick_s_per_tomogram": 1.0, "fit_s": None},
            },
            {"picker": "a", "status": "failed", "error": "boom", "timings": {}},
            {
                "picker": "c",
                "status": "ok",
                "score": 0.9,
                "score_best": 0.95,
                "score_interval": {"low": 0.8, "high": 1.0},
                "classes": {"ribosome": {"fbeta": 0.9}, "apo-ferritin": {"fbeta": 0.2}},
                "timings": {"pick_s_per_tomogram": 3.0, "fit_s": 10.0},
            },
        ],
    }
    frame = leaderboard_frame(results)
    assert frame["picker"].tolist() == ["c", "b", "a"]
    assert frame["rank"].tolist() == [1, 2, 3]
    assert list(frame.columns[6:8]) == ["apo-ferritin (w0)", "ribosome"]  # ordered by size
    assert frame.loc[0, "ribosome"] == 0.9 and frame.loc[2, "status"] == "failed: boom"
    assert frame["flags"].tolist() == ["", "", ""]  # [0.4, 0.6] and [0.8, 1.0] do not overlap
    results["results"][2]["score_interval"]["low"] = 0.55
    results["results"][2]["rule_differences"] = 2
    flags = leaderboard_frame(results)["flags"].tolist()
    assert flags[0] == "one-to-one differs in 2 group(s)" and flags[1] == "tied with c"


def test_report_rejects_unknown_formats(results_path, tmp_path):
    assert main(["report", str(results_path), "--format", "pdf", "--out", str(tmp_path)]) == 2
    assert read_results(results_path)["schema_version"] == 1


def test_report_says_what_is_missing(results_path, tmp_path):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(results_path.parent, folder)
    (folder / "truth.csv").unlink()
    (folder / "picks" / "random.csv").unlink()
    out = tmp_path / "report"
    assert main(["report", str(folder / "results.json"), "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert "## Missing data" in text and "truth.csv is missing" in text
    assert "Missing data" in (out / "report.html").read_text()
