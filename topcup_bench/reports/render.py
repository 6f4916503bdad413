"""Render a report: leaderboard DataFrames as CSV, JSON and LaTeX (booktabs); the report as
Markdown and as a self-contained HTML page.

The renderers only format: the numbers come from
:func:`topcup_bench.reports.leaderboard.leaderboard_frame`, computed once.  A
report is a sequence of blocks (:class:`Heading`, :class:`Paragraph`,
:class:`Bullets`, :class:`TableBlock`, :class:`FigureBlock`) that
:func:`to_markdown` and :func:`to_html` render in the same order, so both
files say the same things with the same figure numbers.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "Block",
    "Bullets",
    "FigureBlock",
    "Heading",
    "Paragraph",
    "TableBlock",
    "to_csv",
    "to_html",
    "to_json",
    "to_latex",
    "to_markdown",
]


@dataclass(frozen=True)
class Heading:
    """A heading; ``level`` 1 is the page title."""

    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of plain text."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A bulleted list, with an optional line above it (e.g. "Warnings:")."""

    items: tuple[str, ...]
    title: str = ""


@dataclass(frozen=True)
class TableBlock:
    """A table of formatted cells.

    ``secondary`` names the columns the HTML page hides until its "show all
    columns" box is ticked; Markdown shows every column.
    """

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    secondary: frozenset[str] = frozenset()


@dataclass(frozen=True)
class FigureBlock:
    """A figure: its number in the report, its caption and its PNG (an SVG may lie beside it)."""

    number: int
    caption: str
    png: Path

    @property
    def label(self) -> str:
        """``"Figure N: caption"``."""
        return f"Figure {self.number}: {self.caption}"


Block = Heading | Paragraph | Bullets | TableBlock | FigureBlock

_LATEX_SPECIAL = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
}


def to_csv(frame: pd.DataFrame) -> str:
    """CSV with a header row; missing values empty."""
    return frame.to_csv(index=False)


def to_json(frame: pd.DataFrame) -> str:
    """JSON list of row objects; missing values ``null``."""
    records = [
        {k: (None if _missing(v) else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]
    return json.dumps(records, indent=2, default=str) + "\n"


def to_latex(frame: pd.DataFrame, caption: str, label: str = "tab:leaderboard") -> str:
    """A booktabs ``table`` environment ready for a paper (needs ``\\usepackage{booktabs}``)."""
    columns = list(frame.columns)
    align = "".join("r" if pd.api.types.is_numeric_dtype(frame[c]) else "l" for c in columns)
    lines = [
        r"\begin{table}[ht]",
        r"\centering",
        r"\small",
        rf"\begin{{tabular}}{{{align}}}",
        r"\toprule",
        " & ".join(_latex(c) for c in columns) + r" \\",
        r"\midrule",
    ]
    for row in frame.itertuples(index=False):
        lines.append(" & ".join(_latex(_fmt(v)) for v in row) + r" \\")
    lines += [
        r"\bottomrule",
        r"\end{tabular}",
        rf"\caption{{{_latex(caption)}}}",
        rf"\label{{{label}}}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def to_markdown(blocks: Sequence[Block], base: Path) -> str:
    """Markdown of a report: headings, paragraphs, lists, tables, and figures as images.

    Parameters
    ----------
    blocks : sequence of Block
        The report, in reading order.
    base : pathlib.Path
        Folder of the Markdown file: figure paths are written relative to it.
    """
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Bullets):
            items = "\n".join(f"- {item}" for item in block.items)
            parts.append(f"{block.title}\n\n{items}" if block.title else items)
        elif isinstance(block, TableBlock):
            lines = [_markdown_row(block.header), "|" + "|".join("---" for _ in block.header) + "|"]
            parts.append("\n".join(lines + [_markdown_row(row) for row in block.rows]))
        else:
            png = block.png.relative_to(base).as_posix()
            svg = block.png.with_suffix(".svg")
            line = f"*{block.label}.*"
            if svg.is_file():
                vector = svg.relative_to(base).as_posix()
                line += f" SVG: [{vector}]({vector})"
            parts.append(f"![{block.label}]({png})\n\n{line}")
    return "\n\n".join(parts) + "\n"


def to_html(blocks: Sequence[Block], title: str) -> str:
    """A self-contained HTML page of a report: figures embedded, no network assets.

    Tables sort on a click on their header.  A table with ``secondary``
    columns shows only its primary ones until its "show all columns" box is
    ticked (CSS only), so that the page fits 1280 px.

    Parameters
    ----------
    blocks : sequence of Block
        The report, in reading order.
    title : str
        The page's title (the ``<title>`` element).
    """
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
    ]
    tables = 0
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            parts.append(f'<p class="caption">{html.escape(block.text)}</p>')
        elif isinstance(block, Bullets):
            title_html = f"<p>{html.escape(block.title)}</p>" if block.title else ""
            items = "".join(f"<li>{html.escape(item)}</li>" for item in block.items)
            parts.append(f"{title_html}<ul>{items}</ul>")
        elif isinstance(block, TableBlock):
            parts.append(_html_table(block, f"table{tables}"))
            tables += 1
        else:
            parts.append(
                f'<figure><img alt="{html.escape(block.label)}" src="{_data_uri(block.png)}">'
                f"<figcaption><b>Figure {block.number}.</b> {html.escape(block.caption)}"
                "</figcaption></figure>"
            )
    parts.append(f"<script>{_SORT_JS}</script></body></html>")
    return "\n".join(parts) + "\n"


def _markdown_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def _html_table(table: TableBlock, identifier: str) -> str:
    hidden = [i for i, name in enumerate(table.header) if name in table.secondary]

    def cell(tag: str, i: int, text: str, extra: str = "") -> str:
        kinds = ["secondary"] if i in hidden else []
        if len(text) > _LONG_CELL:  # sentences (flags, thresholds) wrap; numbers never do
            kinds.append("long")
        kind = f' class="{" ".join(kinds)}"' if kinds else ""
        return f"<{tag}{kind}{extra}>{html.escape(text)}</{tag}>"

    head = "".join(
        cell("th", i, name, f' onclick="sortTable(\'{identifier}\', {i})" title="sort"')
        for i, name in enumerate(table.header)
    )
    body = "".join(
        "<tr>" + "".join(cell("td", i, text) for i, text in enumerate(row)) + "</tr>"
        for row in table.rows
    )
    toggle = ""
    if hidden:
        names = ", ".join(table.header[i] for i in hidden)
        toggle = (
            f'<input type="checkbox" class="more" id="{identifier}-more">'
            f'<label for="{identifier}-more">show all columns (adds: {html.escape(names)})</label>'
        )
    return (
        f'{toggle}<div class="scroll"><table id="{identifier}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _data_uri(png: Path) -> str:
    """A ``data:`` URI embedding a PNG file (for self-contained HTML)."""
    encoded = base64.b64encode(Path(png).read_bytes()).decode("ascii")
    return f"data:image/png;base64,{encoded}"


def _missing(value: Any) -> bool:
    """None, NaN or pandas' NA (missing integer counts)."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _fmt(value: Any) -> str:
    if _missing(value):
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _latex(text: Any) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text)).replace("—", "--")


_LONG_CELL = 24
_CSS = (
    "body{font-family:sans-serif;margin:1em auto;padding:0 16px;max-width:1400px;"
    "line-height:1.35}"
    "table{border-collapse:collapse;font-size:0.8em}.scroll{overflow-x:auto}"
    "th,td{border-bottom:1px solid #ccc;padding:3px 6px;text-align:right;vertical-align:top}"
    "td{white-space:nowrap}td.long{white-space:normal;min-width:14em}"
    "th{cursor:pointer;background:#f3f3f3;font-weight:600}"
    "td:nth-child(2),th:nth-child(2),td:last-child,th:last-child{text-align:left}"
    ".secondary{display:none}.more:checked+label+.scroll .secondary{display:table-cell}"
    ".more+label{font-size:0.85em;color:#333;cursor:pointer}"
    ".caption{color:#444;max-width:75em}figure{margin:1.2em 0}img{max-width:100%}"
    "figcaption{color:#333;max-width:75em}"
)
_SORT_JS = (
    "function sortTable(id,col){var t=document.getElementById(id),b=t.tBodies[0],"
    "r=Array.from(b.rows),asc=t.dataset.col==col&&t.dataset.dir!='asc';"
    "r.sort(function(a,c){var x=a.cells[col].innerText,y=c.cells[col].innerText,"
    "p=parseFloat(x),q=parseFloat(y);var v=(!isNaN(p)&&!isNaN(q))?p-q:x.localeCompare(y);"
    "return asc?v:-v});r.forEach(function(e){b.appendChild(e)});"
    "t.dataset.col=col;t.dataset.dir=asc?'asc':'desc'}"
)
