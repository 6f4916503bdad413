"""The report's pieces on hand-made inputs: headings, Methods, HTML toggle, threshold axes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from topcup_bench.reports import diagnostics
from topcup_bench.reports.diagnostics import kept_fraction
from topcup_bench.reports.methods import methods_paragraph
from topcup_bench.reports.render import (
    Bullets,
    FigureBlock,
    Heading,
    Paragraph,
    TableBlock,
    to_html,
    to_markdown,
)
from topcup_bench.reports.report import section_headings
from topcup_bench.types import ClassCatalogue, ParticleClass


def _document(spec="phantom:tiny", created="2026-11-30T05:10:44+00:00"):
    counts = {"tp": 3, "fp": 1, "fn": 2, "precision": 0.75, "recall": 0.6, "fbeta": 0.6}
    return {
        "provenance": {
            "topcup_bench_version": "9.8.7",
            "python": "3.11.7",
            "platform": "Linux-6.1-x86_64-with-glibc2.36",
            "machine": "x86_64",
            "cpu_count": 16,
            "packages": {"numpy": "2.4.6", "torch": "2.13.0+cpu", "monai": "1.6.1"},
            "git_commit": "84aba06d9551114ca521910f55e23d1714599277",
            "created": created,
            "executor": "serial",
            "workers": 2,
        },
        "dataset": {
            "spec": spec,
            "identity": {
                "digest": "66a2394b930cbe73c347b6277fd19973",
                "runs": ["TS_0", "TS_1", "TS_2", "TS_3"],
                "voxel_size_angstrom": 10.0,
                "tomo_type": "denoised",
            },
            "split": "test",
            "runs": ["TS_2", "TS_3"],
            "train_runs": ["TS_0"],
            "tune_runs": ["TS_1"],
            "classes": {
                "ribosome": {"radius_angstrom": 150.0, "weight": 1.0},
                "apo-ferritin": {"radius_angstrom": 60.0, "weight": 2.0},
            },
        },
        "metric": {
            "rule": "competition",
            "beta": 4.0,
            "distance_multiplier": 0.5,
            "bootstrap": {"n_resamples": 777, "seed": 13, "confidence": 0.95},
        },
        "results": [
            {
                "picker": "blob",
                "status": "ok",
                "card": {"version": "1", "tool_version": ""},
                "threshold_source": "best on 1 held-out train run(s)",
                # 3 + 2 = 5 ribosomes, 1 + 6 = 7 apo-ferritins in the scored runs
                "classes": {"ribosome": counts, "apo-ferritin": {**counts, "tp": 1, "fn": 6}},
            },
            {
                "picker": "pytme",
                "status": "ok",
                "card": {"version": "2", "tool_version": "pytme 0.3.6"},
                "threshold_source": "picker default (--no-tune-thresholds)",
                "classes": {"ribosome": counts, "apo-ferritin": {**counts, "tp": 1, "fn": 6}},
            },
            {"picker": "broken", "status": "failed", "card": {"version": "3"}},
        ],
    }


def test_section_headings_are_distinct():
    a, b = _document("phantom:tiny"), _document("phantom:default")
    assert section_headings([("x/results.json", a), ("y/results.json", b)]) == [
        "phantom:tiny (test split) — results.json (run 2026-11-30 05:10 UTC)",
        "phantom:default (test split) — results.json (run 2026-11-30 05:10 UTC)",
    ]
    # the same dataset and file name: the folder tells them apart
    assert section_headings([("run-a/results.json", a), ("run-b/results.json", a)]) == [
        "phantom:tiny (test split) — run-a/results.json (run 2026-11-30 05:10 UTC)",
        "phantom:tiny (test split) — run-b/results.json (run 2026-11-30 05:10 UTC)",
    ]
    # the very same file twice: its position
    twice = section_headings([("run/results.json", a), ("run/results.json", a)])
    assert twice[0].endswith("(run 2026-11-30 05:10 UTC) #1") and twice[1].endswith(" #2")
    # another run time is enough on its own
    later = _document(created="2026-11-30T06:00:00+00:00")
    assert section_headings([("r/results.json", a), ("r/results.json", later)])[1] == (
        "phantom:tiny (test split) — results.json (run 2026-11-30 06:00 UTC)"
    )


def test_methods_paragraph_names_every_value_of_the_document():
    document = _document()
    document["comparisons"] = {
        "method": "Paired bootstrap over runs and a sign-flip permutation test.",
        "adjustment": "holm",
        "alpha": 0.05,
        "minimal_detectable_difference": 0.0443,
    }
    document["provenance"]["cpu_model"] = "AMD EPYC 7B13"
    text = methods_paragraph(document)
    for expected in (
        "topcup-bench 9.8.7",
        "dataset phantom:tiny (identity digest 66a2394b930c, 4 runs, voxel size 10 Å",
        "test split: 2 runs (TS_2, TS_3), holding 12 ground-truth particles "
        "(apo-ferritin 7, ribosome 5)",
        "trained on 1 run (TS_0)",
        "chosen on 1 run (TS_1) held out",
        "blob: best on 1 held-out train run(s); pytme: picker default (--no-tune-thresholds)",
        "within 0.5 x its radius",
        "micro-averaged",
        "F-beta (beta = 4)",
        "class weights apo-ferritin 2, ribosome 1",
        "95 % confidence intervals",
        "bootstrap over runs (777 resamples, seed 13)",
        "compared pairwise: paired bootstrap over runs and a sign-flip permutation test.",
        "p-values are Holm-adjusted over the pairs",
        "alpha = 0.05",
        "minimal detectable difference of the score is 0.044",
        "git 84aba06d95",
        "Python 3.11.7, torch 2.13.0+cpu, monai 1.6.1, numpy 2.4.6",
        "blob (version 1), pytme (version 2, pytme 0.3.6), broken (version 3)",
        "Hardware: AMD EPYC 7B13, 16 CPUs, x86_64, Linux-6.1-x86_64-with-glibc2.36",
        "executor serial with 2 workers",
    ):
        assert expected in text, expected


def test_methods_paragraph_without_comparisons_or_successful_pickers():
    document = _document()
    for entry in document["results"]:
        entry["status"] = "failed"
    text = methods_paragraph(document)
    assert "compared pairwise" not in text and "ground-truth particles" not in text
    assert "No picker completed." in text and "Hardware: 16 CPUs" in text
    same = _document()
    same["results"][1]["threshold_source"] = same["results"][0]["threshold_source"]
    assert "of every picker: best on 1 held-out train run(s)." in methods_paragraph(same)


def test_html_hides_secondary_columns_behind_a_toggle(tmp_path):
    png = tmp_path / "figures" / "a.png"
    png.parent.mkdir()
    plt.imsave(png, np.zeros((4, 4)))
    blocks = [
        Heading("report", 1),
        Paragraph("why <this>"),
        TableBlock(
            ("rank", "picker", "weighted precision", "flags"),
            (("1", "a|b", "0.5000", "not significantly different from c (p=0.41)"),),
            frozenset({"weighted precision"}),
        ),
        TableBlock(("dataset", "a"), (("x", "0.1000"),)),
        Bullets(("one",), "Warnings:"),
        FigureBlock(1, "bars", png),
    ]
    page = to_html(blocks, "t")
    assert page.count('type="checkbox" class="more"') == 1  # the second table has no toggle
    assert "show all columns (adds: weighted precision)" in page
    assert '<th class="secondary" onclick="sortTable(\'table0\', 2)"' in page
    assert '<td class="secondary">0.5000</td>' in page
    assert '<td class="long">not significantly different from c (p=0.41)</td>' in page
    assert '<p class="caption">why &lt;this&gt;</p>' in page
    assert "<figcaption><b>Figure 1.</b> bars</figcaption>" in page
    assert 'src="data:image/png;base64,' in page and "http" not in page
    text = to_markdown(blocks, tmp_path)
    assert "| 1 | a\\|b | 0.5000 |" in text  # every column, pipes escaped
    assert "![Figure 1: bars](figures/a.png)\n\n*Figure 1: bars.*" in text
    assert "SVG:" not in text  # no SVG beside this PNG
    png.with_suffix(".svg").write_text("<svg/>")
    assert "SVG: [figures/a.svg](figures/a.svg)" in to_markdown(blocks, tmp_path)


def test_kept_fraction():
    fractions, own = kept_fraction(np.array([5, 4, 2, 0]), 2)
    np.testing.assert_allclose(fractions, [1.0, 0.8, 0.4, 0.0])
    assert own == 0.4
    fractions, own = kept_fraction(np.array([0]), 0)  # no pick of the class
    np.testing.assert_array_equal(fractions, [0.0])
    assert np.isnan(own)
    assert np.isnan(kept_fraction(np.array([3, 1, 0]), float("nan"))[1])


def test_threshold_panels_share_one_axis_whatever_the_score_range(tmp_path, monkeypatch):
    """One picker scores 0-8, the other 0-1: both curves span the kept fraction [0, 1]."""
    truth = pd.DataFrame(
        {"experiment": "r", "particle_type": "ribosome", "x": [0.0, 1000.0], "y": 0.0, "z": 0.0}
    )
    xyz = {"x": [0.0, 1000.0, 500.0, 700.0], "y": 0.0, "z": 0.0}
    wide = pd.DataFrame({"experiment": "r", "particle_type": "ribosome", **xyz})
    wide["score"] = [8.0, 6.0, 4.0, 2.0]
    narrow = wide.assign(score=[0.9, 0.2, 0.6, 0.4])
    picks = {
        "wide": (wide, {"thresholds": {"ribosome": 5.0}}),  # keeps 2 of 4
        "narrow": (narrow, {"thresholds": {"ribosome": 0.5}}),  # keeps 2 of 4
    }
    classes = ClassCatalogue((ParticleClass("ribosome", 150.0, 1.0),))
    captured = []
    monkeypatch.setattr(
        diagnostics, "save_figure", lambda figure, stem: captured.append(figure) or [stem]
    )
    diagnostics._curves(truth, picks, classes, tmp_path / "t", "threshold")
    figure = captured[0]
    axes = figure.axes[0]
    lines = {line.get_label(): line for line in axes.lines if not line.get_label().startswith("_")}
    np.testing.assert_allclose(lines["wide"].get_xdata(), [1.0, 0.75, 0.5, 0.25, 0.0])
    np.testing.assert_allclose(lines["narrow"].get_xdata(), [1.0, 0.75, 0.5, 0.25, 0.0])
    # wide: keeping its best 2 (8 and 6) finds both particles; narrow: 0.9 and 0.6, one of two
    assert lines["wide"].get_ydata()[2] == pytest.approx(1.0)
    assert lines["narrow"].get_ydata()[2] == pytest.approx(17 * 0.5 * 0.5 / (16 * 0.5 + 0.5))
    dots = [line for line in axes.lines if line.get_label().startswith("_")]
    assert [float(d.get_xdata()[0]) for d in dots] == [0.5, 0.5]  # own operating points
    assert axes.get_xlabel() == "fraction of the picker's picks kept"
    assert axes.get_xlim() == pytest.approx((-0.02, 1.02))
    # the legend is the figure's, outside the axes, not over the curves
    assert axes.get_legend() is None and len(figure.legends) == 1
    legend_box = figure.legends[0].get_window_extent(figure.canvas.get_renderer())
    axes_box = axes.get_window_extent(figure.canvas.get_renderer())
    assert legend_box.y1 <= axes_box.y0
    plt.close(figure)
