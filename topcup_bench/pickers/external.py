"""``external``: score picks produced by any other tool (octopi, DeepFinder, pytom, TopCUP CLI).

The picks are read once from a source that :func:`topcup_bench.datasets.read_picks`
understands — a Kaggle or TopCUP CSV, a RELION STAR file, or
``copick:CONFIG?user=U&session=S`` — and served run by run.  Picks without a
confidence get score 1.0 (then only the fixed operating point is meaningful).
Rows naming runs that are not picked are reported by :meth:`ExternalPicker.unplaced_picks`
(the runner warns, or fails the picker when no row names a picked run).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from topcup_bench.datasets import PicksContext, apply_name_map, load_name_map, read_picks
from topcup_bench.datasets.dataset import Dataset
from topcup_bench.datasets.units import check_units
from topcup_bench.errors import InputError, SchemaError
from topcup_bench.identity import digest_file, digest_json, digest_table, files_signature
from topcup_bench.types import SCORE_COLUMN, ClassCatalogue, Tomogram

from .protocol import Picker

__all__ = ["ExternalPicker"]


class ExternalPicker(Picker):
    """Picks from a file or a copick user/session, entered into the same leaderboard.

    Parameters
    ----------
    source : str
        ``PATH.csv``, ``PATH.star`` or ``copick:CONFIG.json?user=U[&session=S]``.
    label : str
        Name shown on the leaderboard (default: ``external``).
    name_map : str
        Optional ``portal`` or a JSON file mapping particle names.
    pixel_size_angstrom : float
        Pixel size for STAR files without one (0: take it from the file). For a
        file that states its own, the two must agree unless ``pixel_size_override``.
    pixel_size_override : bool
        Use ``pixel_size_angstrom`` even where the STAR file states another one.
    """

    name = "external"
    version = "1"
    description = "picks produced by another tool, read from CSV, STAR or copick"
    citation = "see the tool that produced the picks"
    licence = "n/a"
    cacheable = False  # reading is cheap, and the source may change under the same name

    def __init__(
        self,
        source: str = "",
        label: str = "",
        name_map: str = "",
        pixel_size_angstrom: float = 0.0,
        pixel_size_override: bool = False,
    ) -> None:
        if not source:
            raise InputError(
                "picker 'external'", "parameter 'source' is required (a file or copick:...)"
            )
        size = float(pixel_size_angstrom)
        if not (size == 0.0 or (math.isfinite(size) and size > 0)):
            raise InputError(
                "picker 'external'",
                "parameter 'pixel_size_angstrom' must be a positive finite number of Å per "
                f"pixel (or 0: take it from the STAR file), found {pixel_size_angstrom!r}",
            )
        self.source = source
        self.label = label
        self.name_map = name_map
        self.pixel_size_angstrom = float(pixel_size_angstrom)
        self.pixel_size_override = bool(pixel_size_override)
        self._picks: pd.DataFrame | None = None

    @property
    def display_name(self) -> str:
        """The leaderboard name: ``label`` or ``external``."""
        return self.label or self.leaderboard_label or self.name

    def input_digest(self, dataset: Dataset, run: str) -> str:
        """Digest of the source's content (and of a ``name_map`` file), not of its path.

        A CSV or STAR source digests its bytes; a ``copick:`` source the
        picks table it holds (canonical sorted rows).  ``external`` stays
        uncacheable (its unplaced rows are counted when it reads its source),
        but its key still changes whenever the source does.
        """
        memo_key = (self.source, self.name_map, _signature(self.source), _signature(self.name_map))
        memo = self.__dict__.setdefault("_digest_memo", {})
        if memo_key not in memo:
            memo[memo_key] = digest_json(
                {"source": _content_digest(self.source), "name_map": _content_digest(self.name_map)}
            )
        return memo[memo_key]

    def prepare(self, dataset: Dataset) -> None:
        """Read all picks of the source once."""
        options = {}
        if self.source.lower().endswith(".star") and self.pixel_size_angstrom > 0:
            options["pixel_size_angstrom"] = self.pixel_size_angstrom
            options["pixel_size_override"] = self.pixel_size_override
        if not self.source.startswith("copick:") and not self.source.lower().endswith(".csv"):
            options["context"] = PicksContext(  # RELION 5 centres; pixel size of other formats
                pixel_size_angstrom=self.pixel_size_angstrom or None,
                tomogram_extent_angstrom=None
                if dataset is None
                else {run: dataset.extent_angstrom_xyz(run) for run in dataset.runs},
            )
        try:
            picks = read_picks(self.source, **options)
        except SchemaError as error:  # name the picker parameter, not the score flag
            if self.pixel_size_angstrom > 0 or "pixel size" not in error.detail:
                raise
            detail = error.detail.split(" Pass --pixel-size")[0]
            raise SchemaError(
                error.source,
                f"{detail} Give it as the picker parameter: "
                f"external:source={self.source};pixel_size_angstrom=<Å per pixel>",
            ) from None
        if self.name_map:
            picks = apply_name_map(picks, load_name_map(self.name_map), source=self.source)
        if SCORE_COLUMN not in picks.columns:
            picks = picks.assign(score=1.0)
        _check_picks_units(picks, dataset, self.source)
        self._picks = picks

    def pick(self, tomogram: Tomogram, classes: ClassCatalogue) -> pd.DataFrame:
        if self._picks is None:
            raise InputError("picker 'external'", "call prepare(dataset) first to read the source")
        picks = self._picks
        chosen = picks.loc[picks["experiment"] == tomogram.run]
        return chosen[["experiment", "particle_type", "x", "y", "z", "score"]].reset_index(
            drop=True
        )

    def unplaced_picks(self, runs: Sequence[str]) -> dict[str, int]:
        """Rows of the source whose experiment is none of ``runs``, per name as written.

        A name is compared exactly: ``'TS_5_4 '`` (trailing space) is not
        ``'TS_5_4'``, and is reported rather than silently dropped.
        """
        if self._picks is None:
            return {}
        names = self._picks["experiment"].astype(str)
        outside = names.loc[~names.isin([str(run) for run in runs])]
        return {str(k): int(v) for k, v in outside.value_counts(sort=False).items()}


def _check_picks_units(picks: pd.DataFrame, dataset: Dataset, source: str) -> None:
    """Warn (``UnitsWarning``) when the picks look like voxel indices, as ``score`` does.

    Compared with the largest tomogram, in Å and in voxels, of the runs the
    picks name (:func:`topcup_bench.datasets.units.check_units`).
    """
    if dataset is None or picks.empty:  # read without a dataset (checks, tests): nothing to compare
        return
    named = set(picks["experiment"].astype(str))
    runs = [run for run in dataset.runs if run in named]
    if not runs:
        return
    extents = np.array([dataset.extent_angstrom_xyz(run) for run in runs], dtype=np.float64)
    check_units(
        picks,
        extent_angstrom_xyz=extents.max(axis=0),
        voxel_size_angstrom=float(dataset.voxel_size_angstrom),
        source=source,
    )


def _content_digest(source: str) -> str | None:
    """Digest of a picks source or name-map file by content; None for none or a built-in name."""
    if not source or source == "portal":
        return None
    if source.startswith("copick:"):
        try:
            table = read_picks(source)
        except InputError as error:  # prepare() reports it; the key just differs
            return f"unreadable: {error}"[:200]
        return digest_table(table, [c for c in _PICKS_COLUMNS if c in table.columns])
    path = Path(source)
    if not path.is_file():
        return None
    return digest_file(path)


def _signature(source: str) -> tuple | None:
    """Size and times of a local file (None otherwise: read once per picker)."""
    return files_signature([Path(source)]) if source and Path(source).is_file() else None


_PICKS_COLUMNS = ("experiment", "particle_type", "x", "y", "z", SCORE_COLUMN)
