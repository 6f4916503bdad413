"""One entry point for picks on disk: a source string picks the reader or writer.

Supported sources:

* ``copick:CONFIG.json?user=U[&session=S][&runs=a,b]``: picks in a copick project;
* ``PATH.csv``: a Kaggle submission or TopCUP CSV;
* ``PATH.star``: a RELION 4 or 5 STAR file;
* ``PATH.tbl``, ``PATH.xml``, ``PATH.cbox``, ``PATH.coords``, ``PATH.ndjson``: Dynamo,
  DeepFinder, crYOLO/TomoTwin and CryoET Data Portal picks (read only; see
  :data:`topcup_bench.datasets.picks.PICKS_FORMATS`).

Files are read by the format of their extension, or the one named by ``format=``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

import pandas as pd

from topcup_bench.datasets.picks.context import PicksContext
from topcup_bench.datasets.picks.formats import (
    PicksFormat,
    describe_formats,
    format_for_path,
    picks_format,
)
from topcup_bench.datasets.picks_copick import read_copick_picks, write_copick_picks
from topcup_bench.datasets.picks_csv import write_kaggle_csv, write_topcup_csv
from topcup_bench.datasets.picks_star import read_picks_star, write_picks_star
from topcup_bench.errors import InputError, did_you_mean
from topcup_bench.types import ClassCatalogue, ParticleClass

__all__ = [
    "SUPPORTED_SOURCES",
    "CopickSource",
    "parse_copick_source",
    "read_picks",
    "write_picks",
    "describe_source",
]

#: Human-readable list of the source forms, used in error messages.
SUPPORTED_SOURCES = (
    "copick:CONFIG.json?user=USER[&session=SESSION][&runs=RUN1,RUN2]",
    "PATH.csv (Kaggle submission or TopCUP CSV)",
    "PATH.star (RELION STAR)",
    *[line for line in describe_formats() if not line.startswith(("PATH.csv ", "PATH.star "))],
)
#: Formats that can be written (the others are read only).
_WRITABLE = ("csv", "star")
_COPICK_PREFIX = "copick:"
_COPICK_KEYS = ("user", "session", "runs")
_CSV_FORMATS = ("kaggle", "topcup")


@dataclass(frozen=True)
class CopickSource:
    """A parsed ``copick:`` source: config path, user, optional session and runs."""

    config: str
    user: str
    session: str | None = None
    runs: tuple[str, ...] | None = None


def parse_copick_source(spec: str) -> CopickSource:
    """Parse ``copick:CONFIG?user=U&session=S&runs=a,b`` (session and runs optional).

    Raises
    ------
    InputError
        No config path, no ``user``, a repeated or unknown key, or an empty value.

    Examples
    --------
    >>> parse_copick_source("copick:/data/c.json?user=me&runs=TS_5_4,TS_6_4")
    CopickSource(config='/data/c.json', user='me', session=None, runs=('TS_5_4', 'TS_6_4'))
    """
    body = spec[len(_COPICK_PREFIX) :] if spec.startswith(_COPICK_PREFIX) else spec
    config, _, query = body.partition("?")
    if not config:
        raise InputError(
            spec, f"copick source without a config path; expected {SUPPORTED_SOURCES[0]}"
        )
    fields = parse_qs(query, keep_blank_values=True)
    for key, values in fields.items():
        if key not in _COPICK_KEYS:
            raise InputError(
                spec,
                f"unknown copick source key {key!r}; expected {list(_COPICK_KEYS)}."
                + did_you_mean(key, _COPICK_KEYS),
            )
        if len(values) != 1 or not values[0]:
            raise InputError(
                spec, f"copick source key {key!r}: expected one non-empty value, found {values}"
            )
    if "user" not in fields:
        raise InputError(spec, f"copick source needs a user id: expected {SUPPORTED_SOURCES[0]}")
    runs = fields.get("runs")
    return CopickSource(
        config=config,
        user=fields["user"][0],
        session=fields["session"][0] if "session" in fields else None,
        runs=None if runs is None else tuple(r for r in runs[0].split(",") if r),
    )


def read_picks(
    spec: str | os.PathLike[str],
    *,
    classes: ClassCatalogue | Iterable[ParticleClass] | None = None,
    pixel_size_angstrom: float | None = None,
    experiment: str | None = None,
    particle_type: str | None = None,
    pixel_size_override: bool = False,
    context: PicksContext | None = None,
    format: str | None = None,
) -> pd.DataFrame:
    """Read picks from any supported source (see :data:`SUPPORTED_SOURCES`).

    Parameters
    ----------
    spec : str or os.PathLike
        ``copick:CONFIG?user=U[&session=S][&runs=a,b]`` or a picks file.
    classes : ClassCatalogue or iterable of ParticleClass, optional
        When given, every ``particle_type`` must be one of these classes.
    pixel_size_angstrom, experiment, particle_type, pixel_size_override : optional
        STAR files only: see :func:`~topcup_bench.datasets.picks_star.read_picks_star`.
        Refused for any other source (other formats take these from ``context``).
    context : PicksContext, optional
        What a file may not say itself (run, class, pixel size, tomogram
        extents), for every format; used only where the file is silent (a
        pixel size a STAR file states wins over the context's). Ignored by
        CSV and copick sources, which state everything.
    format : str, optional
        A format name of :data:`~topcup_bench.datasets.picks.PICKS_FORMATS`
        (``"csv"``, ``"star"``, ``"dynamo"``, ``"deepfinder"``, ``"cbox"``,
        ``"coords"``, ``"ndjson"``); default: by the file's extension.

    Returns
    -------
    pandas.DataFrame
        A validated picks table (Å, x-y-z); shape (N, 5) or (N, 6).

    Raises
    ------
    InputError
        Missing file, directory, unsupported extension, unknown ``format``, a
        ``format`` for a copick source, or STAR-only options for another kind
        of source; plus every error of the underlying reader.
    """
    text = os.fspath(spec)
    if context is not None and not isinstance(context, PicksContext):
        raise InputError(text, f"context must be a PicksContext, found {type(context).__name__}")
    star_options = {
        "pixel_size_angstrom": pixel_size_angstrom,
        "experiment": experiment,
        "particle_type": particle_type,
        "pixel_size_override": pixel_size_override or None,
    }
    if text.startswith(_COPICK_PREFIX):
        if format is not None:
            raise InputError(
                text, f"format={format!r} applies to files; a copick: source has no file format"
            )
        _refuse_star_options(text, star_options)
        parsed = parse_copick_source(text)
        return read_copick_picks(
            parsed.config,
            user_id=parsed.user,
            session_id=parsed.session,
            runs=parsed.runs,
            classes=classes,
        )
    fmt = _file_format(text, format, must_exist=True)
    if fmt.name != "star":
        _refuse_star_options(text, star_options)
        return fmt.read(text, context=context, classes=classes)
    return read_picks_star(
        text,
        classes=classes,
        **{k: v for k, v in star_options.items() if k != "pixel_size_override"},
        pixel_size_override=pixel_size_override,
        context=context,
    )


def _refuse_star_options(text: str, star_options: dict[str, object]) -> None:
    given = [name for name, value in star_options.items() if value is not None]
    if given:
        raise InputError(
            text,
            f"options {given} apply to STAR files only; other formats take the run, class "
            "and pixel size from context=PicksContext(...)",
        )


def write_picks(
    table: pd.DataFrame,
    spec: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    pixel_size_angstrom: float | None = None,
    fmt: str = "kaggle",
) -> None:
    """Write picks to any supported destination (see :data:`SUPPORTED_SOURCES`).

    Parameters
    ----------
    table : pandas.DataFrame
        A picks table (Å, x-y-z).
    spec : str or os.PathLike
        ``copick:CONFIG?user=U&session=S`` (session required), a ``.csv`` or a ``.star`` path.
    overwrite : bool
        Replace an existing file (or existing copick picks of the same user and session).
    pixel_size_angstrom : float, optional
        Required for STAR output, refused otherwise.
    fmt : {"kaggle", "topcup"}
        CSV layout.

    Raises
    ------
    InputError
        Unsupported destination, a missing or superfluous option.
    OutputExistsError
        The destination exists and ``overwrite`` is False.
    """
    text = os.fspath(spec)
    if fmt not in _CSV_FORMATS:
        raise InputError(text, f"fmt must be one of {list(_CSV_FORMATS)}, got {fmt!r}")
    kind = _write_kind(text)
    if kind == "star":
        if pixel_size_angstrom is None:
            raise InputError(text, "writing a STAR file needs pixel_size_angstrom (Å per pixel)")
        write_picks_star(table, text, pixel_size_angstrom=pixel_size_angstrom, overwrite=overwrite)
        return
    if pixel_size_angstrom is not None:
        raise InputError(text, "pixel_size_angstrom applies to STAR output only")
    if kind == "csv":
        writer = write_topcup_csv if fmt == "topcup" else write_kaggle_csv
        writer(table, text, overwrite=overwrite)
        return
    parsed = parse_copick_source(text)
    if parsed.session is None or parsed.runs is not None:
        raise InputError(
            text, "writing copick picks needs copick:CONFIG?user=U&session=S (and no runs=)"
        )
    write_copick_picks(
        table, parsed.config, user_id=parsed.user, session_id=parsed.session, overwrite=overwrite
    )


def describe_source(spec: str | os.PathLike[str]) -> str:
    """One line describing a picks source, for reports and logs.

    Examples
    --------
    >>> describe_source("copick:/data/config.json?user=topcup&session=1")
    "copick project /data/config.json (user 'topcup', session '1', all runs)"
    >>> describe_source("out/picks.csv")
    'CSV picks file out/picks.csv'
    """
    text = os.fspath(spec)
    if text.startswith(_COPICK_PREFIX):
        parsed = parse_copick_source(text)
        session = "all sessions" if parsed.session is None else f"session {parsed.session!r}"
        runs = "all runs" if parsed.runs is None else "runs " + ", ".join(parsed.runs)
        return f"copick project {parsed.config} (user {parsed.user!r}, {session}, {runs})"
    fmt = format_for_path(text)
    if fmt is None:
        return f"unsupported picks source {text}"
    return f"{fmt.title} {text}"


def _file_format(text: str, name: str | None, *, must_exist: bool) -> PicksFormat:
    """The format of the picks file ``text``: ``name`` when given, else by extension.

    Raises
    ------
    InputError
        A directory, a missing file (when ``must_exist``), an unknown ``name``,
        or an extension no format has.
    """
    path = Path(text)
    forms = f"supported sources: {list(SUPPORTED_SOURCES)}"
    if path.is_dir():
        raise InputError(text, f"is a directory, not a picks file; {forms}")
    if must_exist and not path.exists():
        raise InputError(text, f"file not found; {forms}")
    if name is not None:
        return picks_format(name, source=text)
    fmt = format_for_path(text)
    if fmt is None:
        raise InputError(
            text,
            f"unsupported file extension {path.suffix.lower()!r}; {forms} "
            "(or name the format with format=)",
        )
    return fmt


def _write_kind(text: str) -> str:
    """``"copick"``, ``"csv"`` or ``"star"``; anything else is an :class:`InputError`."""
    if text.startswith(_COPICK_PREFIX):
        return "copick"
    fmt = _file_format(text, None, must_exist=False)
    if fmt.name not in _WRITABLE:
        raise InputError(
            text,
            f"{fmt.title}s are read only; write picks as "
            f"{[f'PATH.{n}' for n in _WRITABLE] + ['copick:CONFIG?user=U&session=S']}",
        )
    return fmt.name
