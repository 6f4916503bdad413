"""Run pickers over the runs of a dataset: fit, pick, time, cache.

For each picker: if every requested run's picks are cached, they are loaded
and nothing is computed.  Otherwise the picker is prepared on the dataset,
trained on the training runs if it is trainable, and the missing runs are
picked on the executor; each run's picks are cached as soon as they arrive,
so an interrupted run resumes where it stopped.  The cache key of a run is a
hash of the picker (name, version, parameters, training runs), the dataset
identity, the run name and the package version.

A picker that raises, or returns a malformed table, is marked failed with a
message naming it and the problem; the other pickers still run.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from topcup_bench._version import __version__
from topcup_bench.datasets.atomic import atomic_output
from topcup_bench.datasets.dataset import Dataset
from topcup_bench.errors import TopcupBenchError
from topcup_bench.executors import make_executor
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
        Where ``thresholds`` came from (the picker, or tuning on training runs).
    fit_seconds : float or None
    pick_seconds : dict of str to float
        Wall time of ``pick`` per run.
    cached_runs : list of str
        Runs whose picks came from the cache.
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


class PickCache:
    """Per-(picker, run) picks on disk: ``<root>/<picker>/<key>.csv`` plus a timing sidecar."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def key(self, picker: Picker, dataset: Dataset, run: str, train_runs: Sequence[str]) -> str:
        identity = {
            "picker": picker.name,
            "version": picker.version,
            "parameters": picker.parameters(),
            "train_runs": list(train_runs) if isinstance(picker, TrainablePicker) else [],
            "dataset": dataset.identity(),
            "run": run,
            "topcup_bench": __version__,
        }
        text = json.dumps(identity, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    def load(self, picker: Picker, key: str) -> tuple[pd.DataFrame, float] | None:
        if self.root is None or not picker.cacheable:
            return None
        path = self._path(picker, key)
        meta = path.with_suffix(".json")
        if not (path.is_file() and meta.is_file()):
            return None
        table = pd.read_csv(path, dtype={"experiment": str, "particle_type": str})
        return table, float(json.loads(meta.read_text())["pick_seconds"])

    def store(self, picker: Picker, key: str, table: pd.DataFrame, seconds: float) -> None:
        if self.root is None or not picker.cacheable:
            return
        path = self._path(picker, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path, overwrite=True) as temporary:
            table.to_csv(temporary, index=False)
        with atomic_output(path.with_suffix(".json"), overwrite=True) as temporary:
            temporary.write_text(json.dumps({"pick_seconds": seconds}))

    def _path(self, picker: Picker, key: str) -> Path:
        return self.root / picker.display_name / f"{key}.csv"


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
    """
    cache = PickCache(cache_root)
    dataset_ref: Any = getattr(dataset, "spec", None) if executor != "serial" else dataset
    if dataset_ref is None:
        dataset_ref = dataset
    outcomes = []
    with make_executor(executor, workers=workers, scheduler=scheduler) as pool:
        for picker in pickers:
            outcomes.append(
                _run_one(picker, dataset, dataset_ref, runs, train_runs, pool, cache, progress)
            )
    return outcomes


def _run_one(
    picker, dataset, dataset_ref, runs, train_runs, pool, cache, progress
) -> PickerOutcome:
    classes = dataset.classes
    outcome = PickerOutcome(card=picker.card(), thresholds=picker.thresholds(classes))
    keys = {run: cache.key(picker, dataset, run, train_runs) for run in runs}
    tables: dict[str, pd.DataFrame] = {}
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
    try:
        if missing:
            picker.prepare(dataset)
            if isinstance(picker, TrainablePicker):
                bar.set_postfix_str(f"training on {len(train_runs)} runs")
                start = time.perf_counter()
                picker.fit(dataset, list(train_runs))
                outcome.fit_seconds = time.perf_counter() - start
                bar.set_postfix_str("")
            outcome.card = picker.card()
            outcome.thresholds = picker.thresholds(classes)  # fitting may set them
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
    finally:
        bar.close()
    if outcome.status == "ok":
        frames = [tables[run] for run in runs if len(tables[run])]
        outcome.picks = pd.concat(frames, ignore_index=True) if frames else empty_picks_table()
    return outcome


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
    others = sorted(set(checked["experiment"]) - {run})
    if others:
        raise TopcupBenchError(f"{source}: picks name other experiments {others}")
    return checked[["experiment", "particle_type", "x", "y", "z", SCORE_COLUMN]].reset_index(
        drop=True
    )
