"""``topcup-bench run``: score a set of pickers on a dataset and print the leaderboard."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console

from topcup_bench.benchmark_config import BenchmarkConfig, load_config
from topcup_bench.errors import InputError
from topcup_bench.executors import EXECUTORS
from topcup_bench.pickers import DEFAULT_PICKERS, parse_picker_spec, split_picker_list
from topcup_bench.reports.terminal import terminal_width
from topcup_bench.workflow import REPORT_FOLDER, REPORT_FORMATS, run_benchmark

__all__ = ["run_command", "REPORT_FOLDER", "REPORT_FORMATS"]

#: The default pickers depend on the install: topcup needs the topcup extra.
_TOPCUP_NOTE = (
    " (topcup: the TopCUP ensemble, trained with the quick budget)"
    if "topcup" in DEFAULT_PICKERS
    else "; topcup joins them when PyTorch and MONAI are installed (the topcup extra)"
)


@click.command("run")
@click.option(
    "--dataset",
    help="phantom:default (default), phantom:NAME, a copick config, kaggle:DIR, or "
    "portal:ID (CZ cryoET Data Portal; needs network access). See 'topcup-bench list datasets'.",
)
@click.option(
    "--pickers",
    "picker_specs",
    help="Comma-separated pickers, each NAME or NAME:key=value;key=value "
    f"[default: {','.join(DEFAULT_PICKERS)}{_TOPCUP_NOTE}]. See 'topcup-bench list pickers'. "
    "A label (label=NAME) is a plain name: letters, digits, '_', '-', '.', '+'.",
)
@click.option("--split", help="Runs to pick on: test (default), train or all.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder [default: topcup-bench-results]. It must be empty, missing, or "
    "written by an earlier 'topcup-bench run' of the same dataset (tracked by "
    "OUT/.topcup-bench-manifest.json); files of that run which this run does not produce "
    "are removed. Outputs are staged and moved in only when the run succeeded (a run in "
    "which no picker succeeded writes nothing); one run at a time per folder. Refused, "
    "even with --overwrite: the dataset's folder or the cache, inside or around them.",
)
@click.option(
    "--executor", type=click.Choice(EXECUTORS), help="serial (default), processes or dask."
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Worker processes [default: 2; at most 4 per CPU core, at least 8; never more than "
    "the runs to pick on].",
)
@click.option(
    "--scheduler",
    help="Address of an existing dask scheduler, tcp://HOST:PORT or HOST:PORT "
    "(needs --executor dask).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="TOML file declaring dataset, pickers with parameters, split and run options; "
    "command-line options win.",
)
@click.option(
    "--bootstrap", type=click.IntRange(min=1), help="Bootstrap resamples [default: 1000]."
)
@click.option(
    "--seed", type=click.IntRange(min=0), help="Seed of the bootstrap (>= 0) [default: 0]."
)
@click.option(
    "--write-copick",
    is_flag=True,
    default=None,
    help="Also write each picker's picks into the copick project (user = picker label with "
    "'_' written as '-', session 0); checked before any picker runs: refused for a dataset "
    "that is not a copick project, for the ground truth's user and session, and over "
    "existing picks unless --overwrite.",
)
@click.option(
    "--no-cache",
    "no_cache",
    is_flag=True,
    default=False,
    help="Recompute every picker instead of reusing cached picks.",
)
@click.option(
    "--no-tune-thresholds",
    "no_tune",
    is_flag=True,
    default=False,
    help="Use each picker's default thresholds instead of choosing them out of sample "
    "(best on held-out train runs, or cross-validated over the scored runs).",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Accept an --out holding results of another dataset, the output of another command, "
    "or files topcup-bench did not write: those at the paths this run writes are replaced, "
    "the others are left untouched. With --write-copick: replace existing picks of the "
    "pickers' copick users (never the ground truth's).",
)
@click.option(
    "--no-report",
    "no_report",
    is_flag=True,
    default=False,
    help="Skip the Markdown and HTML report (written to OUT/report/ by default).",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def run_command(
    dataset,
    picker_specs,
    split,
    out,
    executor,
    workers,
    scheduler,
    config_path,
    bootstrap,
    seed,
    write_copick,
    no_cache,
    no_tune,
    overwrite,
    no_report,
    quiet,
) -> None:
    """Run pickers on a dataset and write results.json, leaderboard.md, the picks and a report.

    With no options: the embedded phantom benchmark (phantom:default, test split)
    and the default pickers.  Trainable pickers are trained on the train split,
    and each picker's operating point (per-class thresholds) is its best on
    held-out train runs, so that the test split is scored out of sample.  With
    no train runs to hold out (--split all) the thresholds are cross-validated
    over the scored runs (k = min(5, runs) folds: each fold at the best
    thresholds of the others, counts pooled); the leaderboard says how every
    picker's thresholds were set.
    Picks are cached per (picker, run): an interrupted run resumes, a repeated
    run is instant.  The Markdown and HTML report (leaderboard and figures, as
    'topcup-bench report' writes them) goes to OUT/report/ unless --no-report.

    Exit status: 0 when every picker was scored; 2, before any work, for bad
    input: an unknown picker name or parameter, a value of the wrong type or
    one a picker rejects when it is created, duplicate picker names; 1 when a
    picker failed later (a missing weights or picks file found while it is set
    up, an error while training or picking, picks naming none of the scored
    runs): it is marked failed with its reason and the others are scored.
    """
    pickers = None
    if picker_specs is not None:  # given, even empty: never silently the default set
        pickers = tuple(parse_picker_spec(item) for item in split_picker_list(picker_specs))
        if not pickers:
            raise InputError("--pickers", f"no picker given (found {picker_specs!r})")
    config = _with_options(
        config_path,
        dataset=dataset,
        pickers=pickers,
        split=split,
        out=out,
        executor=executor,
        workers=workers,
        scheduler=scheduler,
        bootstrap=bootstrap,
        seed=seed,
        write_copick=write_copick,
        cache=False if no_cache else None,
        tune_thresholds=False if no_tune else None,
    )
    summary = run_benchmark(
        config,
        overwrite=overwrite,
        progress=not quiet,
        report_formats=() if no_report else REPORT_FORMATS,
    )
    console = Console(file=sys.stdout, width=terminal_width(sys.stdout))
    console.print(summary.leaderboard(console.width))
    for line in summary.lines:  # only what was written (nothing when no picker succeeded)
        console.print(line, soft_wrap=True)
    if summary.failed:
        click.echo("failed pickers: " + json.dumps(summary.failed, ensure_ascii=False), err=True)
        raise SystemExit(1)


def _with_options(config_path: str | None, **options) -> BenchmarkConfig:
    """The ``--config`` file (if any) with the command-line options applied.

    A bad value names its flag (or the file and key, when it came from the file).
    """
    if config_path:
        return load_config(config_path, **options)
    try:
        return BenchmarkConfig().with_overrides(**options)
    except InputError as error:
        field = getattr(error, "field", None)
        if field is None:
            raise
        raise InputError(f"--{field}", error.detail) from None
