"""The leaderboard for a terminal: the columns a person reads first, fitted to the console width.

The wide table (precision, recall, counts, budgets, best-threshold scores)
stays in ``leaderboard.md`` and ``results.json``; the terminal shows rank,
picker, the score with its 95 % interval, the per-class F-beta under short
class labels, seconds per tomogram, the significance group and the flags.
No cell ever wraps: when the table does not fit the width, flags move to
numbered notes under it, then the per-class columns move to tables of their
own, then long picker labels are shortened (with an ellipsis, here only).
Failed pickers show one word in the table and their error in the notes.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TextIO

import pandas as pd
from rich import box
from rich.cells import cell_len
from rich.console import Console, Group, JustifyMethod, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from topcup_bench.reports.leaderboard import detectable_difference_line, leaderboard_frame

__all__ = [
    "DEFAULT_WIDTH",
    "KNOWN_CLASS_LABELS",
    "MAX_PICKER_LABEL",
    "render_leaderboard_terminal",
    "short_class_labels",
    "terminal_width",
]

#: Width (characters) assumed when the output is not a terminal and ``COLUMNS`` is not set.
DEFAULT_WIDTH = 100
#: Longest picker label shown whole in the terminal; longer ones end in an ellipsis.
MAX_PICKER_LABEL = 24
#: Short labels of the competition's classes (other names get :func:`short_class_labels`' rule).
KNOWN_CLASS_LABELS = {
    "apo-ferritin": "apo",
    "beta-amylase": "b-amy",
    "beta-galactosidase": "b-gal",
    "ribosome": "ribo",
    "thyroglobulin": "thyro",
    "virus-like-particle": "VLP",
}
_LABEL_LENGTH = 6
_SHORTER_PICKER_LABELS = (16, 12, 8)  # tried in turn when the table is still too wide
_FAILED = "failed"


def terminal_width(stream: TextIO, environ: Mapping[str, str] | None = None) -> int:
    """The width to print a leaderboard at.

    Parameters
    ----------
    stream : text stream
        Where the leaderboard goes (``sys.stdout``).
    environ : mapping, optional
        The environment (default ``os.environ``).

    Returns
    -------
    int
        The terminal's width in characters when ``stream`` is a terminal; else
        ``COLUMNS`` when it is a positive integer; else :data:`DEFAULT_WIDTH`.
    """
    environ = os.environ if environ is None else environ
    try:
        if stream.isatty():
            return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        pass  # not a real terminal (a test's capture, a closed stream)
    columns = environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return DEFAULT_WIDTH


def short_class_labels(names: Sequence[str]) -> dict[str, str]:
    """A short, unique label of at most 6 characters for every class name.

    The competition's classes get :data:`KNOWN_CLASS_LABELS`; other names: the
    name itself when it has at most 6 characters; else, split at ``-``, ``_``,
    spaces and dots, the first letter of the first word, ``-`` and the first 3
    letters of the last word for two words (``beta-amylase`` -> ``b-amy``), the
    upper-case initials for three or more (``virus-like-particle`` -> ``VLP``),
    the first 5 letters for one word (``thyroglobulin`` -> ``thyro``).  Labels
    that collide end in a number (``prote``, ``prot1``), the name that already is
    the label or comes first in sorted order keeping it: the result depends only
    on the set of names.

    Parameters
    ----------
    names : sequence of str
        Class names (unique).

    Returns
    -------
    dict
        Name -> label, in the order of ``names``.
    """
    wanted = {name: _short_label(name) for name in names}
    order = sorted(names, key=lambda name: (wanted[name] != name, name))
    taken: set[str] = set()
    labels: dict[str, str] = {}
    for name in order:
        label = wanted[name]
        number = 1
        while label in taken:
            suffix = str(number)
            label = wanted[name][: _LABEL_LENGTH - len(suffix)] + suffix
            number += 1
        taken.add(label)
        labels[name] = label
    return {name: labels[name] for name in names}


def _short_label(name: str) -> str:
    if name in KNOWN_CLASS_LABELS:
        return KNOWN_CLASS_LABELS[name]
    if len(name) <= _LABEL_LENGTH:
        return name
    words = [word for word in re.split(r"[-_ .]+", name) if word]
    if len(words) >= 3:
        return "".join(word[0] for word in words).upper()[:_LABEL_LENGTH]
    if len(words) == 2:
        return f"{words[0][0]}-{words[-1][:3]}"
    return (words[0] if words else name)[:5]


@dataclass
class _Row:
    """The cells of one picker; ``label`` is the picker's name as shown (maybe shortened)."""

    rank: str
    picker: str
    label: str
    score: str
    classes: list[str]
    seconds: str
    group: str
    flag: str


def render_leaderboard_terminal(
    results: dict[str, Any],
    *,
    width: int = DEFAULT_WIDTH,
    title: str | None = None,
    frame: pd.DataFrame | None = None,
    full_table: str | None = "leaderboard.md and results.json",
) -> Group:
    """The leaderboard of a results document as rich renderables that fit ``width`` columns.

    Parameters
    ----------
    results : dict
        A results document (``results.json``).
    width : int
        Console width in characters (:func:`terminal_width`).
    title : str, optional
        A line printed above the table.
    frame : pandas.DataFrame, optional
        ``leaderboard_frame(results)``, when already computed.
    full_table : str or None
        Where the wide table is, said in the legend; None leaves that out.

    Returns
    -------
    rich.console.Group
        The title, one table (or a scores table and per-class tables when the
        classes do not fit beside the scores) and the notes: the class legend,
        how thresholds were set, the minimal detectable difference when the
        results have paired comparisons, the numbered notes (long flags,
        errors of failed pickers) and where the full table is.
    """
    frame = leaderboard_frame(results) if frame is None else frame
    class_info = results["dataset"]["classes"]
    columns = _class_columns(frame, class_info)
    labels = short_class_labels([name for _, name in columns])
    headers = [
        labels[name] + ("*" if class_info[name]["weight"] == 0 else "") for _, name in columns
    ]
    rows, notes = _rows(frame, [column for column, _ in columns])
    show_group = "group" in frame and bool(frame["group"].notna().any())
    tables, flag_notes = _fit(rows, headers, show_group, width)
    renderables: list[RenderableType] = []
    if title:
        renderables.append(Text(title, style="bold"))
    renderables.extend(tables)
    lines = _legend(columns, labels, class_info, show_group, full_table)
    lines += _threshold_lines(frame)
    lines += _comparison_lines(results)
    lines += [f"[{number}] {text}" for number, text in sorted({**notes, **flag_notes}.items())]
    renderables.extend(Text(line) for line in lines)
    return Group(*renderables)


def _class_columns(frame: pd.DataFrame, classes: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(frame column, class name) of the per-class F-beta columns, in the frame's order."""
    found = []
    for column in frame.columns:
        name = column.removesuffix(" (w0)") if column not in classes else column
        if name in classes and column in (name, f"{name} (w0)"):
            found.append((column, name))
    return found


def _rows(frame: pd.DataFrame, class_columns: list[str]) -> tuple[list[_Row], dict[int, str]]:
    """One row of cells per picker, and the numbered notes of failed pickers' errors."""
    rows, notes = [], {}
    for _, row in frame.iterrows():
        if pd.isna(row["score"]):
            number = len(notes) + 1
            error = str(row.get("status") or "").removeprefix("failed: ") or "no detail"
            notes[number] = f"{row['picker']} failed: {error}"
            score = f"{_FAILED} [{number}]"
        else:
            score = f"{row['score']:.4f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
        group = row.get("group")
        rows.append(
            _Row(
                rank=str(row["rank"]),
                picker=str(row["picker"]),
                label=str(row["picker"]),
                score=score,
                classes=[_number(row[column], ".2f") for column in class_columns],
                seconds=_number(row.get("s_per_tomogram"), ".2f"),
                group="—" if group is None or pd.isna(group) else str(int(group)),
                flag=str(row.get("flags") or ""),
            )
        )
    return rows, notes


def _fit(
    rows: list[_Row], headers: list[str], show_group: bool, width: int
) -> tuple[list[Table], dict[int, str]]:
    """The first layout whose tables all fit ``width``; the last one tried when none does.

    Picker labels are shortened only when splitting the classes off is not enough.
    """
    first_note = sum(row.score.startswith(_FAILED) for row in rows) + 1
    tables: list[Table] = []
    notes: dict[int, str] = {}
    for longest in (MAX_PICKER_LABEL, *_SHORTER_PICKER_LABELS):
        shown = [replace(row, label=_shortened(row.picker, longest)) for row in rows]
        for split in (False, True):
            tables, notes = _layout(shown, headers, show_group, width, split, first_note)
            if all(_width(table) <= width for table in tables):
                return tables, notes
    return tables, notes


def _layout(
    rows: list[_Row],
    headers: list[str],
    show_group: bool,
    width: int,
    split: bool,
    first_note: int,
) -> tuple[list[Table], dict[int, str]]:
    """The scores table (with the classes unless ``split``) and, if split, the class tables."""
    inline = headers if not split else []
    base = _scores_table(rows, inline, show_group, None)
    notes: dict[int, str] = {}
    if any(row.flag for row in rows):
        room = width - _width(base) - 1
        while True:
            flags, notes = _flag_cells(rows, room, first_note)
            table = _scores_table(rows, inline, show_group, flags)
            if _width(table) <= width or room <= len("flags"):
                break
            room -= 1
        base = table
    tables = [base]
    if split and headers:
        tables += _class_tables(rows, headers, width)
    return tables, notes


def _flag_cells(rows: list[_Row], room: int, first_note: int) -> tuple[list[str], dict[int, str]]:
    """Each row's flag cell (the flag when it fits ``room``, else ``[n]``) and the notes."""
    cells, notes = [], {}
    for row in rows:
        if cell_len(row.flag) <= room:
            cells.append(row.flag)
        else:
            number = first_note + len(notes)
            notes[number] = f"{row.picker}: {row.flag}"
            cells.append(f"[{number}]")
    return cells, notes


def _scores_table(
    rows: list[_Row], headers: list[str], show_group: bool, flags: list[str] | None
) -> Table:
    table = _table()
    _column(table, "#", "right")
    _column(table, "picker")
    _column(table, "score [95% CI]")
    for header in headers:
        _column(table, header, "right")
    _column(table, "s/tomo", "right")
    if show_group:
        _column(table, "group", "right")
    if flags is not None:
        _column(table, "flags")
    for index, row in enumerate(rows):
        cells = [row.rank, row.label, row.score, *row.classes[: len(headers)], row.seconds]
        if show_group:
            cells.append(row.group)
        if flags is not None:
            cells.append(flags[index])
        table.add_row(*cells)
    return table


def _class_tables(rows: list[_Row], headers: list[str], width: int) -> list[Table]:
    """Per-class F-beta tables (rank and picker repeated), as many classes in each as fit."""
    tables, start = [], 0
    while start < len(headers):
        stop = start + 1
        while (
            stop < len(headers) and _width(_classes_table(rows, headers, start, stop + 1)) <= width
        ):
            stop += 1
        tables.append(_classes_table(rows, headers, start, stop))
        start = stop
    return tables


def _classes_table(rows: list[_Row], headers: list[str], start: int, stop: int) -> Table:
    table = _table(title="F-beta per class")
    _column(table, "#", "right")
    _column(table, "picker")
    for header in headers[start:stop]:
        _column(table, header, "right")
    for row in rows:
        table.add_row(row.rank, row.label, *row.classes[start:stop])
    return table


def _table(title: str | None = None) -> Table:
    """A table without vertical rules: one space between columns, a rule under the header."""
    return Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 0),
    )


def _column(table: Table, header: str, justify: JustifyMethod = "left") -> None:
    """A column whose cells never wrap (an ellipsis if the console is narrower still)."""
    table.add_column(header, justify=justify, no_wrap=True, overflow="ellipsis")


def _width(table: Table) -> int:
    """The widest the table renders (no cell wrapped), in characters."""
    console = Console(width=10_000, file=io.StringIO())
    return Measurement.get(console, console.options, table).maximum


def _shortened(label: str, longest: int) -> str:
    return label if cell_len(label) <= longest else label[: longest - 1] + "…"


def _legend(
    columns: list[tuple[str, str]],
    labels: dict[str, str],
    classes: Mapping[str, Any],
    show_group: bool,
    full_table: str | None,
) -> list[str]:
    lines = []
    if columns:
        named = ", ".join(f"{labels[name]} = {name}" for _, name in columns)
        lines.append(f"classes (F-beta at each picker's thresholds): {named}")
        zero = [labels[name] for _, name in columns if classes[name]["weight"] == 0]
        if zero:
            lines.append(f"* weight 0: {', '.join(zero)} not counted in the score")
    explained = "s/tomo: median seconds per tomogram"
    if show_group:
        explained += "; group: pickers not significantly different from their group's best"
    lines.append(explained)
    if full_table:
        lines.append(
            f"full table (precision, recall, TP/FP/FN, training, best thresholds): {full_table}"
        )
    return lines


def _threshold_lines(frame: pd.DataFrame) -> list[str]:
    """How thresholds were set: once when every scored picker agrees, else per picker."""
    if "thresholds" not in frame:
        return []
    sources = {
        str(row["picker"]): row["thresholds"]
        for _, row in frame.iterrows()
        if isinstance(row["thresholds"], str)
    }
    if not sources:
        return []
    if len(set(sources.values())) == 1:
        return [f"thresholds: {next(iter(sources.values()))}"]
    return ["thresholds: " + "; ".join(f"{picker}: {how}" for picker, how in sources.items())]


def _comparison_lines(results: dict[str, Any]) -> list[str]:
    """What the paired comparisons can resolve, when there are some."""
    line = detectable_difference_line(results, short=True)
    return [line] if line else []


def _number(value: Any, spec: str) -> str:
    return "—" if value is None or pd.isna(value) else format(float(value), spec)
