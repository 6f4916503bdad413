"""One entry point for picks on disk: a source string picks the reader or writer.

Supported sources:

* ``copick:CONFIG.json?user=U[&session=S][&runs=a,b]``: picks in a copick project;
* ``PATH.csv``: a Kaggle submission or TopCUP CSV;
* ``PATH.star``: a RELION STAR file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

import pandas as pd

from topcup_bench.datasets.picks_copick import read_copick_picks, write_copick_picks
from topcup_bench.datasets.picks_csv import read_picks_csv, write_kaggle_csv, write_topcup_csv
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
)
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
) -> pd.DataFrame:
    """Read picks from any supported source (see :data:`SUPPORTED_SOURCES`).

    Parameters
    ----------
    spec : str or os.PathLike
        ``copick:CONFIG?user=U[&session=S][&runs=a,b]``, a ``.csv`` or a ``.star`` file.
    classes : ClassCatalogue or iterable of ParticleClass, optional
        When given, every ``particle_type`` must be one of these classes.
    pixel_size_angstrom, experiment, particle_type, pixel_size_override : optional
        STAR files only: see :func:`~topcup_bench.datasets.picks_star.read_picks_star`.

    Returns
    -------
    pandas.DataFrame
        A validated picks table (Å, x-y-z); shape (N, 5) or (N, 6).

    Raises
    ------
    InputError
        Missing file, directory, unsupported extension, or STAR-only options for
        another kind of source; plus every error of the underlying reader.
    """
    text = os.fspath(spec)
    star_options = {
        "pixel_size_angstrom": pixel_size_angstrom,
        "experiment": experiment,
        "particle_type": particle_type,
        "pixel_size_override": pixel_size_override or None,
    }
    kind = _kind(text, must_exist=True)
    if kind != "star":
        given = [name for name, value in star_options.items() if value is not None]
        if given:
            raise InputError(text, f"options {given} apply to STAR files only")
    if kind == "copick":
        parsed = parse_copick_source(text)
        return read_copick_picks(
            parsed.config,
            user_id=parsed.user,
            session_id=parsed.session,
            runs=parsed.runs,
            classes=classes,
        )
    if kind == "csv":
        return read_picks_csv(text, classes=classes)
    return read_picks_star(
        text,
        classes=classes,
        **{k: v for k, v in star_options.items() if k != "pixel_size_override"},
        pixel_size_override=pixel_size_override,
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
    kind = _kind(text, must_exist=False)
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
    suffix = Path(text).suffix.lower()
    if suffix == ".csv":
        return f"CSV picks file {text}"
    if suffix == ".star":
        return f"RELION STAR file {text}"
    return f"unsupported picks source {text}"


def _kind(text: str, *, must_exist: bool) -> str:
    """``"copick"``, ``"csv"`` or ``"star"``; anything else is an :class:`InputError`."""
    if text.startswith(_COPICK_PREFIX):
        return "copick"
    path = Path(text)
    forms = f"supported sources: {list(SUPPORTED_SOURCES)}"
    if path.is_dir():
        raise InputError(text, f"is a directory, not a picks file; {forms}")
    if must_exist and not path.exists():
        raise InputError(text, f"file not found; {forms}")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".star"):
        raise InputError(text, f"unsupported file extension {suffix!r}; {forms}")
    return suffix[1:]
