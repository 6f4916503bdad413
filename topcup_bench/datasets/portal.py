"""Datasets of the CZ cryoET Data Portal, read through a copick data-portal project.

``portal:ID[,ID...][?tomo_type=T&user=U&session=S&voxel_size=V&overlay=DIR]`` names
one or more portal datasets (e.g. ``portal:10445``, the CZII competition's
phantom tomograms). Opening one:

1. checks that the portal's GraphQL endpoint answers (a TCP connection with a
   :data:`PROBE_TIMEOUT_SECONDS` limit), so that a machine without network
   access gets one clear :class:`~topcup_bench.errors.PortalUnreachableError`
   within seconds instead of copick's retries;
2. writes a copick data-portal configuration with copick's own
   :func:`copick.from_czcdp_datasets` (what ``copick config dataportal`` runs)
   into a local overlay folder (default ``<cache>/portal/<IDs>``), where
   anything written, such as our picks, goes; the portal itself stays read only;
3. maps the portal's object names to the competition classes with
   :data:`~topcup_bench.datasets.names.PORTAL_NAME_MAP` (radius and weight of
   the competition), warning about objects that map to none;
4. matches the requested voxel size (default 10 Å) to the portal's spacing
   within :data:`VOXEL_SIZE_TOLERANCE` (10.012 Å matches 10 Å) and reads at
   the exact spacing found, which is what Å ↔ voxel conversion then uses;
5. reads it as any copick project (:class:`PortalDataset`, a
   :class:`~topcup_bench.datasets.dataset.CopickDataset`).

The ground truth is, by default, the portal's own annotations (copick user
``data-portal``, any session: the portal's annotation-file id).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from topcup_bench.cache_folder import mark_cache
from topcup_bench.datasets.atomic import atomic_output
from topcup_bench.datasets.catalog import cache_dir
from topcup_bench.datasets.dataset import CopickDataset
from topcup_bench.datasets.names import PORTAL_NAME_MAP
from topcup_bench.datasets.portal_probe import (
    PORTAL_GRAPHQL_URL,
    PROBE_TIMEOUT_SECONDS,
    probe_portal,
)
from topcup_bench.datasets.portal_spec import (
    DEFAULT_VOXEL_SIZE,
    PORTAL_TRUTH_USER,
    PortalSpec,
    parse_portal_spec,
    portal_overlay,
)
from topcup_bench.errors import (
    CopickSourceError,
    TopcupBenchError,
    TopcupBenchWarning,
    short_repr,
)
from topcup_bench.types import COMPETITION_CLASSES, ClassCatalogue

__all__ = [
    "PORTAL_GRAPHQL_URL",
    "PROBE_TIMEOUT_SECONDS",
    "VOXEL_SIZE_TOLERANCE",
    "DEFAULT_VOXEL_SIZE",
    "PORTAL_TRUTH_USER",
    "PortalSpec",
    "PortalClasses",
    "PortalDataset",
    "parse_portal_spec",
    "portal_overlay",
    "probe_portal",
    "write_portal_config",
    "map_portal_objects",
    "match_voxel_spacing",
    "choose_tomo_type",
    "open_portal_dataset",
]

#: Relative tolerance between the requested voxel size and a portal spacing (0.5 %).
VOXEL_SIZE_TOLERANCE = 0.005


@dataclass(frozen=True)
class PortalClasses:
    """How a portal project's objects map onto the competition classes.

    Attributes
    ----------
    classes : ClassCatalogue
        The competition classes some object maps to, in competition order.
    name_map : dict of str to str
        Portal object name → class name, for every mapped object.
    unmapped : tuple of str
        Objects mapped to no class, each with the reason in parentheses.
    """

    classes: ClassCatalogue
    name_map: dict[str, str]
    unmapped: tuple[str, ...]


def write_portal_config(spec: PortalSpec, overlay: Path) -> tuple[Path, list[Any]]:
    """Write the copick data-portal configuration of ``spec`` into ``overlay`` (atomically).

    Calls :func:`copick.from_czcdp_datasets` (which queries the portal for the
    datasets' annotated objects and opens the project) with the overlay root
    ``local://<overlay>``; the file is ``overlay / spec.config_name``, replaced
    whole or left as it was.

    Returns
    -------
    tuple of (pathlib.Path, list of copick.models.PickableObject)
        The configuration's path and its pickable objects.

    Raises
    ------
    CopickSourceError
        copick or the portal failed (one line), or the datasets have no
        annotated object (unknown IDs).
    """
    import copick

    overlay.mkdir(parents=True, exist_ok=True)
    path = overlay / spec.config_name
    try:
        with atomic_output(path, overwrite=True) as temporary:
            root = copick.from_czcdp_datasets(
                list(spec.dataset_ids),
                overlay_root=f"local://{overlay}",
                overlay_fs_args={"auto_mkdir": True},
                output_path=os.fspath(temporary),
            )
            objects = list(root.config.pickable_objects)
            if not objects:
                raise CopickSourceError(
                    spec.text,
                    "the portal lists no annotated object for dataset(s) "
                    f"{list(spec.dataset_ids)}; check the ID(s) at "
                    "https://cryoetdataportal.czscience.com/datasets/ID",
                )
    except TopcupBenchError:
        raise
    except Exception as error:  # gql, requests, pydantic and file errors alike: one line
        message = short_repr(" ".join(str(error).split()), 300)[1:-1]
        raise CopickSourceError(
            spec.text,
            f"cannot build the copick data-portal configuration {str(path)!r}: "
            f"{type(error).__name__}: {message}",
        ) from error
    return path, objects


def map_portal_objects(
    objects: Iterable[Any], *, name_map: Mapping[str, str] = PORTAL_NAME_MAP, source: str
) -> PortalClasses:
    """Map portal objects (``name``, ``is_particle``) onto the competition classes.

    An object maps when it is a particle and ``name_map`` (names not in it kept
    as they are) gives a competition class name; its class keeps the
    competition's radius and weight (copick gives portal objects a placeholder
    radius).

    Raises
    ------
    CopickSourceError
        No object maps to a competition class (the objects are listed).

    Examples
    --------
    >>> from types import SimpleNamespace as O
    >>> found = map_portal_objects(
    ...     [O(name="cytosolic-ribosome", is_particle=True), O(name="membrane", is_particle=False)],
    ...     source="portal:1",
    ... )
    >>> found.classes.names, found.name_map, found.unmapped
    (('ribosome',), {'cytosolic-ribosome': 'ribosome'}, ('membrane (not a particle)',))
    """
    mapped: dict[str, str] = {}
    unmapped: list[str] = []
    for obj in objects:
        target = name_map.get(obj.name, obj.name)
        if not obj.is_particle:
            unmapped.append(f"{obj.name} (not a particle)")
        elif target not in COMPETITION_CLASSES:
            unmapped.append(f"{obj.name} (no competition class)")
        else:
            mapped[obj.name] = target
    chosen = [c for c in COMPETITION_CLASSES if c.name in mapped.values()]
    if not chosen:
        raise CopickSourceError(
            source,
            f"no portal object maps to a competition class {list(COMPETITION_CLASSES.names)}; "
            f"objects: {unmapped}",
        )
    return PortalClasses(ClassCatalogue(tuple(chosen)), mapped, tuple(unmapped))


def match_voxel_spacing(
    requested: float,
    spacings_by_run: Mapping[str, Iterable[float]],
    *,
    tolerance: float = VOXEL_SIZE_TOLERANCE,
    source: str,
) -> float:
    """The exact spacing (Å) every run has within ``tolerance`` of ``requested``.

    Parameters
    ----------
    requested : float
        Requested voxel size, Å.
    spacings_by_run : mapping of str to iterable of float
        Each run's voxel spacings, Å.
    tolerance : float
        Relative tolerance: ``|spacing - requested| <= tolerance * requested``.
    source : str
        Named in errors.

    Returns
    -------
    float
        The spacing found, as the portal records it (e.g. 10.012); in each
        run the closest one within tolerance.

    Raises
    ------
    CopickSourceError
        A run without a spacing within tolerance (its spacings listed), no
        runs, or runs whose matched spacings differ.

    Examples
    --------
    >>> match_voxel_spacing(10, {"TS_1": [4.99, 10.012], "TS_2": [10.012]}, source="portal:1")
    10.012
    """
    matched: dict[str, float] = {}
    for run, spacings in spacings_by_run.items():
        available = sorted({float(s) for s in spacings})
        limit = (tolerance + 1e-12) * requested  # 10.05 is within 0.5 % of 10 in floats too
        close = [s for s in available if abs(s - requested) <= limit]
        if not close:
            raise CopickSourceError(
                source,
                f"run {run!r} has no voxel spacing within {tolerance:.1%} of voxel_size="
                f"{requested:g} Å; its spacings: {available} (choose one with ?voxel_size=V)",
            )
        matched[run] = min(close, key=lambda s: abs(s - requested))
    if not matched:
        raise CopickSourceError(source, "the project has no runs")
    distinct = sorted(set(matched.values()))
    if len(distinct) > 1:
        examples = {s: next(r for r, m in matched.items() if m == s) for s in distinct}
        raise CopickSourceError(
            source,
            f"runs have different voxel spacings near {requested:g} Å (spacing: a run with it "
            f"{examples}); one spacing is needed to convert Å to voxels",
        )
    return distinct[0]


def choose_tomo_type(tomo_types: Iterable[str], *, source: str, where: str) -> str:
    """The tomogram type to read when none is given.

    The only type; else the only one whose name contains ``denoised``.

    Raises
    ------
    CopickSourceError
        No tomogram, or several and not exactly one denoised: the types are
        listed and ``?tomo_type=T`` suggested.

    Examples
    --------
    >>> choose_tomo_type(["wbp-raw", "wbp-denoised-denoiset-ctfdeconv"], source="s", where="w")
    'wbp-denoised-denoiset-ctfdeconv'
    """
    types = sorted(set(tomo_types))
    if len(types) == 1:
        return types[0]
    denoised = [t for t in types if "denoised" in t]
    if len(denoised) == 1:
        return denoised[0]
    if not types:
        raise CopickSourceError(source, f"{where}: no tomogram at all")
    raise CopickSourceError(
        source, f"{where}: several tomogram types {types}; choose one with ?tomo_type=T"
    )


class PortalDataset(CopickDataset):
    """A portal project read as a copick project (see the module docstring).

    Parameters
    ----------
    config_path : str or os.PathLike
        The copick data-portal configuration (:func:`write_portal_config`).
    portal : PortalSpec
        The parsed specification.
    found : PortalClasses
        The classes and name map (:func:`map_portal_objects`).

    Attributes
    ----------
    voxel_size_angstrom : float
        The exact portal spacing matched to ``portal.voxel_size_angstrom``.
    unmapped_objects : tuple of str
        Portal objects that are not scored (recorded in :meth:`provenance`).
    """

    def __init__(
        self, config_path: str | os.PathLike[str], portal: PortalSpec, found: PortalClasses
    ) -> None:
        self.portal = portal
        self.unmapped_objects = found.unmapped
        super().__init__(
            config_path,
            tomo_type=portal.tomo_type or "",
            voxel_size_angstrom=portal.voxel_size_angstrom,
            truth_user=portal.user,
            truth_session=portal.session,
            classes=found.classes,
            splits={},
            name=portal.text,
            name_map=found.name_map,
        )
        if portal.tomo_type is None:
            first = self._root.get_run(self.runs[0])
            spacing = first.get_voxel_spacing(self.voxel_size_angstrom)
            self.tomo_type = choose_tomo_type(
                [t.tomo_type for t in spacing.tomograms],
                source=portal.text,
                where=f"run {first.name!r} at {self.voxel_size_angstrom:g} Å",
            )

    def _resolve_voxel_size(self, requested: float | None) -> float:
        spacings = {
            run.name: [vs.voxel_size for vs in run.voxel_spacings] for run in self._root.runs
        }
        return match_voxel_spacing(
            DEFAULT_VOXEL_SIZE if requested is None else requested,
            spacings,
            tolerance=VOXEL_SIZE_TOLERANCE,
            source=self.portal.text,
        )

    def provenance(self) -> dict[str, Any]:
        """:meth:`CopickDataset.provenance` plus the portal's IDs, spacing match and mapping."""
        return {
            **super().provenance(),
            "portal": {
                "dataset_ids": list(self.portal.dataset_ids),
                "overlay": str(Path(self.config_path).parent),
                "requested_voxel_size_angstrom": self.portal.voxel_size_angstrom,
                "voxel_size_tolerance": VOXEL_SIZE_TOLERANCE,
                "voxel_size_angstrom": self.voxel_size_angstrom,
                "tomo_type": self.tomo_type,
                "tomo_type_chosen": "given" if self.portal.tomo_type else "automatically",
                "name_map": dict(self.name_map),
                "unmapped_objects": list(self.unmapped_objects),
            },
        }


def open_portal_dataset(
    text: str, *, probe_timeout: float = PROBE_TIMEOUT_SECONDS
) -> PortalDataset:
    """Open ``portal:ID...`` (see the module docstring): probe, configure, map, read.

    Raises
    ------
    InputError
        A bad specification or overlay.
    PortalUnreachableError
        The portal does not answer within ``probe_timeout`` seconds.
    CopickSourceError
        copick or the portal failed, no object maps to a class, or no
        voxel spacing / tomogram type fits.

    Warns
    -----
    TopcupBenchWarning
        Objects of the datasets that map to no competition class (not scored).
    """
    spec = parse_portal_spec(text)
    overlay = portal_overlay(spec)
    probe_portal(spec.text, timeout=probe_timeout)
    if spec.overlay is None:
        mark_cache(cache_dir())
    config, objects = write_portal_config(spec, overlay)
    found = map_portal_objects(objects, source=spec.text)
    if found.unmapped:
        warnings.warn(
            f"{spec.text}: portal object(s) mapped to no competition class, not scored: "
            f"{list(found.unmapped)}",
            TopcupBenchWarning,
            stacklevel=2,
        )
    return PortalDataset(config, spec, found)
