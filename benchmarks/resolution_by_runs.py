"""How finely a benchmark resolves differences between pickers, against its number of test runs.

Reads a ``results.json`` written by ``topcup-bench run`` (schema 3: per-run
counts of every picker), keeps the first N scored runs for each N asked, and
recomputes the paired comparisons of the pickers on those runs alone (each
picker at the thresholds of the full run: the operating points were set on the
train runs, so they do not depend on N). Prints a Markdown table: runs,
particles, the median width of the pickers' 95 % score intervals, the median
width of the paired-difference intervals, the spread-based detectable
difference (2.80 × the median paired bootstrap std), the minimal detectable
difference as the leaderboard states it (``none`` where the permutation test
cannot reach the significance level: fewer than 6 runs) and the number of
significantly different pairs (Holm-adjusted).

Usage::

    python benchmarks/resolution_by_runs.py OUT/results.json --runs 4 10 20 40
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

import numpy as np

from topcup_bench.metrics import compare_pickers
from topcup_bench.metrics.bootstrap import resampled_scores
from topcup_bench.metrics.counts import RunClassCounts
from topcup_bench.metrics.significance import minimal_detectable_difference
from topcup_bench.results import entry_counts, read_results


def subset_counts(entry: dict[str, Any], n_runs: int) -> RunClassCounts:
    """The picker's per-(run, class) counts restricted to its first ``n_runs`` runs."""
    counts = entry_counts(entry)
    if n_runs > len(counts.experiments):
        raise SystemExit(
            f"--runs {n_runs}: picker {entry['picker']!r} was scored on "
            f"{len(counts.experiments)} runs only"
        )
    return counts.select_experiments(counts.experiments[:n_runs])


def resolution_row(results: dict[str, Any], n_runs: int, *, n_resamples: int = 1000) -> dict:
    """One row of the table for the first ``n_runs`` scored runs."""
    weights = {name: float(info["weight"]) for name, info in results["dataset"]["classes"].items()}
    total = sum(weights.values())
    beta = float(results["metric"].get("beta", 4.0))
    named = {
        e["picker"]: subset_counts(e, n_runs) for e in results["results"] if e["status"] == "ok"
    }
    widths = []
    for counts in named.values():
        vector = np.array([weights[name] for name in counts.classes])
        scores = resampled_scores(counts, vector, total, beta, n_resamples, 0)
        low, high = np.quantile(scores, [0.025, 0.975])
        widths.append(float(high - low))
    comparison = compare_pickers(named, weights, total, beta, n_resamples=n_resamples, seed=0)
    first = next(iter(named.values()))
    return {
        "runs": n_runs,
        "particles": int((first.tp + first.fn).sum()),
        "median score interval width": statistics.median(widths),
        "median paired interval width": statistics.median(
            p.paired.high - p.paired.low for p in comparison.pairs
        ),
        "2.80 x median paired std": minimal_detectable_difference(
            [p.paired.std for p in comparison.pairs]
        ),
        "minimal detectable difference": comparison.minimal_detectable_difference,
        "significant pairs": f"{sum(p.significant for p in comparison.pairs)} of "
        f"{len(comparison.pairs)}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="a results.json of topcup-bench run")
    parser.add_argument("--runs", type=int, nargs="+", default=[4, 10, 20, 40])
    args = parser.parse_args()
    results = read_results(args.results)
    rows = [resolution_row(results, n) for n in args.runs]
    header = list(rows[0])
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        cells = [
            "none" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)
            for v in row.values()
        ]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
