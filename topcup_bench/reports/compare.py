"""Compare two results files: per-picker and per-class differences, and regression gates.

A picker that was ``ok`` in ``base`` *regresses* when its score drops by more
than ``score_tolerance`` (or, with ``use_interval``, falls below the base's
bootstrap interval), when its score in ``new`` is missing or not a number
(``null`` in the file; a file with a NaN or out-of-range score is refused by
:func:`~topcup_bench.results.read_results`), when it became slower than ``time_ratio`` times
the base's seconds per tomogram, when it failed in ``new``, or when it is
missing from ``new``.

Refused (:class:`~topcup_bench.errors.InputError`, exit status 2 on the
command line): results of different datasets (the content digest
``dataset.identity.digest``, the split or the runs differ), results scored with
different metric parameters (``rule``, ``beta``, ``distance_multiplier``), and
tolerances or ratios that are NaN, infinite or out of range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from topcup_bench.errors import InputError

__all__ = ["Comparison", "compare_results", "check_gate_options"]

#: Slow-downs smaller than this (seconds per tomogram) are timing noise, whatever the ratio.
_MIN_SLOWDOWN_S = 0.25

#: Metric parameters that must agree for two scores to be comparable.
_METRIC_KEYS = ("rule", "beta", "distance_multiplier")


@dataclass(frozen=True)
class Comparison:
    """Outcome of :func:`compare_results`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (picker, quantity): ``picker, quantity, base, new, change``;
        quantities are ``score``, ``s_per_tomogram`` and ``fbeta:<class>``.
    regressions : list of str
        Human-readable reasons; empty when nothing regressed.
    """

    table: pd.DataFrame
    regressions: list[str]

    @property
    def regressed(self) -> bool:
        """True when at least one gate failed."""
        return bool(self.regressions)


def compare_results(
    base: dict[str, Any],
    new: dict[str, Any],
    *,
    score_tolerance: float = 0.01,
    time_ratio: float = 1.5,
    use_interval: bool = False,
) -> Comparison:
    """Compare two results documents (as returned by :func:`topcup_bench.results.read_results`).

    Parameters
    ----------
    base, new : dict
        Results documents (schema version 3); ``new`` is checked against ``base``.
    score_tolerance : float
        Largest acceptable score drop, finite and >= 0.
    time_ratio : float
        Largest acceptable slow-down (new / base seconds per tomogram), finite and > 0.
    use_interval : bool
        Regression = score below the base's bootstrap interval instead of the tolerance.

    Raises
    ------
    InputError
        Different datasets (both identities are shown), different metric
        parameters, or a tolerance or ratio out of range.
    """
    check_gate_options(score_tolerance, time_ratio)
    _check_same_dataset(base["dataset"], new["dataset"])
    _check_same_metric(base["metric"], new["metric"])
    base_entries = {e["picker"]: e for e in base["results"]}
    rows, regressions = [], []
    for entry in new["results"]:
        name = entry["picker"]
        before = base_entries.get(name)
        if before is None:
            continue
        rows += _rows(name, before, entry)
        regressions += _gates(name, before, entry, score_tolerance, time_ratio, use_interval)
    missing = sorted(set(base_entries) - {e["picker"] for e in new["results"]})
    regressions += [f"{name}: missing from the new results" for name in missing]
    return Comparison(
        pd.DataFrame(rows, columns=["picker", "quantity", "base", "new", "change"]), regressions
    )


def check_gate_options(
    score_tolerance: float,
    time_ratio: float,
    *,
    names: tuple[str, str] = ("score_tolerance", "time_ratio"),
) -> None:
    """Refuse a NaN, infinite or negative tolerance and a NaN, infinite or non-positive ratio.

    Parameters
    ----------
    score_tolerance, time_ratio : float
        The gate options.
    names : tuple of str
        How to name them in the message (the command line passes its flags).

    Raises
    ------
    InputError
        The first option out of range, named as in ``names``.
    """
    for value, name, positive in (
        (score_tolerance, names[0], False),
        (time_ratio, names[1], True),
    ):
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        if number is None or not math.isfinite(number) or number < 0 or (positive and number == 0):
            expected = "a finite number > 0" if positive else "a finite number >= 0"
            raise InputError(name, f"expected {expected}, found {value!r}")


def _check_same_dataset(base: dict[str, Any], new: dict[str, Any]) -> None:
    """Same content digest, split and runs (``topcup_bench.identity.same_dataset`` when present)."""
    try:
        from topcup_bench.identity import same_dataset
    except ImportError:  # identity.py not there: the digests are the contract
        same = base["identity"]["digest"] == new["identity"]["digest"]
    else:
        same = bool(same_dataset(base["identity"], new["identity"]))
    same = same and (base["split"], list(base["runs"])) == (new["split"], list(new["runs"]))
    if not same:
        raise InputError(
            "compare",
            f"the results are of different datasets: base {_describe(base)}, new {_describe(new)}",
        )


def _describe(record: dict[str, Any]) -> str:
    runs = list(record["runs"])
    shown = runs if len(runs) <= 8 else [*runs[:8], f"... {len(runs)} runs"]
    return (
        f"{{spec {record.get('spec')!r}, digest {str(record['identity']['digest'])[:12]}, "
        f"split {record['split']!r}, runs {shown}}}"
    )


def _check_same_metric(base: dict[str, Any], new: dict[str, Any]) -> None:
    mine = {k: base.get(k) for k in _METRIC_KEYS}
    theirs = {k: new.get(k) for k in _METRIC_KEYS}
    if mine != theirs:
        differing = [k for k in _METRIC_KEYS if mine[k] != theirs[k]]
        raise InputError(
            "compare",
            f"the results were scored differently ({', '.join(differing)}): base {mine}, "
            f"new {theirs}; scores of different metrics cannot be compared",
        )


def _rows(name: str, before: dict, after: dict) -> list[dict[str, Any]]:
    quantities = {"score": (before.get("score"), after.get("score"))}
    quantities["s_per_tomogram"] = (
        before["timings"].get("pick_s_per_tomogram"),
        after["timings"].get("pick_s_per_tomogram"),
    )
    for cls in before.get("classes") or {}:
        quantities[f"fbeta:{cls}"] = (
            before["classes"][cls].get("fbeta"),
            (after.get("classes") or {}).get(cls, {}).get("fbeta"),
        )
    rows = []
    for quantity, (old, new) in quantities.items():
        old, new = _finite(old), _finite(new)
        change = new - old if old is not None and new is not None else None
        rows.append(
            {"picker": name, "quantity": quantity, "base": old, "new": new, "change": change}
        )
    return rows


def _gates(name, before, after, tolerance, ratio, use_interval) -> list[str]:
    if after["status"] != "ok":
        return [] if before["status"] != "ok" else [f"{name}: failed ({after.get('error')})"]
    if before["status"] != "ok":
        return []
    old, new = _finite(before.get("score")), _finite(after.get("score"))
    if new is None:
        return [f"{name}: score missing or not a number in the new results (base {old})"]
    if old is None:
        return [f"{name}: score missing or not a number in the base results; cannot compare"]
    reasons = []
    low = _finite((before.get("score_interval") or {}).get("low")) if use_interval else None
    if use_interval and low is None:
        reasons.append(f"{name}: the base has no bootstrap interval; --use-interval cannot gate")
    elif use_interval:
        if new < low:
            reasons.append(f"{name}: score {new:.4f} below the base interval's low end {low:.4f}")
    elif new < old - tolerance:
        reasons.append(
            f"{name}: score {old:.4f} -> {new:.4f} (drop {old - new:.4f} > tolerance {tolerance:g})"
        )
    old_s = _finite(before["timings"].get("pick_s_per_tomogram"))
    new_s = _finite(after["timings"].get("pick_s_per_tomogram"))
    if old_s and new_s and new_s > ratio * old_s and new_s - old_s > _MIN_SLOWDOWN_S:
        reasons.append(
            f"{name}: {new_s:.2f} s per tomogram vs {old_s:.2f} s (more than {ratio:g}x slower)"
        )
    return reasons


def _finite(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing, NaN or infinite."""
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    return number if math.isfinite(number) else None
