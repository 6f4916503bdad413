"""How ``topcup-bench score`` reads ``--truth`` and ``--picks``: formats and what files leave out.

Every picks format of :data:`~topcup_bench.datasets.picks.PICKS_FORMATS` can be
scored. A native file may leave out its run, its class, the size of its
pixels or (RELION 5) the size of its tomogram; the flags ``--run``,
``--particle-type``, ``--pixel-size`` and ``--tomogram-size`` give them, for
both inputs and only where a file is silent (a file's own values win; a STAR
file's stated pixel size must agree with ``--pixel-size`` unless
``--override-pixel-size``). Flags that neither input can use are refused, and
bad values are :class:`~topcup_bench.errors.InputError` naming the flag.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from topcup_bench.datasets import PICKS_FORMATS, PicksContext, read_picks, voxels_to_angstrom
from topcup_bench.datasets.picks import format_for_path
from topcup_bench.datasets.picks_star import CENTRED, star_experiments
from topcup_bench.datasets.star_blocks import particles_block, pixel_sizes, read_blocks
from topcup_bench.errors import InputError, SchemaError, did_you_mean, short_repr

__all__ = [
    "ANGSTROM_KINDS",
    "ScoreInputs",
    "parse_pixel_size",
    "parse_tomogram_size",
    "check_name",
    "input_kind",
    "centred_extents",
    "read_score_input",
]

#: Kinds of input whose coordinates are Å and whose rows name their run and class.
ANGSTROM_KINDS = ("csv", "copick")
_COPICK = "copick:"


@dataclass(frozen=True)
class ScoreInputs:
    """The reading options of ``score``, checked against the two inputs.

    Parameters
    ----------
    truth_kind, picks_kind : str
        Format name of each input (``"copick"`` for a copick source).
    run, particle_type : str or None
        ``--run`` and ``--particle-type``.
    pixel_size : float or None
        ``--pixel-size``, Å per pixel.
    override_pixel_size : bool
        ``--override-pixel-size``.
    tomogram_size : tuple of 3 floats or None
        ``--tomogram-size``, voxels along x, y, z.

    Raises
    ------
    InputError
        A flag that neither input can use, naming the flag and the inputs' formats.
    """

    truth_kind: str
    picks_kind: str
    run: str | None = None
    particle_type: str | None = None
    pixel_size: float | None = None
    override_pixel_size: bool = False
    tomogram_size: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        kinds = (self.truth_kind, self.picks_kind)
        shown = f"--truth is {self.truth_kind}, --picks is {self.picks_kind}"
        if self.override_pixel_size and self.pixel_size is None:
            raise InputError("--override-pixel-size", "needs --pixel-size (the size to use)")
        if self.override_pixel_size and "star" not in kinds:
            raise InputError(
                "--override-pixel-size",
                f"applies to STAR files only (the other formats state no pixel size); {shown}",
            )
        pixel_kinds = [kind for kind in kinds if kind not in ANGSTROM_KINDS]
        if self.pixel_size is not None and not pixel_kinds:
            raise InputError(
                "--pixel-size",
                "applies to files in pixels (STAR, Dynamo .tbl, DeepFinder .xml, .cbox, "
                f".coords, .ndjson); {shown}, and CSV and copick coordinates are already in Å",
            )
        for flag, value in (("--run", self.run), ("--particle-type", self.particle_type)):
            if value is not None and not pixel_kinds:
                raise InputError(
                    flag,
                    f"applies to files that may not name it (STAR, .tbl, .xml, .cbox, .coords, "
                    f".ndjson); {shown}, which name it on every row",
                )
        if self.tomogram_size is not None and "star" not in kinds:
            raise InputError(
                "--tomogram-size", f"applies to RELION 5 STAR files only (centred Å); {shown}"
            )

    def context(self, kind: str, extents: dict | None = None) -> PicksContext:
        """What a file of ``kind`` may leave out; the pixel size only for non-STAR files."""
        return PicksContext(
            experiment=self.run,
            particle_type=self.particle_type,
            pixel_size_angstrom=None if kind == "star" else self.pixel_size,
            tomogram_extent_angstrom=extents,
        )


def parse_pixel_size(text: str | None) -> float | None:
    """``--pixel-size`` as a positive finite number of Å per pixel (None when not given).

    Raises
    ------
    InputError
        Not a number, or not > 0 and finite; names ``--pixel-size`` and the value.
    """
    if text is None:
        return None
    try:
        size = float(text)
    except ValueError:
        raise InputError(
            "--pixel-size", f"must be a number of Å per pixel, found {short_repr(text)}"
        ) from None
    if not math.isfinite(size) or size <= 0:
        raise InputError("--pixel-size", f"must be > 0 (Å per pixel), found {text.strip()}")
    return size


def parse_tomogram_size(text: str | None) -> tuple[float, float, float] | None:
    """``--tomogram-size X,Y,Z``: three positive finite numbers of voxels (None when not given).

    Raises
    ------
    InputError
        Not three comma-separated numbers, or one that is not > 0 and finite;
        names ``--tomogram-size`` and the value.

    Examples
    --------
    >>> parse_tomogram_size("630, 630,184")
    (630.0, 630.0, 184.0)
    """
    if text is None:
        return None
    parts = [part.strip() for part in text.split(",")]
    expected = "expected X,Y,Z: the tomogram's size in voxels along x, y and z"
    if len(parts) != 3:
        raise InputError(
            "--tomogram-size", f"{expected}, found {len(parts)} value(s) in {short_repr(text)}"
        )
    try:
        values = tuple(float(part) for part in parts)
    except ValueError:
        raise InputError("--tomogram-size", f"{expected}, found {short_repr(text)}") from None
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise InputError(
            "--tomogram-size", f"sizes must be > 0 voxels and finite, found {short_repr(text)}"
        )
    return values  # type: ignore[return-value]


def check_name(flag: str, value: str | None) -> str | None:
    """A ``--run`` or ``--particle-type`` value: a non-blank name (None when not given).

    Raises
    ------
    InputError
        A blank value; names ``flag``.
    """
    if value is not None and not value.strip():
        raise InputError(flag, f"must be a non-empty name, found {short_repr(value)}")
    return value


def input_kind(spec: str, name: str | None, flag: str) -> str:
    """The format name of the input ``spec`` (``"copick"`` for a copick source).

    Parameters
    ----------
    spec : str
        The ``--truth`` or ``--picks`` source.
    name : str or None
        The format named by ``flag`` (``--truth-format``, ``--picks-format``).
    flag : str
        For messages.

    Raises
    ------
    InputError
        An unknown format name (listing the known ones), a format for a copick
        source, or an extension no format has without a format name.
    """
    if name is not None and name not in PICKS_FORMATS:
        known = PICKS_FORMATS.names()
        raise InputError(
            flag, f"unknown picks format {name!r}; known: {known}." + did_you_mean(name, known)
        )
    if spec.startswith(_COPICK):
        if name is not None:
            raise InputError(flag, f"applies to files; {short_repr(spec)} is a copick project")
        return "copick"
    if name is not None:
        return name
    found = format_for_path(spec)
    if found is None:
        suffix = Path(spec).suffix.lower() or "(none)"
        raise InputError(
            spec,
            f"no picks format has the extension {suffix!r}; name the format with {flag} NAME "
            f"(known: {PICKS_FORMATS.names()})",
        )
    return found.name


def read_score_input(
    spec: str,
    kind: str,
    name: str | None,
    options: ScoreInputs,
    extents: dict[str, tuple[float, float, float]] | None = None,
) -> pd.DataFrame:
    """Read one ``score`` input with the options that apply to its kind.

    Parameters
    ----------
    spec : str
        The source.
    kind : str
        Its format name (:func:`input_kind`).
    name : str or None
        The format named on the command line.
    options : ScoreInputs
        The checked flags.
    extents : dict of str to (float, float, float), optional
        Run → tomogram extent in Å (x, y, z) of a RELION 5 STAR file
        (:func:`centred_extents`).

    Returns
    -------
    pandas.DataFrame
        A validated picks table (Å, x-y-z).

    Raises
    ------
    InputError
        The reader's errors; where a file leaves out its run, class, pixel size
        or tomogram size, the message names the flag that gives it.
    """
    if kind == "copick":
        return read_picks(spec)
    if kind == "csv":
        return read_picks(spec, format=name)
    star: dict[str, Any] = {}
    if kind == "star" and options.pixel_size is not None:
        star = {
            "pixel_size_angstrom": options.pixel_size,
            "pixel_size_override": options.override_pixel_size,
        }
    try:
        return read_picks(spec, format=name, context=options.context(kind, extents), **star)
    except SchemaError as error:
        raise type(error)(error.source, _flag_hints(error.detail)) from None


def centred_extents(spec: str, options: ScoreInputs) -> dict[str, tuple] | None:
    """Run → tomogram extent (Å, x-y-z) for a RELION 5 STAR file; None without centred columns.

    ``--tomogram-size`` (voxels) × the pixel size: ``--pixel-size`` when given
    (it must agree with one the file states, unless ``--override-pixel-size``),
    else the one the file states (RELION: ``rlnTomoTiltSeriesPixelSize``, so
    the size is then in unbinned tilt-series pixels, RELION's ``rlnTomoSize``).
    Every run of the file gets the same extent.

    Raises
    ------
    InputError
        No pixel size known, or several different ones in the file.
    """
    name, block, optics = particles_block(read_blocks(spec), spec)
    if not all(column in block.columns for column in CENTRED):
        return None
    where = f"block 'data_{name}'"
    runs = star_experiments(block, None, PicksContext(experiment=options.run), spec, where)
    try:
        sizes = pixel_sizes(
            block, optics, options.pixel_size, spec, where, override=options.override_pixel_size
        )
    except SchemaError:
        raise InputError(
            "--tomogram-size",
            f"{spec} states no pixel size to turn voxels into Å; give --pixel-size "
            "(Å per voxel of --tomogram-size)",
        ) from None
    found = np.unique(np.asarray(sizes, dtype=np.float64))
    if len(found) != 1:
        raise InputError(
            "--tomogram-size",
            f"{spec} states {len(found)} pixel sizes {found[:5].tolist()} Å; give --pixel-size "
            "(Å per voxel of --tomogram-size)",
        )
    extent = voxels_to_angstrom(np.asarray(options.tomogram_size, dtype=np.float64), found[0])
    values = (float(extent[0]), float(extent[1]), float(extent[2]))
    return {str(run): values for run in set(runs)}


#: Reader hints written for Python callers → the ``score`` flag that gives the value.
_HINTS = (
    (" Pass --pixel-size (pixel_size_angstrom from Python) instead.", " Pass --pixel-size."),
    ("pass --pixel-size (pixel_size_angstrom from Python)", "pass --pixel-size"),
    ("pass experiment (or context=PicksContext(experiment=RUN))", "pass --run RUN"),
    ("give the run name with context=PicksContext(experiment=RUN)", "give it with --run RUN"),
    (
        "pass particle_type (or context=PicksContext(particle_type=CLASS))",
        "pass --particle-type CLASS",
    ),
    ("context=PicksContext(particle_type=CLASS)", "--particle-type CLASS"),
    ("context=PicksContext(pixel_size_angstrom=Å per pixel)", "--pixel-size ANGSTROM"),
    (
        "context=PicksContext(tomogram_extent_angstrom={RUN: (x, y, z) in Å})",
        "--tomogram-size X,Y,Z (voxels)",
    ),
)


def _flag_hints(detail: str) -> str:
    for old, new in _HINTS:
        detail = detail.replace(old, new)
    return detail
