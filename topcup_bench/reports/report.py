"""One report from one or more results files: a section per dataset and a combined view."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from topcup_bench.datasets.atomic import atomic_output
from topcup_bench.reports.diagnostics import diagnostic_figures
from topcup_bench.reports.leaderboard import leaderboard_frame, render_leaderboard_markdown
from topcup_bench.reports.plots import fbeta_bars, figure_data_uri, save_figure
from topcup_bench.reports.render import to_csv, to_html, to_json, to_latex
from topcup_bench.results import read_results

__all__ = ["FORMATS", "write_report"]

FORMATS = ("md", "html", "csv", "json", "tex")


def write_report(
    results_paths: Sequence[str | os.PathLike[str]],
    out: Path,
    formats: Sequence[str] = FORMATS,
    *,
    overwrite: bool = True,
) -> list[Path]:
    """Write the report of ``results_paths`` into ``out``; return the files written."""
    documents = [(os.fspath(p), read_results(p)) for p in results_paths]
    out.mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    sections, frames, figures, written, notes = [], [], {}, [], []
    for index, (path, results) in enumerate(documents):
        frame = leaderboard_frame(results)
        dataset = results["dataset"]
        heading = f"{dataset.get('spec') or dataset.get('name')} ({dataset['split']} split)"
        caption = (
            f"{path}: {len(dataset['runs'])} runs; F-beta (beta 4), competition rule, "
            "match radius 0.5 x R; per-class columns at each picker's own thresholds"
        )
        sections.append((heading, frame, caption, results))
        frames.append(frame.assign(dataset=heading))
        stem = out / "figures" / f"fbeta_{index}"
        written += save_figure(fbeta_bars(frame, heading), stem)
        figures[f"Figure {index + 1}: per-class F-beta, {heading}"] = figure_data_uri(
            stem.with_suffix(".png")
        )
        extra, missing = diagnostic_figures(
            results, Path(path).parent, out / "figures" / f"d{index}"
        )
        for caption, png in extra.items():
            figures[f"Figure {index + 1}: {caption}, {heading}"] = figure_data_uri(png)
            written += [png, png.with_suffix(".svg")]
        notes += [f"{heading}: {m}" for m in missing]
    combined = pd.concat(frames, ignore_index=True)
    outputs = {
        "md": lambda: (
            "\n".join(render_leaderboard_markdown(f, r) for _, f, _, r in sections)
            + _markdown_figures(figures, out, notes)
        ),
        "html": lambda: to_html(
            [(h, f, c) for h, f, c, _ in sections], "topcup-bench report", figures, notes
        ),
        "csv": lambda: to_csv(combined),
        "json": lambda: to_json(combined),
        "tex": lambda: "\n".join(
            to_latex(f, f"{h}. {c}", label=f"tab:leaderboard{i}")
            for i, (h, f, c, _) in enumerate(sections)
        ),
    }
    names = {
        "md": "report.md",
        "html": "report.html",
        "csv": "leaderboard.csv",
        "json": "leaderboard.json",
        "tex": "leaderboard.tex",
    }
    for fmt in formats:
        path = out / names[fmt]
        with atomic_output(path, overwrite=overwrite) as temporary:
            temporary.write_text(outputs[fmt](), encoding="utf-8")
        written.append(path)
    return written


def _markdown_figures(figures: dict[str, str], out: Path, notes: list[str]) -> str:
    lines = ["", "## Figures", ""]
    for caption in figures:
        lines.append(f"- {caption} (figures/, PNG and SVG; embedded in report.html)")
    if notes:
        lines += ["", "## Missing data", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"
