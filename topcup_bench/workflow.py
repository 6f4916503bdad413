"""The benchmark workflow behind ``topcup-bench run``, as a Python function.

:func:`run_benchmark` opens the dataset, builds the pickers, runs them
(:func:`topcup_bench.runner.run_pickers`), scores them, and writes into the
output folder::

    results.json        versioned results with provenance (topcup_bench.results)
    truth.csv           the ground truth of the scored runs (for the report's figures)
    leaderboard.md      the leaderboard
    picks/<picker>.csv  every picker's picks (Kaggle CSV with a score column)
    report/             the report, when asked (report_formats)
    .topcup-bench-manifest.json   the files above and their sha256 (topcup_bench.output_folder)

The output folder is claimed, locked, checked before any picker runs, and
written through a staging folder (:mod:`topcup_bench.output_folder`).
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Group

from topcup_bench.benchmark_config import BenchmarkConfig
from topcup_bench.copick_output import check_write_copick, write_outcome_to_copick
from topcup_bench.datasets import write_kaggle_csv
from topcup_bench.datasets.atomic import atomic_output
from topcup_bench.datasets.catalog import cache_dir, open_dataset
from topcup_bench.datasets.dataset import Dataset
from topcup_bench.errors import InputError, OutputExistsError, TopcupBenchWarning
from topcup_bench.identity import same_dataset
from topcup_bench.metrics.bootstrap import check_bootstrap_fits
from topcup_bench.operating_points import choose_operating_points
from topcup_bench.output_folder import OwnedFolder, claim_output_folder
from topcup_bench.output_location import check_out_location, dataset_folders
from topcup_bench.pickers.labels import check_picker_label
from topcup_bench.pickers.unavailable import create_run_pickers
from topcup_bench.reports.leaderboard import leaderboard_frame, render_leaderboard_markdown
from topcup_bench.reports.terminal import DEFAULT_WIDTH, render_leaderboard_terminal
from topcup_bench.results import (
    build_results,
    evaluate_outcome,
    write_results,
)
from topcup_bench.runner import run_pickers

__all__ = ["run_benchmark", "BenchmarkSummary", "REPORT_FOLDER", "REPORT_FORMATS"]

#: Where ``topcup-bench run`` writes its report inside ``--out``, and its default formats.
REPORT_FOLDER = "report"
REPORT_FORMATS = ("md", "html")


@dataclass
class BenchmarkSummary:
    """What :func:`run_benchmark` produced.

    ``frame`` is the leaderboard (:func:`topcup_bench.reports.leaderboard.leaderboard_frame`),
    ``title`` names the dataset, split and runs, ``written`` says whether the
    outputs (``leaderboard.md``, ``results.json``...) were written.
    """

    results: dict[str, Any]
    out: Path
    frame: pd.DataFrame
    title: str
    written: bool
    lines: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def leaderboard(self, width: int = DEFAULT_WIDTH) -> Group:
        """The terminal leaderboard, fitted to ``width`` columns (no cell wraps)."""
        return render_leaderboard_terminal(
            self.results,
            width=width,
            title=self.title,
            frame=self.frame,
            full_table="leaderboard.md and results.json" if self.written else None,
        )

    @property
    def table(self) -> Group:
        """The terminal leaderboard at :data:`DEFAULT_WIDTH` columns."""
        return self.leaderboard()


def run_benchmark(
    config: BenchmarkConfig,
    *,
    overwrite: bool = False,
    progress: bool = True,
    report_formats: Sequence[str] = (),
) -> BenchmarkSummary:
    """Run the benchmark described by ``config`` and write its outputs.

    ``config.out`` is claimed first (:func:`topcup_bench.output_folder.claim_output_folder`):
    it is locked for the whole run, and checked before any picker runs.  Every
    output (and the report, in ``report_formats`` under ``OUT/report``) is
    written into a staging folder and moved into ``config.out`` only when all
    of it was written; files of the previous run that this run does not
    produce are then removed.  A failing run, or one in which no picker
    succeeded, leaves ``config.out`` as it was (``lines`` then says nothing
    was written).

    Raises
    ------
    OutputExistsError
        ``config.out`` is being written by another run, holds files topcup-bench
        did not write, or holds results of another dataset, and ``overwrite``
        is False; ``--write-copick`` would replace existing copick picks.
    InputError
        ``config.out`` is, is inside or contains the dataset's folder or the
        cache (even with ``overwrite``), or lies below a file, or inside
        another output folder.  Unknown dataset, split, picker or parameter;
        a picker label that is not a plain name; ``--write-copick`` on a
        dataset that is not a copick project or under its ground-truth user
        and session.
    """
    if not isinstance(config, BenchmarkConfig):
        raise TypeError(
            f"run_benchmark: config must be a BenchmarkConfig (or load_config(path)), "
            f"got {type(config).__name__}"
        )
    check_out_location(config.out, {"the cache folder": cache_dir()})
    with claim_output_folder(config.out, command="run", overwrite=overwrite) as folder:
        return _run_into(folder, config, overwrite, progress, report_formats)


def _run_into(
    folder: OwnedFolder,
    config: BenchmarkConfig,
    overwrite: bool,
    progress: bool,
    report_formats: Sequence[str],
) -> BenchmarkSummary:
    started = time.perf_counter()
    pickers = create_run_pickers(config.pickers)  # input errors stop here, before any work
    _check_labels(pickers)  # stand-ins for pickers that failed to be created included
    names = [p.display_name for p in pickers]
    if len(set(names)) != len(names):
        raise InputError("--pickers", f"picker names must be unique on a leaderboard: {names}")
    dataset = open_dataset(config.dataset, progress=progress)
    dataset.check_truth_user()  # a copick ?user= with no picks: say whose picks exist
    check_out_location(folder.out, dataset_folders(dataset))
    _check_output_folder(folder, dataset, overwrite)
    if config.write_copick:
        check_write_copick(dataset, names, dataset.split(config.split), overwrite)
    runs = dataset.split(config.split)
    check_bootstrap_fits(config.bootstrap, len(runs), len(dataset.classes))  # before any picking
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
    truth = dataset.truth(runs)
    without_truth = _runs_without_truth(truth, runs)
    choose_operating_points(
        outcomes,
        truth,
        dataset.classes,
        runs,
        tune_runs,
        dataset.truth(tune_runs) if tune_runs else None,
        tune=config.tune_thresholds,
    )
    entries = [
        evaluate_outcome(o, truth, dataset.classes, n_resamples=config.bootstrap, seed=config.seed)
        for o in outcomes
    ]
    results = build_results(
        entries,
        dataset={
            **_dataset_record(dataset, config, runs, fit_runs, tune_runs),
            "runs_without_truth": without_truth,
        },
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
    written = any(o.status == "ok" for o in outcomes)
    if written:
        lines = _write_and_commit(
            folder, config, results, outcomes, truth, dataset, report_formats, overwrite
        )
    else:  # nothing to keep: the previous results stay
        lines = [f"nothing written: no picker succeeded; {config.out} is left as it was"]
    title = f"{config.dataset}: {config.split} split ({len(runs)} runs)"
    lines.append(f"wall time {time.perf_counter() - started:.1f} s")
    return BenchmarkSummary(
        results=results,
        out=config.out,
        frame=leaderboard_frame(results),
        title=title,
        written=written,
        lines=lines,
        failed={o.card.name: o.error for o in outcomes if o.status != "ok"},
    )


def _write_and_commit(
    folder, config, results, outcomes, truth, dataset, report_formats, overwrite
) -> list[str]:
    """Write every output (and the report) into staging, commit; return the lines naming them."""
    _write_outputs(folder.staging, results, outcomes, truth)
    if report_formats:
        _write_report(folder.staging, config.out, report_formats)
    if config.write_copick:
        for outcome in outcomes:
            if outcome.status == "ok":
                write_outcome_to_copick(outcome, dataset, overwrite)
    folder.commit()
    lines = [
        f"results: {config.out / 'results.json'}",
        f"leaderboard: {config.out / 'leaderboard.md'}",
        f"picks: {config.out / 'picks'}/",
    ]
    if report_formats:
        names = ", ".join(f"report.{f}" for f in report_formats)
        lines.append(f"report: {config.out / REPORT_FOLDER}/ ({names})")
    return lines


def _runs_without_truth(truth, runs: Sequence[str]) -> list[str]:
    """Scored runs without any ground-truth pick (missing or empty truth files), with a warning.

    Their picks cannot be scored (the metric drops picks of experiments absent
    from the ground truth), so they are named rather than silently ignored.
    """
    present = set(truth["experiment"]) if len(truth) else set()
    missing = [run for run in runs if run not in present]
    if missing:
        warnings.warn(
            f"{len(missing)} of {len(runs)} scored runs have no ground-truth picks (missing or "
            f"empty truth file): {missing[:8]}{' ...' if len(missing) > 8 else ''}; picks on "
            "them are not scored",
            TopcupBenchWarning,
            stacklevel=3,
        )
    return missing


def _fit_and_tune_runs(
    train_runs: Sequence[str], runs: Sequence[str], tune: bool
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split the train split into runs to fit on and runs to tune thresholds on.

    The last third of the train split (at least one run) tunes the operating
    points and is never used for fitting; with a single train run (or
    ``tune=False``, or train runs among the scored runs) no train run is held
    out, and :func:`~topcup_bench.operating_points.choose_operating_points`
    cross-validates the thresholds over the scored runs instead (unless
    ``tune=False``).
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
    """The results' ``dataset`` record: content identity, provenance, split and runs."""
    return {
        "identity": dataset.identity(),
        "source": dataset.provenance(),
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


def _check_output_folder(folder: OwnedFolder, dataset: Dataset, overwrite: bool) -> None:
    """Refuse to replace results of another dataset (by identity digest) unless ``overwrite``."""
    previous = folder.previous_file("results.json")
    if previous is None or overwrite:
        return
    try:
        recorded = json.loads(previous.read_text(encoding="utf-8")).get("dataset")
    except (OSError, ValueError, AttributeError):
        recorded = None
    mine = dataset.identity()
    if not same_dataset(mine, recorded):
        theirs = recorded.get("spec") if isinstance(recorded, dict) else None
        spec = getattr(dataset, "spec", dataset.name)
        new_digest = str(mine.get("digest"))[:12]
        if theirs is not None and theirs == spec:  # the same name, other data: say so
            identity = recorded.get("identity")
            old = identity.get("digest") if isinstance(identity, dict) else None
            raise OutputExistsError(
                f"{previous}: the data of {spec} changed since those results (identity digest "
                f"{str(old)[:12] if old else 'not recorded'} -> {new_digest}); choose another "
                "--out or pass --overwrite to replace them"
            )
        raise OutputExistsError(
            f"{previous}: holds results of another dataset ({theirs or 'unreadable record'}); "
            f"this run is {spec} (identity digest "
            f"{new_digest}); choose another --out or pass --overwrite "
            "to replace them"
        )


def _write_outputs(out: Path, results, outcomes, truth) -> None:
    """Write results.json, truth.csv, leaderboard.md and picks/<picker>.csv into ``out``."""
    (out / "picks").mkdir(parents=True, exist_ok=True)
    write_kaggle_csv(truth, out / "truth.csv", overwrite=True)
    for outcome in outcomes:
        if outcome.status == "ok":
            name = check_picker_label(outcome.card.name)
            write_kaggle_csv(outcome.picks, out / "picks" / f"{name}.csv", overwrite=True)
    write_results(results, out / "results.json")
    with atomic_output(out / "leaderboard.md", overwrite=True) as temporary:
        temporary.write_text(
            render_leaderboard_markdown(leaderboard_frame(results), results), encoding="utf-8"
        )


def _write_report(staging: Path, out: Path, formats: Sequence[str]) -> None:
    """The report of ``staging/results.json`` into ``staging/report``, naming ``out``."""
    from topcup_bench.reports.report import render_report  # matplotlib: only when asked

    results = staging / "results.json"
    render_report([results], staging / REPORT_FOLDER, formats, shown_paths=[out / "results.json"])


def _check_labels(pickers) -> None:
    for picker in pickers:
        check_picker_label(picker.display_name)
