"""The terminal leaderboard: short class labels, no wrapped cell at 100 columns, notes below."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from topcup_bench.reports.terminal import (
    DEFAULT_WIDTH,
    render_leaderboard_terminal,
    short_class_labels,
    terminal_width,
)
from topcup_bench.types import COMPETITION_CLASSES

PICKERS = ("oracle", "template", "topcup", "forest", "blob", "random")
LONG_FLAG = "not significantly different from template (p=0.41); one-to-one differs in 2 group(s)"


def _class_entry(fbeta: float) -> dict:
    return {"tp": 1, "fp": 1, "fn": 1, "precision": 0.5, "recall": 0.5, "fbeta": fbeta}


def _six_pickers(labels=PICKERS) -> dict:
    """A results document: 6 pickers (scores 0.9, 0.8, ...), the 6 competition classes."""
    classes = {
        c.name: {"radius_angstrom": c.radius_angstrom, "weight": c.weight}
        for c in COMPETITION_CLASSES
    }
    results = []
    for index, label in enumerate(labels):
        score = 0.9 - 0.1 * index
        results.append(
            {
                "picker": label,
                "status": "ok",
                "score": score,
                "score_best": score + 0.05,
                "score_interval": {"low": score - 0.05, "high": score + 0.04},
                "threshold_source": "best on 1 held-out train run(s)",
                "classes": {name: _class_entry(score - 0.01 * i) for i, name in enumerate(classes)},
                "timings": {"pick_s_per_tomogram": 1.5 + index, "fit_s": None},
            }
        )
    return {
        "dataset": {"spec": "phantom:tiny", "split": "test", "runs": ["r1"], "classes": classes},
        "metric": {"beta": 4, "rule": "competition", "distance_multiplier": 0.5},
        "results": results,
    }


def _printed(renderable, width: int) -> list[str]:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text().splitlines()


def _row(lines: list[str], picker: str) -> str:
    rows = [line for line in lines if line.split()[:1] != ["#"] and line.split()[1:2] == [picker]]
    rows = [line for line in rows if line.split()[0].isdigit()]  # not the notes
    assert len(rows) == 1, (picker, lines)
    return rows[0]


def test_competition_classes_get_their_short_labels():
    names = [c.name for c in COMPETITION_CLASSES]
    assert short_class_labels(names) == {
        "apo-ferritin": "apo",
        "beta-amylase": "b-amy",
        "beta-galactosidase": "b-gal",
        "ribosome": "ribo",
        "thyroglobulin": "thyro",
        "virus-like-particle": "VLP",
    }


def test_other_class_names_get_short_unique_labels_whatever_their_order():
    names = ["membrane-bound-complex", "proteasome", "proteasome-26s", "nucleosome", "tRNA", "ab"]
    labels = short_class_labels(names)
    assert labels == {
        "membrane-bound-complex": "MBC",  # three words: initials
        "proteasome": "prote",  # one word: 5 letters
        "proteasome-26s": "p-26s",  # two words: initial, "-", 3 letters of the last
        "nucleosome": "nucle",
        "tRNA": "tRNA",  # short names stay
        "ab": "ab",
    }
    assert short_class_labels(list(reversed(names))) == labels
    clash = short_class_labels(["proteasome", "protein", "prote"])
    assert clash == {"proteasome": "prote1", "protein": "prote2", "prote": "prote"}
    assert all(len(label) <= 6 for label in clash.values())


def test_six_pickers_and_six_classes_fit_100_columns_in_one_table():
    results = _six_pickers()
    results["results"][1]["status"] = "failed"
    results["results"][1]["error"] = "picker 'template' failed on run 'r1': ToolError: exit 3"
    lines = _printed(render_leaderboard_terminal(results, width=100, title="phantom:tiny"), 100)
    assert max(len(line) for line in lines) <= 100
    header = next(line for line in lines if line.lstrip().startswith("#"))
    for label in ("score [95% CI]", "apo", "VLP", "ribo", "b-gal", "thyro", "b-amy*", "s/tomo"):
        assert label in header.split() or label in header
    assert "precision" not in header  # the wide table stays in the files
    row = _row(lines, "oracle")
    assert "0.9000 [0.850, 0.940]" in row and row.split()[0] == "1"
    assert row.split()[-1] == "1.50"  # seconds per tomogram, 2 decimals
    # per-class F-beta at 2 decimals, classes by size (apo-ferritin first, ribosome last)
    assert "0.90" in row.split() and "0.85" in row.split()
    assert "failed [1]" in _row(lines, "template")
    assert "[1] template failed: picker 'template' failed on run 'r1': ToolError: exit 3" in lines
    for picker in PICKERS:
        _row(lines, picker)  # each picker on exactly one line, its name whole
    text = "\n".join(lines)
    assert "apo = apo-ferritin" in text and "VLP = virus-like-particle" in text
    assert "* weight 0: b-amy not counted in the score" in text
    assert "leaderboard.md and results.json" in text
    assert text.count("thresholds: best on 1 held-out train run(s)") == 1


@pytest.mark.parametrize("width", [100, 80, 60])
def test_long_labels_long_flags_and_groups_never_wrap_a_cell(width):
    labels = [f"{name}-with-a-long-label"[:24] for name in PICKERS]
    results = _six_pickers(labels)
    results["results"][2]["rule_differences"] = 2
    results["comparisons"] = {
        "groups": [[labels[0]], labels[1:3], labels[3:]],
        "pairs": [{"a": labels[1], "b": labels[2], "p_adjusted": 0.41}],
        "minimal_detectable_difference": 0.0523,
        "n_experiments": 12,
        "smallest_p_value": 2 / 4096,
    }
    lines = _printed(render_leaderboard_terminal(results, width=width), width)
    assert max(len(line) for line in lines) <= width
    for index, label in enumerate(labels):
        score = 0.9 - 0.1 * index
        expected = f"{score:.4f} [{score - 0.05:.3f}, {score + 0.04:.3f}]"
        rows = [line for line in lines if expected in line]
        assert len(rows) == 1  # the score whole, on one line
        if width >= 80:  # labels of 24 characters are shown whole down to 80 columns
            assert rows[0].split()[:2] == [str(index + 1), label]
        else:
            assert rows[0].split()[1].endswith("…")
    text = " ".join(" ".join(lines).split())  # notes wrap like any text
    expected = "minimal detectable difference of the score on these 12 runs: 0.052 (paired"
    assert expected in text
    flag = f"{labels[2]}: not significantly different from {labels[1]} (p=0.41); one-to-one"
    assert any(line.startswith("[1] ") for line in lines)  # the long flag became a note
    assert flag in text


def test_a_narrow_console_moves_the_classes_to_their_own_table():
    lines = _printed(render_leaderboard_terminal(_six_pickers(), width=70), 70)
    assert max(len(line) for line in lines) <= 70
    split = [line.strip() for line in lines].index("F-beta per class")
    scores = _row(lines[:split], "oracle")
    assert "0.9000 [0.850, 0.940]" in scores and "0.85" not in scores.split()
    classes = _row(lines[split:], "oracle")
    assert classes.split() == ["1", "oracle", "0.90", "0.89", "0.88", "0.86", "0.85", "0.87"]


def test_labels_longer_than_24_characters_end_in_an_ellipsis():
    long = "a-picker-label-of-forty-characters-long-"
    results = _six_pickers([long, *PICKERS[1:]])
    lines = _printed(render_leaderboard_terminal(results, width=100), 100)
    assert any(line.split()[1:2] == [long[:23] + "…"] for line in lines)
    assert max(len(line) for line in lines) <= 100


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, DEFAULT_WIDTH),
        ({"COLUMNS": "80"}, 80),
        ({"COLUMNS": "wide"}, 100),
        ({"COLUMNS": "0"}, 100),
    ],
)
def test_width_when_not_a_terminal(environ, expected):
    assert terminal_width(io.StringIO(), environ) == expected
