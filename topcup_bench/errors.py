"""Exception and warning types of topcup-bench.

Every error raised for bad input names the source (a file path or a table
role such as ``"picks"``), the field, what was expected and what was found,
so that a user can fix the input without reading our code.  The command line
turns any :class:`TopcupBenchError` into a one-paragraph message and a
non-zero exit status.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = [
    "TopcupBenchError",
    "InputError",
    "SchemaError",
    "UnknownParticleError",
    "NonFiniteCoordinatesError",
    "DuplicateTruthError",
    "EmptyInputError",
    "CopickSourceError",
    "OutputExistsError",
    "PortalUnreachableError",
    "TopcupBenchWarning",
    "UnitsWarning",
    "did_you_mean",
    "short_repr",
]


class TopcupBenchError(Exception):
    """Base class of every error topcup-bench raises on purpose."""


class InputError(TopcupBenchError, ValueError):
    """Bad input data: a file or a table that cannot be used as given.

    Parameters
    ----------
    source : str
        Where the input came from: a path, or a role such as ``"truth"``.
    message : str
        What is wrong: the field, what was expected and what was found.
    """

    def __init__(self, source: str, message: str) -> None:
        self.source = str(source)
        self.detail = message
        super().__init__(f"{self.source}: {message}")


class SchemaError(InputError):
    """A required column or field is missing or has the wrong type."""


class UnknownParticleError(InputError):
    """A ``particle_type`` that is not one of the scored classes."""


class NonFiniteCoordinatesError(InputError):
    """NaN or infinite coordinates; the message lists the offending rows."""


class DuplicateTruthError(InputError):
    """Ground-truth rows repeated on (experiment, x, y, z), which the official scorer rejects."""


class EmptyInputError(InputError):
    """A file or table with nothing in it where content is required."""


class CopickSourceError(InputError):
    """An unreadable copick configuration or a missing user, session, run or object."""


class OutputExistsError(TopcupBenchError, FileExistsError):
    """Refusal to overwrite an existing file the user did not ask us to replace."""


class PortalUnreachableError(TopcupBenchError):
    """The CZ cryoET Data Portal cannot be reached (no network, firewall, proxy down).

    Parameters
    ----------
    source : str
        The dataset specification, e.g. ``"portal:10445"``.
    message : str
        What was tried (host and port) and why it failed.
    """

    def __init__(self, source: str, message: str) -> None:
        self.source = str(source)
        self.detail = message
        super().__init__(f"{self.source}: {message}")


class TopcupBenchWarning(UserWarning):
    """Base class of topcup-bench warnings."""


class UnitsWarning(TopcupBenchWarning):
    """Coordinates that look like voxel indices where Ångström were expected (or the reverse)."""


def did_you_mean(value: str, candidates: Iterable[str]) -> str:
    """Return a ``" Did you mean 'x'?"`` hint for a misspelt name, or ``""``.

    Parameters
    ----------
    value : str
        The name that was not recognised.
    candidates : iterable of str
        The valid names.

    Examples
    --------
    >>> did_you_mean("ribosom", ["ribosome", "apo-ferritin"])
    " Did you mean 'ribosome'?"
    >>> did_you_mean("zzz", ["ribosome"])
    ''
    """
    matches = difflib.get_close_matches(str(value), [str(c) for c in candidates], n=1, cutoff=0.6)
    return f" Did you mean {matches[0]!r}?" if matches else ""


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters with the full length stated.

    Messages quote the values they found; this keeps a megabyte of input out of them.

    Examples
    --------
    >>> short_repr("abc")
    "'abc'"
    >>> short_repr("x" * 1000, limit=10)
    "'xxxxxxxx... (1002 characters)"
    """
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}... ({len(text)} characters)"
