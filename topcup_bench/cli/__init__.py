"""The ``topcup-bench`` command line: one file per subcommand, each a thin shell.

Exit status:

- 0 on success;
- 1 for a finding (``compare`` found a regression, a picker failed in ``run``)
  and for an unexpected failure: one line ``error: unexpected ...`` asking for
  a report (set ``TOPCUP_BENCH_DEBUG=1`` to see the Python traceback);
- 2 when the command could not do its job: bad input or usage (the message
  names the file or flag, the field and the value), an output it refuses to
  overwrite, and the machine refusing: disk full, read-only or forbidden
  output (one line ``error: cannot write PATH: No space left on device``),
  or memory exhausted.

No Python traceback reaches the user unless ``TOPCUP_BENCH_DEBUG=1`` is set.
"""

from __future__ import annotations

import errno
import os
import sys
import warnings

import click

import topcup_bench.quiet as quiet  # first: before anything imports matplotlib
from topcup_bench import __version__
from topcup_bench.cli.cache import cache_command
from topcup_bench.cli.compare import compare_command
from topcup_bench.cli.listing import list_command
from topcup_bench.cli.phantom import phantom_command
from topcup_bench.cli.report import report_command
from topcup_bench.cli.run import run_command
from topcup_bench.cli.score import score_command
from topcup_bench.cli.train import train_command
from topcup_bench.errors import TopcupBenchError, TopcupBenchWarning, short_repr

__all__ = ["main", "cli"]

INPUT_ERROR_EXIT = 2
UNEXPECTED_EXIT = 1
#: Environment variable that lets unexpected errors show their traceback.
DEBUG_VARIABLE = "TOPCUP_BENCH_DEBUG"

#: errno values that mean "this output cannot be written here".
_WRITE_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EFBIG}


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
cli.add_command(cache_command)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, TopcupBenchWarning):
        click.echo(f"warning: {message}", err=True)
    else:
        click.echo(
            warnings.formatwarning(message, category, filename, lineno, line), err=True, nl=False
        )


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status instead of raising it."""
    with warnings.catch_warnings(), quiet.quiet_library_logging():
        warnings.simplefilter("always", TopcupBenchWarning)
        quiet.ignore_unactionable_warnings()
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
    except OSError as error:
        if _debug():
            raise
        click.echo(f"error: {_os_message(error)}", err=True)
        return INPUT_ERROR_EXIT
    except MemoryError as error:
        if _debug():
            raise
        detail = short_repr(str(error), 200)[1:-1] if str(error) else "no detail"
        click.echo(
            f"error: out of memory ({detail}); use a smaller input, preset or --bootstrap, "
            "or fewer --workers",
            err=True,
        )
        return INPUT_ERROR_EXIT
    except Exception as error:  # the last line of defence: no traceback
        if _debug():
            raise
        click.echo(
            f"error: unexpected {type(error).__name__}: {short_repr(str(error), 300)[1:-1]} "
            f"(please report; run with {DEBUG_VARIABLE}=1 for the traceback)",
            err=True,
        )
        return UNEXPECTED_EXIT
    return status if isinstance(status, int) else 0


def _debug() -> bool:
    return os.environ.get(DEBUG_VARIABLE, "").strip() not in ("", "0")


def _os_message(error: OSError) -> str:
    """One line: ``cannot write PATH: No space left on device`` (or read, or access)."""
    reason = error.strerror or str(error) or type(error).__name__
    path = error.filename if error.filename is not None else error.filename2
    if path is None:
        return f"{reason} ({type(error).__name__})"
    if error.errno in _WRITE_ERRORS:
        return f"cannot write {os.fsdecode(path)}: {reason}"
    if error.errno in (errno.EACCES, errno.EPERM):
        return f"cannot access {os.fsdecode(path)}: {reason} (check the permissions)"
    return f"{os.fsdecode(path)}: {reason}"


def entry_point() -> None:
    """Console-script entry point."""
    sys.exit(main())
