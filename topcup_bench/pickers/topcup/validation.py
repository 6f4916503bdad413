"""Validation during training: the competition metric at per-class best thresholds.

After an epoch the chosen weights (EMA by default, topcup.md §12.1) predict every
validation tomogram whole (sliding windows, no TTA, as TopCUP validates, §7.1),
peaks above a low floor are extracted, and the exact one-pass threshold sweep
(:func:`topcup_bench.metrics.threshold_sweep`) picks the F-beta-maximising
threshold of every class. The validation score is the weighted F-beta at those
thresholds, so, like TopCUP's ``val_score``, it is optimistic (thresholds chosen
on the same runs); the thresholds are what a checkpoint stores as its operating
point. No validation loss is logged (TopCUP logs a constant 0, §12.10).

Training and validation runs must not overlap (§12.16): :func:`check_disjoint_runs`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import pandas as pd
import torch

from topcup_bench.errors import InputError
from topcup_bench.metrics import best_thresholds, score_picks, threshold_sweep
from topcup_bench.pickers.topcup.infer import extract_picks, predict_heatmaps

__all__ = ["ValidationResult", "check_disjoint_runs", "validate_models"]


@dataclass
class ValidationResult:
    """Scores of one validation pass.

    Attributes
    ----------
    score : float
        Weighted F-beta (β = 4) over the validation runs at ``thresholds``.
    fbeta : dict of str to float
        Per-class F-beta at ``thresholds``.
    thresholds : dict of str to float
        Per-class best thresholds (keep ``score >`` threshold).
    runs : list of str
        Validation runs.
    n_candidates : int
        Peaks above the floor, before thresholds.
    seconds : float
        Wall time of prediction and scoring.
    """

    score: float
    fbeta: dict[str, float]
    thresholds: dict[str, float]
    runs: list[str] = field(default_factory=list)
    n_candidates: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """Plain-Python form (JSON and checkpoint metadata)."""
        return asdict(self)


def check_disjoint_runs(train_runs: Sequence[str], val_runs: Sequence[str]) -> None:
    """Refuse validation runs that are also training runs.

    Raises
    ------
    InputError
        Naming the shared runs.
    """
    shared = sorted(set(train_runs) & set(val_runs))
    if shared:
        raise InputError(
            "--val-runs",
            f"validation runs {shared} are also training runs; validation on training data "
            "overstates the score (choose disjoint runs)",
        )


def validate_models(
    models: torch.nn.Module | Sequence[torch.nn.Module],
    dataset,
    runs: Sequence[str],
    *,
    floor: float = 0.01,
    tta_flips: bool = False,
    roi: int = 96,
    device: str | torch.device | None = None,
) -> ValidationResult:
    """Score ``models`` on ``runs`` of ``dataset`` at per-class best thresholds.

    Parameters
    ----------
    models : TopCUPNet or sequence of TopCUPNet
        Channel ``i`` = ``dataset.classes.names[i]``; averaged like an ensemble.
    dataset : topcup_bench.datasets.dataset.Dataset
    runs : sequence of str
        Validation runs (at least one).
    floor : float
        Candidate peaks need a probability above this (bounds the sweep's size).
    tta_flips : bool
        Flip TTA (off in TopCUP's validation).
    roi : int
        Sliding-window edge, voxels.
    device : str or torch.device, optional

    Returns
    -------
    ValidationResult
    """
    runs = list(runs)
    if not runs:
        raise InputError("validation", "at least one validation run is required")
    start = time.perf_counter()
    names = list(dataset.classes.names)
    radii = {c.name: c.radius_angstrom for c in dataset.classes}
    floors = dict.fromkeys(names, float(floor))
    tables = []
    for run in runs:
        tomogram = dataset.tomogram(run)
        probabilities = predict_heatmaps(
            models, tomogram.data, roi=roi, tta_flips=tta_flips, device=device
        )
        tables.append(
            extract_picks(
                probabilities,
                names,
                radii,
                tomogram.voxel_size_angstrom,
                floors,
                run=run,
                device=device,
            )  # fmt: skip
        )
    picks = pd.concat(tables, ignore_index=True)
    truth = dataset.truth(runs)
    curves = threshold_sweep(truth, picks, classes=dataset.classes)
    thresholds = {n: max(float(floor), t) for n, t in best_thresholds(curves).items()}
    result = score_picks(truth, picks, classes=dataset.classes, thresholds=thresholds)
    return ValidationResult(
        score=float(result.score),
        fbeta={n: float(s.fbeta) for n, s in result.classes.items()},
        thresholds=thresholds,
        runs=runs,
        n_candidates=len(picks),
        seconds=time.perf_counter() - start,
    )
