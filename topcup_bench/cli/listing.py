"""``topcup-bench list datasets|pickers``: what topcup-bench knows."""

from __future__ import annotations

import sys

import click
import pandas as pd
from rich.console import Console
from rich.table import Table

from topcup_bench.datasets.catalog import describe_datasets
from topcup_bench.errors import TopcupBenchError
from topcup_bench.pickers import DEFAULT_PICKERS, PICKERS
from topcup_bench.pickers.protocol import TrainablePicker, parameter_defaults

__all__ = ["list_command", "describe_pickers"]


@click.command("list")
@click.argument("what", type=click.Choice(["datasets", "pickers"]))
def list_command(what: str) -> None:
    """List what topcup-bench knows: WHAT is 'datasets' or 'pickers'.

    Besides the listed datasets, any copick project (path to its config JSON),
    any Kaggle competition folder (kaggle:DIR) and any CZ cryoET Data Portal
    dataset (portal:ID, e.g. portal:10445; needs network access) can be used; pickers of
    other packages appear here once installed (entry-point group
    topcup_bench.pickers).
    """
    frame = describe_datasets() if what == "datasets" else describe_pickers()
    title = (
        "datasets (use with --dataset)" if what == "datasets" else "pickers (use with --pickers)"
    )
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column), overflow="fold")
    for row in frame.itertuples(index=False):
        table.add_row(*(str(value) for value in row))
    Console(file=sys.stdout, width=None if sys.stdout.isatty() else 160).print(table)


def describe_pickers() -> pd.DataFrame:
    """One row per registered picker: name, origin, description, parameters."""
    rows = []
    for name in PICKERS.names():
        try:
            picker_class = PICKERS.get(name)
            defaults = parameter_defaults(picker_class)
            description = picker_class.description
            kind = "trainable" if issubclass(picker_class, TrainablePicker) else "-"
        except TopcupBenchError as error:
            defaults, description, kind = {}, f"(cannot load: {error})", "?"
        rows.append(
            {
                "picker": name,
                "default": "yes" if name in DEFAULT_PICKERS else "",
                "origin": PICKERS.origin(name),
                "trainable": kind,
                "description": description,
                "parameters": ", ".join(f"{k}={v!r}" for k, v in defaults.items()),
            }
        )
    return pd.DataFrame(rows)
