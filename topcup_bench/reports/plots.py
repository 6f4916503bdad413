"""Figures of a leaderboard (matplotlib; PNG and SVG; colour-blind-safe palette)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from topcup_bench.palette import PALETTE  # noqa: E402
from topcup_bench.reports.leaderboard import class_columns  # noqa: E402

__all__ = [
    "fbeta_bars",
    "score_heatmap",
    "score_matrix",
    "save_figure",
    "PALETTE",
]


def fbeta_bars(frame: pd.DataFrame, title: str) -> plt.Figure:
    """Grouped bars: per-class F-beta per picker, plus the weighted score with its 95 % interval.

    Classes are in the frame's order (by size); failed pickers are left out.
    """
    ok = frame.loc[frame["score"].notna()]
    groups = ["score", *class_columns(frame)]
    x = np.arange(len(groups))
    width = 0.8 / max(len(ok), 1)
    figure, axes = plt.subplots(figsize=(max(6.0, 1.3 * len(groups)), 4.0), layout="constrained")
    for i, (_, row) in enumerate(ok.iterrows()):
        offset = (i - (len(ok) - 1) / 2) * width
        axes.bar(
            x + offset,
            [row[g] for g in groups],
            width,
            label=row["picker"],
            color=PALETTE[i % len(PALETTE)],
        )
        # the score may lie outside its percentile interval: clip, matplotlib refuses yerr < 0
        interval = np.clip(
            [[row["score"] - row["ci_low"]], [row["ci_high"] - row["score"]]], 0.0, None
        )
        axes.errorbar(
            [x[0] + offset],
            [row["score"]],
            yerr=interval,
            fmt="none",
            ecolor="black",
            capsize=2,
            linewidth=1,
        )
    axes.set_xticks(x, ["weighted score\n(95% CI)", *groups[1:]], rotation=20, ha="right")
    axes.set_ylabel("F-beta (beta = 4)")
    axes.set_ylim(0, 1.05)
    axes.set_title(title, fontsize=10)
    if len(ok):  # every picker failed: bars of nothing, no legend
        figure.legend(fontsize=8, ncols=min(len(ok), 6), loc="outside lower center", frameon=False)
    return figure


def score_matrix(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Weighted scores as a datasets × pickers table (the combined view of a report).

    Parameters
    ----------
    frames : dict of str to pandas.DataFrame
        Row label (one per results file, unique) → its leaderboard frame.

    Returns
    -------
    pandas.DataFrame, shape (n_results, n_pickers)
        Index: the row labels in the given order; columns: pickers by their
        mean score over the rows where they ran (best first); NaN where a
        picker failed or was not run.

    Examples
    --------
    >>> a = pd.DataFrame({"picker": ["x", "y"], "score": [0.2, 0.9]})
    >>> score_matrix({"d1": a, "d2": a.assign(score=[0.4, float("nan")])}).round(2).to_dict()
    {'y': {'d1': 0.9, 'd2': nan}, 'x': {'d1': 0.2, 'd2': 0.4}}
    """
    rows = {label: frame.set_index("picker")["score"] for label, frame in frames.items()}
    matrix = pd.DataFrame(rows).T.astype(float)
    order = matrix.mean(axis=0).sort_values(ascending=False, kind="stable").index
    return matrix[order]


def score_heatmap(matrix: pd.DataFrame, title: str) -> plt.Figure:
    """Heatmap of weighted scores, datasets (rows) × pickers (columns), values annotated.

    Parameters
    ----------
    matrix : pandas.DataFrame, shape (n_datasets, n_pickers)
        From :func:`score_matrix`; NaN cells (failed or not run) are drawn grey
        and marked "—".
    title : str
    """
    values = matrix.to_numpy(dtype=float)
    n_rows, n_columns = values.shape
    figure, axes = plt.subplots(
        figsize=(max(5.0, 1.1 * n_columns + 3.0), max(2.5, 0.55 * n_rows + 1.8)),
        layout="constrained",
    )
    colormap = plt.get_cmap("viridis").with_extremes(bad="#d9d9d9")
    image = axes.imshow(
        np.ma.masked_invalid(values), cmap=colormap, vmin=0.0, vmax=1.0, aspect="auto"
    )
    for (i, j), value in np.ndenumerate(values):
        dark = np.isfinite(value) and value < 0.6  # light text on the dark end of viridis
        axes.text(
            j,
            i,
            "—" if not np.isfinite(value) else f"{value:.3f}",
            ha="center",
            va="center",
            fontsize=8,
            color="white" if dark else "black",
        )
    axes.set_xticks(range(n_columns), list(matrix.columns), rotation=30, ha="right")
    axes.set_yticks(range(n_rows), list(matrix.index))
    axes.set_xlabel("picker")
    axes.set_ylabel("dataset (results file)")
    axes.set_title(title, fontsize=10)
    figure.colorbar(image, ax=axes, label="weighted F-beta (beta = 4)")
    return figure


def save_figure(figure: plt.Figure, stem: Path) -> list[Path]:
    """Save ``figure`` as ``stem.png`` and ``stem.svg``; close it; return the paths."""
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for path in paths:
        figure.savefig(path, dpi=120)
    plt.close(figure)
    return paths
