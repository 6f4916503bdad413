"""Result types of the paired comparison of pickers (:mod:`topcup_bench.metrics.paired`)."""

from __future__ import annotations

from dataclasses import dataclass

from topcup_bench.errors import InputError

__all__ = ["PairComparison", "PairedDifference", "PickerComparison"]


@dataclass(frozen=True)
class PairedDifference:
    """Paired bootstrap interval and permutation p-value of ``score_a - score_b``.

    Attributes
    ----------
    difference : float
        ``score_a - score_b`` on the original runs.
    low, high : float
        Percentile bootstrap interval of the difference at ``confidence``.
    std : float
        Standard deviation of the resampled differences (0 with one resample).
    p_value : float
        Two-sided p-value of the sign-flip permutation test over runs.
    permutation : {"exact", "monte carlo"}
        Whether all ``2**E`` swaps were enumerated or ``n_permutations`` drawn.
    n_permutations : int
        Swaps evaluated (``2**E`` when exact).
    classes : dict of str to (float, float, float)
        Per class: ``(difference, low, high)`` of the class's F-beta.
    confidence : float
    n_resamples, seed, n_experiments : int
    """

    difference: float
    low: float
    high: float
    std: float
    p_value: float
    permutation: str
    n_permutations: int
    classes: dict[str, tuple[float, float, float]]
    confidence: float
    n_resamples: int
    seed: int
    n_experiments: int


@dataclass(frozen=True)
class PairComparison:
    """One pair of :func:`compare_pickers`: ``a`` ranked above (or level with) ``b``.

    Attributes
    ----------
    a, b : str
        Picker names.
    paired : PairedDifference
        Statistics of ``score_a - score_b``.
    p_adjusted : float
        Holm-adjusted p-value over all pairs.
    significant : bool
        ``p_adjusted < alpha``.
    """

    a: str
    b: str
    paired: PairedDifference
    p_adjusted: float
    significant: bool

    def to_dict(self) -> dict[str, object]:
        """The JSON entry of ``comparisons.pairs`` (docs/results_schema.md)."""
        return {
            "a": self.a,
            "b": self.b,
            "difference": self.paired.difference,
            "low": self.paired.low,
            "high": self.paired.high,
            "p_value": self.paired.p_value,
            "p_adjusted": self.p_adjusted,
            "significant": self.significant,
            "classes": {
                name: {"difference": d, "low": lo, "high": hi}
                for name, (d, lo, hi) in self.paired.classes.items()
            },
        }


@dataclass(frozen=True)
class PickerComparison:
    """Result of :func:`compare_pickers`.

    Attributes
    ----------
    order : tuple of str
        Pickers by score on the original runs, best first (ties keep the input order).
    scores : dict of str to float
        Weighted score of each picker on the original runs.
    pairs : tuple of PairComparison
        Every pair ``(order[i], order[j])`` with ``i < j``.
    groups : tuple of tuple of str
        Rank-ordered groups, see :func:`significance_groups`.
    minimal_detectable_difference : float or None
        See :func:`minimal_detectable_difference`; None with no picker, fewer
        than 2 runs, or so few runs that the permutation test cannot reach
        ``alpha`` at all (``smallest_p_value >= alpha``: fewer than 6 runs at
        0.05), where no difference, however large, is detectable.
    single_picker_bound : bool
        True when the minimal detectable difference comes from one picker's
        bootstrap spread (independent-samples bound) rather than from pairs.
    alpha, power, confidence : float
    n_resamples, seed, n_experiments : int
    permutation : {"exact", "monte carlo"}
    n_permutations : int
    """

    order: tuple[str, ...]
    scores: dict[str, float]
    pairs: tuple[PairComparison, ...]
    groups: tuple[tuple[str, ...], ...]
    minimal_detectable_difference: float | None
    single_picker_bound: bool
    alpha: float
    power: float
    confidence: float
    n_resamples: int
    seed: int
    n_experiments: int
    permutation: str
    n_permutations: int

    def pair(self, first: str, second: str) -> PairComparison:
        """The comparison of two pickers, whichever order they are given in."""
        for pair in self.pairs:
            if {pair.a, pair.b} == {first, second} and first != second:
                return pair
        raise InputError("pickers", f"no comparison of {first!r} with {second!r}")

    def group_of(self, name: str) -> int:
        """1-based index of the group that holds picker ``name``."""
        for index, group in enumerate(self.groups, start=1):
            if name in group:
                return index
        raise InputError("pickers", f"unknown picker {name!r}; compared: {list(self.order)}")

    @property
    def smallest_p_value(self) -> float:
        """The smallest p-value the permutation test can give on these runs.

        ``2 / 2**E`` when exact (a swap and its complement give the same
        ``|difference|``), ``1 / (1 + n_permutations)`` otherwise; when it is not
        below ``alpha`` no pair can be significant whatever the scores.
        """
        if self.permutation == "exact":
            return min(1.0, 2.0 / self.n_permutations)
        return 1.0 / (1 + self.n_permutations)

    def method(self) -> str:
        """One sentence saying how the numbers were computed."""
        swaps = (
            f"all {self.n_permutations} swaps, exact"
            if self.permutation == "exact"
            else f"{self.n_permutations} random swaps"
        )
        spread = (
            "sqrt(2) x the single picker's bootstrap standard deviation (an "
            "independent-samples bound)"
            if self.single_picker_bound
            else "the median bootstrap standard deviation of the paired differences"
        )
        return (
            f"Paired bootstrap over runs ({self.n_resamples} resamples, the same runs for "
            f"every picker) for the {self.confidence:.0%} interval of each score difference; "
            f"two-sided sign-flip permutation test over runs ({swaps}) for its p-value, "
            f"Holm-adjusted over the pairs; a picker joins the group of the best picker of the "
            f"current group unless significantly worse at alpha {self.alpha:g}; minimal "
            f"detectable difference (power {self.power:g}) from {spread}."
        )

    def to_dict(self) -> dict[str, object]:
        """The ``comparisons`` field of ``results.json`` (docs/results_schema.md)."""
        return {
            "method": self.method(),
            "n_resamples": self.n_resamples,
            "seed": self.seed,
            "confidence": self.confidence,
            "alpha": self.alpha,
            "power": self.power,
            "adjustment": "holm",
            "permutation": self.permutation,
            "n_permutations": self.n_permutations,
            "n_experiments": self.n_experiments,
            "smallest_p_value": self.smallest_p_value,
            "minimal_detectable_difference": self.minimal_detectable_difference,
            "groups": [list(group) for group in self.groups],
            "pairs": [pair.to_dict() for pair in self.pairs],
        }
