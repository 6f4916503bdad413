"""``topcup-bench list datasets``: the embedded phantom datasets and generator presets."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.table import Table

from topcup_bench.datasets.catalog import describe_datasets

__all__ = ["list_command"]


@click.command("list")
@click.argument("what", type=click.Choice(["datasets"]))
def list_command(what: str) -> None:
    """List what topcup-bench knows: WHAT is ``datasets``.

    Besides these, any copick project (path to its config JSON) and any Kaggle
    competition folder (``kaggle:DIR``) can be used as a dataset.
    """
    frame = describe_datasets()
    table = Table(title="datasets (use with --dataset)")
    for column in frame.columns:
        table.add_column(str(column), overflow="fold")
    for row in frame.itertuples(index=False):
        table.add_row(*(str(value) for value in row))
    Console(file=sys.stdout, width=None if sys.stdout.isatty() else 160).print(table)
