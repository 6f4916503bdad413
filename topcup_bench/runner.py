"""Run pickers over the runs of a dataset: fit, pick, time, cache.

For each picker: if every requested run's picks are cached, they are loaded
and nothing is computed.  Otherwise the picker is prepared on the dataset,
trained on the training runs if it is trainable, and the missing runs are
picked on the executor; each run's picks are cached as soon as they arrive,
so an interrupted run resumes where it stopped.  The cache key of a run hashes
the picker (name, version, parameters, training runs) and the content of what
its picks depend on (:mod:`topcup_bench.pick_cache`); cache entries are
checksummed, and a corrupt one is reported and recomputed.

A picker that raises, or returns a malformed table, is marked failed with a
message naming it and the problem; the other pickers still run.  Picks rows
that name no requested run (returned for another experiment, or held by the
picker and never placed: :meth:`Picker.unplaced_picks`) are dropped, counted
per run name and announced with a warning; a picker none of whose rows name a
requested run is marked failed.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from topcup_bench.datasets.dataset import Dataset
from topcup_bench.errors import TopcupBenchError, TopcupBenchWarning
from topcup_bench.executors import make_executor
from topcup_bench.pick_cache import PickCache
from topcup_bench.pickers.protocol import Picker, PickerCard, TrainablePicker
from topcup_bench.types import SCORE_COLUMN, ClassCatalogue, empty_picks_table, validate_picks_table

__all__ = ["PickerOutcome", "run_pickers", "PickCache"]


@dataclass
class PickerOutcome:
    """What running one picker produced.

    Attributes
    ----------
    card : PickerCard
    status : {"ok", "failed"}
    error : str or None
        Why the picker failed (names the picker and the problem).
    picks : pandas.DataFrame
        Picks of all requested runs (Å, x-y-z, with ``score``).
    thresholds : dict of str to float
        The picker's own per-class operating point (keep ``score >``).
    threshold_source : str
        How the operating point was set (see :mod:`topcup_bench.operating_points`).
    run_thresholds : dict of str to dict of str to float
        Per-run thresholds when they differ by run (cross-validation); empty otherwise.
    folds : list of list of str
        The cross-validation folds of ``run_thresholds`` (empty without).
    fit_seconds : float or None
    pick_seconds : dict of str to float
        Wall time of ``pick`` per run.
    cached_runs : list of str
        Runs whose picks came from the cache.
    dropped : dict of str to int
        Picks rows dropped because they name no requested run, counted by the run
        name as written (trailing spaces kept).
    n_rows : int
        All picks rows the picker produced, dropped ones included.
    logs : dict of str to str
        Log files the picker wrote (run, or ``fit``, → path): the output of the
        tools that adapters run (:meth:`Picker.log_files`).
    """

    card: PickerCard
    status: str = "ok"
    error: str | None = None
    picks: pd.DataFrame = field(default_factory=empty_picks_table)
    thresholds: dict[str, float] = field(default_factory=dict)
    fit_seconds: float | None = None
    pick_seconds: dict[str, float] = field(default_factory=dict)
    cached_runs: list[str] = field(default_factory=list)
    threshold_source: str = "picker default"
    run_thresholds: dict[str, dict[str, float]] = field(default_factory=dict)
    folds: list[list[str]] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    n_rows: int = 0
    logs: dict[str, str] = field(default_factory=dict)


def run_pickers(
    pickers: Sequence[Picker],
    dataset: Dataset,
    runs: Sequence[str],
    train_runs: Sequence[str],
    *,
    executor: str = "serial",
    workers: int = 2,
    scheduler: str | None = None,
    cache_root: Path | None = None,
    progress: bool = True,
) -> list[PickerOutcome]:
    """Fit (when trainable) and run every picker on ``runs``.

    Parameters
    ----------
    pickers : sequence of Picker
    dataset : Dataset
        Opened with :func:`~topcup_bench.datasets.catalog.open_dataset` when
        ``executor`` is not ``serial`` (workers reopen it from its ``spec``).
    runs, train_runs : sequence of str
        Runs to pick on, and runs to train on.
    executor : {"serial", "processes", "dask"}
    workers : int
        Processes (or dask workers).
    scheduler : str, optional
        Address of an existing dask scheduler.
    cache_root : pathlib.Path, optional
        Folder of the picks cache; ``None`` disables caching.
    progress : bool
        Show a progress bar per picker.

    Returns
    -------
    list of PickerOutcome
        In the order of ``pickers``.

    Raises
    ------
    InputError
        A tomogram of ``runs`` has a missing or truncated zarr chunk (checked
        before any picker runs: ``ZarrChunkError`` names the run, array and chunk).
    """
    cache = PickCache(cache_root)
    for run in runs:  # the data digests key the cache; computing them checks every zarr chunk
        dataset.run_digest(run)  # (a missing or truncated chunk stops here, before any picker)
    dataset_ref: Any = getattr(dataset, "spec", None) if executor != "serial" else dataset
    if dataset_ref is None:
        dataset_ref = dataset
    outcomes = []
    with make_executor(executor, workers=workers, scheduler=scheduler, tasks=len(runs)) as pool:
        for picker in pickers:
            outcomes.append(
                _run_one(picker, dataset, dataset_ref, runs, train_runs, pool, cache, progress)
            )
    return outcomes


def _run_one(
    picker, dataset, dataset_ref, runs, train_runs, pool, cache, progress
) -> PickerOutcome:
    classes = dataset.classes
    outcome = PickerOutcome(card=_first_card(picker))
    tables: dict[str, pd.DataFrame] = {}
    bar = None
    prepared = False
    try:  # everything from here may fail for this picker only (a missing weights file, ...)
        outcome.thresholds = picker.thresholds(classes)
        keys = {run: cache.key(picker, dataset, run, train_runs) for run in runs}
        for run in runs:
            hit = cache.load(picker, keys[run])
            if hit is not None:
                tables[run], outcome.pick_seconds[run] = hit
                outcome.cached_runs.append(run)
        missing = [run for run in runs if run not in tables]
        bar = tqdm(
            total=len(runs),
            initial=len(runs) - len(missing),
            desc=picker.display_name,
            unit="run",
            disable=not progress,
            leave=False,
        )
        if missing:
            picker.prepare(dataset)
            prepared = True
            if isinstance(picker, TrainablePicker):
                bar.set_postfix_str(f"training on {len(train_runs)} runs")
                start = time.perf_counter()
                picker.fit(dataset, list(train_runs))
                outcome.fit_seconds = time.perf_counter() - start
                bar.set_postfix_str("")
            outcome.card = picker.card()
            outcome.thresholds = picker.thresholds(classes)  # fitting may set them
            _start_clock(bar)
            tasks = [(picker, dataset_ref, run, classes) for run in missing]
            for index, ok, value in pool.map(pick_one_run, tasks):
                run = missing[index]
                if not ok:
                    raise TopcupBenchError(
                        f"picker {picker.display_name!r} failed on run {run!r}: "
                        f"{type(value).__name__}: {value}"
                    )
                table, seconds = value
                tables[run] = _checked(table, picker, run, classes)
                outcome.pick_seconds[run] = seconds
                cache.store(picker, keys[run], tables[run], seconds)
                bar.update(1)
    except Exception as error:  # one picker's failure must not stop the others
        outcome.status = "failed"
        outcome.error = (
            str(error)
            if isinstance(error, TopcupBenchError)
            else (f"picker {picker.display_name!r} failed: {type(error).__name__}: {error}")
        )
        if picker.display_name not in outcome.error:
            outcome.error = f"picker {picker.display_name!r}: {outcome.error}"
    finally:
        if bar is not None:
            bar.close()
    outcome.logs = _log_files(picker, runs)
    if outcome.status == "ok":
        _place_picks(outcome, picker, tables, runs, prepared)
    return outcome


def _start_clock(bar: tqdm) -> None:
    """Start the runs bar's clock now, when picking starts.

    The bar is shown from before preparing and training (with a "training on N
    runs" note), but its elapsed time and rate, hence its ETA, must count picking
    only: otherwise the first picked run seems to take as long as training did
    (an ETA off by an order of magnitude).  Runs served from the cache are the
    bar's ``initial`` count, which tqdm leaves out of the rate.
    """
    bar.unpause()  # no run was counted since the bar was created: its clock restarts now


def _log_files(picker: Picker, runs: Sequence[str]) -> dict[str, str]:
    """The picker's log files (run → path); none when asking fails (picks do not depend on it)."""
    try:
        return {str(k): str(v) for k, v in (picker.log_files(list(runs)) or {}).items()}
    except Exception:  # a broken stand-in or plug-in: its failure is reported elsewhere
        return {}


def _first_card(picker: Picker) -> PickerCard:
    """The picker's card, or a minimal one when building it fails (the failure comes later)."""
    try:
        return picker.card()
    except Exception:  # reported by the set-up that follows, with the picker marked failed
        return PickerCard(name=picker.display_name, version=str(getattr(picker, "version", "?")))


def _place_picks(
    outcome: PickerOutcome,
    picker: Picker,
    tables: dict[str, pd.DataFrame],
    runs: Sequence[str],
    prepared: bool,
) -> None:
    """Keep each run's own rows; count (and warn about) rows that name no requested run.

    Rows a picker returned for another experiment than the run it picked, and
    rows a picker holds but could not place (:meth:`Picker.unplaced_picks`,
    e.g. an ``external`` file naming other runs), are dropped and counted by
    the run name as written.  A picker none of whose rows name a requested run
    is marked failed.
    """
    dropped: dict[str, int] = {}
    frames = []
    for run in runs:
        table = tables[run]
        own = (table["experiment"] == run).to_numpy()
        for name, count in table.loc[~own, "experiment"].value_counts(sort=False).items():
            dropped[str(name)] = dropped.get(str(name), 0) + int(count)
        if own.any():
            frames.append(table.loc[own])
    if prepared:
        for name, count in (picker.unplaced_picks(runs) or {}).items():
            dropped[str(name)] = dropped.get(str(name), 0) + int(count)
    kept = sum(len(frame) for frame in frames)
    outcome.dropped = dict(sorted(dropped.items()))
    outcome.n_rows = kept + sum(dropped.values())
    name = picker.display_name
    if dropped and not kept:
        outcome.status = "failed"
        outcome.error = (
            f"{name}: none of its {outcome.n_rows} picks name a scored run; its runs: "
            f"{_names(dropped)}; scored runs: {_names(runs)}"
        )
        return
    if dropped:
        warnings.warn(
            f"picker {name!r}: dropped {sum(dropped.values())} of its {outcome.n_rows} picks "
            f"that name runs not scored here (rows per run name): {_counts(dropped)}",
            TopcupBenchWarning,
            stacklevel=3,
        )
    outcome.picks = (
        pd.concat(frames, ignore_index=True).reset_index(drop=True)
        if frames
        else empty_picks_table()
    )


_SHOWN = 8  # run names shown in a message; the rest are counted


def _names(names) -> str:
    """``['TS_5_4 ', 'TS_6']`` (repr: trailing spaces visible), at most a few, then a count."""
    names = list(names)
    shown = repr(names[:_SHOWN])
    return shown if len(names) <= _SHOWN else f"{shown[:-1]}, ... {len(names) - _SHOWN} more]"


def _counts(dropped: dict[str, int]) -> str:
    items = list(dropped.items())
    shown = ", ".join(f"{name!r}: {count}" for name, count in items[:_SHOWN])
    more = f", ... {len(items) - _SHOWN} more runs" if len(items) > _SHOWN else ""
    return "{" + shown + more + "}"


def pick_one_run(picker: Picker, dataset_ref: Any, run: str, classes: ClassCatalogue):
    """Worker task: load one tomogram and pick it; returns ``(table, seconds)``."""
    dataset = _resolve_dataset(dataset_ref)
    tomogram = dataset.tomogram(run)
    start = time.perf_counter()
    table = picker.pick(tomogram, classes)
    return table, time.perf_counter() - start


_DATASETS: dict[str, Dataset] = {}


def _resolve_dataset(reference: Any) -> Dataset:
    if not isinstance(reference, str):
        return reference
    if reference not in _DATASETS:
        from topcup_bench.datasets.catalog import open_dataset

        _DATASETS[reference] = open_dataset(reference, progress=False)
    return _DATASETS[reference]


def _checked(table: Any, picker: Picker, run: str, classes: ClassCatalogue) -> pd.DataFrame:
    source = f"picker {picker.display_name!r} on run {run!r}"
    if not isinstance(table, pd.DataFrame):
        raise TopcupBenchError(f"{source}: returned {type(table).__name__}, expected a DataFrame")
    if len(table) == 0 and SCORE_COLUMN not in table.columns:
        table = table.assign(score=pd.Series(dtype=float))
    checked = validate_picks_table(table, source=source, classes=classes, require_score=True)
    return checked[["experiment", "particle_type", "x", "y", "z", SCORE_COLUMN]].reset_index(
        drop=True
    )
