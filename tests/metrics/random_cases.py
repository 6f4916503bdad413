"""Random and adversarial scoring cases for comparisons with the naive metric."""

from __future__ import annotations

import numpy as np
import pandas as pd
from naive_metric import RADII

TYPES = list(RADII)
# Offsets of exact length 1 in float64 whose squares sum exactly: scaled by a
# radius that is a multiple of 0.5 they land exactly on the match sphere.
UNIT_OFFSETS = np.array(
    [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.6, 0.8, 0], [0, 0.6, 0.8], [2 / 3, 2 / 3, 1 / 3]]
)
EXACT_UNIT_OFFSETS = UNIT_OFFSETS[:3]


def random_case(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One random (truth, picks) pair with the situations of metric.md §3–§4.

    Ground-truth coordinates are multiples of 0.5 Å so that axis-aligned
    offsets of exactly r give points exactly on the match sphere.
    """
    rng = np.random.default_rng(seed)
    n_experiments = int(rng.integers(1, 5))
    experiments = [f"TS_{i}" for i in range(n_experiments)]
    truth_types = [t for t in TYPES if rng.random() < 0.8] or [TYPES[0]]
    box = float(rng.choice([300.0, 1000.0, 6300.0]))
    truth_parts, pick_parts = [], []
    for experiment in experiments:
        for particle_type in truth_types:
            radius = RADII[particle_type] * 0.5
            n_truth = int(rng.choice([0, 0, 1, 2, 5, 12]))
            centres = np.round(rng.uniform(0, box, size=(n_truth, 3)) * 2) / 2
            if n_truth >= 2 and rng.random() < 0.3:  # two points closer than 2r
                centres[1] = centres[0] + np.round(rng.uniform(-radius, radius, 3) * 2) / 2
            truth_parts.append(_frame(experiment, particle_type, centres))
            pick_parts.append(_picks_near(rng, experiment, particle_type, centres, radius, box))
    # predictions for an experiment outside the truth (dropped), and for an
    # absent class (ignored)
    pick_parts.append(_frame("TS_extra", TYPES[int(rng.integers(6))], rng.uniform(0, box, (3, 3))))
    absent = [t for t in TYPES if t not in truth_types]
    if absent:
        pick_parts.append(_frame(experiments[0], absent[0], rng.uniform(0, box, (2, 3))))
    truth = pd.concat(truth_parts, ignore_index=True)
    if truth.empty:
        truth = _frame(experiments[0], truth_types[0], np.array([[1.0, 2.0, 3.0]]))
    truth = truth.drop_duplicates(subset=["experiment", "x", "y", "z"]).reset_index(drop=True)
    picks = pd.concat(pick_parts, ignore_index=True)
    if rng.random() < 0.1:  # an experiment of the truth without any predictions
        picks = picks.loc[picks["experiment"] != experiments[-1]]
    if rng.random() < 0.05:
        picks = picks.iloc[:0]
    picks = picks.iloc[rng.permutation(len(picks))].reset_index(drop=True)
    picks["score"] = rng.random(len(picks)).round(2)
    return truth, picks


def _picks_near(rng, experiment, particle_type, centres, radius, box):
    parts = []
    for centre in centres:
        kind = rng.choice(["none", "jitter", "jitter", "sphere", "outside", "duplicate"])
        if kind == "jitter":
            parts.append(centre + rng.normal(0, 0.6 * radius, (1, 3)))
        elif kind == "sphere":
            offsets = UNIT_OFFSETS if radius in (30.0, 45.0, 75.0, 65.0) else EXACT_UNIT_OFFSETS
            offset = offsets[rng.integers(len(offsets))] * rng.choice([-1, 1], 3)
            parts.append(centre + offset * radius)
        elif kind == "outside":
            parts.append(centre + np.array([radius + 0.5, 0, 0]))
        elif kind == "duplicate":
            parts.append(np.vstack([centre, centre]))
    n_false = int(rng.choice([0, 1, 3, 8]))
    parts.append(rng.uniform(0, box, (n_false, 3)))
    return _frame(experiment, particle_type, np.vstack(parts) if parts else np.zeros((0, 3)))


def _frame(experiment, particle_type, xyz):
    xyz = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
    return pd.DataFrame(
        {
            "experiment": [experiment] * len(xyz),
            "particle_type": [particle_type] * len(xyz),
            "x": xyz[:, 0],
            "y": xyz[:, 1],
            "z": xyz[:, 2],
        }
    )
