"""Render leaderboard DataFrames as CSV, JSON, LaTeX (booktabs) and a self-contained HTML page.

The renderers only format: the numbers come from
:func:`topcup_bench.reports.leaderboard.leaderboard_frame`, computed once.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

import pandas as pd

__all__ = ["to_csv", "to_json", "to_latex", "to_html"]

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


def to_html(
    sections: list[tuple[str, pd.DataFrame, str]],
    title: str,
    figures: dict[str, str] | None = None,
    notes: list[str] | None = None,
) -> str:
    """A self-contained HTML page: one sortable table per section, figures embedded.

    Parameters
    ----------
    sections : list of (heading, frame, caption)
    title : str
    figures : dict of str to str, optional
        Caption → ``data:image/png;base64,...`` URI (no network assets).
    notes : list of str, optional
        What could not be shown and why (listed under "Missing data").
    """
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for index, (heading, frame, caption) in enumerate(sections):
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts.append(f'<p class="caption">{html.escape(caption)}</p>')
        parts.append(_html_table(frame, f"table{index}"))
    for caption, uri in (figures or {}).items():
        parts.append(
            f'<figure><img alt="{html.escape(caption)}" src="{uri}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    if notes:
        parts.append("<h2>Missing data</h2><ul>")
        parts += [f"<li>{html.escape(note)}</li>" for note in notes]
        parts.append("</ul>")
    parts.append(f"<script>{_SORT_JS}</script></body></html>")
    return "\n".join(parts) + "\n"


def _html_table(frame: pd.DataFrame, identifier: str) -> str:
    head = "".join(
        f"<th onclick=\"sortTable('{identifier}', {i})\">{html.escape(str(c))}</th>"
        for i, c in enumerate(frame.columns)
    )
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return (
        f'<div class="scroll"><table id="{identifier}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


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


_CSS = (
    "body{font-family:sans-serif;margin:2em;max-width:1400px}"
    "table{border-collapse:collapse;font-size:0.8em}.scroll{overflow-x:auto}"
    "th,td{border-bottom:1px solid #ccc;padding:3px 5px;text-align:right}"
    "th{cursor:pointer;background:#f3f3f3}td:nth-child(2),th:nth-child(2){text-align:left}"
    ".caption{color:#444}figure{margin:1em 0}img{max-width:100%}"
)
_SORT_JS = (
    "function sortTable(id,col){var t=document.getElementById(id),b=t.tBodies[0],"
    "r=Array.from(b.rows),asc=t.dataset.col==col&&t.dataset.dir!='asc';"
    "r.sort(function(a,c){var x=a.cells[col].innerText,y=c.cells[col].innerText,"
    "p=parseFloat(x),q=parseFloat(y);var v=(!isNaN(p)&&!isNaN(q))?p-q:x.localeCompare(y);"
    "return asc?v:-v});r.forEach(function(e){b.appendChild(e)});"
    "t.dataset.col=col;t.dataset.dir=asc?'asc':'desc'}"
)
