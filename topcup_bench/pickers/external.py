"""``external``: score picks produced by any other tool (octopi, DeepFinder, pytom, TopCUP CLI).

The picks are read once from a source that :func:`topcup_bench.datasets.read_picks`
understands — a Kaggle or TopCUP CSV, a RELION 4/5 STAR file, a Dynamo ``.tbl``,
a DeepFinder ``.xml``, a crYOLO/TomoTwin ``.cbox`` or ``.coords``, a CryoET Data
Portal ``.ndjson`` (by extension, or the registry name given as ``format``), or
``copick:CONFIG?user=U&session=S`` — and served run by run. What a native file
does not say itself (its run, its class, the size of its pixels) comes from the
picker's parameters; the extent of each tomogram (for RELION 5 coordinates
measured from the tomogram centre) from the dataset. Picks without a
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

from topcup_bench.datasets import (
    PICKS_FORMATS,
    PicksContext,
    apply_name_map,
    load_name_map,
    read_picks,
)
from topcup_bench.datasets.dataset import Dataset
from topcup_bench.datasets.picks import format_for_path
from topcup_bench.datasets.units import check_units
from topcup_bench.errors import InputError, SchemaError, did_you_mean, short_repr
from topcup_bench.identity import digest_file, digest_json, digest_table, files_signature
from topcup_bench.types import SCORE_COLUMN, ClassCatalogue, Tomogram

from .protocol import Picker

__all__ = ["ExternalPicker"]

_PICKER = "picker 'external'"
_COPICK = "copick:"
#: Sources whose coordinates are Å and that name the run and class on every row.
_ANGSTROM_FORMATS = ("csv", "copick")


class ExternalPicker(Picker):
    """Picks from a file or a copick user/session, entered into the same leaderboard.

    Parameters
    ----------
    source : str
        A picks file (``.csv``, ``.star``, ``.tbl``, ``.xml``, ``.cbox``,
        ``.coords``, ``.ndjson``) or ``copick:CONFIG.json?user=U[&session=S]``.
    label : str
        Name shown on the leaderboard (default: ``external``).
    name_map : str
        Optional ``portal`` or a JSON file mapping particle names.
    pixel_size_angstrom : float
        Å per pixel of pixel coordinates (STAR, Dynamo, DeepFinder, crYOLO,
        TomoTwin, portal ndjson); 0: the file states it (STAR only — the other
        formats state none). For a STAR file that states its own, the two must
        agree unless ``pixel_size_override``. Refused for CSV and copick (Å).
    pixel_size_override : bool
        Use ``pixel_size_angstrom`` even where the STAR file states another one.
    format : str
        Name of a picks format (:data:`~topcup_bench.datasets.picks.PICKS_FORMATS`:
        ``csv``, ``star``, ``dynamo``, ``deepfinder``, ``cbox``, ``coords``,
        ``ndjson``); empty: by the file's extension.
    experiment : str
        Run name for rows whose file names none (a ``.coords`` file per run, a
        Dynamo table of one tomogram); the file's own names win.
    particle_type : str
        Class name for rows whose file names none; the file's own names win.

    Raises
    ------
    InputError
        No source, an unknown format (the message lists the known ones), a
        file whose extension no format has, a format for a copick source, a
        pixel size that is not a positive finite number, an override without
        a pixel size, a blank run or class name, or an option that a CSV or
        copick source cannot use (pixel size, run, class: they state them).
    """

    name = "external"
    version = "1"
    description = (
        "picks produced by another tool, read from CSV, STAR, Dynamo, DeepFinder, crYOLO, "
        "TomoTwin, portal ndjson or copick"
    )
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
        format: str = "",
        experiment: str = "",
        particle_type: str = "",
    ) -> None:
        if not source:
            raise InputError(_PICKER, "parameter 'source' is required (a file or copick:...)")
        size = float(pixel_size_angstrom)
        if not (size == 0.0 or (math.isfinite(size) and size > 0)):
            raise InputError(
                _PICKER,
                "parameter 'pixel_size_angstrom' must be a positive finite number of Å per "
                f"pixel (or 0: take it from the STAR file), found {pixel_size_angstrom!r}",
            )
        if pixel_size_override and size == 0.0:
            raise InputError(
                _PICKER,
                "parameter 'pixel_size_override' needs 'pixel_size_angstrom' (the size to use)",
            )
        for field, value in (("experiment", experiment), ("particle_type", particle_type)):
            if value and not str(value).strip():
                raise InputError(
                    _PICKER, f"parameter {field!r} must be a name (or empty), found {value!r}"
                )
        self.source = source
        self.label = label
        self.name_map = name_map
        self.pixel_size_angstrom = size
        self.pixel_size_override = bool(pixel_size_override)
        self.format = str(format)
        self.experiment = str(experiment)
        self.particle_type = str(particle_type)
        self._kind = _source_kind(source, self.format)
        if self._kind in _ANGSTROM_FORMATS:
            _refuse_options_of_pixel_formats(self)
        self._picks: pd.DataFrame | None = None

    @property
    def display_name(self) -> str:
        """The leaderboard name: ``label`` or ``external``."""
        return self.label or self.leaderboard_label or self.name

    def input_digest(self, dataset: Dataset, run: str) -> str:
        """Digest of the source's content (and of a ``name_map`` file), not of its path.

        A file source digests its bytes; a ``copick:`` source the picks table
        it holds (canonical sorted rows). For a STAR source the extent of the
        run's tomogram (Å, x-y-z) is added: RELION 5 positions measured from
        the tomogram centre depend on it. The other parameters (``format``,
        ``experiment``, ``particle_type``, the pixel size) are in the cache
        key as parameters. ``external`` stays uncacheable (its unplaced rows
        are counted when it reads its source), but its key still changes
        whenever the source does.
        """
        memo_key = (self.source, self.name_map, _signature(self.source), _signature(self.name_map))
        memo = self.__dict__.setdefault("_digest_memo", {})
        if memo_key not in memo:
            memo[memo_key] = digest_json(
                {"source": _content_digest(self.source), "name_map": _content_digest(self.name_map)}
            )
        if self._kind != "star" or dataset is None:
            return memo[memo_key]
        extent = [float(v) for v in dataset.extent_angstrom_xyz(run)]
        return digest_json({"content": memo[memo_key], "extent_angstrom_xyz": extent})

    def prepare(self, dataset: Dataset) -> None:
        """Read all picks of the source once.

        Raises
        ------
        InputError
            The reader's errors (missing file, bad rows, a pixel size that
            disagrees with the STAR file's); where the file leaves out its run,
            class or pixel size, the message names the picker parameter to set.
        """
        options: dict[str, object] = {}
        if self.format:
            options["format"] = self.format
        if self._kind == "star" and self.pixel_size_angstrom > 0:
            options["pixel_size_angstrom"] = self.pixel_size_angstrom
            options["pixel_size_override"] = self.pixel_size_override
        if self._kind not in _ANGSTROM_FORMATS:
            options["context"] = PicksContext(
                experiment=self.experiment or None,
                particle_type=self.particle_type or None,
                pixel_size_angstrom=self.pixel_size_angstrom or None,
                tomogram_extent_angstrom=None
                if dataset is None
                else {run: dataset.extent_angstrom_xyz(run) for run in dataset.runs},
            )
        try:
            picks = read_picks(self.source, **options)
        except SchemaError as error:  # name the picker parameter, not the score flag
            raise type(error)(error.source, self._parameter_hints(error.detail)) from None
        if self.name_map:
            picks = apply_name_map(picks, load_name_map(self.name_map), source=self.source)
        if SCORE_COLUMN not in picks.columns:
            picks = picks.assign(score=1.0)
        _check_picks_units(picks, dataset, self.source)
        self._picks = picks

    def pick(self, tomogram: Tomogram, classes: ClassCatalogue) -> pd.DataFrame:
        if self._picks is None:
            raise InputError(_PICKER, "call prepare(dataset) first to read the source")
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

    def _parameter_hints(self, detail: str) -> str:
        """``detail`` with the readers' Python hints replaced by this picker's parameters."""
        spec = f"external:source={self.source}"
        parameter = "the picker parameter"
        hints = (
            (" Pass --pixel-size (pixel_size_angstrom from Python) instead.", ""),
            ("pass --pixel-size (pixel_size_angstrom from Python)", "set pixel_size_angstrom"),
            ("pass experiment (or context=PicksContext(experiment=RUN))", "set experiment=RUN"),
            ("context=PicksContext(experiment=RUN)", f"{parameter} experiment=RUN"),
            (
                "pass particle_type (or context=PicksContext(particle_type=CLASS))",
                "set particle_type=CLASS",
            ),
            ("context=PicksContext(particle_type=CLASS)", f"{parameter} particle_type=CLASS"),
            (
                "context=PicksContext(pixel_size_angstrom=Å per pixel)",
                f"{parameter} pixel_size_angstrom=<Å per pixel>",
            ),
            (
                "give it with context=PicksContext(tomogram_extent_angstrom={RUN: (x, y, z) in Å})",
                "the dataset gives the extents of its own runs only "
                "(are the run names those of the dataset?)",
            ),
        )
        for old, new in hints:
            detail = detail.replace(old, new)
        if "cannot tell the pixel size" in detail and self.pixel_size_angstrom == 0:
            detail += f" Give it as the picker parameter: {spec};pixel_size_angstrom=<Å per pixel>"
        return detail


def _source_kind(source: str, format: str) -> str:
    """The format name of ``source`` (``"copick"`` for a copick source), checked at creation.

    Raises
    ------
    InputError
        An unknown ``format`` (listing the known ones), a ``format`` for a
        copick source, or a file extension that no format has.
    """
    if format and format not in PICKS_FORMATS:
        known = PICKS_FORMATS.names()
        raise InputError(
            _PICKER,
            f"parameter 'format': unknown picks format {format!r}; known: {known}."
            + did_you_mean(format, known),
        )
    if source.startswith(_COPICK):
        if format:
            raise InputError(
                _PICKER,
                f"parameter 'format' ({format!r}) applies to files; the source {source!r} "
                "is a copick project, which has no file format",
            )
        return "copick"
    if format:
        return format
    found = format_for_path(source)
    if found is None:
        raise InputError(
            _PICKER,
            f"parameter 'source': no picks format has the extension "
            f"{Path(source).suffix.lower()!r} of {source!r}; name it with format=NAME "
            f"(known: {PICKS_FORMATS.names()})",
        )
    return found.name


def _refuse_options_of_pixel_formats(picker: ExternalPicker) -> None:
    """CSV and copick sources state Å, run and class: a pixel size, run or class is a mistake."""
    given = [
        name
        for name, value in (
            ("pixel_size_angstrom", picker.pixel_size_angstrom),
            ("experiment", picker.experiment),
            ("particle_type", picker.particle_type),
        )
        if value
    ]
    if given:
        raise InputError(
            _PICKER,
            f"parameter(s) {given} apply to files in pixels or without run or class names "
            f"(STAR, Dynamo, DeepFinder, crYOLO, TomoTwin, ndjson); the source "
            f"{short_repr(picker.source)} is {picker._kind} (Å, run and class on every row)",
        )


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
