"""The benchmark workflow behind ``topcup-bench run``, as a Python function.

:func:`run_benchmark` opens the dataset, builds the pickers, runs them
(:func:`topcup_bench.runner.run_pickers`), scores them, and writes into the
output folder::

    results.json        versioned results with provenance (topcup_bench.results)
    truth.csv           the ground truth of the scored runs (for the report's figures)
    leaderboard.md      the leaderboard
    picks/<picker>.csv  every picker's picks (Kaggle CSV with a score column)
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from topcup_bench.benchmark_config import BenchmarkConfig
from topcup_bench.datasets import write_copick_picks, write_kaggle_csv
from topcup_bench.datasets.atomic import atomic_output
from topcup_bench.datasets.catalog import cache_dir, open_dataset
from topcup_bench.datasets.dataset import CopickDataset, Dataset
from topcup_bench.errors import InputError, OutputExistsError, SchemaError
from topcup_bench.metrics import best_thresholds, threshold_sweep
from topcup_bench.pickers import create_picker
from topcup_bench.reports.leaderboard import (
    leaderboard_frame,
    render_leaderboard_markdown,
    render_leaderboard_rich,
)
from topcup_bench.results import (
    build_results,
    evaluate_outcome,
    read_results,
    write_results,
)
from topcup_bench.runner import PickerOutcome, run_pickers

__all__ = ["run_benchmark", "BenchmarkSummary"]


@dataclass
class BenchmarkSummary:
    """What :func:`run_benchmark` produced."""

    results: dict[str, Any]
    out: Path
    table: Table
    lines: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def run_benchmark(
    config: BenchmarkConfig, *, overwrite: bool = False, progress: bool = True
) -> BenchmarkSummary:
    """Run the benchmark described by ``config`` and write its outputs.

    Raises
    ------
    OutputExistsError
        ``config.out`` holds results of another dataset and ``overwrite`` is False.
    InputError
        Unknown dataset, split, picker or parameter.
    """
    started = time.perf_counter()
    pickers = [create_picker(name, params) for name, params in config.pickers]
    names = [p.display_name for p in pickers]
    if len(set(names)) != len(names):
        raise InputError("--pickers", f"picker names must be unique on a leaderboard: {names}")
    dataset = open_dataset(config.dataset, progress=progress)
    _check_output_folder(config.out, dataset, overwrite)
    runs = dataset.split(config.split)
    train_runs = _train_runs(dataset, config.split)
    fit_runs, tune_runs = _fit_and_tune_runs(train_runs, runs, config.tune_thresholds)
    outcomes = run_pickers(
        pickers,
        dataset,
        [*runs, *tune_runs],
        fit_runs,
        executor=config.executor,
        workers=config.workers,
        scheduler=config.scheduler,
        cache_root=cache_dir() / "picks" if config.cache else None,
        progress=progress,
    )
    if tune_runs:
        tune_operating_points(outcomes, dataset, runs, tune_runs)
    truth = dataset.truth(runs)
    entries = [
        evaluate_outcome(o, truth, dataset.classes, n_resamples=config.bootstrap, seed=config.seed)
        for o in outcomes
    ]
    results = build_results(
        entries,
        dataset=_dataset_record(dataset, config, runs, fit_runs, tune_runs),
        metric={
            "rule": "competition",
            "beta": 4.0,
            "distance_multiplier": 0.5,
            "bootstrap": {"n_resamples": config.bootstrap, "seed": config.seed, "confidence": 0.95},
        },
        run_info={
            "executor": config.executor,
            "workers": config.workers,
            "wall_s": time.perf_counter() - started,
        },
    )
    _write_outputs(config, results, outcomes, dataset, truth)
    frame = leaderboard_frame(results)
    title = f"{config.dataset}: {config.split} split ({len(runs)} runs)"
    lines = [
        f"results: {config.out / 'results.json'}",
        f"leaderboard: {config.out / 'leaderboard.md'}",
        f"picks: {config.out / 'picks'}/",
        f"wall time {time.perf_counter() - started:.1f} s",
    ]
    return BenchmarkSummary(
        results=results,
        out=config.out,
        table=render_leaderboard_rich(frame, title),
        lines=lines,
        failed={o.card.name: o.error for o in outcomes if o.status != "ok"},
    )


def tune_operating_points(
    outcomes: list[PickerOutcome], dataset: Dataset, runs: Sequence[str], tune_runs: Sequence[str]
) -> None:
    """Set each picker's own thresholds to its best thresholds on the tuning runs.

    The picks of the tuning runs are then dropped, so that the leaderboard
    scores only ``runs``, at thresholds chosen without them: an out-of-sample
    operating point, unlike the in-sample "best thresholds" score beside it.
    """
    truth = dataset.truth(tune_runs)
    for outcome in outcomes:
        if outcome.status != "ok":
            continue
        on_train = outcome.picks["experiment"].isin(list(tune_runs)).to_numpy()
        if len(truth) and on_train.any():
            curves = threshold_sweep(truth, outcome.picks.loc[on_train], classes=dataset.classes)
            outcome.thresholds = {**outcome.thresholds, **best_thresholds(curves)}
            outcome.threshold_source = f"best on {len(tune_runs)} held-out train run(s)"
        outcome.picks = outcome.picks.loc[~on_train].reset_index(drop=True)
        outcome.pick_seconds = {run: s for run, s in outcome.pick_seconds.items() if run in runs}
        outcome.cached_runs = [run for run in outcome.cached_runs if run in runs]


def _fit_and_tune_runs(
    train_runs: Sequence[str], runs: Sequence[str], tune: bool
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split the train split into runs to fit on and runs to tune thresholds on.

    The last third of the train split (at least one run) tunes the operating
    points and is never used for fitting; with a single train run (or
    ``tune=False``, or train runs among the scored runs) nothing is tuned.
    """
    train = tuple(train_runs)
    if not tune or len(train) < 2 or set(train) & set(runs):
        return train, ()
    n_tune = max(1, len(train) // 3)
    return train[:-n_tune], train[-n_tune:]


def _train_runs(dataset: Dataset, split: str) -> tuple[str, ...]:
    if "train" in dataset.splits and split != "train":
        return dataset.splits["train"]
    if split == "train":
        return dataset.splits.get("train", ())
    return ()


def _dataset_record(dataset, config, runs, train_runs, tune_runs) -> dict[str, Any]:
    return {
        **dataset.identity(),
        "spec": config.dataset,
        "split": config.split,
        "runs": list(runs),
        "train_runs": list(train_runs),
        "tune_runs": list(tune_runs),
        "classes": {
            c.name: {"radius_angstrom": c.radius_angstrom, "weight": c.weight}
            for c in dataset.classes
        },
    }


def _check_output_folder(out: Path, dataset: Dataset, overwrite: bool) -> None:
    previous = out / "results.json"
    if not previous.is_file() or overwrite:
        if out.exists() and not out.is_dir():
            raise InputError(str(out), "output path exists and is not a folder")
        return
    try:
        recorded = read_results(previous)["dataset"]
    except SchemaError:
        recorded = {}
    mine = {k: v for k, v in dataset.identity().items() if k != "runs"}
    theirs = {k: recorded.get(k) for k in mine}
    if mine != theirs:
        raise OutputExistsError(
            f"{previous}: holds results of another dataset ({json.dumps(theirs, default=str)}); "
            f"this run is {json.dumps(mine, default=str)}; pass --overwrite to replace them"
        )


def _write_outputs(config: BenchmarkConfig, results, outcomes, dataset: Dataset, truth) -> None:
    out = config.out
    (out / "picks").mkdir(parents=True, exist_ok=True)
    write_kaggle_csv(truth, out / "truth.csv", overwrite=True)
    for outcome in outcomes:
        if outcome.status == "ok":
            write_kaggle_csv(
                outcome.picks, out / "picks" / f"{outcome.card.name}.csv", overwrite=True
            )
            if config.write_copick:
                _write_copick(outcome, dataset)
    write_results(results, out / "results.json")
    with atomic_output(out / "leaderboard.md", overwrite=True) as temporary:
        temporary.write_text(
            render_leaderboard_markdown(leaderboard_frame(results), results), encoding="utf-8"
        )


def _write_copick(outcome, dataset: Dataset) -> None:
    if not isinstance(dataset, CopickDataset):
        raise InputError("--write-copick", f"the dataset {dataset.name!r} is not a copick project")
    user = outcome.card.name.replace("_", "-")
    write_copick_picks(
        outcome.picks, dataset.config_path, user_id=user, session_id="0", overwrite=True
    )
