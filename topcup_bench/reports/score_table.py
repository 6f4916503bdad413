"""The per-class table of one :class:`~topcup_bench.metrics.ScoreResult`.

Computed once into a DataFrame (:func:`class_table`); the renderers only format it.
"""

from __future__ import annotations

import pandas as pd
from rich.table import Table

from topcup_bench.metrics import BootstrapInterval, ScoreResult

__all__ = ["class_table", "render_markdown", "render_rich", "summary_lines"]

_COLUMNS = {
    "radius_angstrom": "R (Å)",
    "weight": "weight",
    "tp": "TP",
    "fp": "FP",
    "fn": "FN",
    "precision": "precision",
    "recall": "recall",
    "f1": "F1",
    "fbeta": "F-beta",
}


def class_table(result: ScoreResult) -> pd.DataFrame:
    """Per-class rows ordered by particle size (smallest first).

    Classes absent from the ground truth are kept and marked ``(not in truth)``;
    weight-0 classes are marked ``(weight 0)``.
    """
    frame = result.to_frame().sort_values(["radius_angstrom"], kind="stable")
    notes = []
    for name, row in frame.iterrows():
        marks = []
        if not row["scored"]:
            marks.append("not in truth")
        if row["weight"] == 0:
            marks.append("weight 0")
        notes.append(f"{name} ({', '.join(marks)})" if marks else name)
    table = frame[list(_COLUMNS)].rename(columns=_COLUMNS)
    table.index = pd.Index(notes, name="class")
    return table


def summary_lines(result: ScoreResult, interval: BootstrapInterval | None = None) -> list[str]:
    """Human-readable lines under the table: score, rule, interval and caveats."""
    rule = (
        f"rule {result.rule}, beta {result.beta:g}, match radius "
        f"{result.distance_multiplier:g} x R, weights / {result.total_weight:g}"
    )
    lines = [f"score {result.score:.5f}  ({rule})"]
    if interval is not None:
        lines.append(
            f"{interval.confidence:.0%} bootstrap interval "
            f"[{interval.low:.5f}, {interval.high:.5f}] "
            f"over {interval.n_experiments} experiments "
            f"({interval.n_resamples} resamples, seed {interval.seed})"
        )
    if result.thresholds is not None:
        shown = ", ".join(f"{k} > {v:.4g}" for k, v in result.thresholds.items())
        lines.append(f"per-class thresholds applied: {shown}")
    if result.dropped_rows:
        lines.append(
            f"{result.dropped_rows} pick rows of experiments absent from the truth dropped"
        )
    if result.ignored_rows:
        lines.append(f"{result.ignored_rows} pick rows of classes absent from the truth ignored")
    if result.deduplicated_truth_rows:
        lines.append(f"{result.deduplicated_truth_rows} duplicated truth rows dropped")
    if result.rule_differences:
        groups = ", ".join(f"{d.experiment}/{d.particle_type}" for d in result.rule_differences[:5])
        more = len(result.rule_differences) - 5
        if more > 0:
            groups += f" and {more} more"
        lines.append(
            f"one pick covers two truth points in {len(result.rule_differences)} group(s) "
            f"({groups}): competition and one-to-one rules differ"
        )
    return lines


def render_markdown(table: pd.DataFrame, lines: list[str] = ()) -> str:
    """A GitHub-flavoured Markdown table followed by the summary lines."""
    header = [table.index.name or ""] + list(table.columns)
    rows = [[str(row[0])] + _cells(row[1:], table.columns) for row in table.itertuples()]
    out = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * len(table.columns)) + "|",
    ]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    if lines:
        out.append("")
        out += [f"- {line}" for line in lines]
    return "\n".join(out) + "\n"


def render_rich(table: pd.DataFrame, title: str | None = None) -> Table:
    """A :class:`rich.table.Table` for the terminal."""
    rich_table = Table(title=title)
    rich_table.add_column(table.index.name or "")
    for column in table.columns:
        rich_table.add_column(str(column), justify="right")
    for row in table.itertuples():
        rich_table.add_row(str(row[0]), *_cells(row[1:], table.columns))
    return rich_table


_PLAIN_NUMBERS = {"R (Å)", "weight"}


def _cells(row, columns) -> list[str]:
    return [
        f"{value:g}"
        if column in _PLAIN_NUMBERS
        else f"{value:.4f}"
        if isinstance(value, float)
        else str(value)
        for value, column in zip(row, columns, strict=True)
    ]
