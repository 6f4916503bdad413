"""Checks of picker constructor parameters: each error names the picker and the parameter."""

from __future__ import annotations

import math

import numpy as np

from topcup_bench.errors import InputError

__all__ = ["check_number", "check_integer", "check_boolean"]


def check_number(
    picker: str, name: str, value: object, *, low: float, strict: bool = False
) -> float:
    """``value`` as a float; finite and ``>= low`` (``> low`` when ``strict``)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < low or (strict and value == low):
        bound = f"> {low:g}" if strict else f">= {low:g}"
        raise InputError(
            picker, f"parameter {name} must be a finite number {bound}, found {value!r}"
        )
    return float(value)


def check_integer(picker: str, name: str, value: object, low: int) -> int:
    """``value`` as an int (not a bool), ``>= low``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InputError(picker, f"parameter {name} must be an integer >= {low}, found {value!r}")
    return int(value)


def check_boolean(picker: str, name: str, value: object) -> bool:
    """``value`` as a bool (numpy bools accepted)."""
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(picker, f"parameter {name} must be a bool, found {value!r}")
    return bool(value)
