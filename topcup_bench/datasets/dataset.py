"""One dataset abstraction over copick projects (phantoms included) and the Kaggle layout.

A :class:`Dataset` names its runs, its classes and its train/test split, and
loads one run at a time: :meth:`Dataset.tomogram` returns a
:class:`~topcup_bench.types.Tomogram` (z, y, x float32) and
:meth:`Dataset.truth` the ground-truth picks (Å, x-y-z).  Nothing is held in
memory beyond the run being used (a full-size tomogram is 85 MB).
"""

from __future__ import annotations

import abc
import dataclasses
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
from topcup_bench.datasets.names import apply_name_map
from topcup_bench.datasets.picks_copick import copick_pick_sessions, read_copick_picks
from topcup_bench.datasets.zarr_integrity import (
    check_zarr_chunks,
    is_local_zarr_array,
)
from topcup_bench.errors import CopickSourceError, InputError, TopcupBenchError, did_you_mean
from topcup_bench.identity import (
    digest_array,
    digest_json,
    digest_table,
    digest_zarr_array,
    files_signature,
    with_digest,
)
from topcup_bench.types import (
    ClassCatalogue,
    ParticleClass,
    Tomogram,
    empty_picks_table,
    validate_picks_table,
)

__all__ = ["Dataset", "CopickDataset", "MANIFEST_NAME"]

#: File next to a generated project's copick config that records how it was made.
MANIFEST_NAME = "manifest.json"

#: Columns of a ground-truth table that its digest covers.
_TRUTH_COLUMNS = ("experiment", "particle_type", "x", "y", "z")


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

    def identity(self) -> dict[str, Any]:
        """JSON-ready description of the data by content only, with its ``"digest"``.

        Holds no path and no cache location: the same data stored in two
        places has the same identity.  It describes the runs, the voxel size,
        the classes, the ground truth's digest (:meth:`truth_digest`) and each
        run's tomogram digest (:meth:`run_digest`); ``"digest"`` is the SHA-256
        of the canonical JSON of the other fields (``docs/results_schema.md``,
        "What the identity covers").  Digests are memoised on the files' sizes
        and modification times, so a second call is cheap and an edit is seen.
        """
        return with_digest(
            {
                "kind": self.kind,
                **self._identity_fields(),
                "voxel_size_angstrom": float(self.voxel_size_angstrom),
                "runs": list(self.runs),
                "classes": [
                    {"name": c.name, "radius_angstrom": c.radius_angstrom, "weight": c.weight}
                    for c in self.classes
                ],
                "truth_digest": self.truth_digest(),
                "tomogram_digests": {run: self.run_digest(run) for run in self.runs},
            }
        )

    @property
    def kind(self) -> str:
        """Kind of source (``"copick"``, ``"kaggle"``, else the class name)."""
        return type(self).__name__

    def _identity_fields(self) -> dict[str, Any]:
        """Content fields a subclass adds to :meth:`identity` (tomogram type, truth user...)."""
        return {}

    def provenance(self) -> dict[str, Any]:
        """Where the data came from (paths, spec): for information only, never compared."""
        return {"kind": self.kind, "name": self.name, "spec": getattr(self, "spec", None)}

    def run_digest(self, run: str) -> str:
        """Digest of the tomogram values of ``run`` (:func:`~topcup_bench.identity.digest_array`).

        The default loads the tomogram once per instance; datasets stored as
        local zarr digest the stored array slab by slab (the same digest for
        the same values) after checking its chunks.
        """
        cache = self.__dict__.setdefault("_run_digest_cache", {})
        if run not in cache:
            cache[run] = digest_array(self.tomogram(run).data)
        return cache[run]

    def truth_digest(self, runs: Iterable[str] | None = None) -> str:
        """Digest of the ground truth of ``runs`` (default all) by content (sorted rows)."""
        chosen = self._checked_runs(runs)
        per_run = self._truth_digests()
        return digest_json({run: per_run[run] for run in chosen})

    def _truth_signature(self) -> tuple | None:
        """Sizes and times of the ground-truth files; None: read the truth once per instance."""
        return None

    def _truth_digests(self) -> dict[str, str]:
        """Digest of each run's ground-truth rows; recomputed when the truth files change."""
        signature = self._truth_signature()
        cached = self.__dict__.get("_truth_digest_cache")
        if cached is not None and cached[0] == signature:
            return cached[1]
        truth = self.truth()
        digests = {
            run: digest_table(truth.loc[truth["experiment"] == run], _TRUTH_COLUMNS)
            for run in self.runs
        }
        self._truth_digest_cache = (signature, digests)
        return digests

    def check_truth_user(self) -> None:
        """Raise when the ground truth's owner has no picks at all (default: nothing to check)."""
        return None

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
    name_map : mapping of str to str, optional
        Project object name → class name (e.g.
        :data:`~topcup_bench.datasets.names.PORTAL_NAME_MAP`), applied to the
        ground truth and, when ``classes`` is not given, to the catalogue (two
        objects mapped to one class: the first one's radius and weight).
        Only objects whose mapped name is a class are read. Default: no renaming.
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
        name_map: Mapping[str, str] | None = None,
    ) -> None:
        self.config_path = os.fspath(config_path)
        self._root = open_copick_root(self.config_path)
        self.name_map = dict(name_map or {})
        self.classes = (
            classes
            if classes is not None
            else _renamed(catalogue_from_copick_config(self.config_path), self.name_map)
        )
        self.runs = tuple(sorted(run.name for run in self._root.runs))
        if not self.runs:
            raise CopickSourceError(self.config_path, "the project has no runs")
        self.tomo_type = tomo_type
        self.truth_user, self.truth_session = truth_user, truth_session
        self.voxel_size_angstrom = self._resolve_voxel_size(voxel_size_angstrom)
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
        array = None
        try:
            array = self._local_array(run)
            if array is not None:
                check_zarr_chunks(array, run=run)
            data = np.asarray(self._copick_tomogram(run).numpy(), dtype=np.float32)
        except TopcupBenchError:  # unknown run, spacing or type; missing or truncated chunk
            raise
        except Exception as error:  # zarr/numcodecs raise many types for corrupt stores
            if array is not None:  # name the chunk(s) that cannot be decoded, if any
                _raise_undecodable(array, run, error)
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
            if not self.name_map:
                return read_copick_picks(
                    self.config_path,
                    user_id=self.truth_user,
                    session_id=self.truth_session,
                    runs=list(chosen),
                    classes=self.classes,
                )
            table = read_copick_picks(
                self.config_path,
                user_id=self.truth_user,
                session_id=self.truth_session,
                runs=list(chosen),
                object_names=self._mapped_objects(),
            )
        except CopickSourceError as error:
            if "no picks by user" in str(error):
                return empty_picks_table(with_score=False)
            raise
        renamed = apply_name_map(table, self.name_map, source=self.config_path)
        return validate_picks_table(renamed, source=self.config_path, classes=self.classes)

    def _mapped_objects(self) -> list[str]:
        """Particle objects of the project whose mapped name is one of the classes."""
        return [
            o.name
            for o in self._root.pickable_objects
            if o.is_particle and self.name_map.get(o.name, o.name) in self.classes
        ]

    def check_truth_user(self) -> None:
        """Raise when the truth user (and session) has no picks in any run of the project.

        :meth:`truth` is empty then (its identity still defined); a benchmark
        calls this first, so that the message names the users that have picks.

        Raises
        ------
        CopickSourceError
            No picks by ``truth_user`` (``truth_session``) anywhere, naming the
            users with picks.
        """
        sessions = copick_pick_sessions(self.config_path)
        if any(
            user == self.truth_user and self.truth_session in (None, session)
            for user, session in sessions
        ):
            return
        session = "any session" if self.truth_session is None else f"session {self.truth_session!r}"
        raise CopickSourceError(
            self.config_path,
            f"no ground-truth picks by user {self.truth_user!r} {session} in "
            f"{self.config_path}; users with picks: {sorted({u for u, _ in sessions})} "
            "(choose one with ?user=NAME&session=ID)",
        )

    kind = "copick"

    def _identity_fields(self) -> dict[str, Any]:
        """Tomogram type and ground-truth user/session (content; the path is provenance)."""
        return {
            "tomo_type": self.tomo_type,
            "truth_user": self.truth_user,
            "truth_session": self.truth_session,
        }

    def provenance(self) -> dict[str, Any]:
        """Config path, name, reading options and the phantom manifest's key (never compared)."""
        return {
            **super().provenance(),
            "config": str(Path(self.config_path).resolve()),
            "tomo_type": self.tomo_type,
            "voxel_size_angstrom": self.voxel_size_angstrom,
            "truth_user": self.truth_user,
            "truth_session": self.truth_session,
            "phantom_key": (self.manifest or {}).get("cache_key"),
        }

    def run_digest(self, run: str) -> str:
        """Digest of the values of the stored scale-0 array of ``run``.

        Raises
        ------
        ZarrChunkError
            A chunk is missing or truncated (checked before digesting).
        """
        array = self._local_array(run)
        if array is None:  # not a local zarr store: digest the decoded data
            return super().run_digest(run)
        return digest_zarr_array(array, run=run)

    def _local_array(self, run: str) -> Path | None:
        """Folder of the scale-0 zarr array of ``run`` when stored locally, else None."""
        store_path = getattr(self._copick_tomogram(run).zarr(), "path", None)
        if not isinstance(store_path, str):
            return None
        array = Path(store_path) / "0"
        return array if is_local_zarr_array(array) else None

    def _truth_signature(self) -> tuple | None:
        session = f"{self.truth_session}_" if self.truth_session is not None else ""
        prefix = f"{self.truth_user}_{session}"
        files = []
        for run in self.runs:
            overlay = getattr(self._root.get_run(run), "overlay_path", None)
            picks = Path(overlay) / "Picks" if isinstance(overlay, str) else None
            if picks is None or not picks.parent.is_dir():
                return None
            if picks.is_dir():
                files += sorted(p for p in picks.glob("*.json") if p.name.startswith(prefix))
        return files_signature(files)

    def _resolve_voxel_size(self, requested: float | None) -> float:
        """The voxel spacing to read (Å): ``requested``, else the only spacing of the first run."""
        return float(requested) if requested is not None else self._only_spacing()

    def _only_spacing(self) -> float:
        first = self._root.get_run(self.runs[0])
        spacings = sorted({float(vs.voxel_size) for vs in first.voxel_spacings})
        if len(spacings) != 1:
            raise CopickSourceError(
                self.config_path,
                f"run {first.name!r} has voxel spacings {spacings}; "
                "choose one: --dataset CONFIG?voxel_size=V (voxel_size_angstrom from Python)",
            )
        return spacings[0]


def _renamed(catalogue: ClassCatalogue, name_map: Mapping[str, str]) -> ClassCatalogue:
    """``catalogue`` with its names mapped; a class mapped onto an earlier one is dropped."""
    if not name_map:
        return catalogue
    renamed: dict[str, ParticleClass] = {}
    for particle in catalogue:
        name = name_map.get(particle.name, particle.name)
        renamed.setdefault(name, dataclasses.replace(particle, name=name))
    return ClassCatalogue(tuple(renamed.values()))


def _read_manifest(directory: Path) -> dict[str, Any] | None:
    path = directory / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(str(path), f"manifest is not valid JSON ({error})") from error


def _raise_undecodable(array_path: Path, run: str, error: Exception) -> None:
    """Raise a ``ZarrChunkError`` naming the chunks of ``array_path`` that do not decode.

    Returns (raising nothing) when every chunk decodes: ``error`` came from elsewhere.
    """
    from topcup_bench.datasets.zarr_integrity import read_array_metadata
    from topcup_bench.identity import undecodable_chunks

    found = undecodable_chunks(
        zarr.open_array(os.fspath(array_path), mode="r"),
        Path(array_path),
        run,
        read_array_metadata(array_path, run=run),
        None,
        error,
    )
    if found.chunk_keys:
        raise found from error
