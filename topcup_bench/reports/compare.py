"""Compare two results files: per-picker and per-class differences, and regression gates.

A picker *regresses* when its score drops by more than ``score_tolerance``
(or, with ``use_interval``, falls below the base's bootstrap interval), when it
became slower than ``time_ratio`` times the base's seconds per tomogram, or
when it failed in ``new`` but not in ``base``.  Results of different datasets
are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from topcup_bench.errors import InputError

__all__ = ["Comparison", "compare_results"]

#: Slow-downs smaller than this (seconds per tomogram) are timing noise, whatever the ratio.
_MIN_SLOWDOWN_S = 0.25

_IDENTITY_KEYS = ("spec", "kind", "config", "folder", "tomo_type", "split", "runs", "phantom_key")


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
    """Compare two results documents (see :mod:`topcup_bench.results`).

    Raises
    ------
    InputError
        The two documents describe different datasets (both identities are shown).
    """
    base_identity = {k: base["dataset"].get(k) for k in _IDENTITY_KEYS}
    new_identity = {k: new["dataset"].get(k) for k in _IDENTITY_KEYS}
    if base_identity != new_identity:
        raise InputError(
            "compare",
            f"the results are of different datasets: base {base_identity}, new {new_identity}",
        )
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


def _rows(name: str, before: dict, after: dict) -> list[dict[str, Any]]:
    quantities = {"score": (before.get("score"), after.get("score"))}
    quantities["s_per_tomogram"] = (
        before["timings"].get("pick_s_per_tomogram"),
        after["timings"].get("pick_s_per_tomogram"),
    )
    for cls in before.get("classes") or {}:
        quantities[f"fbeta:{cls}"] = (
            before["classes"][cls]["fbeta"],
            (after.get("classes") or {}).get(cls, {}).get("fbeta"),
        )
    rows = []
    for quantity, (old, new) in quantities.items():
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
    reasons = []
    if use_interval:
        low = before["score_interval"]["low"]
        if after["score"] < low:
            reasons.append(
                f"{name}: score {after['score']:.4f} below the base interval's low end {low:.4f}"
            )
    elif after["score"] < before["score"] - tolerance:
        reasons.append(
            f"{name}: score {before['score']:.4f} -> {after['score']:.4f} "
            f"(drop {before['score'] - after['score']:.4f} > tolerance {tolerance:g})"
        )
    old_s = before["timings"].get("pick_s_per_tomogram")
    new_s = after["timings"].get("pick_s_per_tomogram")
    if old_s and new_s and new_s > ratio * old_s and new_s - old_s > _MIN_SLOWDOWN_S:
        reasons.append(
            f"{name}: {new_s:.2f} s per tomogram vs {old_s:.2f} s (more than {ratio:g}x slower)"
        )
    return reasons
