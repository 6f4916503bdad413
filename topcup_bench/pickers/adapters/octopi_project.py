"""The throw-away copick project in which the ``octopi`` picker trains.

octopi reads its training data from a copick project: tomograms, and target
segmentations that its ``generate_targets`` paints from picks.  The user's
project is never written to: :func:`build_training_project` creates a new
project in a folder of our own (normally a temporary one), copies into it the
training tomograms (as loaded by :meth:`Dataset.tomogram`, so any dataset
works, not only copick ones) and the ground truth (:meth:`Dataset.truth`), then
asks octopi to paint the targets there.

Layout of the project (all under ``folder``)::

    copick_config.json    one pickable object per class, labels 1..K in catalogue order
    ExperimentRuns/RUN/   tomogram TOMO_TYPE@voxel size, truth picks, octopi's targets
    ExperimentRuns/RUN-validation/
                          only for a last run larger than VALIDATION_CROP_ZYX: a crop of
                          it, on which octopi validates (see below)
    logs/                 octopi's record of the targets (read back by its trainer)

octopi validates on a whole tomogram at once (a sliding window into a full
``(classes, z, y, x)`` float volume, then its loss and one-hot copies): on a
184 × 630 × 630 tomogram that alone is several GB.  Its validation does not
change the weights we keep (it runs once, after the last epoch), so a last
training run larger than :data:`VALIDATION_CROP_ZYX` is validated on a crop of
it around its pick nearest the centre; smaller runs are validated whole, as
before.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from topcup_bench.datasets.copick_project import open_copick_root
from topcup_bench.datasets.picks_copick import write_copick_picks
from topcup_bench.errors import InputError
from topcup_bench.types import ClassCatalogue

if TYPE_CHECKING:  # pragma: no cover
    from topcup_bench.datasets.dataset import Dataset

__all__ = [
    "TrainingProject",
    "build_training_project",
    "write_project_config",
    "TOMO_TYPE",
    "TRUTH_USER",
    "TARGET_NAME",
    "TARGET_USER",
    "TARGET_SESSION",
    "VALIDATION_CROP_ZYX",
    "validation_window",
]

#: Tomogram type of the copied tomograms.
TOMO_TYPE = "topcup"
#: Copick user and session of the copied ground truth.
TRUTH_USER, TRUTH_SESSION = "topcup-truth", "0"
#: Name, user and session of the targets octopi paints.
TARGET_NAME, TARGET_USER, TARGET_SESSION = "targets", "octopi", "1"
CONFIG_NAME = "copick_config.json"
#: Largest validation volume (z, y, x voxels); larger last runs are validated on a crop.
VALIDATION_CROP_ZYX: tuple[int, int, int] = (128, 256, 256)


@dataclass(frozen=True)
class TrainingProject:
    """A training project ready for octopi's data module.

    Attributes
    ----------
    config_path : pathlib.Path
        The project's copick configuration.
    runs : tuple of str
        Runs copied into it.
    voxel_size_angstrom : float
        Voxel size of every copied tomogram, Å.
    labels : dict of str to int
        Class name → target label (1..K, catalogue order; 0 is background).
    validation_run : str
        Run octopi validates on: the last training run, or ``"<last>-validation"``,
        a crop of it (see the module docstring).
    """

    config_path: Path
    runs: tuple[str, ...]
    voxel_size_angstrom: float
    labels: dict[str, int]
    validation_run: str

    @property
    def tomo_uri(self) -> str:
        """octopi's tomogram URI, ``TOMO_TYPE@voxel_size``."""
        return f"{TOMO_TYPE}@{self.voxel_size_angstrom}"


def write_project_config(folder: Path, classes: ClassCatalogue) -> Path:
    """Write a copick configuration whose only (overlay) root is ``folder``.

    Parameters
    ----------
    folder : pathlib.Path
        The project folder (created if missing).
    classes : ClassCatalogue
        One particle object per class: label = 1-based catalogue position,
        radius in Å.

    Returns
    -------
    pathlib.Path
        ``folder / "copick_config.json"``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "config_type": "filesystem",
        "name": "topcup-bench-octopi",
        "description": "Temporary project of topcup-bench's octopi adapter",
        "version": "1.31.0",
        "pickable_objects": [
            {"name": c.name, "is_particle": True, "label": i, "radius": float(c.radius_angstrom)}
            for i, c in enumerate(classes, start=1)
        ],
        "overlay_root": f"local://{folder.resolve()}",
        "overlay_fs_args": {"auto_mkdir": True},
    }
    path = folder / CONFIG_NAME
    path.write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    return path


def build_training_project(
    dataset: Dataset, runs: Sequence[str], folder: Path, *, radius_scale: float
) -> TrainingProject:
    """Copy ``runs`` of ``dataset`` into a new project at ``folder`` and paint octopi's targets.

    Parameters
    ----------
    dataset : Dataset
        Source of the tomograms and ground truth (only read).
    runs : sequence of str
        Training runs.
    folder : pathlib.Path
        Empty or missing folder for the project.
    radius_scale : float
        Targets are balls of radius ``radius_scale`` · R around each pick (octopi's
        ``radius_scale``).

    Returns
    -------
    TrainingProject

    Raises
    ------
    InputError
        No runs, runs of different voxel sizes, or no ground-truth pick of the
        dataset's classes in ``runs``.
    """
    runs = tuple(runs)
    if not runs:
        raise InputError("octopi", "fit needs at least one training run")
    classes = dataset.classes
    truth = dataset.truth(runs)
    truth = truth[truth["particle_type"].isin(classes.names)]
    if not len(truth):
        raise InputError(
            "octopi", f"no ground-truth picks of {list(classes.names)} in runs {list(runs)}"
        )
    config = write_project_config(folder, classes)
    root = open_copick_root(config)
    voxel_size = None
    validation_run, validation_truth = runs[-1], truth.iloc[:0]
    for run in runs:
        tomogram = dataset.tomogram(run)
        if voxel_size is None:
            voxel_size = float(tomogram.voxel_size_angstrom)
        elif not np.isclose(tomogram.voxel_size_angstrom, voxel_size):
            raise InputError(
                "octopi",
                f"run {run!r} has voxel size {tomogram.voxel_size_angstrom} Å, the first "
                f"training run {runs[0]!r} {voxel_size} Å; octopi trains on one voxel size",
            )
        _add_tomogram(root, run, voxel_size, tomogram.data)
        if run == runs[-1]:
            run_truth = truth[truth["experiment"] == run]
            window = validation_window(tomogram.data.shape, run_truth, voxel_size)
            if window is not None:
                validation_run = _unused_name(f"{run}-validation", runs)
                _add_tomogram(root, validation_run, voxel_size, tomogram.data[window])
                validation_truth = _shifted_into(run_truth, window, voxel_size, validation_run)
        del tomogram
    write_copick_picks(
        pd.concat([truth, validation_truth], ignore_index=True),
        config,
        user_id=TRUTH_USER,
        session_id=TRUTH_SESSION,
    )
    labels = {c.name: i for i, c in enumerate(classes, start=1)}
    painted = runs if validation_run in runs else (*runs, validation_run)
    _paint_targets(config, classes, labels, voxel_size, painted, radius_scale)
    return TrainingProject(config, runs, voxel_size, labels, validation_run)


def validation_window(
    shape_zyx: Sequence[int], truth: pd.DataFrame, voxel_size: float
) -> tuple[slice, slice, slice] | None:
    """The crop of a run that octopi validates on, or None to validate the whole run.

    Parameters
    ----------
    shape_zyx : sequence of 3 int
        The run's tomogram shape (z, y, x voxels).
    truth : pandas.DataFrame
        The run's ground truth (``x``, ``y``, ``z`` in Å); must not be empty when
        the shape exceeds :data:`VALIDATION_CROP_ZYX`.
    voxel_size : float
        Å per voxel.

    Returns
    -------
    tuple of 3 slice or None
        None when every axis fits in :data:`VALIDATION_CROP_ZYX`; else a window of
        at most that size per axis, centred (as far as the volume allows) on the
        pick nearest the volume's centre, so that octopi's targets there are not empty.
    """
    shape = np.asarray(shape_zyx, dtype=int)
    crop = np.minimum(shape, VALIDATION_CROP_ZYX)
    if np.array_equal(crop, shape):
        return None
    centres = truth[["z", "y", "x"]].to_numpy(dtype=float) / voxel_size
    if not len(centres):
        centre = shape / 2.0
    else:
        centre = centres[np.argmin(np.linalg.norm(centres - shape / 2.0, axis=1))]
    start = np.clip(np.round(centre - crop / 2.0).astype(int), 0, shape - crop)
    return tuple(slice(int(a), int(a + n)) for a, n in zip(start, crop, strict=True))


def _add_tomogram(root, run: str, voxel_size: float, data: np.ndarray) -> None:
    """Write ``data`` as the run's ``TOMO_TYPE`` tomogram (one pyramid level)."""
    spacing = root.new_run(run).new_voxel_spacing(voxel_size)
    spacing.new_tomogram(TOMO_TYPE).from_numpy(
        np.ascontiguousarray(data, dtype=np.float32), levels=1
    )


def _unused_name(name: str, taken: Sequence[str]) -> str:
    """``name``, or ``name-2``, ``name-3`` … the first not in ``taken``."""
    candidate, k = name, 1
    while candidate in taken:
        k += 1
        candidate = f"{name}-{k}"
    return candidate


def _shifted_into(
    truth: pd.DataFrame, window: tuple[slice, slice, slice], voxel_size: float, run: str
) -> pd.DataFrame:
    """The picks of ``truth`` inside ``window``, in the crop's coordinates, renamed to ``run``."""
    out = truth.copy()
    for axis, cut in zip("zyx", window, strict=True):
        out[axis] = out[axis] - cut.start * voxel_size
        out = out[(out[axis] >= 0) & (out[axis] < (cut.stop - cut.start) * voxel_size)]
    return out.assign(experiment=run).reset_index(drop=True)


def _paint_targets(config, classes, labels, voxel_size, runs, radius_scale) -> None:
    """octopi's ``generate_targets``: one multi-label segmentation per run from the truth picks."""
    from octopi.processing.create_targets_from_picks import generate_targets

    targets = {
        c.name: {
            "label": labels[c.name],
            "user_id": TRUTH_USER,
            "session_id": TRUTH_SESSION,
            "is_particle_target": True,
            "radius": float(c.radius_angstrom),
        }
        for c in classes
    }
    generate_targets(
        str(config),
        targets,
        voxel_size=voxel_size,
        tomo_algorithm=TOMO_TYPE,
        radius_scale=radius_scale,
        target_segmentation_name=TARGET_NAME,
        target_user_name=TARGET_USER,
        target_session_id=TARGET_SESSION,
        run_ids=list(runs),
    )
