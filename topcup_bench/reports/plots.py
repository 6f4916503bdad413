"""Figures of a leaderboard (matplotlib; PNG and SVG; colour-blind-safe palette)."""

from __future__ import annotations

import base64
from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from topcup_bench.palette import PALETTE  # noqa: E402
from topcup_bench.reports.leaderboard import class_columns  # noqa: E402

__all__ = ["fbeta_bars", "save_figure", "figure_data_uri", "PALETTE"]


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
        interval = [[row["score"] - row["ci_low"]], [row["ci_high"] - row["score"]]]
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
    figure.legend(fontsize=8, ncols=min(len(ok), 6), loc="outside lower center", frameon=False)
    return figure


def save_figure(figure: plt.Figure, stem: Path) -> list[Path]:
    """Save ``figure`` as ``stem.png`` and ``stem.svg``; close it; return the paths."""
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for path in paths:
        figure.savefig(path, dpi=120)
    plt.close(figure)
    return paths


def figure_data_uri(path: Path) -> str:
    """A ``data:`` URI embedding a PNG file (for self-contained HTML)."""
    encoded = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"data:image/png;base64,{encoded}"
