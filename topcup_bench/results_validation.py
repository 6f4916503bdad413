"""Structure check of a results document (``results.json``, see ``docs/results_schema.md``).

:func:`validate_results` checks the fields and types that ``report`` and
``compare`` rely on, so that a hand-edited or truncated file is refused with
one message naming the file and the field (``results[2].score``) instead of
failing deep inside a report with a ``KeyError``.  Values may be ``null``
where the writer stores non-finite numbers (scores, rates, timings).  Scores
and rates (``score``, ``score_best``, the interval bounds, per-class ``fbeta``,
``precision``, ``recall``) must lie in [0, 1] (tolerance 1e-9; NaN refused),
an interval's ``low <= high``, and each picker has one entry.  Schema 3's
``counts_by_run`` of an entry (``{run: {class: [tp, fp, fn]}}``, integers) and
the document's ``comparisons`` (groups and pairs naming pickers of the
document, p-values in [0, 1], differences in [-1, 1]) are checked when present.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

from topcup_bench.errors import SchemaError, short_repr

__all__ = ["validate_results"]

_STATUSES = ("ok", "failed")
_CLASS_NUMBERS = ("fbeta", "precision", "recall", "tp", "fp", "fn")
_CLASS_FRACTIONS = ("fbeta", "precision", "recall")
_TOLERANCE = 1e-9


def _check_order(check: _Checker, where: str, low: float | None, high: float | None) -> None:
    """Refuse an interval whose bounds are the wrong way round (``low > high``).

    The score itself may lie outside its percentile bootstrap interval (few
    resamples, a skewed resampled distribution), so only the bounds are ordered.
    """
    if low is None or high is None or low <= high + _TOLERANCE:
        return
    raise SchemaError(
        check.source,
        f"field {where + '.score_interval'!r}: expected low <= high, found "
        f"low={low!r}, high={high!r}; is this a results.json written by topcup-bench run?",
    )


def validate_results(document: Any, source: str) -> None:
    """Check the structure of a results document; raise on the first bad field.

    Parameters
    ----------
    document : Any
        The parsed JSON document.
    source : str
        The file it came from (named in every message).

    Raises
    ------
    SchemaError
        A missing field or one of the wrong type; the message names ``source``
        and the field's path, e.g. ``results[0].classes``.
    """
    check = _Checker(source)
    top = check.mapping(document, "the document")
    dataset = check.mapping(check.field(top, "dataset", ""), "dataset")
    identity = check.mapping(check.field(dataset, "identity", "dataset."), "dataset.identity")
    check.text(check.field(identity, "digest", "dataset.identity."), "dataset.identity.digest")
    check.text(check.field(dataset, "split", "dataset."), "dataset.split")
    runs = check.field(dataset, "runs", "dataset.")
    if not isinstance(runs, list) or not all(isinstance(r, str) for r in runs):
        check.fail("dataset.runs", "a list of run names", runs)
    classes = check.mapping(check.field(dataset, "classes", "dataset."), "dataset.classes")
    for name, info in classes.items():
        where = f"dataset.classes.{name}"
        info = check.mapping(info, where)
        for key in ("radius_angstrom", "weight"):
            check.number(check.field(info, key, f"{where}."), f"{where}.{key}", nullable=False)
    metric = check.mapping(check.field(top, "metric", ""), "metric")
    check.text(check.field(metric, "rule", "metric."), "metric.rule")
    for key in ("beta", "distance_multiplier"):
        check.number(check.field(metric, key, "metric."), f"metric.{key}", nullable=False)
    entries = check.field(top, "results", "")
    if not isinstance(entries, list):
        check.fail("results", "a list of picker entries", entries)
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        _check_entry(check, entry, f"results[{index}]", list(classes))
        name = entry["picker"]
        if name in seen:
            raise SchemaError(
                source,
                f"results: picker {name!r} appears twice; each picker may have one entry",
            )
        seen.add(name)
    if "comparisons" in top:
        ok = {entry["picker"] for entry in entries if entry["status"] == "ok"}
        _check_comparisons(check, top["comparisons"], ok)


def _check_counts_by_run(check: _Checker, value: Any, where: str) -> None:
    """``{run: {class: [tp, fp, fn]}}`` with integer counts."""
    for run, per_class in check.mapping(value, where).items():
        for name, counts in check.mapping(per_class, f"{where}.{run}").items():
            integers = isinstance(counts, list) and all(
                isinstance(c, numbers.Integral) and not isinstance(c, bool) for c in counts
            )
            if not integers or len(counts) != 3:
                check.fail(f"{where}.{run}.{name}", "a list [tp, fp, fn] of 3 integers", counts)


def _check_comparisons(check: _Checker, value: Any, ok: set[str]) -> None:
    """Groups and pairs of the paired statistics, naming only pickers that succeeded."""
    comparisons = check.mapping(value, "comparisons")
    check.number(
        check.field(comparisons, "minimal_detectable_difference", "comparisons."),
        "comparisons.minimal_detectable_difference",
    )
    groups = check.field(comparisons, "groups", "comparisons.")
    grouped = (
        [name for group in groups for name in group]
        if isinstance(groups, list) and all(isinstance(g, list) for g in groups)
        else None
    )
    if grouped is None or not all(isinstance(n, str) for n in grouped):
        check.fail("comparisons.groups", "a list of lists of picker names", groups)
    if sorted(grouped) != sorted(ok):
        check.fail(
            "comparisons.groups",
            f"every successful picker exactly once ({sorted(ok)})",
            groups,
        )
    pairs = check.field(comparisons, "pairs", "comparisons.")
    if not isinstance(pairs, list):
        check.fail("comparisons.pairs", "a list of pair objects", pairs)
    for index, pair in enumerate(pairs):
        where = f"comparisons.pairs[{index}]"
        pair = check.mapping(pair, where)
        for key in ("a", "b"):
            name = check.text(check.field(pair, key, f"{where}."), f"{where}.{key}")
            if name not in ok:
                check.fail(f"{where}.{key}", f"a successful picker ({sorted(ok)})", name)
        for key in ("difference", "low", "high"):
            check.difference(check.field(pair, key, f"{where}."), f"{where}.{key}")
        for key in ("p_value", "p_adjusted"):
            check.fraction(check.field(pair, key, f"{where}."), f"{where}.{key}")
        if not isinstance(check.field(pair, "significant", f"{where}."), bool):
            check.fail(f"{where}.significant", "true or false", pair["significant"])


def _check_entry(check: _Checker, entry: Any, where: str, scored: Iterable[str]) -> None:
    entry = check.mapping(entry, where)
    check.text(check.field(entry, "picker", f"{where}."), f"{where}.picker")
    status = check.field(entry, "status", f"{where}.")
    if status not in _STATUSES:
        check.fail(f"{where}.status", f"one of {list(_STATUSES)}", status)
    timings = check.mapping(check.field(entry, "timings", f"{where}."), f"{where}.timings")
    for key in ("pick_s_per_tomogram", "fit_s"):
        if key in timings:
            check.number(timings[key], f"{where}.timings.{key}")
    if status != "ok":
        return
    check.fraction(check.field(entry, "score", f"{where}."), f"{where}.score")
    if "score_best" in entry:
        check.fraction(entry["score_best"], f"{where}.score_best")
    interval = check.field(entry, "score_interval", f"{where}.")
    interval = check.mapping(interval, f"{where}.score_interval")
    bounds = [
        check.fraction(
            check.field(interval, key, f"{where}.score_interval."), f"{where}.score_interval.{key}"
        )
        for key in ("low", "high")
    ]
    _check_order(check, where, bounds[0], bounds[1])
    classes = check.mapping(check.field(entry, "classes", f"{where}."), f"{where}.classes")
    for name in scored:
        counts = check.mapping(check.field(classes, name, f"{where}.classes."),
                               f"{where}.classes.{name}")  # fmt: skip
        for key in _CLASS_NUMBERS:
            prefix = f"{where}.classes.{name}."
            value = check.field(counts, key, prefix)
            if key in _CLASS_FRACTIONS:
                check.fraction(value, prefix + key)
            else:
                check.number(value, prefix + key)
    for key in ("thresholds", "thresholds_best"):
        if entry.get(key) is not None:
            check.mapping(entry[key], f"{where}.{key}")
    if "counts_by_run" in entry:
        _check_counts_by_run(check, entry["counts_by_run"], f"{where}.counts_by_run")


class _Checker:
    """Small helpers that raise :class:`SchemaError` naming the file and the field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, field: str, expected: str, found: Any) -> None:
        raise SchemaError(
            self.source,
            f"field {field!r}: expected {expected}, found {short_repr(found)} "
            f"({type(found).__name__}); is this a results.json written by topcup-bench run?",
        )

    def field(self, mapping: Mapping[str, Any], key: str, prefix: str) -> Any:
        if key not in mapping:
            raise SchemaError(
                self.source,
                f"missing field {prefix + key!r}; is this a results.json written by "
                "topcup-bench run?",
            )
        return mapping[key]

    def mapping(self, value: Any, field: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            self.fail(field, "an object {...}", value)
        return value

    def text(self, value: Any, field: str) -> str:
        if not isinstance(value, str) or not value:
            self.fail(field, "a non-empty string", value)
        return value

    def number(self, value: Any, field: str, *, nullable: bool = True) -> None:
        if value is None and nullable:
            return
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not ok or (not nullable and not math.isfinite(value)):
            self.fail(field, "a number" + (" or null" if nullable else ""), value)

    def difference(self, value: Any, field: str) -> float | None:
        """A number in [-1, 1] (a difference of two scores) or null."""
        if value is None:
            return None
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not ok or not (-1 - _TOLERANCE <= value <= 1 + _TOLERANCE):
            self.fail(field, "a number between -1 and 1, or null", value)
        return float(value)

    def fraction(self, value: Any, field: str) -> float | None:
        """A number in [0, 1] (within a tolerance of 1e-9) or null; returned as given."""
        if value is None:
            return None
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not ok or not (-_TOLERANCE <= value <= 1 + _TOLERANCE):
            self.fail(field, "a number between 0 and 1, or null", value)
        return float(value)
