"""``topcup-bench compare BASE NEW``: differences and regression gates for CI."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.table import Table

from topcup_bench.reports.compare import check_gate_options, compare_results
from topcup_bench.results import read_results

__all__ = ["compare_command"]


@click.command("compare")
@click.argument("base", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
@click.option(
    "--score-tolerance",
    type=float,
    default=0.01,
    show_default=True,
    help="Largest acceptable score drop per picker.",
)
@click.option(
    "--time-ratio",
    type=float,
    default=1.5,
    show_default=True,
    help="Largest acceptable slow-down (seconds per tomogram, new / base).",
)
@click.option(
    "--use-interval",
    is_flag=True,
    help="Regression = score below the base's bootstrap interval (instead of the tolerance).",
)
def compare_command(base, new, score_tolerance, time_ratio, use_interval) -> None:
    """Compare two results.json files of the same dataset.

    Prints a per-picker, per-class table of differences.  Exit status 1 when a
    picker's score dropped beyond the tolerance (or the interval), its score is
    missing (null), a picker became slower than the ratio, or a picker failed or
    disappeared; 0 otherwise.  Exit status 2 when the files cannot be compared:
    malformed (the message names the file and the field; e.g. a score or
    interval outside [0, 1], NaN, or a picker listed twice), of different
    datasets (content digest, split or runs), scored with different metric
    parameters (rule, beta, distance multiplier), or a tolerance or ratio that
    is NaN, infinite or out of range.
    """
    check_gate_options(score_tolerance, time_ratio, names=("--score-tolerance", "--time-ratio"))
    comparison = compare_results(
        read_results(base),
        read_results(new),
        score_tolerance=score_tolerance,
        time_ratio=time_ratio,
        use_interval=use_interval,
    )
    table = Table(title=f"{new} vs {base}")
    for column in comparison.table.columns:
        table.add_column(column, justify="left" if column in ("picker", "quantity") else "right")
    for row in comparison.table.itertuples(index=False):
        table.add_row(*(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row))
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 140)
    console.print(table)
    if comparison.regressed:
        for reason in comparison.regressions:
            click.echo(f"REGRESSION {reason}", err=True)
        raise SystemExit(1)
    click.echo("no regression")
