"""Multiple comparisons and power: Holm adjustment, significance groups, detectable differences."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from statistics import NormalDist

import numpy as np

from topcup_bench.errors import InputError

__all__ = ["holm_adjust", "minimal_detectable_difference", "significance_groups"]


def holm_adjust(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of ``m`` p-values (family-wise error control).

    The ``k``-th smallest p-value (``k = 1..m``) is multiplied by ``m - k + 1``,
    made non-decreasing along that order and capped at 1; a hypothesis is
    rejected at level ``alpha`` iff its adjusted p-value is below ``alpha``.

    Parameters
    ----------
    p_values : sequence of float in [0, 1]

    Returns
    -------
    ndarray of float64
        Adjusted p-values, in the input order.

    Raises
    ------
    InputError
        A p-value outside [0, 1] or NaN.
    """
    p = np.asarray(p_values, dtype=np.float64).reshape(-1)
    if np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise InputError("p_values", f"expected numbers in [0, 1], found {p.tolist()!r}")
    m = len(p)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * (m - np.arange(m))
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0) if m else scaled
    return adjusted


def significance_groups(
    ranked: Sequence[str], significant: Mapping[tuple[str, str], bool]
) -> list[list[str]]:
    """Split rank-ordered pickers into groups that are not significantly different.

    Rule: walk the pickers best first; the first one opens a group and is its
    best picker; each next picker joins the current group unless it is
    significantly worse than that group's best picker, in which case it opens a
    new group (and becomes its best).  Members of a group are thus not
    significantly different from the group's best; two members may still differ
    from each other.

    Parameters
    ----------
    ranked : sequence of str
        Picker names, best first.
    significant : mapping of (str, str) to bool
        ``significant[(better, worse)]`` for every pair in rank order.

    Returns
    -------
    list of list of str
        Groups in rank order.

    Raises
    ------
    InputError
        A pair the walk needs is missing from ``significant``.
    """
    groups: list[list[str]] = []
    for name in ranked:
        if groups:
            best = groups[-1][0]
            if (best, name) not in significant:
                raise InputError("significant", f"no test result for the pair ({best!r}, {name!r})")
            if not significant[(best, name)]:
                groups[-1].append(name)
                continue
        groups.append([name])
    return groups


def minimal_detectable_difference(
    spreads: Sequence[float], *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Smallest score difference a two-sided test at ``alpha`` detects with ``power``.

    ``(z_{1 - alpha/2} + z_{power}) * median(spreads)``, where ``spreads`` are
    standard deviations of a score difference under resampling (the paired
    bootstrap standard deviation of each pair of pickers).  With
    ``alpha = 0.05`` and ``power = 0.8`` the factor is 1.96 + 0.8416 = 2.8016.

    Parameters
    ----------
    spreads : sequence of float, at least one
        Standard deviations (score units), >= 0.
    alpha, power : float in (0, 1)

    Returns
    -------
    float
        In score units.

    Raises
    ------
    InputError
        No spread, a negative or non-finite one, or a level outside (0, 1).
    """
    values = np.asarray(spreads, dtype=np.float64).reshape(-1)
    if values.size == 0 or np.any(~np.isfinite(values)) or np.any(values < 0):
        raise InputError(
            "spreads", f"expected one or more finite numbers >= 0, found {values.tolist()!r}"
        )
    for name, value in (("alpha", alpha), ("power", power)):
        if not isinstance(value, numbers.Real) or not 0 < value < 1:
            raise InputError(name, f"expected a level between 0 and 1, found {value!r}")
    normal = NormalDist()
    factor = normal.inv_cdf(1.0 - alpha / 2.0) + normal.inv_cdf(power)
    return float(factor * np.median(values))
