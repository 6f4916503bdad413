"""Picks stored in a copick project, read and written through the copick API.

A copick pick holds a ``location`` (Å, x-y-z) and a 4 × 4 ``transformation_``
whose translation is added to the location to give the particle centre; both
readers and writers here use that convention (as ``CopickPicks.full_positions``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from topcup_bench.datasets.copick_project import (
    check_copick_id,
    get_copick_run,
    open_copick_root,
)
from topcup_bench.errors import (
    CopickSourceError,
    NonFiniteCoordinatesError,
    OutputExistsError,
    did_you_mean,
)
from topcup_bench.types import (
    COORDINATE_COLUMNS,
    SCORE_COLUMN,
    ClassCatalogue,
    ParticleClass,
    validate_picks_table,
)

__all__ = ["read_copick_picks", "write_copick_picks", "copick_pick_sessions"]


def read_copick_picks(
    config_path: str | os.PathLike[str],
    *,
    user_id: str,
    session_id: str | None = None,
    runs: Iterable[str] | None = None,
    classes: ClassCatalogue | Iterable[ParticleClass] | None = None,
    object_names: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Read the picks of one user (and session) from a copick project.

    Parameters
    ----------
    config_path : str or os.PathLike
        The project's JSON configuration.
    user_id : str
        Only picks by this user (or tool) are read.
    session_id : str, optional
        Only picks of this session; default all sessions of ``user_id``.
    runs : iterable of str, optional
        Run names to read (a single string is one name); default every run.
    classes : ClassCatalogue or iterable of ParticleClass, optional
        Read only the particle objects named in it (when ``object_names`` is
        not given), and require every ``particle_type`` to be one of it.
    object_names : iterable of str, optional
        Pickable objects to read (a single string is one name); default every
        object with ``is_particle``.

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment`` (run name), ``particle_type`` (object name),
        ``x, y, z`` (Å: location + transformation translation) and ``score``;
        shape (N, 6). Rows follow runs, then objects in config order, then sessions.

    Raises
    ------
    CopickSourceError
        Unreadable config, unknown run or object, an unreadable picks file, or
        no picks file at all for that user (and session); the message lists
        the user/session pairs that do exist.
    """
    source = os.fspath(config_path)
    root = open_copick_root(source)
    catalogue = None if classes is None else ClassCatalogue.coerce(classes)
    objects = _object_names(root, _as_list(object_names), catalogue, source)
    run_names = _as_list(runs)
    chosen_runs = (
        root.runs if run_names is None else [get_copick_run(root, r, source) for r in run_names]
    )
    frames: list[pd.DataFrame] = []
    found: set[tuple[str, str]] = set()
    configured = {o.name for o in root.pickable_objects}
    for run in chosen_runs:
        run_picks = _run_picks(run, source)
        found.update((p.user_id, p.session_id) for p in run_picks)
        _refuse_unconfigured(run_picks, run.name, configured, user_id, session_id, source)
        wanted = [
            p
            for p in run_picks
            if p.user_id == user_id
            and (session_id is None or p.session_id == session_id)
            and p.pickable_object_name in objects
        ]
        wanted.sort(key=lambda p: (objects.index(p.pickable_object_name), p.session_id))
        frames.extend(_picks_frame(p, run.name, source) for p in wanted)
    if not frames:
        session = "any session" if session_id is None else f"session {session_id!r}"
        pairs = sorted(f"{u}/{s}" for u, s in found)
        users = sorted({u for u, _ in found})
        raise CopickSourceError(
            source,
            f"no picks by user {user_id!r} ({session}) for objects {objects} in "
            f"{len(chosen_runs)} run(s); found users: {users}, user/session pairs: {pairs}."
            + did_you_mean(user_id, users),
        )
    table = pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
    return validate_picks_table(table, source=source, classes=catalogue)


def write_copick_picks(
    table: pd.DataFrame,
    config_path: str | os.PathLike[str],
    *,
    user_id: str,
    session_id: str,
    overwrite: bool = False,
) -> None:
    """Write a picks table into a copick project, one picks file per (run, particle_type).

    Parameters
    ----------
    table : pandas.DataFrame
        A picks table (Å, x-y-z); ``experiment`` values must be existing runs and
        ``particle_type`` values pickable objects of the project.
    config_path : str or os.PathLike
        The project's JSON configuration.
    user_id, session_id : str
        Ids of the picks; copick forbids ``_`` (and spaces, ``/``, ...) in them.
    overwrite : bool
        Replace existing picks of the same run, object, user and session.
        Picks of other runs or objects are never touched.

    Notes
    -----
    Locations are the table's coordinates with identity transformations;
    scores come from ``score`` (1.0 when the table has none). Everything is
    checked before the first file is written, but copick writes each file in
    place, so an I/O failure midway can leave some files written.

    Raises
    ------
    InputError
        A ``user_id`` or ``session_id`` copick cannot store.
    CopickSourceError
        Unreadable config, unknown run or object, or a read-only picks file.
    OutputExistsError
        Picks of the same run, object, user and session exist and ``overwrite`` is False.
    """
    source = os.fspath(config_path)
    check_copick_id(user_id, "user_id", source)
    check_copick_id(session_id, "session_id", source)
    picks = validate_picks_table(table, source="table to write")
    root = open_copick_root(source)
    known = [o.name for o in root.pickable_objects]
    for name in pd.unique(picks["particle_type"]):
        if name not in known:
            raise CopickSourceError(
                source,
                f"particle_type {name!r} is not a pickable object of the project; "
                f"objects: {known}.{did_you_mean(name, known)}",
            )
    runs = {name: get_copick_run(root, name, source) for name in pd.unique(picks["experiment"])}
    groups = list(picks.groupby(["experiment", "particle_type"], sort=False))
    if not overwrite:
        _refuse_existing(runs, groups, user_id, session_id, source)
    for (run_name, object_name), rows in groups:
        copick_picks = runs[run_name].new_picks(object_name, session_id, user_id, exist_ok=True)
        positions = rows[list(COORDINATE_COLUMNS)].to_numpy(dtype=np.float64)
        scores = rows[SCORE_COLUMN].to_numpy() if SCORE_COLUMN in rows.columns else None
        transforms = np.tile(np.eye(4), (len(rows), 1, 1))
        try:
            copick_picks.from_numpy(positions, transforms=transforms, scores=scores)
        except PermissionError as error:
            raise CopickSourceError(
                source,
                f"run {run_name!r}, object {object_name!r}: picks by {user_id}/{session_id} are "
                f"in the read-only static layer and cannot be replaced ({error})",
            ) from None


def _refuse_unconfigured(
    run_picks: list[Any],
    run_name: str,
    configured: set[str],
    user_id: str,
    session_id: str | None,
    source: str,
) -> None:
    """Raise for picks of the selected user/session whose object is not in the config."""
    for picks in run_picks:
        if picks.user_id != user_id or (session_id is not None and picks.session_id != session_id):
            continue
        if picks.pickable_object_name not in configured:
            raise CopickSourceError(
                source,
                f"run {run_name!r}: picks file "
                f"ExperimentRuns/{run_name}/Picks/{picks.user_id}_{picks.session_id}_"
                f"{picks.pickable_object_name}.json names object "
                f"{picks.pickable_object_name!r}, which is not in the config's pickable objects "
                f"{sorted(configured)}." + did_you_mean(picks.pickable_object_name, configured),
            )


def _as_list(names: Iterable[str] | str | None) -> list[str] | None:
    """A single name given as a string means that one name, not its characters."""
    if names is None:
        return None
    return [names] if isinstance(names, str) else [str(n) for n in names]


def _object_names(
    root: Any, requested: Iterable[str] | None, catalogue: ClassCatalogue | None, source: str
) -> list[str]:
    """Names of the pickable objects to read, in config order."""
    particles = [o.name for o in root.pickable_objects if o.is_particle]
    if requested is None:
        if catalogue is None:
            return particles
        return [name for name in particles if name in catalogue]
    names = list(requested)
    for name in names:
        if name not in particles:
            all_names = [o.name for o in root.pickable_objects]
            what = "not a particle (is_particle false)" if name in all_names else "unknown"
            raise CopickSourceError(
                source,
                f"object {name!r} is {what}; pickable particles: {particles}."
                + did_you_mean(name, particles),
            )
    return [name for name in particles if name in names]


def copick_pick_sessions(config_path: str | os.PathLike[str]) -> set[tuple[str, str]]:
    """Every ``(user_id, session_id)`` that has picks in some run of the project.

    Raises
    ------
    CopickSourceError
        Unreadable configuration or picks folder.
    """
    source = os.fspath(config_path)
    root = open_copick_root(source)
    return {(p.user_id, p.session_id) for run in root.runs for p in _run_picks(run, source)}


def _run_picks(run: Any, source: str) -> list[Any]:
    try:
        return list(run.picks)
    except OSError as error:
        raise CopickSourceError(source, f"run {run.name!r}: cannot list picks: {error}") from None
    except IndexError:
        raise CopickSourceError(
            source,
            f"run {run.name!r}: a file in Picks/ is not named user_session_object.json "
            "(e.g. the Kaggle layout's bare 'ribosome.json'); copick cannot list the picks. "
            "Rename the files or convert the layout first.",
        ) from None


def _picks_frame(picks: Any, run_name: str, source: str) -> pd.DataFrame:
    name = f"{picks.user_id}_{picks.session_id}_{picks.pickable_object_name}.json"
    where = getattr(picks, "path", f"run {run_name!r}, {name}")
    try:
        locations, transforms = picks.numpy()
        if hasattr(picks, "scores"):  # copick >= 1.2x
            scores = np.asarray(picks.scores(), dtype=np.float64)
        else:
            scores = np.array([1.0 if p.score is None else p.score for p in picks.points])
    except (OSError, ValueError, TypeError) as error:  # JSON and pydantic errors are ValueErrors
        message = " ".join(str(error).split())
        raise CopickSourceError(
            source, f"cannot read picks file {where}: {type(error).__name__}: {message}"
        ) from None
    positions = np.asarray(locations, dtype=np.float64).reshape(-1, 3)
    if len(positions):
        positions = positions + np.asarray(transforms)[:, :3, 3]
    _refuse_non_finite(positions, picks, run_name, where)
    frame = pd.DataFrame(positions, columns=list(COORDINATE_COLUMNS))
    frame.insert(0, "particle_type", picks.pickable_object_name)
    frame.insert(0, "experiment", run_name)
    frame[SCORE_COLUMN] = scores
    return frame


def _refuse_non_finite(positions: np.ndarray, picks: Any, run_name: str, where: Any) -> None:
    """Raise naming the picks file and the point indices whose location is NaN or infinite.

    Parameters
    ----------
    positions : numpy.ndarray, shape (N, 3)
        The points' locations (Å, x, y, z), in the file's order.
    """
    bad = np.flatnonzero(~np.isfinite(positions).all(axis=1))
    if not len(bad):
        return
    shown = bad[:10].tolist()
    more = f" (+{len(bad) - 10} more)" if len(bad) > 10 else ""
    raise NonFiniteCoordinatesError(
        str(where),
        f"run {run_name!r}, object {picks.pickable_object_name!r}, user {picks.user_id!r}, "
        f"session {picks.session_id!r}: non-finite (NaN or infinite) location at point "
        f"index {shown}{more} of {len(positions)} (0-based, in the file's 'points' list)",
    )


def _refuse_existing(
    runs: dict[str, Any], groups: list[Any], user_id: str, session_id: str, source: str
) -> None:
    clashes = []
    for (run_name, object_name), _rows in groups:
        existing = runs[run_name].get_picks(
            object_name=object_name, user_id=user_id, session_id=session_id
        )
        clashes += [getattr(p, "path", f"{run_name}/{object_name}") for p in existing]
    if clashes:
        shown = clashes[:5] + ([f"... ({len(clashes)} files)"] if len(clashes) > 5 else [])
        raise OutputExistsError(
            f"{source}: picks by user {user_id!r}, session {session_id!r} exist: {shown}; "
            "pass --overwrite to replace them"
        )
