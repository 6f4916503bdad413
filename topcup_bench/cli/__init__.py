"""The ``topcup-bench`` command line: one file per subcommand, each a thin shell.

Exit status: 0 on success, 2 for bad input or usage (the message names the
file, field and value), 1 for an unexpected failure.
"""

from __future__ import annotations

import sys
import warnings

import click

from topcup_bench import __version__
from topcup_bench.cli.compare import compare_command
from topcup_bench.cli.listing import list_command
from topcup_bench.cli.phantom import phantom_command
from topcup_bench.cli.report import report_command
from topcup_bench.cli.run import run_command
from topcup_bench.cli.score import score_command
from topcup_bench.cli.train import train_command
from topcup_bench.errors import TopcupBenchError, TopcupBenchWarning

__all__ = ["main", "cli"]

INPUT_ERROR_EXIT = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="topcup-bench")
def cli() -> None:
    """Benchmark cryo-ET particle pickers with the CZII competition metric."""


cli.add_command(run_command)
cli.add_command(score_command)
cli.add_command(phantom_command)
cli.add_command(list_command)
cli.add_command(compare_command)
cli.add_command(report_command)
cli.add_command(train_command)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, TopcupBenchWarning):
        click.echo(f"warning: {message}", err=True)
    else:
        click.echo(
            warnings.formatwarning(message, category, filename, lineno, line), err=True, nl=False
        )


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status instead of raising it."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", TopcupBenchWarning)
        warnings.showwarning = _show_warning
        return _run(argv)


def _run(argv: list[str] | None) -> int:
    try:
        status = cli.main(args=argv, prog_name="topcup-bench", standalone_mode=False)
    except TopcupBenchError as error:
        click.echo(f"error: {error}", err=True)
        return INPUT_ERROR_EXIT
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except SystemExit as exit_:  # --help and --version
        return int(exit_.code or 0)
    return status if isinstance(status, int) else 0


def entry_point() -> None:
    """Console-script entry point."""
    sys.exit(main())
