"""Versioned benchmark results with provenance, and their JSON round trip.

``results.json`` (schema version 3)::

    {"schema_version": 3,
     "provenance": {package versions, python, platform, git commit, command, time},
     "dataset": {identity: {..., digest}, source, spec, split, runs, train_runs, tune_runs,
                 classes: {name: {radius, weight}}},
     "metric": {"rule", "beta", "distance_multiplier", "bootstrap": {...}},
     "results": [one entry per picker, see :func:`evaluate_outcome`],
     "comparisons": {paired statistics of every pair of pickers, see :func:`compare_entries`}}

The full field list is in ``docs/results_schema.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from topcup_bench._version import __version__
from topcup_bench.datasets.atomic import atomic_output
from topcup_bench.errors import InputError, SchemaError, short_repr
from topcup_bench.metrics import RunClassCounts, bootstrap_score, compare_pickers, score_picks
from topcup_bench.operating_points import apply_run_thresholds
from topcup_bench.results_validation import validate_results
from topcup_bench.runner import PickerOutcome
from topcup_bench.types import ClassCatalogue

__all__ = [
    "SCHEMA_VERSION",
    "evaluate_outcome",
    "build_results",
    "compare_entries",
    "entry_counts",
    "write_results",
    "read_results",
    "provenance",
]

SCHEMA_VERSION = 3


def evaluate_outcome(
    outcome: PickerOutcome,
    truth: pd.DataFrame,
    classes: ClassCatalogue,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Score one picker's picks: own thresholds, best thresholds, interval, timings.

    Returns
    -------
    dict
        ``picker``, ``card``, ``status``, ``error``, ``score``, ``score_interval``,
        ``score_best`` (optimistic: thresholds chosen on the same runs),
        ``counts_by_run`` (``{run: {class: [tp, fp, fn]}}`` at the picker's own
        thresholds: the counts the score, its interval and the paired
        comparisons are computed from), ``thresholds``, ``threshold_source``
        (how they were set),
        ``thresholds_by_run`` and ``threshold_folds`` (cross-validated
        thresholds only), ``thresholds_best``, ``classes`` (per class counts and
        rates at both operating points), ``n_picks``, ``rule_differences``,
        ``timings``, ``dropped`` (``{"rows", "of", "runs": {name: rows}}``:
        picks naming runs that were not scored, per run name as written) and
        ``logs`` (run or ``fit`` → log file of the tool an adapter ran; ``{}`` for
        pickers that run no tool).

    Notes
    -----
    With cross-validated thresholds (``outcome.run_thresholds``) every run's
    picks are kept at its fold's thresholds and scored together: the counts
    per (run, class), the score and its bootstrap interval are those of the
    held-out folds, pooled.
    """
    entry: dict[str, Any] = {
        "picker": outcome.card.name,
        "card": outcome.card.to_dict(),
        "status": outcome.status,
        "error": outcome.error,
        "timings": _timings(outcome),
        "dropped": {
            "rows": int(sum(outcome.dropped.values())),
            "of": int(outcome.n_rows),
            "runs": dict(outcome.dropped),
        },
        "logs": dict(getattr(outcome, "logs", {}) or {}),
    }
    if outcome.status != "ok":
        return entry
    own = {k: v for k, v in outcome.thresholds.items() if math.isfinite(v)}
    if outcome.run_thresholds:
        kept = apply_run_thresholds(outcome.picks, outcome.run_thresholds, own)
        result = score_picks(truth, kept, classes=classes)
        entry["thresholds_by_run"] = outcome.run_thresholds
        entry["threshold_folds"] = outcome.folds
        own = {}
    else:
        result = score_picks(truth, outcome.picks, classes=classes, thresholds=own or None)
    best = score_picks(truth, outcome.picks, classes=classes, thresholds="best")
    interval = bootstrap_score(result, n_resamples=n_resamples, seed=seed)
    entry.update(
        {
            "score": result.score,
            "score_interval": {
                "low": interval.low,
                "high": interval.high,
                "confidence": interval.confidence,
            },
            "score_best": best.score,
            "thresholds": own or None,
            "threshold_source": outcome.threshold_source,
            "thresholds_best": best.thresholds,
            "classes": _classes(result, best),
            "n_picks": int(len(outcome.picks)),
            "rule_differences": len(result.rule_differences),
            "counts_by_run": _counts_by_run(result.counts),
        }
    )
    return entry


def _counts_by_run(counts: RunClassCounts) -> dict[str, dict[str, list[int]]]:
    return {
        run: {
            name: [int(counts.tp[i, k]), int(counts.fp[i, k]), int(counts.fn[i, k])]
            for k, name in enumerate(counts.classes)
        }
        for i, run in enumerate(counts.experiments)
    }


def entry_counts(entry: dict[str, Any]) -> RunClassCounts:
    """Rebuild a picker's per-(run, class) counts from its entry's ``counts_by_run``.

    Runs in the order written, classes in the order of the first run.

    Raises
    ------
    SchemaError
        No ``counts_by_run`` (a failed picker), or runs that do not all list
        the same classes.
    """
    by_run = entry.get("counts_by_run")
    if not isinstance(by_run, dict):
        raise SchemaError(
            f"results entry {entry.get('picker')!r}",
            "no 'counts_by_run' to rebuild its counts from (failed picker, or an older file)",
        )
    runs = tuple(by_run)
    classes = tuple(by_run[runs[0]]) if runs else ()
    tables = np.zeros((3, len(runs), len(classes)), dtype=np.int64)
    for i, run in enumerate(runs):
        if set(by_run[run]) != set(classes):
            raise SchemaError(
                f"results entry {entry.get('picker')!r}",
                f"field 'counts_by_run.{run}': classes {sorted(by_run[run])} differ from "
                f"those of run {runs[0]!r}: {sorted(classes)}",
            )
        for k, name in enumerate(classes):
            tables[:, i, k] = by_run[run][name]
    return RunClassCounts(runs, classes, tables[0], tables[1], tables[2])


def compare_entries(
    entries: list[dict[str, Any]], *, dataset: dict[str, Any], metric: dict[str, Any]
) -> dict[str, Any]:
    """The paired comparisons of the ``ok`` pickers, as stored in ``comparisons``.

    Recomputed from each entry's ``counts_by_run``, the classes' weights in
    ``dataset.classes``, ``metric.beta`` and ``metric.bootstrap`` (n_resamples,
    seed, confidence; 1000, 0 and 0.95 when absent), so that a results
    document gives the same numbers when compared again. Failed pickers are
    not compared.

    Returns
    -------
    dict
        See :meth:`topcup_bench.metrics.PickerComparison.to_dict`.
    """
    bootstrap = metric.get("bootstrap") or {}
    weights = {name: float(info["weight"]) for name, info in dataset["classes"].items()}
    named = {e["picker"]: entry_counts(e) for e in entries if e.get("status") == "ok"}
    comparison = compare_pickers(
        named,
        weights,
        sum(weights.values()),
        float(metric.get("beta", 4.0)),
        n_resamples=int(bootstrap.get("n_resamples", 1000)),
        seed=int(bootstrap.get("seed", 0)),
        confidence=float(bootstrap.get("confidence", 0.95)),
    )
    return comparison.to_dict()


def build_results(
    entries: list[dict[str, Any]],
    *,
    dataset: dict[str, Any],
    metric: dict[str, Any],
    run_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble the results document, with the paired comparisons of its pickers."""
    return {
        "schema_version": SCHEMA_VERSION,
        "provenance": provenance(run_info or {}),
        "dataset": dataset,
        "metric": metric,
        "results": entries,
        "comparisons": compare_entries(entries, dataset=dataset, metric=metric),
    }


def write_results(results: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``results`` as JSON, atomically (replacing an older file of ours)."""
    with atomic_output(path, overwrite=True) as temporary:
        temporary.write_text(json.dumps(_jsonable(results), indent=2), encoding="utf-8")


def read_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a results file, checking its schema version and its structure.

    Raises
    ------
    InputError
        Missing or unreadable file.
    SchemaError
        Not JSON, a schema version this package does not know, or a missing or
        mistyped field (the message names the file and the field, see
        :func:`topcup_bench.results_validation.validate_results`).
    """
    source = os.fspath(path)
    try:
        results = json.loads(Path(source).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(source, "results file not found") from None
    except UnicodeDecodeError:
        raise SchemaError(source, "not a UTF-8 text file (expected results.json)") from None
    except OSError as error:
        raise InputError(source, f"cannot read the results file: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise SchemaError(source, f"not valid JSON ({error})") from None
    found = results.get("schema_version") if isinstance(results, dict) else None
    if found != SCHEMA_VERSION:
        raise SchemaError(
            source,
            f"unknown results schema_version {short_repr(found)}; this topcup-bench "
            f"{__version__} reads version {SCHEMA_VERSION}"
            + (
                " (newer file: upgrade topcup-bench)"
                if isinstance(found, int) and found > SCHEMA_VERSION
                else " (older file: re-run topcup-bench run to rewrite it)"
                if isinstance(found, int)
                else ""
            ),
        )
    validate_results(results, source)
    return results


def provenance(extra: dict[str, Any]) -> dict[str, Any]:
    """Versions, platform, git commit, time and command line."""
    packages = {}
    for name in (
        "numpy",
        "scipy",
        "pandas",
        "copick",
        "zarr",
        "scikit-learn",
        "scikit-image",
        "torch",
        "monai",
        "dask",
    ):
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            continue
    return {
        "topcup_bench_version": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "packages": packages,
        "git_commit": _git_commit(),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        **extra,
    }


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else ``platform.processor()``).

    TopCUP's training differs slightly between CPU types (oneDNN kernels), so
    its scores are quoted with the CPU. With PyTorch loaded, the vector
    instruction set its kernels use is appended (e.g. ``"AMD EPYC 7B13 (torch:
    AVX2)"``). An empty string when nothing is known.
    """
    name = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    name = name or platform.processor()
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            name += f" (torch: {torch.backends.cpu.get_cpu_capability()})"
        except (AttributeError, RuntimeError):
            pass
    return name.strip()


def _classes(result, best) -> dict[str, dict[str, Any]]:
    out = {}
    for name, own in result.classes.items():
        chosen = best.classes[name]
        out[name] = {
            "tp": own.tp,
            "fp": own.fp,
            "fn": own.fn,
            "precision": own.precision,
            "recall": own.recall,
            "f1": own.f1,
            "fbeta": own.fbeta,
            "weight": own.weight,
            "radius_angstrom": own.radius_angstrom,
            "scored": own.scored,
            "tp_best": chosen.tp,
            "fp_best": chosen.fp,
            "fn_best": chosen.fn,
            "precision_best": chosen.precision,
            "recall_best": chosen.recall,
            "fbeta_best": chosen.fbeta,
        }
    return out


def _timings(outcome: PickerOutcome) -> dict[str, Any]:
    seconds = list(outcome.pick_seconds.values())
    return {
        "fit_s": outcome.fit_seconds,
        "pick_s": dict(outcome.pick_seconds),
        "pick_s_per_tomogram": float(np.median(seconds)) if seconds else None,
        "cached_runs": list(outcome.cached_runs),
    }


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value
