"""``topcup-bench report RESULTS...``: leaderboards and figures from results files."""

from __future__ import annotations

from pathlib import Path

import click

from topcup_bench.errors import InputError
from topcup_bench.reports.report import FORMATS, write_report

__all__ = ["report_command"]


@click.command("report")
@click.argument("results", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("topcup-bench-report"),
    show_default=True,
    help="Output folder. It must be empty, missing, or written by an earlier "
    "'topcup-bench report' (tracked by OUT/.topcup-bench-manifest.json); files of that "
    "report which this one does not produce are removed. The report is staged and moved "
    "in when complete; one command at a time per folder. Refused, even with --overwrite: "
    "a folder holding one of the RESULTS files, inside another output folder (a run's own "
    "report/ is rewritten by 'topcup-bench run'), or in the cache.",
)
@click.option(
    "--format",
    "formats",
    default=",".join(FORMATS),
    show_default=True,
    help="Comma-separated: md, html, csv, json, tex.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Accept an --out holding files topcup-bench did not write, or another command's "
    "output: those at the paths the report writes are replaced, the others are left untouched.",
)
def report_command(results, out, formats, overwrite) -> None:
    """Write a report of one or more results.json files (several datasets or versions).

    One section per results file and a combined table; figures as PNG and SVG
    under OUT/figures; the HTML page is self-contained (figures embedded).
    """
    chosen = [f.strip() for f in formats.split(",") if f.strip()]
    if not chosen:
        raise InputError(
            "--format", f"no format given ({formats!r}); choose from {', '.join(FORMATS)}"
        )
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown:
        raise InputError("--format", f"unknown format(s) {unknown}; choose from {list(FORMATS)}")
    for path in write_report(results, out, chosen, overwrite=overwrite):
        click.echo(str(path))
