"""The registry of picks file formats: name, extensions, units and axes, reader.

:func:`topcup_bench.datasets.read_picks` finds a file's format by name
(``format=``) or by extension, then calls its reader; ``score``, ``run`` and
the ``external`` picker all read files this way. Readers are loaded on first
use (``"module:attr"``), so importing this module imports none of them.

Every reader has the signature ``reader(path, *, context, classes) ->
picks table`` (Å, x-y-z); see :class:`PicksFormat` for what each format needs.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from topcup_bench.datasets.picks.context import PicksContext
from topcup_bench.errors import InputError, did_you_mean
from topcup_bench.registry import Registry
from topcup_bench.types import ClassCatalogue, ParticleClass

__all__ = ["PicksFormat", "PICKS_FORMATS", "picks_format", "format_for_path", "describe_formats"]


@dataclass(frozen=True)
class PicksFormat:
    """One picks file format.

    Parameters
    ----------
    name : str
        Registry name (``format=`` of :func:`~topcup_bench.datasets.read_picks`).
    title : str
        What the file is, for messages (``"Dynamo table"``).
    extensions : tuple of str
        Lower-case file extensions with the dot (``(".tbl",)``).
    units : str
        The file's units and axis order, and how they become Å, x-y-z.
    needs : str
        What must be given when the file does not say it (pixel size, run,
        class, tomogram extent), through :class:`PicksContext`.
    reader : str
        ``"module:function"`` with the signature ``(path, *, context, classes)``.
    """

    name: str
    title: str
    extensions: tuple[str, ...]
    units: str
    needs: str
    reader: str

    def read(
        self,
        path: str | os.PathLike[str],
        *,
        context: PicksContext | None = None,
        classes: ClassCatalogue | Iterable[ParticleClass] | None = None,
    ) -> pd.DataFrame:
        """Read ``path`` with this format's reader; a validated picks table (Å, x-y-z)."""
        module, _, attr = self.reader.partition(":")
        function = getattr(importlib.import_module(module), attr)
        return function(path, context=context or PicksContext(), classes=classes)


#: Name → :class:`PicksFormat` of every picks file format.
PICKS_FORMATS: Registry[PicksFormat] = Registry("picks format")

_PICKS = "topcup_bench.datasets.picks"
_BUILTIN = (
    PicksFormat(
        name="csv",
        title="CSV picks file",
        extensions=(".csv",),
        units="Å; columns x, y, z by name",
        needs="nothing (run and class are columns)",
        reader=f"{_PICKS}.formats:_read_csv",
    ),
    PicksFormat(
        name="star",
        title="RELION STAR file",
        extensions=(".star",),
        units=(
            "RELION 4: rlnCoordinateX/Y/Z in pixels (× pixel size); RELION 5: "
            "rlnCenteredCoordinateX/Y/ZAngst in Å from the tomogram centre (+ extent / 2); "
            "minus rlnOriginX/Y/ZAngst"
        ),
        needs=(
            "pixel size unless the file states one; run unless rlnTomoName or "
            "rlnMicrographName; class unless rlnParticleName; extent per run for RELION 5"
        ),
        reader=f"{_PICKS}.formats:_read_star",
    ),
    PicksFormat(
        name="dynamo",
        title="Dynamo table",
        extensions=(".tbl",),
        units="pixels, 1-based; columns 24-26 x, y, z plus shifts 4-6 dx, dy, dz",
        needs="pixel size; run (one tomogram, column 20); class (one class, column 22)",
        reader=f"{_PICKS}.dynamo:read_picks_dynamo",
    ),
    PicksFormat(
        name="deepfinder",
        title="DeepFinder object list",
        extensions=(".xml",),
        units="voxels, 0-based; attributes x, y, z (x the fastest array axis)",
        needs="pixel size; run (one tomo_idx); class (one class_label)",
        reader=f"{_PICKS}.deepfinder:read_picks_deepfinder",
    ),
    PicksFormat(
        name="cbox",
        title="crYOLO/TomoTwin CBOX file",
        extensions=(".cbox",),
        units="pixels, 0-based; centre = (_CoordinateX + _Width/2, _CoordinateY + _Height/2, "
        "_CoordinateZ)",
        needs="pixel size; run; class",
        reader=f"{_PICKS}.cbox:read_picks_cbox",
    ),
    PicksFormat(
        name="coords",
        title="crYOLO/TomoTwin coordinates file",
        extensions=(".coords",),
        units="pixels, 0-based; whitespace columns x y z (box centres)",
        needs="pixel size; run; class",
        reader=f"{_PICKS}.cbox:read_picks_coords",
    ),
    PicksFormat(
        name="ndjson",
        title="CryoET Data Portal point annotation",
        extensions=(".ndjson",),
        units="voxels of the annotation's voxel spacing, 0-based; location x, y, z",
        needs="voxel spacing; run; class",
        reader=f"{_PICKS}.ndjson:read_picks_ndjson",
    ),
)
for _format in _BUILTIN:
    PICKS_FORMATS.register(_format.name, _format, origin="builtin")


def picks_format(name: str, source: str = "format") -> PicksFormat:
    """The format registered as ``name``.

    Raises
    ------
    InputError
        Unknown name; the message names ``source`` and lists the known names.
    """
    if name not in PICKS_FORMATS:
        known = PICKS_FORMATS.names()
        raise InputError(
            source, f"unknown picks format {name!r}; known: {known}." + did_you_mean(name, known)
        )
    return PICKS_FORMATS.get(name)


def format_for_path(path: str | os.PathLike[str]) -> PicksFormat | None:
    """The format whose extensions include ``path``'s (case-insensitive), or None.

    Examples
    --------
    >>> format_for_path("picks/TS_5_4.TBL").name
    'dynamo'
    >>> format_for_path("picks/TS_5_4.txt") is None
    True
    """
    suffix = Path(os.fspath(path)).suffix.lower()
    return next((fmt for fmt in _formats() if suffix in fmt.extensions), None)


def describe_formats() -> list[str]:
    """One ``"PATH.ext (title)"`` line per extension: built-in formats first, then others.

    Examples
    --------
    >>> describe_formats()[:2]
    ['PATH.csv (CSV picks file)', 'PATH.star (RELION STAR file)']
    """
    return [f"PATH{ext} ({fmt.title})" for fmt in _formats() for ext in fmt.extensions]


def _formats() -> list[PicksFormat]:
    builtin = [fmt.name for fmt in _BUILTIN]
    others = [name for name in PICKS_FORMATS.names() if name not in builtin]
    return [PICKS_FORMATS.get(name) for name in builtin + others]


def _read_csv(
    path: str,
    *,
    context: PicksContext,
    classes: ClassCatalogue | Iterable[ParticleClass] | None,
) -> pd.DataFrame:
    """CSV: every column is in the file, so ``context`` has nothing to add."""
    from topcup_bench.datasets.picks_csv import read_picks_csv

    return read_picks_csv(path, classes=classes)


def _read_star(
    path: str,
    *,
    context: PicksContext,
    classes: ClassCatalogue | Iterable[ParticleClass] | None,
) -> pd.DataFrame:
    from topcup_bench.datasets.picks_star import read_picks_star

    return read_picks_star(path, context=context, classes=classes)
