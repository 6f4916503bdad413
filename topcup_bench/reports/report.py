"""One report from one or more results files: a section per dataset and a combined view.

Figures are PNG and SVG under ``OUT/figures`` (the central slices: PNG only),
listed in ``report.md`` and embedded in the self-contained ``report.html``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from topcup_bench.datasets.atomic import atomic_output
from topcup_bench.errors import InputError
from topcup_bench.output_folder import claim_output_folder
from topcup_bench.reports.diagnostics import diagnostic_figures
from topcup_bench.reports.leaderboard import (
    leaderboard_frame,
    render_leaderboard_markdown,
    results_warnings,
)
from topcup_bench.reports.plots import (
    fbeta_bars,
    figure_data_uri,
    save_figure,
    score_heatmap,
    score_matrix,
)
from topcup_bench.reports.render import to_csv, to_html, to_json, to_latex
from topcup_bench.reports.run_slices import run_slice_figure
from topcup_bench.results import read_results

__all__ = ["FORMATS", "write_report", "render_report"]

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

    One section per results file (leaderboard, per-class F-beta bars, the
    diagnostic figures and the central slices of the first scored run); with
    several files a combined view (datasets × pickers score table and heatmap).
    Figures whose data are missing are listed under "Missing data".  Files in
    ``out`` with the same names are replaced; use :func:`write_report` for a
    folder a user may own.  ``shown_paths`` are the results files' names in
    the report (default ``results_paths``; ``run`` renders from its staging
    folder but names the final ``OUT/results.json``).
    """
    documents = [(os.fspath(p), read_results(p)) for p in results_paths]
    shown = [os.fspath(p) for p in (shown_paths or results_paths)]
    out.mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    sections, frames, figures, written, notes = [], {}, {}, [], []
    cautions: list[str] = []  # in report.md they follow each leaderboard; in HTML, listed
    labels = _row_labels([(name, doc[1]) for name, doc in zip(shown, documents, strict=True)])
    for index, (path, results) in enumerate(documents):
        frame = leaderboard_frame(results)
        dataset = results["dataset"]
        label = dataset.get("spec") or dataset["identity"].get("name")
        heading = f"{label} ({dataset['split']} split)"
        caption = (
            f"{shown[index]}: {len(dataset['runs'])} runs; F-beta (beta 4), competition rule, "
            "match radius 0.5 x R; per-class columns at each picker's own thresholds"
        )
        sections.append((heading, frame, caption, results))
        frames[labels[index]] = frame
        stem = out / "figures" / f"fbeta_{index}"
        written += save_figure(fbeta_bars(frame, heading), stem)
        figures[f"Figure {index + 1}: per-class F-beta, {heading}"] = stem.with_suffix(".png")
        extra, missing = diagnostic_figures(
            results, Path(path).parent, out / "figures" / f"d{index}"
        )
        for name, png in extra.items():
            figures[f"Figure {index + 1}: {name}, {heading}"] = png
            written += [png, png.with_suffix(".svg")]
        png = out / "figures" / f"slices_{index}.png"
        name, missing_slices = run_slice_figure(results, Path(path).parent, png)
        if name is not None:
            figures[f"Figure {index + 1}: {name}, {heading}"] = png
            written.append(png)
        notes += [f"{heading}: {m}" for m in [*missing, *missing_slices]]
        cautions += [f"{heading}: {m}" for m in results_warnings(results)]
    matrix = score_matrix(frames)
    if len(documents) > 1:
        stem = out / "figures" / "heatmap"
        written += save_figure(score_heatmap(matrix, "Weighted score, datasets × pickers"), stem)
        figures = {_HEATMAP: stem.with_suffix(".png"), **figures}
    combined = pd.concat(
        [f.assign(dataset=s[0]) for f, s in zip(frames.values(), sections, strict=True)],
        ignore_index=True,
    )
    uris = {caption: figure_data_uri(png) for caption, png in figures.items()}
    tables = [(h, f, c) for h, f, c, _ in sections]
    if len(documents) > 1:
        tables.append((_COMBINED, matrix.reset_index(names="dataset"), _COMBINED_CAPTION))
    outputs = {
        "md": lambda: (
            "\n".join(render_leaderboard_markdown(f, r) for _, f, _, r in sections)
            + (_markdown_combined(matrix) if len(documents) > 1 else "")
            + _markdown_figures(figures, out, notes)
        ),
        "html": lambda: to_html(tables, "topcup-bench report", uris, [*cautions, *notes]),
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
        with atomic_output(path, overwrite=True) as temporary:
            temporary.write_text(outputs[fmt](), encoding="utf-8")
        written.append(path)
    return written


_COMBINED = "Combined view: weighted score, datasets × pickers"
_COMBINED_CAPTION = (
    "Weighted F-beta (beta 4) at each picker's own thresholds, one row per results file; "
    "— where a picker failed or was not run."
)
_HEATMAP = "Combined view: weighted score of every picker on every dataset (heatmap)"


def _row_labels(documents: list[tuple[str, dict]]) -> list[str]:
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


def _markdown_combined(matrix: pd.DataFrame) -> str:
    header = ["dataset", *map(str, matrix.columns)]
    lines = ["", f"## {_COMBINED}", "", _COMBINED_CAPTION, ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for label, row in matrix.iterrows():
        cells = ["—" if pd.isna(v) else f"{v:.4f}" for v in row]
        lines.append("| " + " | ".join([str(label), *cells]) + " |")
    return "\n".join(lines) + "\n"


def _markdown_figures(figures: dict[str, Path], out: Path, notes: list[str]) -> str:
    lines = [
        "",
        "## Figures",
        "",
        "PNG under figures/ (SVG beside them), embedded in report.html.",
        "",
    ]
    for caption, png in figures.items():
        files = [png.relative_to(out).as_posix()]
        files += ["SVG"] if png.with_suffix(".svg").is_file() else []
        lines.append(f"- {caption} ({', '.join(files)})")
    if notes:
        lines += ["", "## Missing data", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"
