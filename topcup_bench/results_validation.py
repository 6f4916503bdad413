"""Structure check of a results document (``results.json``, see ``docs/results_schema.md``).

:func:`validate_results` checks the fields and types that ``report`` and
``compare`` rely on, so that a hand-edited or truncated file is refused with
one message naming the file and the field (``results[2].score``) instead of
failing deep inside a report with a ``KeyError``.  Values may be ``null``
where the writer stores non-finite numbers (scores, rates, timings).
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
    for index, entry in enumerate(entries):
        _check_entry(check, entry, f"results[{index}]", list(classes))


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
    check.number(check.field(entry, "score", f"{where}."), f"{where}.score")
    interval = check.field(entry, "score_interval", f"{where}.")
    interval = check.mapping(interval, f"{where}.score_interval")
    for key in ("low", "high"):
        check.number(check.field(interval, key, f"{where}.score_interval."),
                     f"{where}.score_interval.{key}")  # fmt: skip
    classes = check.mapping(check.field(entry, "classes", f"{where}."), f"{where}.classes")
    for name in scored:
        counts = check.mapping(check.field(classes, name, f"{where}.classes."),
                               f"{where}.classes.{name}")  # fmt: skip
        for key in _CLASS_NUMBERS:
            prefix = f"{where}.classes.{name}."
            check.number(check.field(counts, key, prefix), prefix + key)
    for key in ("thresholds", "thresholds_best"):
        if entry.get(key) is not None:
            check.mapping(entry[key], f"{where}.{key}")


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
