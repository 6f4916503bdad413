"""Helpers for testing and benchmarking pickers and metrics.

:func:`synthetic_scoring_case` builds a deterministic ground-truth / picks
pair of any size, with jittered true positives, duplicates, uniform false
positives and confidences that favour true positives, for metric tests and
benchmarks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from topcup_bench.types import ClassCatalogue

__all__ = ["synthetic_scoring_case", "KAGGLE_EXTENT_ANGSTROM", "track_loaded_tomograms"]

#: Extent of a competition tomogram, Å, x-y-z (630 × 630 × 184 voxels of 10 Å).
KAGGLE_EXTENT_ANGSTROM = (6300.0, 6300.0, 1840.0)


def synthetic_scoring_case(
    *,
    n_experiments: int = 10,
    truth_per_class: int = 30,
    false_positives_per_class: int = 20,
    recall: float = 0.8,
    duplicate_rate: float = 0.1,
    jitter_fraction: float = 0.3,
    classes: ClassCatalogue | None = None,
    extent_angstrom: tuple[float, float, float] = KAGGLE_EXTENT_ANGSTROM,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Deterministic ground truth and picks for metric tests and benchmarks.

    Parameters
    ----------
    n_experiments : int
        Number of runs, named ``TS_0``, ``TS_1``, ...
    truth_per_class : int
        Ground-truth points per class per run.
    false_positives_per_class : int
        Uniformly placed predictions per class per run.
    recall : float
        Probability that a ground-truth point gets a nearby prediction.
    duplicate_rate : float
        Probability that a detected point gets a second nearby prediction.
    jitter_fraction : float
        Standard deviation of the position error per axis, as a fraction of
        the particle radius (some jittered picks fall outside the match radius).
    classes : ClassCatalogue, optional
        Classes to generate (default: the competition's six).
    extent_angstrom : tuple of float
        Box size in Å, x-y-z.
    seed : int
        Seed; the same arguments give the same tables.

    Returns
    -------
    truth, picks : pandas.DataFrame
        Picks tables in Å; ``picks`` has a ``score`` column.

    Examples
    --------
    >>> truth, picks = synthetic_scoring_case(n_experiments=2, truth_per_class=3, seed=1)
    >>> len(truth)
    36
    """
    catalogue = ClassCatalogue.coerce(classes)
    rng = np.random.default_rng(seed)
    extent = np.asarray(extent_angstrom, dtype=np.float64)
    truth_parts, pick_parts = [], []
    for run in range(n_experiments):
        experiment = f"TS_{run}"
        for particle_class in catalogue:
            centres = rng.uniform(0.0, 1.0, size=(truth_per_class, 3)) * extent
            truth_parts.append(_table(experiment, particle_class.name, centres))
            detected = centres[rng.random(truth_per_class) < recall]
            doubled = detected[rng.random(len(detected)) < duplicate_rate]
            near = np.concatenate([detected, doubled])
            sigma = jitter_fraction * particle_class.radius_angstrom
            near = near + rng.normal(0.0, sigma, size=near.shape)
            far = rng.uniform(0.0, 1.0, size=(false_positives_per_class, 3)) * extent
            score = np.concatenate(
                [rng.beta(5.0, 2.0, size=len(near)), rng.beta(2.0, 5.0, size=len(far))]
            )
            pick_parts.append(
                _table(experiment, particle_class.name, np.concatenate([near, far]), score)
            )
    truth = pd.concat(truth_parts, ignore_index=True)
    picks = pd.concat(pick_parts, ignore_index=True)
    return truth, picks.iloc[rng.permutation(len(picks))].reset_index(drop=True)


def _table(
    experiment: str, particle_type: str, xyz: np.ndarray, score: np.ndarray | None = None
) -> pd.DataFrame:
    columns = {
        "experiment": [experiment] * len(xyz),
        "particle_type": [particle_type] * len(xyz),
        "x": xyz[:, 0],
        "y": xyz[:, 1],
        "z": xyz[:, 2],
    }
    if score is not None:
        columns["score"] = score
    return pd.DataFrame(columns)


def track_loaded_tomograms(dataset) -> list[int]:
    """Count the tomograms of ``dataset`` alive in memory at each load (a test probe).

    Replaces ``dataset.tomogram`` on this instance by a wrapper that, at each
    call, records how many arrays it has handed out are still referenced
    (weak references), the new one included.  A picker or runner that holds one
    tomogram at a time records only 1s.

    Parameters
    ----------
    dataset : Dataset
        Modified in place (its ``tomogram`` attribute).

    Returns
    -------
    list of int
        Filled as tomograms are loaded: the number alive after each load.
    """
    import weakref

    original = dataset.tomogram
    alive: list[weakref.ref] = []
    counts: list[int] = []

    def tomogram(run: str):
        loaded = original(run)
        alive[:] = [ref for ref in alive if ref() is not None]
        alive.append(weakref.ref(loaded.data))
        counts.append(len(alive))
        return loaded

    dataset.tomogram = tomogram
    return counts


def check_picker(picker, dataset=None, *, runs=None) -> list[str]:
    """Conformance checks for picker authors: run them in your picker's tests.

    Runs the picker (training it first if it is trainable) on a tiny
    deterministic phantom (or on ``dataset``) and checks: the output schema
    (``experiment, particle_type, x, y, z, score``), that ``experiment`` is the
    tomogram's run, that every ``particle_type`` is a requested class, that
    coordinates are Ångström inside the tomogram (not voxel indices, not
    z-y-x), that scores are finite, that two calls give identical picks
    (determinism), that the picker card is complete and that the picker
    survives pickling (needed by the process and dask executors).

    Parameters
    ----------
    picker : Picker
        The picker to check.
    dataset : Dataset, optional
        Default: ``phantom:tiny`` (generated into the cache on first use).
    runs : sequence of str, optional
        Runs to pick on (default: the test split).

    Returns
    -------
    list of str
        The names of the checks that passed.

    Raises
    ------
    topcup_bench.errors.TopcupBenchError
        The first failed check, with an explanation.
    """
    from topcup_bench.pickers.conformance import run_conformance_checks

    return run_conformance_checks(picker, dataset, runs=runs)
