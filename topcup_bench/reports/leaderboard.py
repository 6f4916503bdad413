"""The leaderboard of one results document: one DataFrame, rendered as Markdown or a rich table.

Rows are pickers sorted by score (failed pickers last); columns: the score at
the picker's own thresholds with its bootstrap interval, the score at the best
thresholds ("optimistic": chosen on the same runs), per-class F-beta (classes
ordered by size; weight-0 classes marked), seconds per tomogram and status.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from rich.table import Table

__all__ = [
    "class_columns",
    "leaderboard_frame",
    "render_leaderboard_markdown",
    "render_leaderboard_rich",
]


def leaderboard_frame(results: dict[str, Any]) -> pd.DataFrame:
    """Compute the leaderboard table of a results document (computed once, rendered many ways)."""
    classes = sorted(
        results["dataset"]["classes"].items(),
        key=lambda item: (item[1]["radius_angstrom"], item[0]),
    )
    rows = []
    for entry in results["results"]:
        ok = entry["status"] == "ok"
        row: dict[str, Any] = {
            "picker": entry["picker"],
            "score": entry.get("score") if ok else None,
            "ci_low": entry["score_interval"]["low"] if ok else None,
            "ci_high": entry["score_interval"]["high"] if ok else None,
            "score_best": entry.get("score_best") if ok else None,
        }
        for name, info in classes:
            label = f"{name} (w0)" if info["weight"] == 0 else name
            row[label] = entry["classes"][name]["fbeta"] if ok else None
        timings = entry["timings"]
        row["s_per_tomogram"] = timings.get("pick_s_per_tomogram")
        row["fit_s"] = timings.get("fit_s")
        row["status"] = entry["status"] if ok else f"failed: {entry.get('error')}"
        row["rule_differences"] = entry.get("rule_differences", 0) if ok else 0
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame["_failed"] = frame["score"].isna()
    frame = frame.sort_values(["_failed", "score"], ascending=[True, False], kind="stable")
    frame = frame.drop(columns="_failed").reset_index(drop=True)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    frame["flags"] = _flags(frame)
    return frame.drop(columns="rule_differences")


def _flags(frame: pd.DataFrame) -> list[str]:
    """Ties (95 % interval overlapping the next better picker's) and one-to-one differences."""
    flags = []
    for i, row in frame.iterrows():
        marks = []
        if i > 0 and pd.notna(row["score"]) and pd.notna(frame.loc[i - 1, "ci_low"]):
            above = frame.loc[i - 1]
            if row["ci_high"] >= above["ci_low"]:
                marks.append(f"tied with {above['picker']}")
        if row["rule_differences"]:
            marks.append(f"one-to-one differs in {int(row['rule_differences'])} group(s)")
        flags.append("; ".join(marks))
    return flags


def class_columns(frame: pd.DataFrame) -> list[str]:
    """The per-class F-beta columns of a leaderboard frame, in display order (by size)."""
    return [c for c in frame.columns if c not in _FIXED]


def _cells(frame: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    classes = class_columns(frame)
    header = [
        "rank",
        "picker",
        "score [95% CI]",
        "best-threshold score (optimistic)",
        *classes,
        "s / tomogram",
        "fit s",
        "status",
        "flags",
    ]
    rows = []
    for _, row in frame.iterrows():
        if pd.isna(row["score"]):
            score = best = "—"
        else:
            score = f"{row['score']:.4f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
            best = f"{row['score_best']:.4f}"
        rows.append(
            [
                str(row["rank"]),
                row["picker"],
                score,
                best,
                *(_number(row[c]) for c in classes),
                _number(row["s_per_tomogram"], ".2f"),
                _number(row["fit_s"], ".1f"),
                row["status"],
                row["flags"],
            ]
        )
    return header, rows


_FIXED = {
    "flags",
    "rank",
    "picker",
    "score",
    "ci_low",
    "ci_high",
    "score_best",
    "s_per_tomogram",
    "fit_s",
    "status",
}


def render_leaderboard_markdown(frame: pd.DataFrame, results: dict[str, Any]) -> str:
    """Markdown leaderboard with a caption naming the dataset, split and metric."""
    header, rows = _cells(frame)
    metric = results["metric"]
    dataset = results["dataset"]
    lines = [
        f"# Leaderboard: {dataset.get('spec') or dataset.get('name')} ({dataset['split']} split, "
        f"{len(dataset['runs'])} runs)",
        "",
        f"Metric: F-beta (beta {metric['beta']:g}), rule {metric['rule']}, match radius "
        f"{metric['distance_multiplier']:g} x R, weighted over all classes; per-class columns are "
        "F-beta at each picker's own thresholds; (w0) marks weight-0 classes. The best-threshold "
        "score chooses thresholds on the same runs (optimistic).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines) + "\n"


def render_leaderboard_rich(frame: pd.DataFrame, title: str) -> Table:
    """The leaderboard as a rich table for the terminal."""
    header, rows = _cells(frame)
    table = Table(title=title)
    for column in header:
        table.add_column(column, overflow="fold")
    for cells in rows:
        table.add_row(*cells)
    return table


def _number(value: Any, spec: str = ".4f") -> str:
    return "—" if value is None or pd.isna(value) else format(float(value), spec)
