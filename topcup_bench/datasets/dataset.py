"""One dataset abstraction over copick projects (phantoms included) and the Kaggle layout.

A :class:`Dataset` names its runs, its classes and its train/test split, and
loads one run at a time: :meth:`Dataset.tomogram` returns a
:class:`~topcup_bench.types.Tomogram` (z, y, x float32) and
:meth:`Dataset.truth` the ground-truth picks (Å, x-y-z).  Nothing is held in
memory beyond the run being used (a full-size tomogram is 85 MB).
"""

from __future__ import annotations

import abc
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import zarr

from topcup_bench.datasets.copick_project import (
    catalogue_from_copick_config,
    get_copick_run,
    open_copick_root,
)
from topcup_bench.datasets.picks_copick import read_copick_picks
from topcup_bench.errors import CopickSourceError, InputError, did_you_mean
from topcup_bench.types import ClassCatalogue, Tomogram, empty_picks_table

__all__ = ["Dataset", "CopickDataset", "MANIFEST_NAME"]

#: File next to a generated project's copick config that records how it was made.
MANIFEST_NAME = "manifest.json"


class Dataset(abc.ABC):
    """Runs with tomograms and ground-truth picks, read lazily one run at a time.

    Attributes
    ----------
    name : str
        Short display name.
    classes : ClassCatalogue
        The scored classes (radius, weight).
    runs : tuple of str
        All run names.
    splits : dict of str to tuple of str
        Named subsets of the runs (``"train"``, ``"test"``); empty when the
        dataset records none.
    voxel_size_angstrom : float
        Voxel spacing of the tomograms, Å.
    """

    name: str
    classes: ClassCatalogue
    runs: tuple[str, ...]
    splits: dict[str, tuple[str, ...]]
    voxel_size_angstrom: float

    @abc.abstractmethod
    def tomogram(self, run: str) -> Tomogram:
        """Load the tomogram of ``run``."""

    def shape_zyx(self, run: str) -> tuple[int, int, int]:
        """Array shape of the tomogram of ``run`` (the default loads it)."""
        return self.tomogram(run).shape_zyx

    def extent_angstrom_xyz(self, run: str) -> tuple[float, float, float]:
        """Size in Å along x, y, z of the tomogram of ``run``."""
        nz, ny, nx = self.shape_zyx(run)
        v = float(self.voxel_size_angstrom)
        return (nx * v, ny * v, nz * v)

    @abc.abstractmethod
    def truth(self, runs: Iterable[str] | None = None) -> pd.DataFrame:
        """Ground-truth picks of ``runs`` (default all), a picks table in Å."""

    @abc.abstractmethod
    def identity(self) -> dict[str, Any]:
        """JSON-ready description that identifies the data (for provenance and caches)."""

    def split(self, name: str) -> tuple[str, ...]:
        """Runs of the split ``name``; ``"all"`` gives every run."""
        if name == "all":
            return self.runs
        if name not in self.splits:
            known = ["all", *self.splits]
            raise InputError(
                self.name, f"unknown split {name!r}; known: {known}.{did_you_mean(name, known)}"
            )
        return self.splits[name]

    def iter_runs(
        self, runs: Iterable[str] | None = None
    ) -> Iterator[tuple[Tomogram, pd.DataFrame]]:
        """Yield ``(tomogram, truth)`` one run at a time."""
        for run in self._checked_runs(runs):
            yield self.tomogram(run), self.truth([run])

    def _checked_runs(self, runs: Iterable[str] | None) -> tuple[str, ...]:
        if runs is None:
            return self.runs
        chosen = (runs,) if isinstance(runs, str) else tuple(runs)
        for run in chosen:
            if run not in self.runs:
                raise InputError(
                    self.name,
                    f"no run named {run!r}; runs: {list(self.runs)}.{did_you_mean(run, self.runs)}",
                )
        return chosen


class CopickDataset(Dataset):
    """A copick project: tomograms of one type and spacing, ground truth of one user.

    Parameters
    ----------
    config_path : str or os.PathLike
        The project's copick configuration (JSON).
    tomo_type : str
        Tomogram type to read (``"denoised"``, ``"wbp"``, ...).
    voxel_size_angstrom : float, optional
        Voxel spacing to read; default the only spacing of the first run.
    truth_user, truth_session : str
        Ground-truth picks: user ``curation``, session ``0`` by convention of the
        competition's projects (``truth_session=None`` accepts any session).
    classes : ClassCatalogue, optional
        Default: the particle objects of the config (radius, ``metadata.score_weight``).
    splits : mapping, optional
        Named run subsets; default the ``split`` of a ``manifest.json`` beside the config.
    """

    def __init__(
        self,
        config_path: str | os.PathLike[str],
        *,
        tomo_type: str = "denoised",
        voxel_size_angstrom: float | None = None,
        truth_user: str = "curation",
        truth_session: str | None = "0",
        classes: ClassCatalogue | None = None,
        splits: Mapping[str, Iterable[str]] | None = None,
        name: str | None = None,
    ) -> None:
        self.config_path = os.fspath(config_path)
        self._root = open_copick_root(self.config_path)
        self.classes = (
            classes if classes is not None else catalogue_from_copick_config(self.config_path)
        )
        self.runs = tuple(sorted(run.name for run in self._root.runs))
        if not self.runs:
            raise CopickSourceError(self.config_path, "the project has no runs")
        self.tomo_type = tomo_type
        self.truth_user, self.truth_session = truth_user, truth_session
        self.voxel_size_angstrom = (
            float(voxel_size_angstrom) if voxel_size_angstrom is not None else self._only_spacing()
        )
        self.manifest = _read_manifest(Path(self.config_path).parent)
        recorded = (self.manifest or {}).get("split", {})
        self.splits = {k: tuple(v) for k, v in (splits if splits is not None else recorded).items()}
        for split_name, members in self.splits.items():
            unknown = [r for r in members if r not in self.runs]
            if unknown:
                raise InputError(
                    self.config_path, f"split {split_name!r} names unknown runs {unknown}"
                )
        self.name = name or self._root.config.name or Path(self.config_path).stem

    def tomogram(self, run: str) -> Tomogram:
        """Load the tomogram of ``run`` (scale 0 of the OME-Zarr pyramid) as float32, z-y-x."""
        try:
            data = np.asarray(self._copick_tomogram(run).numpy(), dtype=np.float32)
        except CopickSourceError:
            raise
        except Exception as error:  # zarr/numcodecs raise many types for corrupt stores
            raise CopickSourceError(
                self.config_path,
                f"cannot read tomogram {self.tomo_type!r} of run {run!r}: "
                f"{type(error).__name__}: {error}",
            ) from error
        return Tomogram(run, data, self.voxel_size_angstrom)

    def shape_zyx(self, run: str) -> tuple[int, int, int]:
        """Shape of the tomogram of ``run`` from the zarr metadata, without reading it."""
        try:
            store = zarr.open_group(self._copick_tomogram(run).zarr(), mode="r")
            return tuple(int(n) for n in store["0"].shape)  # type: ignore[return-value]
        except CopickSourceError:
            raise
        except Exception:  # fall back to reading the data
            return super().shape_zyx(run)

    def _copick_tomogram(self, run: str):
        self._checked_runs([run])
        copick_run = get_copick_run(self._root, run, self.config_path)
        spacing = copick_run.get_voxel_spacing(self.voxel_size_angstrom)
        if spacing is None:
            found = [vs.voxel_size for vs in copick_run.voxel_spacings]
            raise CopickSourceError(
                self.config_path,
                f"run {run!r} has no voxel spacing {self.voxel_size_angstrom:g} Å; found {found}",
            )
        tomograms = spacing.get_tomograms(self.tomo_type)
        if not tomograms:
            found = sorted({t.tomo_type for t in spacing.tomograms})
            raise CopickSourceError(
                self.config_path,
                f"run {run!r} at {self.voxel_size_angstrom:g} Å has no tomogram of type "
                f"{self.tomo_type!r}; found {found}.{did_you_mean(self.tomo_type, found)}",
            )
        return tomograms[0]

    def truth(self, runs: Iterable[str] | None = None) -> pd.DataFrame:
        """Ground-truth picks of ``runs`` from the truth user/session (empty if none)."""
        chosen = self._checked_runs(runs)
        try:
            return read_copick_picks(
                self.config_path,
                user_id=self.truth_user,
                session_id=self.truth_session,
                runs=list(chosen),
                classes=self.classes,
            )
        except CopickSourceError as error:
            if "no picks by user" in str(error):
                return empty_picks_table(with_score=False)
            raise

    def identity(self) -> dict[str, Any]:
        """Config path, tomogram type, spacing, truth user/session and the manifest's key."""
        return {
            "kind": "copick",
            "config": str(Path(self.config_path).resolve()),
            "name": self.name,
            "tomo_type": self.tomo_type,
            "voxel_size_angstrom": self.voxel_size_angstrom,
            "truth_user": self.truth_user,
            "truth_session": self.truth_session,
            "runs": list(self.runs),
            "phantom_key": (self.manifest or {}).get("cache_key"),
        }

    def _only_spacing(self) -> float:
        first = self._root.get_run(self.runs[0])
        spacings = sorted({float(vs.voxel_size) for vs in first.voxel_spacings})
        if len(spacings) != 1:
            raise CopickSourceError(
                self.config_path,
                f"run {first.name!r} has voxel spacings {spacings}; "
                "choose one (voxel_size_angstrom)",
            )
        return spacings[0]


def _read_manifest(directory: Path) -> dict[str, Any] | None:
    path = directory / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(str(path), f"manifest is not valid JSON ({error})") from error
