"""Diagnostic figures from the picks and ground truth saved next to a results file.

``topcup-bench run`` writes ``truth.csv`` and ``picks/<picker>.csv`` beside
``results.json``; from them this module draws, per results file:

* precision–recall curves per class, and F-beta per class against the
  fraction of the picker's candidate picks of that class kept (highest scores
  first: the threshold, made comparable between pickers whose scores span
  0–1 and 0–8), with each picker's own operating point marked;
* histograms of matched distances as a fraction of the particle radius;
* F-beta against the distance multiplier (0.25, 0.5, 0.8, 1.0 × R);
* score against seconds per tomogram (from ``results.json`` alone).

When the CSV files are missing the figures that need them are skipped and
:func:`diagnostic_figures` says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from topcup_bench.datasets import read_picks_csv
from topcup_bench.metrics import fbeta_at_multipliers, matched_distances, threshold_sweep
from topcup_bench.operating_points import picks_at_operating_point
from topcup_bench.reports.plots import PALETTE, save_figure
from topcup_bench.types import ClassCatalogue, ParticleClass

__all__ = ["diagnostic_figures", "kept_fraction"]


def diagnostic_figures(
    results: dict[str, Any], folder: Path, out_stem: Path
) -> tuple[dict[str, Path], list[str]]:
    """Draw the diagnostic figures of one results document.

    Parameters
    ----------
    results : dict
        The results document.
    folder : pathlib.Path
        Folder of ``results.json`` (holding ``truth.csv`` and ``picks/``).
    out_stem : pathlib.Path
        Prefix of the figure files (``<stem>_pr.png`` ...).

    Returns
    -------
    figures : dict of str to pathlib.Path
        Caption → PNG path (an SVG is written beside each).
    missing : list of str
        What could not be drawn and why.
    """
    figures: dict[str, Path] = {}
    missing: list[str] = []
    # in leaderboard order, so that each picker has the same colour as in the F-beta bars
    ok = sorted(
        (e for e in results["results"] if e["status"] == "ok"), key=lambda e: -(e["score"] or 0.0)
    )
    figures["Score against seconds per tomogram"] = _speed(
        ok, out_stem.with_name(out_stem.name + "_speed")
    )
    truth_path = folder / "truth.csv"
    if not truth_path.is_file():
        missing.append(
            f"{truth_path} is missing: no precision-recall, distance or multiplier figures"
        )
        return figures, missing
    truth = read_picks_csv(truth_path)
    classes = ClassCatalogue(
        tuple(
            ParticleClass(n, c["radius_angstrom"], c["weight"])
            for n, c in results["dataset"]["classes"].items()
        )
    )
    picks = {}
    for entry in ok:
        path = folder / "picks" / f"{entry['picker']}.csv"
        if path.is_file():
            picks[entry["picker"]] = (read_picks_csv(path), entry)
        else:
            missing.append(f"{path} is missing: {entry['picker']} left out of the figures")
    if not picks:
        return figures, missing
    stem = out_stem.name
    figures["Precision-recall curves per class (dot: own operating point)"] = _curves(
        truth, picks, classes, out_stem.with_name(stem + "_pr"), "pr"
    )
    figures[
        "F-beta per class against the fraction of each picker's picks kept, highest scores "
        "first (the threshold on a common scale; dot: own operating point)"
    ] = _curves(truth, picks, classes, out_stem.with_name(stem + "_threshold"), "threshold")
    figures["Matched distances (fraction of the particle radius)"] = _distances(
        truth, picks, classes, out_stem.with_name(stem + "_distances")
    )
    figures["Weighted score against the match radius"] = _multipliers(
        truth, picks, classes, out_stem.with_name(stem + "_multipliers")
    )
    return figures, missing


def _grid(n: int) -> tuple[plt.Figure, np.ndarray]:
    columns = min(3, n)
    rows = int(np.ceil(n / columns))
    figure, axes = plt.subplots(
        rows, columns, figsize=(4.2 * columns, 3.4 * rows), layout="constrained", squeeze=False
    )
    for extra in axes.ravel()[n:]:
        extra.set_visible(False)
    return figure, axes.ravel()


def _curves(truth, picks, classes, stem: Path, kind: str) -> Path:
    """Per-class panels: precision against recall (``"pr"``) or F-beta against the kept fraction.

    ``"threshold"`` puts every picker on the same x axis, the fraction of its
    candidate picks of the class kept (score above the threshold), so that
    pickers whose scores span different ranges stay comparable.
    """
    names = [c.name for c in classes.by_size() if c.name in set(truth["particle_type"])]
    figure, axes = _grid(len(names))
    for colour, (picker, (table, entry)) in zip(PALETTE, picks.items(), strict=False):
        curves = threshold_sweep(truth, table, classes=classes)
        own = entry.get("thresholds") or {}
        for ax, name in zip(axes, names, strict=False):
            curve = curves[name]
            point = curve.at(own.get(name, float("-inf")))
            if entry.get("thresholds_by_run"):  # cross-validated: no single point on this curve
                point = {k: np.nan for k in point}
            if kind == "pr":
                kept = curve.n_kept > 0  # "nothing kept" has no precision
                ax.plot(
                    curve.recall[kept], curve.precision[kept], color=colour, label=picker, lw=1.2
                )
                ax.plot(point["recall"], point["precision"], "o", color=colour, ms=4)
            else:
                fraction, at_own = kept_fraction(curve.n_kept, point["n_kept"])
                ax.plot(fraction, curve.fbeta, color=colour, label=picker, lw=1.2)
                ax.plot(at_own, point["fbeta"], "o", color=colour, ms=4)
            ax.set_title(name, fontsize=9)
    for ax in axes[: len(names)]:
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.05)
        if kind == "pr":
            ax.set_xlabel("recall")
            ax.set_ylabel("precision")
        else:
            ax.set_xlabel("fraction of the picker's picks kept")
            ax.set_ylabel("F-beta (beta = 4)")
    _legend_below(figure, axes[0])
    return save_figure(figure, stem)[0]


def kept_fraction(n_kept: np.ndarray, at_own: float) -> tuple[np.ndarray, float]:
    """Fractions of the candidate picks kept along a threshold sweep, and at one operating point.

    Parameters
    ----------
    n_kept : ndarray of int, shape (K,)
        Picks kept at each threshold of the sweep, ascending thresholds (the
        first keeps every pick).
    at_own : float
        Picks kept at the picker's own threshold (NaN: no single point).

    Returns
    -------
    fractions : ndarray of float64, shape (K,)
        ``n_kept / n_kept[0]`` (all zeros when the picker has no pick of the class).
    at_own : float
        ``at_own / n_kept[0]`` (NaN when there are no picks).

    Examples
    --------
    >>> kept_fraction(np.array([4, 3, 1, 0]), 3)
    (array([1.  , 0.75, 0.25, 0.  ]), 0.75)
    """
    total = float(n_kept[0]) if len(n_kept) else 0.0
    if total <= 0:
        return np.zeros(len(n_kept)), float("nan")
    return np.asarray(n_kept, dtype=np.float64) / total, float(at_own) / total


def _legend_below(figure: plt.Figure, axes: plt.Axes) -> None:
    """The figure's legend under the axes, outside the data (nothing drawn: no legend)."""
    handles, labels = axes.get_legend_handles_labels()
    if handles:
        figure.legend(
            handles,
            labels,
            loc="outside lower center",
            ncols=min(len(handles), 5),
            fontsize=8,
            frameon=False,
        )


def _distances(truth, picks, classes, stem: Path) -> Path:
    figure, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
    bins = np.linspace(0, 1, 21)
    for colour, (picker, (table, _)) in zip(PALETTE, picks.items(), strict=False):
        distances = matched_distances(truth, table, classes=classes, distance_multiplier=1.0)
        ax.hist(
            distances["fraction_of_radius"],
            bins=bins,
            histtype="step",
            color=colour,
            label=f"{picker} (n={len(distances)})",
        )
    ax.axvline(0.5, color="grey", ls="--", lw=1)
    ax.set_xlabel("distance to the nearest pick / particle radius R (0.5: competition radius)")
    ax.set_ylabel("ground-truth points")
    _legend_below(figure, ax)
    return save_figure(figure, stem)[0]


def _multipliers(truth, picks, classes, stem: Path) -> Path:
    figure, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
    for colour, (picker, (table, entry)) in zip(PALETTE, picks.items(), strict=False):
        kept = picks_at_operating_point(table, entry)  # own or cross-validated thresholds
        frame = fbeta_at_multipliers(truth, kept, classes=classes)
        ax.plot(frame.index, frame["score"], "o-", color=colour, label=picker)
    ax.set_xlabel("match radius (fraction of the particle radius R)")
    ax.set_ylabel("weighted F-beta at own thresholds")
    ax.set_ylim(0, 1.05)
    _legend_below(figure, ax)
    return save_figure(figure, stem)[0]


def _speed(entries: list[dict[str, Any]], stem: Path) -> Path:
    figure, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
    for colour, entry in zip(PALETTE, entries, strict=False):
        if entry.get("score") is None:  # no score to place (shown as "—" in the tables)
            continue
        seconds = entry["timings"].get("pick_s_per_tomogram") or 0.0
        ax.errorbar(
            [max(seconds, 1e-3)],
            [entry["score"]],
            yerr=_error_bar(entry["score"], entry.get("score_interval") or {}),
            fmt="o",
            color=colour,
            label=entry["picker"],
            capsize=2,
        )
    ax.set_xscale("log")
    ax.set_xlabel("seconds per tomogram (pick, median; log scale)")
    ax.set_ylabel("weighted F-beta (95% CI)")
    ax.set_ylim(0, 1.05)
    _legend_below(figure, ax)
    return save_figure(figure, stem)[0]


def _error_bar(score: float, interval: dict[str, Any]) -> list[list[float]] | None:
    """``yerr`` of one point: distances down to ``low`` and up to ``high``; None when unknown."""
    low, high = interval.get("low"), interval.get("high")
    if low is None or high is None:
        return None
    return [[max(score - low, 0.0)], [max(high - score, 0.0)]]
