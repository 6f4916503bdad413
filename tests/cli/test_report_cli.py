"""``topcup-bench report``: every renderer's output parses; figures are embedded."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from html.parser import HTMLParser

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from topcup_bench.benchmark_config import BenchmarkConfig
from topcup_bench.cli import main
from topcup_bench.reports.leaderboard import leaderboard_frame, render_leaderboard_markdown
from topcup_bench.reports.plots import score_heatmap, score_matrix
from topcup_bench.reports.run_slices import slice_picker
from topcup_bench.results import read_results
from topcup_bench.workflow import run_benchmark

_COMBINED_HEADING = "Combined view: weighted score, datasets × pickers"


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
    assert parser.tags.count("table") == 2 + 1  # a leaderboard per file and the combined view
    assert all(src.startswith("data:image/png;base64,") for src in parser.images)
    assert "http" not in (out / "report.html").read_text()
    assert (out / "figures" / "fbeta_0.svg").is_file()
    for kind in ("pr", "threshold", "distances", "multipliers", "speed"):
        assert (out / "figures" / f"d0_{kind}.png").is_file(), kind
    assert (out / "figures" / "slices_0.png").is_file()
    assert all((out / "figures" / f"heatmap.{suffix}").is_file() for suffix in ("png", "svg"))
    assert len(parser.images) == 2 * 7 + 1  # bars, 5 diagnostics, slices per file; the heatmap
    text = (out / "report.md").read_text()
    assert "| 1 | oracle |" in text and "Missing data" not in text
    assert "## Combined view: weighted score, datasets × pickers" in text
    assert "| dataset | oracle | random |" in text  # pickers by mean score
    assert f"| phantom:tiny (test) {results_path.parent.name} #2 | 1.0000 | 0.0000 |" in text
    # figures: numbered 1..N once over the whole report, embedded as images in report.md
    embedded = re.findall(r"^!\[Figure (\d+): [^\]]+\]\((figures/[a-z0-9_]+\.png)\)$", text, re.M)
    assert [int(n) for n, _ in embedded] == list(range(1, 2 * 7 + 2))
    assert embedded[0][1] == "figures/fbeta_0.png" and embedded[-1][1] == "figures/heatmap.png"
    assert "SVG: [figures/heatmap.svg](figures/heatmap.svg)" in text
    assert "(figures/slices_0.png)" in text
    html_text = (out / "report.html").read_text()
    numbers = [int(n) for n in re.findall(r"<figcaption><b>Figure (\d+)\.</b>", html_text)]
    assert numbers == list(range(1, 2 * 7 + 2))
    # the same file twice: two sections, two headings, never alike
    created = read_results(results_path)["provenance"]["created"][:16].replace("T", " ")
    headings = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    first = (
        f"phantom:tiny (test split) — {results_path.parent.name}/results.json (run {created} UTC)"
    )
    assert headings == [f"{first} #1", f"{first} #2", _COMBINED_HEADING, "Methods"]
    assert re.findall(r"<h2>([^<]+)</h2>", html_text) == [html.escape(h) for h in headings]
    # readable headers and the explanation in HTML as in Markdown; secondary columns toggled
    assert "<th" in html_text and ">score [95% CI]</th>" in html_text
    assert '<th class="secondary" onclick' in html_text and ">weighted precision</th>" in html_text
    assert html_text.count('type="checkbox" class="more"') == 2  # the combined table has none
    assert "Metric: F-beta (beta 4), rule competition" in html_text
    assert text.count("Metric: F-beta (beta 4), rule competition") == 2
    assert "Pickers were evaluated with topcup-bench" in html_text


def test_a_single_results_file_has_no_combined_view(results_path, tmp_path):
    out = tmp_path / "report"
    assert main(["report", str(results_path), "--out", str(out), "--format", "md,html"]) == 0
    assert "Combined view" not in (out / "report.md").read_text()
    assert not (out / "figures" / "heatmap.png").exists()
    parser = _Collector()
    parser.feed((out / "report.html").read_text())
    assert parser.tags.count("table") == 1 and len(parser.images) == 7


def test_heatmap_cells_and_labels():
    a = pd.DataFrame({"picker": ["x", "y", "z"], "score": [0.2, 0.9, float("nan")]})
    b = pd.DataFrame({"picker": ["x", "y"], "score": [0.4, 0.8]})
    matrix = score_matrix({"d1": a, "d2": b})
    assert list(matrix.columns) == ["y", "x", "z"] and list(matrix.index) == ["d1", "d2"]
    assert matrix.loc["d2", "x"] == 0.4 and pd.isna(matrix.loc["d2", "z"])
    figure = score_heatmap(matrix, "t")
    axes = figure.axes[0]
    cells = [t.get_text() for t in axes.texts]
    assert cells == ["0.900", "0.200", "—", "0.800", "0.400", "—"]
    assert axes.get_xlabel() == "picker" and axes.get_ylabel() == "dataset (results file)"
    assert axes.images[0].get_cmap().name == "viridis"
    assert figure.axes[1].get_ylabel() == "weighted F-beta (beta = 4)"  # the colour bar
    plt.close(figure)


def _counts(tp, fp, fn, fbeta):
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": tp / (tp + fp),
        "recall": tp / (tp + fn),
        "fbeta": fbeta,
    }


def _hand_made_results():
    return {
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
                "classes": {
                    "ribosome": _counts(2, 2, 2, 0.5),  # P 0.5, R 0.5
                    "apo-ferritin": _counts(1, 0, 3, 0.1),  # P 1.0, R 0.25, weight 0
                },
                "timings": {"pick_s_per_tomogram": 1.0, "fit_s": None},
            },
            {"picker": "a", "status": "failed", "error": "boom", "timings": {"fit_s": 4.0}},
            {
                "picker": "c",
                "card": {"name": "c", "parameters": {"budget": "quick", "seed": 0}},
                "status": "ok",
                "score": 0.9,
                "score_best": 0.95,
                "threshold_source": "5-fold cross-validation over runs",
                "score_interval": {"low": 0.8, "high": 1.0},
                "classes": {
                    "ribosome": _counts(3, 1, 1, 0.9),  # P 0.75, R 0.75
                    "apo-ferritin": _counts(0, 4, 4, 0.2),  # P 0, R 0, weight 0
                },
                "timings": {"pick_s_per_tomogram": 3.0, "fit_s": 10.0},
            },
        ],
    }


def test_leaderboard_frame_of_a_hand_made_results_file():
    results = _hand_made_results()
    nan = float("nan")
    # precision and recall weighted like the score (the weight-0 class counts for nothing; a
    # plain mean over classes would give 0.75 and 0.375 for b); TP/FP/FN summed over all classes
    expected = pd.DataFrame(
        {
            "rank": [1, 2, 3],
            "picker": ["c", "b", "a"],
            "score": [0.9, 0.5, nan],
            "ci_low": [0.8, 0.4, nan],
            "ci_high": [1.0, 0.6, nan],
            "group": pd.array([None, None, None], dtype="Int64"),  # no comparisons: no groups
            "score_best": [0.95, 0.6, nan],
            "apo-ferritin (w0)": [0.2, 0.1, nan],  # ordered by size
            "ribosome": [0.9, 0.5, nan],
            "precision": [0.75, 0.5, nan],
            "recall": [0.75, 0.5, nan],
            "tp": pd.array([3, 3, None], dtype="Int64"),
            "fp": pd.array([5, 2, None], dtype="Int64"),
            "fn": pd.array([5, 5, None], dtype="Int64"),
            "s_per_tomogram": [3.0, 1.0, nan],
            "fit_s": [10.0, nan, 4.0],
            "training_budget": ["quick", "-", "fit"],
            "thresholds": ["5-fold cross-validation over runs", "picker default", None],
            "status": ["ok", "ok", "failed: boom"],
            "flags": ["", "", ""],
        }
    )
    pd.testing.assert_frame_equal(leaderboard_frame(results), expected)
    # a trainable picker whose picks all came from the cache has no fit time but was trained
    results["results"][0]["card"] = {"name": "b", "parameters": {}, "trainable": True}
    assert leaderboard_frame(results)["training_budget"].tolist() == ["quick", "fit", "fit"]
    results["results"][0]["card"]["trainable"] = False
    assert leaderboard_frame(results)["training_budget"].tolist() == ["quick", "-", "fit"]
    results["results"][2]["rule_differences"] = 2
    flags = leaderboard_frame(results)["flags"].tolist()
    assert flags == ["one-to-one differs in 2 group(s)", "", ""]  # no comparisons: no ties
    # ties come from the paired comparisons (marginal intervals overlapping or not)
    pair = {"a": "c", "b": "b", "p_value": 0.41, "p_adjusted": 0.41, "significant": False}
    results["comparisons"] = {"groups": [["c", "b"]], "pairs": [pair]}
    frame = leaderboard_frame(results)
    assert frame["group"].tolist() == [1, 1, pd.NA]
    assert frame["flags"].tolist()[1] == "not significantly different from c (p=0.41)"
    results["comparisons"]["groups"] = [["b", "c"]]  # group order differing from the ranks
    flags = leaderboard_frame(results)["flags"].tolist()
    assert flags[1] == "not significantly different from c (p=0.41)"
    results["comparisons"] = {"groups": [["c"], ["b"]], "pairs": [{**pair, "significant": True}]}
    frame = leaderboard_frame(results)
    assert frame["group"].tolist() == [1, 2, pd.NA] and frame["flags"].tolist()[1] == ""


def test_markdown_leaderboard_shows_the_new_columns():
    results = _hand_made_results()
    text = render_leaderboard_markdown(leaderboard_frame(results), results)
    header = next(line for line in text.splitlines() if line.startswith("| rank"))
    assert "| weighted precision | weighted recall | TP | FP | FN |" in header
    assert "| fit s | training budget | thresholds | status |" in header
    assert (
        "| 0.7500 | 0.7500 | 3 | 5 | 5 | 3.00 | 10.0 | quick | 5-fold cross-validation over runs "
        "| ok |" in text
    )
    assert "| — | — | — | — | — | — | 4.0 | fit | — | failed: boom |" in text


def test_report_rejects_unknown_formats(results_path, tmp_path):
    assert main(["report", str(results_path), "--format", "pdf", "--out", str(tmp_path)]) == 2
    assert read_results(results_path)["schema_version"] == 3


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
    assert "truth.csv is missing: no central-slices figure" in text
    assert "Missing data" in (out / "report.html").read_text()


def test_report_says_when_the_tomogram_is_not_reachable(results_path, tmp_path):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(results_path.parent, folder)
    results = json.loads((folder / "results.json").read_text())
    results["dataset"]["config"] = str(tmp_path / "gone" / "copick_config.json")
    (folder / "results.json").write_text(json.dumps(results))
    out = tmp_path / "report"
    assert main(["report", str(folder / "results.json"), "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert (
        f"tomogram of run {results['dataset']['runs'][0]} not reachable (copick config "
        f"{tmp_path / 'gone' / 'copick_config.json'} not found; 'topcup-bench run --dataset "
        "phantom:tiny' recreates a generated phantom): no central-slices figure"
    ) in text
    assert not (out / "figures" / "slices_0.png").exists()
    assert (out / "figures" / "d0_pr.png").is_file()  # the other figures are still drawn
    parser = _Collector()
    parser.feed((out / "report.html").read_text())
    assert len(parser.images) == 6


def test_slices_show_the_best_picker_that_is_not_the_oracle():
    results = _hand_made_results()
    results["results"][0]["picker"] = "oracle"
    assert slice_picker(results)["picker"] == "c"
    results["results"][2]["picker"] = "oracle"
    assert slice_picker(results)["picker"] == "oracle"  # only references: the best of them
    results["results"] = [results["results"][1]]
    assert slice_picker(results) is None


def test_terminal_leaderboard_says_a_common_threshold_source_once():
    from rich.console import Console

    from topcup_bench.reports.leaderboard import render_leaderboard_rich

    def rendered(results):
        table = render_leaderboard_rich(leaderboard_frame(results), "title")
        console = Console(width=400, record=True, file=io.StringIO())
        console.print(table)
        return table, console.export_text()

    results = _hand_made_results()
    table, _ = rendered(results)  # b and c were tuned differently: one column
    assert "thresholds" in [column.header for column in table.columns]
    assert table.caption is None
    results["results"][0]["threshold_source"] = "5-fold cross-validation over runs"
    table, text = rendered(results)  # the failed picker has none; b and c agree: the caption
    assert "thresholds" not in [column.header for column in table.columns]
    assert "thresholds: 5-fold cross-validation over runs" in text
    assert text.count("5-fold cross-validation") == 1
