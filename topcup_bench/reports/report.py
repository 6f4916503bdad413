"""One report from one or more results files: a section per results file, a combined view,
and a Methods paragraph.

Both ``report.md`` and the self-contained ``report.html`` are rendered from the
same blocks, so they hold the same sections, tables, paragraphs and figure
numbers (one counter over the whole report, in reading order).  Figures are PNG
and SVG under ``OUT/figures`` (the central slices: PNG only), shown as images in
``report.md`` (relative paths) and embedded in ``report.html``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from topcup_bench.datasets.atomic import atomic_output
from topcup_bench.errors import InputError
from topcup_bench.output_folder import claim_output_folder
from topcup_bench.reports.diagnostics import diagnostic_figures
from topcup_bench.reports.leaderboard import (
    class_columns,
    detectable_difference_line,
    leaderboard_explanation,
    leaderboard_frame,
    leaderboard_table,
    results_warnings,
)
from topcup_bench.reports.methods import methods_paragraph
from topcup_bench.reports.plots import fbeta_bars, save_figure, score_heatmap, score_matrix
from topcup_bench.reports.render import (
    Block,
    Bullets,
    FigureBlock,
    Heading,
    Paragraph,
    TableBlock,
    to_csv,
    to_html,
    to_json,
    to_latex,
    to_markdown,
)
from topcup_bench.reports.run_slices import run_slice_figure
from topcup_bench.results import read_results

__all__ = ["FORMATS", "write_report", "render_report", "section_headings"]

FORMATS = ("md", "html", "csv", "json", "tex")


def write_report(
    results_paths: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    formats: Sequence[str] = FORMATS,
    *,
    overwrite: bool = False,
) -> list[Path]:
    """Write the report of ``results_paths`` into the owned folder ``out``; return its files.

    ``out`` follows the rules of :func:`topcup_bench.output_folder.claim_output_folder`:
    locked while writing, refused when it holds files topcup-bench did not
    write (or another command's output) unless ``overwrite``; the report is
    rendered into a staging folder and moved into ``out`` when complete, and
    files of the previous report that this one does not produce are removed.

    Raises
    ------
    OutputExistsError
        ``out`` is in use, or holds foreign files and ``overwrite`` is False.
    InputError
        ``out`` holds one of ``results_paths``, is (inside) the cache folder,
        or is inside another output folder (even with ``overwrite``).
    """
    _check_report_out(Path(os.path.realpath(os.fspath(out))), results_paths)
    with claim_output_folder(out, command="report", overwrite=overwrite) as folder:
        written = render_report(results_paths, folder.staging, formats)
        folder.commit()
    return [folder.out / path.relative_to(folder.staging) for path in written]


def _check_report_out(out: Path, results_paths: Sequence[str | os.PathLike[str]]) -> None:
    """Refuse an ``out`` that holds an input results file or is (in) the cache folder."""
    from topcup_bench.datasets.catalog import cache_dir
    from topcup_bench.output_location import check_out_location

    for path in results_paths:
        source = Path(os.path.realpath(os.fspath(path)))
        if source.is_relative_to(out):
            raise InputError(
                "--out",
                f"{out} holds the input {source}; write the report elsewhere, e.g. {out}-report",
            )
    check_out_location(out, {"the cache folder": cache_dir()})


def render_report(
    results_paths: Sequence[str | os.PathLike[str]],
    out: Path,
    formats: Sequence[str] = FORMATS,
    *,
    shown_paths: Sequence[str] | None = None,
) -> list[Path]:
    """Render the report of ``results_paths`` into the plain folder ``out``; return its files.

    One section per results file, headed by its dataset, file and run time
    (:func:`section_headings`: never two alike): the leaderboard with its
    explanation and warnings, then its figures (per-class F-beta bars, the
    diagnostic figures, the central slices of the first scored run).  With
    several files a combined view (datasets × pickers score table and
    heatmap).  Then "Methods" (:func:`~topcup_bench.reports.methods.methods_paragraph`
    of each file) and "Missing data" (figures that could not be drawn, and
    why).  Files in ``out`` with the same names are replaced; use
    :func:`write_report` for a folder a user may own.  ``shown_paths`` are the
    results files' names in the report (default ``results_paths``; ``run``
    renders from its staging folder but names the final ``OUT/results.json``).
    """
    documents = [(os.fspath(p), read_results(p)) for p in results_paths]
    shown = [os.fspath(p) for p in (shown_paths or results_paths)]
    out.mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    named = [(name, doc) for name, (_, doc) in zip(shown, documents, strict=True)]
    headings = section_headings(named)
    labels = _row_labels(named)
    blocks: list[Block] = [
        Heading("topcup-bench report", 1),
        Paragraph(
            f"{len(documents)} results file(s): {', '.join(shown)}. Figures are PNG under "
            "figures/ (SVG beside them), embedded in report.html."
        ),
    ]
    numbers = itertools.count(1)
    frames, written, notes, tex = {}, [], [], []
    for index, (path, results) in enumerate(documents):
        frame = leaderboard_frame(results)
        frames[labels[index]] = frame
        blocks += _leaderboard_blocks(headings[index], frame, results)
        figures, missing, files = _section_figures(results, frame, Path(path).parent, out, index)
        written += files
        blocks += [
            FigureBlock(next(numbers), f"{caption} — {labels[index]}", png)
            for caption, png in figures
        ]
        notes += [f"{headings[index]}: {m}" for m in missing]
        dataset = results["dataset"]
        tex.append(
            (
                frame,
                f"{headings[index]}. {len(dataset['runs'])} runs; F-beta (beta 4), competition "
                "rule, match radius 0.5 x R; per-class columns at each picker's own thresholds",
            )
        )
    matrix = score_matrix(frames)
    if len(documents) > 1:
        stem = out / "figures" / "heatmap"
        written += save_figure(score_heatmap(matrix, "Weighted score, datasets × pickers"), stem)
        cells = [
            (str(label), *("—" if pd.isna(v) else f"{v:.4f}" for v in row))
            for label, row in matrix.iterrows()
        ]
        blocks += [
            Heading(_COMBINED),
            Paragraph(_COMBINED_CAPTION),
            TableBlock(("dataset", *map(str, matrix.columns)), tuple(cells)),
            FigureBlock(next(numbers), _HEATMAP, stem.with_suffix(".png")),
        ]
    blocks.append(Heading("Methods"))
    for index, (_, results) in enumerate(documents):
        if len(documents) > 1:
            blocks.append(Heading(f"Methods: {headings[index]}", 3))
        blocks.append(Paragraph(methods_paragraph(results)))
    if notes:
        blocks += [Heading("Missing data"), Bullets(tuple(notes))]
    combined = pd.concat(
        [f.assign(dataset=label) for label, f in zip(labels, frames.values(), strict=True)],
        ignore_index=True,
    )
    outputs = {
        "md": lambda: to_markdown(blocks, out),
        "html": lambda: to_html(blocks, "topcup-bench report"),
        "csv": lambda: to_csv(combined),
        "json": lambda: to_json(combined),
        "tex": lambda: "\n".join(
            to_latex(f, caption, label=f"tab:leaderboard{i}") for i, (f, caption) in enumerate(tex)
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
        with atomic_output(path, overwrite=True) as temporary:
            temporary.write_text(outputs[fmt](), encoding="utf-8")
        written.append(path)
    return written


def section_headings(documents: Sequence[tuple[str, dict[str, Any]]]) -> list[str]:
    """One heading per results file, never two alike.

    ``"<dataset spec> (<split> split) — <file name> (run <created, UTC>)"``;
    when two would be equal the file is named with its folder
    (``run-a/results.json``), then with its position (``#2``).

    Parameters
    ----------
    documents : sequence of (str, dict)
        Each results file's path as shown, and its document.

    Examples
    --------
    >>> doc = {"dataset": {"spec": "phantom:tiny", "split": "test"},
    ...        "provenance": {"created": "2026-11-30T05:10:12+00:00"}}
    >>> section_headings([("a/results.json", doc), ("b/results.json", doc)])[1]
    'phantom:tiny (test split) — b/results.json (run 2026-11-30 05:10 UTC)'
    """

    def heading(path: str, results: dict[str, Any], file: str) -> str:
        dataset = results["dataset"]
        label = dataset.get("spec") or (dataset.get("identity") or {}).get("name") or "dataset"
        created = str((results.get("provenance") or {}).get("created") or "")
        when = f" (run {created[:16].replace('T', ' ')} UTC)" if created else ""
        return f"{label} ({dataset.get('split', '?')} split) — {file}{when}"

    first = [heading(p, r, Path(p).name) for p, r in documents]
    second = [
        h if first.count(h) == 1 else heading(p, r, Path(p).parent.name + "/" + Path(p).name)
        for h, (p, r) in zip(first, documents, strict=True)
    ]
    return [h if second.count(h) == 1 else f"{h} #{i + 1}" for i, h in enumerate(second)]


def _leaderboard_blocks(heading: str, frame: pd.DataFrame, results: dict[str, Any]) -> list[Block]:
    """A section's heading, leaderboard (secondary columns marked), explanation and warnings."""
    header, rows = leaderboard_table(frame)
    primary = {"rank", "picker", "score [95% CI]", "s / tomogram", "flags", *class_columns(frame)}
    if (frame["status"] != "ok").any():  # a failed picker's row says why only there
        primary.add("status")
    dataset = results["dataset"]
    blocks: list[Block] = [
        Heading(heading),
        Heading(
            f"Leaderboard: {dataset.get('spec') or dataset['identity'].get('name')} "
            f"({dataset['split']} split, {len(dataset['runs'])} runs)",
            3,
        ),
        Paragraph(leaderboard_explanation(results)),
        TableBlock(
            tuple(header),
            tuple(tuple(r) for r in rows),
            frozenset(name for name in header if name not in primary),
        ),
    ]
    resolution = detectable_difference_line(results)
    if resolution:
        blocks.append(Paragraph(resolution))
    warnings = results_warnings(results)
    if warnings:
        blocks.append(Bullets(tuple(warnings), "Warnings:"))
    return blocks


def _section_figures(
    results: dict[str, Any], frame: pd.DataFrame, folder: Path, out: Path, index: int
) -> tuple[list[tuple[str, Path]], list[str], list[Path]]:
    """Draw a section's figures: (caption, PNG) in order, what is missing, the files written."""
    stem = out / "figures" / f"fbeta_{index}"
    written = save_figure(fbeta_bars(frame, "Per-class F-beta at own thresholds"), stem)
    figures = [
        (
            "Per-class F-beta of each picker at its own thresholds, and the weighted score "
            "with its 95% bootstrap interval",
            stem.with_suffix(".png"),
        )
    ]
    extra, missing = diagnostic_figures(results, folder, out / "figures" / f"d{index}")
    for caption, png in extra.items():
        figures.append((caption, png))
        written += [png, png.with_suffix(".svg")]
    png = out / "figures" / f"slices_{index}.png"
    caption, missing_slices = run_slice_figure(results, folder, png)
    if caption is not None:
        figures.append((caption, png))
        written.append(png)
    return figures, [*missing, *missing_slices], written


_COMBINED = "Combined view: weighted score, datasets × pickers"
_COMBINED_CAPTION = (
    "Weighted F-beta (beta 4) at each picker's own thresholds, one row per results file; "
    "— where a picker failed or was not run."
)
_HEATMAP = "Weighted score of every picker on every dataset (combined view, heatmap)"


def _row_labels(documents: Sequence[tuple[str, dict[str, Any]]]) -> list[str]:
    """One unique label per results file: its dataset, then its folder, then its position."""
    headings = [
        f"{r['dataset'].get('spec') or r['dataset']['identity'].get('name')} "
        f"({r['dataset']['split']})"
        for _, r in documents
    ]
    labels = [
        h if headings.count(h) == 1 else f"{h} {Path(p).parent.name}"
        for h, (p, _) in zip(headings, documents, strict=True)
    ]
    return [
        label if labels.count(label) == 1 else f"{label} #{i + 1}" for i, label in enumerate(labels)
    ]
