"""The Kaggle competition's directory layout, read without touching the user's files.

::

    DIR/train/static/ExperimentRuns/{run}/VoxelSpacing10.000/{tomo_type}.zarr   (OME-Zarr, z-y-x)
    DIR/train/overlay/ExperimentRuns/{run}/Picks/{particle_type}.json            (copick picks JSON)

copick itself expects picks files named ``{user}_{session}_{object}.json``, so
the bare ``{particle_type}.json`` files are read here directly: each point's
position is ``location`` plus the translation of ``transformation_`` (Å, x-y-z).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import zarr

from topcup_bench.datasets.dataset import Dataset
from topcup_bench.datasets.zarr_integrity import check_zarr_chunks, is_local_zarr_array
from topcup_bench.errors import InputError, SchemaError, UnknownParticleError, did_you_mean
from topcup_bench.identity import digest_zarr_array, files_signature
from topcup_bench.types import (
    COMPETITION_CLASSES,
    ClassCatalogue,
    Tomogram,
    empty_picks_table,
    validate_picks_table,
)

__all__ = ["KaggleDataset"]

_SPACING = re.compile(r"^VoxelSpacing(\d+(?:\.\d+)?)$")


class KaggleDataset(Dataset):
    """The Kaggle layout of a CZII competition split (``train`` by default).

    Parameters
    ----------
    root : str or os.PathLike
        The competition data folder (holding ``train/``) or the split folder itself
        (holding ``static/`` and ``overlay/``).
    split_folder : str
        Which split folder to read under ``root`` (``"train"``).
    tomo_type : str
        Tomogram type (``"denoised"``).
    classes : ClassCatalogue, optional
        Default: the six competition classes.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        split_folder: str = "train",
        tomo_type: str = "denoised",
        classes: ClassCatalogue | None = None,
    ) -> None:
        base = Path(root)
        folder = (
            base
            if (base / "static").is_dir() or (base / "overlay").is_dir()
            else base / split_folder
        )
        missing = [
            name
            for name in ("static", "overlay")
            if not (folder / name / "ExperimentRuns").is_dir()
        ]
        if missing:
            raise InputError(
                str(folder),
                "not a Kaggle competition layout: missing "
                f"{[f'{m}/ExperimentRuns' for m in missing]} "
                "(expected train/static/ExperimentRuns/<run>/VoxelSpacing10.000/denoised.zarr and "
                "train/overlay/ExperimentRuns/<run>/Picks/<particle>.json)",
            )
        self.folder = folder
        self.static = folder / "static" / "ExperimentRuns"
        self.overlay = folder / "overlay" / "ExperimentRuns"
        self.tomo_type = tomo_type
        self.classes = classes if classes is not None else COMPETITION_CLASSES
        self.runs = tuple(sorted(p.name for p in self.static.iterdir() if p.is_dir()))
        if not self.runs:
            raise InputError(str(self.static), "no runs (sub-folders) found")
        self.splits = {}
        self.name = f"kaggle:{folder}"
        self.voxel_size_angstrom = self._spacing(self.runs[0])[1]

    def tomogram(self, run: str) -> Tomogram:
        """Load scale 0 of ``{tomo_type}.zarr`` of ``run`` as float32, z-y-x."""
        store, voxel_size = self._store(run)
        if is_local_zarr_array(store / "0"):
            check_zarr_chunks(store / "0", run=run)
        try:
            group = zarr.open_group(str(store), mode="r")
            data = np.asarray(group["0"][:], dtype=np.float32)
        except Exception as error:  # zarr raises many types for corrupt stores
            raise InputError(
                str(store),
                f"cannot read scale '0' of the OME-Zarr store: {type(error).__name__}: {error}",
            ) from error
        return Tomogram(run, data, voxel_size)

    def truth(self, runs: Iterable[str] | None = None) -> pd.DataFrame:
        """Ground truth of ``runs`` from ``overlay/ExperimentRuns/{run}/Picks/*.json``."""
        frames = []
        for run in self._checked_runs(runs):
            picks_dir = self.overlay / run / "Picks"
            for path in sorted(picks_dir.glob("*.json")) if picks_dir.is_dir() else []:
                frames.append(_read_picks_json(path, run, self.classes))
        if not frames:
            return empty_picks_table(with_score=False)
        return validate_picks_table(pd.concat(frames, ignore_index=True), source=str(self.overlay))

    kind = "kaggle"

    def _identity_fields(self) -> dict[str, Any]:
        """The tomogram type (content; the folder is provenance)."""
        return {"tomo_type": self.tomo_type}

    def provenance(self) -> dict[str, Any]:
        """The folder and tomogram type (never compared)."""
        return {
            **super().provenance(),
            "folder": str(self.folder.resolve()),
            "tomo_type": self.tomo_type,
        }

    def run_digest(self, run: str) -> str:
        """Digest of the values of the stored scale-0 array of ``run``.

        Raises
        ------
        ZarrChunkError
            A chunk is missing or truncated (checked before digesting).
        """
        array = self._store(run)[0] / "0"
        if not is_local_zarr_array(array):
            return super().run_digest(run)
        return digest_zarr_array(array, run=run)

    def _truth_signature(self) -> tuple:
        return files_signature(
            [p for run in self.runs for p in sorted((self.overlay / run / "Picks").glob("*.json"))]
        )

    def _store(self, run: str) -> tuple[Path, float]:
        """The ``{tomo_type}.zarr`` folder of ``run`` and its voxel size (Å)."""
        self._checked_runs([run])
        spacing_dir, voxel_size = self._spacing(run)
        store = spacing_dir / f"{self.tomo_type}.zarr"
        if not store.is_dir():
            found = sorted(p.name for p in spacing_dir.glob("*.zarr"))
            raise InputError(str(store), f"tomogram not found; found {found}")
        return store, voxel_size

    def _spacing(self, run: str) -> tuple[Path, float]:
        run_dir = self.static / run
        spacings = [(p, _SPACING.match(p.name)) for p in run_dir.iterdir() if p.is_dir()]
        spacings = [(p, float(m.group(1))) for p, m in spacings if m]
        if len(spacings) != 1:
            raise InputError(
                str(run_dir),
                f"expected one VoxelSpacing<size> folder, found {[p.name for p, _ in spacings]}",
            )
        return spacings[0]


def _read_picks_json(path: Path, run: str, classes: ClassCatalogue) -> pd.DataFrame:
    source = str(path)
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SchemaError(source, f"not a readable JSON picks file ({error})") from error
    name = content.get("pickable_object_name", path.stem) if isinstance(content, dict) else None
    if name is None or not isinstance(content.get("points", []), list):
        raise SchemaError(source, "expected a JSON object with 'pickable_object_name' and 'points'")
    if name not in classes:
        raise UnknownParticleError(
            source,
            f"picks of object {name!r}, which is not a class; classes: {list(classes.names)}."
            + did_you_mean(name, classes.names),
        )
    rows = []
    for index, point in enumerate(content.get("points") or []):
        try:
            location = point["location"]
            xyz = np.array([location["x"], location["y"], location["z"]], dtype=np.float64)
            transform = np.asarray(point.get("transformation_", np.eye(4)), dtype=np.float64)
            xyz = xyz + transform[:3, 3]
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise SchemaError(
                source,
                f"points[{index}]: expected location.x/y/z and a 4x4 transformation_ ({error})",
            ) from error
        rows.append((run, name, *xyz))
    return pd.DataFrame(rows, columns=["experiment", "particle_type", "x", "y", "z"])
