"""The central-slices figure of one results file, from data already on disk.

``topcup-bench run`` writes ``truth.csv`` and ``picks/<picker>.csv`` beside
``results.json``, and records the dataset's identity (a copick config or a
Kaggle folder) in it.  :func:`run_slice_figure` draws the central x-y and x-z
slices of the first scored run with the ground truth (circles) and one
picker's picks at its own thresholds (crosses).  It never generates or
downloads anything: a phantom whose cache was cleared, or a project that moved,
is reported as missing data instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from topcup_bench.datasets import read_picks_csv
from topcup_bench.datasets.dataset import CopickDataset, Dataset
from topcup_bench.datasets.kaggle_layout import KaggleDataset
from topcup_bench.errors import TopcupBenchError
from topcup_bench.reports.slices import save_slice_figure
from topcup_bench.types import ClassCatalogue, ParticleClass

__all__ = ["run_slice_figure", "slice_picker"]

#: Pickers whose picks say nothing about a picker's behaviour (oracle: the truth itself).
_REFERENCE_PICKERS = ("oracle",)


def run_slice_figure(
    results: dict[str, Any], folder: Path, path: Path
) -> tuple[str | None, list[str]]:
    """Draw the central slices of the first scored run, with truth and picks, into ``path``.

    Parameters
    ----------
    results : dict
        The results document.
    folder : pathlib.Path
        Folder of ``results.json`` (holding ``truth.csv`` and ``picks/``).
    path : pathlib.Path
        Destination PNG (replaced if present).

    Returns
    -------
    caption : str or None
        The figure's caption, or None when it could not be drawn.
    missing : list of str
        What could not be drawn and why (empty when the figure was drawn).
    """
    record = results["dataset"]
    runs = record.get("runs") or []
    truth_path = folder / "truth.csv"
    if not runs:
        return None, ["no scored runs recorded: no central-slices figure"]
    if not truth_path.is_file():
        return None, [f"{truth_path} is missing: no central-slices figure"]
    dataset, why = _open_recorded(record)
    if dataset is None:
        return None, [f"tomogram of run {runs[0]} not reachable ({why}): no central-slices figure"]
    run = runs[0]
    try:
        tomogram = dataset.tomogram(run)
    except TopcupBenchError as error:
        return None, [f"tomogram of run {run} not readable ({error}): no central-slices figure"]
    entry = slice_picker(results)
    picks, notes = None, []
    if entry is not None:
        picks_path = folder / "picks" / f"{entry['picker']}.csv"
        if picks_path.is_file():
            own = (entry.get("thresholds_by_run") or {}).get(run) or entry.get("thresholds")
            picks = _at_own_thresholds(read_picks_csv(picks_path), own)
        else:
            notes.append(f"{picks_path} is missing: central slices show the ground truth only")
    classes = ClassCatalogue(
        tuple(
            ParticleClass(name, info["radius_angstrom"], info["weight"])
            for name, info in record["classes"].items()
        )
    )
    shown = f"{entry['picker']} picks at its own thresholds (crosses)" if picks is not None else ""
    caption = (
        f"Central x-y and x-z slices of run {run} (Å) with the ground truth "
        f"(circles: cross-section of each particle within its radius of the slice)"
        + (f" and {shown}" if shown else "")
    )
    save_slice_figure(
        tomogram,
        read_picks_csv(truth_path),
        path,
        classes=classes,
        picks=picks,
        title=f"{run}: ground truth" + (f" and {entry['picker']} picks" if shown else ""),
        overwrite=True,
    )
    return caption, notes


def slice_picker(results: dict[str, Any]) -> dict[str, Any] | None:
    """The picker drawn on the slices: the best-scoring one that is not a reference picker.

    Falls back to the best reference picker; None when no picker succeeded.
    """
    ok = [e for e in results["results"] if e["status"] == "ok"]
    ranked = sorted(ok, key=lambda e: -(e.get("score") or 0.0))
    real = [e for e in ranked if e["picker"] not in _REFERENCE_PICKERS]
    return (real or ranked or [None])[0]


def _open_recorded(record: dict[str, Any]) -> tuple[Dataset | None, str]:
    """Reopen the dataset from its recorded source, only if its files are already on disk."""
    # schema 2: paths live under "source", content fields under "identity"
    record = {**(record.get("identity") or {}), **(record.get("source") or {}), **record}
    kind = record.get("kind")
    try:
        if kind == "copick" and record.get("config"):
            config = Path(record["config"])
            if not config.is_file():
                spec = record.get("spec") or config
                return None, (
                    f"copick config {config} not found; 'topcup-bench run --dataset {spec}' "
                    "recreates a generated phantom"
                )
            return CopickDataset(
                config,
                tomo_type=record.get("tomo_type", "denoised"),
                voxel_size_angstrom=record.get("voxel_size_angstrom"),
                truth_user=record.get("truth_user", "curation"),
                truth_session=record.get("truth_session", "0"),
                name=record.get("name"),
            ), ""
        if kind == "kaggle" and record.get("folder"):
            folder = Path(record["folder"])
            if not folder.is_dir():
                return None, f"Kaggle folder {folder} not found"
            return KaggleDataset(folder, tomo_type=record.get("tomo_type", "denoised")), ""
    except TopcupBenchError as error:
        return None, str(error)
    return None, f"the results record no copick config or Kaggle folder (kind {kind!r})"


def _at_own_thresholds(picks: pd.DataFrame, thresholds: dict[str, float] | None) -> pd.DataFrame:
    """Keep picks with ``score > threshold`` of their class (all picks without thresholds)."""
    if not thresholds or "score" not in picks:
        return picks
    limits = picks["particle_type"].map(thresholds).fillna(-np.inf).to_numpy(np.float64)
    return picks.loc[picks["score"].to_numpy(np.float64) > limits].reset_index(drop=True)
