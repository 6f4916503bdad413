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
    logs/                 octopi's record of the targets (read back by its trainer)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

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
]

#: Tomogram type of the copied tomograms.
TOMO_TYPE = "topcup"
#: Copick user and session of the copied ground truth.
TRUTH_USER, TRUTH_SESSION = "topcup-truth", "0"
#: Name, user and session of the targets octopi paints.
TARGET_NAME, TARGET_USER, TARGET_SESSION = "targets", "octopi", "1"
CONFIG_NAME = "copick_config.json"


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
    """

    config_path: Path
    runs: tuple[str, ...]
    voxel_size_angstrom: float
    labels: dict[str, int]

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
        spacing = root.new_run(run).new_voxel_spacing(voxel_size)
        spacing.new_tomogram(TOMO_TYPE).from_numpy(
            np.ascontiguousarray(tomogram.data, dtype=np.float32), levels=1
        )
    write_copick_picks(truth, config, user_id=TRUTH_USER, session_id=TRUTH_SESSION)
    labels = {c.name: i for i, c in enumerate(classes, start=1)}
    _paint_targets(config, classes, labels, voxel_size, runs, radius_scale)
    return TrainingProject(config, runs, voxel_size, labels)


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
