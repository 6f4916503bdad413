"""Frozen value types shared by every part of topcup-bench.

* :class:`ParticleClass`: one scored particle species (name, radius in Å,
  F-beta weight, label).
* :class:`ClassCatalogue`: an ordered, name-indexed set of classes;
  :data:`COMPETITION_CLASSES` is the catalogue of the CZII Kaggle competition.
* The picks-table schema: a :class:`pandas.DataFrame` with columns
  ``experiment, particle_type, x, y, z`` and optionally ``score``, coordinates
  in Ångström in x, y, z order (copick convention), and
  :func:`validate_picks_table`, which checks and normalises such a table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from topcup_bench.errors import (
    EmptyInputError,
    InputError,
    NonFiniteCoordinatesError,
    SchemaError,
    UnknownParticleError,
    did_you_mean,
)

__all__ = [
    "Tomogram",
    "check_particle_types",
    "describe_rows",
    "ParticleClass",
    "ClassCatalogue",
    "COMPETITION_CLASSES",
    "PICKS_COLUMNS",
    "COORDINATE_COLUMNS",
    "SCORE_COLUMN",
    "validate_picks_table",
    "empty_picks_table",
]

#: Required columns of a picks table, in canonical order.
PICKS_COLUMNS: tuple[str, ...] = ("experiment", "particle_type", "x", "y", "z")
#: Coordinate columns, Ångström, x-y-z order.
COORDINATE_COLUMNS: tuple[str, str, str] = ("x", "y", "z")
#: Optional confidence column (higher means more confident); used by threshold sweeps.
SCORE_COLUMN = "score"

_MAX_ROWS_LISTED = 10


@dataclass(frozen=True)
class ParticleClass:
    """One scored particle species.

    Parameters
    ----------
    name : str
        Exact class name as it appears in ``particle_type`` (case-sensitive).
    radius_angstrom : float
        Particle radius R in Å; a prediction matches a ground-truth point within
        ``distance_multiplier * R``.
    weight : float
        Weight of the class's F-beta in the aggregate score (may be 0).
    label : int
        Integer label (copick ``label``; 1-based in the competition config).
    score_threshold : float or None
        Default confidence threshold of pickers for this class, if one is known
        (copick ``metadata.score_threshold``).
    loss_weight : float or None
        Weight of the class in a training loss (copick ``metadata.class_loss_weight``,
        as the official TopCUP training reads it); None: the trainer's default.
    """

    name: str
    radius_angstrom: float
    weight: float = 1.0
    label: int = 0
    score_threshold: float | None = None
    loss_weight: float | None = None

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise InputError(
                "particle class", f"name must be a non-empty string, got {self.name!r}"
            )
        if not (math.isfinite(self.radius_angstrom) and self.radius_angstrom > 0):
            raise InputError(
                f"particle class {self.name!r}",
                f"radius_angstrom must be a positive finite number, got {self.radius_angstrom!r}",
            )
        if not (math.isfinite(self.weight) and self.weight >= 0):
            raise InputError(
                f"particle class {self.name!r}",
                f"weight must be a non-negative finite number, got {self.weight!r}",
            )
        if self.loss_weight is not None and not (
            math.isfinite(self.loss_weight) and self.loss_weight >= 0
        ):
            raise InputError(
                f"particle class {self.name!r}",
                f"loss_weight must be a non-negative finite number or None, "
                f"got {self.loss_weight!r}",
            )


@dataclass(frozen=True)
class ClassCatalogue:
    """An ordered collection of :class:`ParticleClass`, looked up by name.

    Parameters
    ----------
    classes : tuple of ParticleClass
        The classes, in display order; names must be unique.

    Examples
    --------
    >>> COMPETITION_CLASSES["ribosome"].radius_angstrom
    150.0
    >>> COMPETITION_CLASSES.total_weight
    7.0
    """

    classes: tuple[ParticleClass, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(self.classes))
        names = [c.name for c in self.classes]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise InputError("class catalogue", f"class names must be unique, repeated: {repeated}")
        if not self.classes:
            raise InputError("class catalogue", "at least one particle class is required")

    @classmethod
    def coerce(cls, classes: ClassCatalogue | Iterable[ParticleClass] | None) -> ClassCatalogue:
        """Return ``classes`` as a catalogue; ``None`` gives :data:`COMPETITION_CLASSES`."""
        if classes is None:
            return COMPETITION_CLASSES
        if isinstance(classes, ClassCatalogue):
            return classes
        if isinstance(classes, (str, bytes)) or not isinstance(classes, Iterable):
            raise TypeError(
                "classes must be a ClassCatalogue or a list of ParticleClass, "
                f"got {type(classes).__name__}"
            )
        return cls(tuple(classes))

    @property
    def names(self) -> tuple[str, ...]:
        """Class names in catalogue order."""
        return tuple(c.name for c in self.classes)

    @property
    def total_weight(self) -> float:
        """Sum of all class weights: the denominator of the aggregate score."""
        return float(sum(c.weight for c in self.classes))

    def __getitem__(self, name: str) -> ParticleClass:
        for particle_class in self.classes:
            if particle_class.name == name:
                return particle_class
        raise UnknownParticleError(
            "class catalogue",
            f"unknown particle_type {name!r}; known: {list(self.names)}."
            + did_you_mean(name, self.names),
        )

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __iter__(self) -> Iterator[ParticleClass]:
        return iter(self.classes)

    def __len__(self) -> int:
        return len(self.classes)

    def by_size(self) -> tuple[ParticleClass, ...]:
        """Classes ordered by radius, smallest first (for size-stratified reports)."""
        return tuple(sorted(self.classes, key=lambda c: (c.radius_angstrom, c.name)))

    def with_thresholds(self, thresholds: Mapping[str, float]) -> ClassCatalogue:
        """Return a copy whose ``score_threshold`` values are replaced by ``thresholds``."""
        for name in thresholds:
            self[name]  # raises with a did-you-mean hint for unknown names
        return ClassCatalogue(
            tuple(
                ParticleClass(
                    c.name,
                    c.radius_angstrom,
                    c.weight,
                    c.label,
                    float(thresholds[c.name]) if c.name in thresholds else c.score_threshold,
                )
                for c in self.classes
            )
        )


#: The six classes of the CZII Kaggle competition (radius Å, weight; weights sum to 7).
COMPETITION_CLASSES = ClassCatalogue(
    (
        ParticleClass("apo-ferritin", 60.0, 1.0, 1),
        ParticleClass("beta-amylase", 65.0, 0.0, 2),
        ParticleClass("beta-galactosidase", 90.0, 2.0, 3),
        ParticleClass("ribosome", 150.0, 1.0, 4),
        ParticleClass("thyroglobulin", 130.0, 2.0, 5),
        ParticleClass("virus-like-particle", 135.0, 1.0, 6),
    )
)


@dataclass(frozen=True, eq=False)
class Tomogram:
    """One tomogram of a run.

    Parameters
    ----------
    run : str
        Run (experiment) name.
    data : numpy.ndarray, shape (nz, ny, nx), float32
        The volume, indexed z, y, x.
    voxel_size_angstrom : float
        Voxel spacing in Å (isotropic).
    """

    run: str
    data: np.ndarray
    voxel_size_angstrom: float

    def __post_init__(self) -> None:
        if not isinstance(self.data, np.ndarray) and not hasattr(self.data, "ndim"):
            raise TypeError(
                f"Tomogram.data must be a 3-d array (z, y, x), got {type(self.data).__name__}"
            )
        if self.data.ndim != 3:
            raise InputError(
                f"tomogram {self.run!r}",
                f"data must be 3-D (z, y, x), found shape {self.data.shape}",
            )
        if not (math.isfinite(self.voxel_size_angstrom) and self.voxel_size_angstrom > 0):
            raise InputError(
                f"tomogram {self.run!r}",
                f"voxel_size_angstrom must be positive, found {self.voxel_size_angstrom!r}",
            )

    @property
    def shape_zyx(self) -> tuple[int, int, int]:
        """Array shape, voxels, z-y-x."""
        return tuple(int(n) for n in self.data.shape)  # type: ignore[return-value]

    @property
    def extent_angstrom_xyz(self) -> tuple[float, float, float]:
        """Size of the volume in Å along x, y, z."""
        nz, ny, nx = self.data.shape
        v = float(self.voxel_size_angstrom)
        return (nx * v, ny * v, nz * v)


def empty_picks_table(with_score: bool = True) -> pd.DataFrame:
    """Return an empty picks table with the canonical columns and dtypes."""
    columns: dict[str, pd.Series] = {
        "experiment": pd.Series([], dtype=object),
        "particle_type": pd.Series([], dtype=object),
    }
    for axis in COORDINATE_COLUMNS:
        columns[axis] = pd.Series([], dtype=np.float64)
    if with_score:
        columns[SCORE_COLUMN] = pd.Series([], dtype=np.float64)
    return pd.DataFrame(columns)


def validate_picks_table(
    table: pd.DataFrame,
    *,
    source: str,
    classes: ClassCatalogue | None = None,
    require_score: bool = False,
    allow_empty: bool = True,
    line_offset: int | None = None,
) -> pd.DataFrame:
    """Check a picks table and return a normalised copy.

    The copy has string ``experiment`` and ``particle_type`` columns, float64
    ``x, y, z`` (and ``score`` when present), the canonical columns first and
    any extra columns after them.  The index labels are kept (errors cite
    them) and ``attrs["source"]`` records where the table came from.

    Parameters
    ----------
    table : pandas.DataFrame
        Picks in Å, x-y-z order; shape (N, >= 5).
    source : str
        Name used in error messages (a file path or a role such as ``"truth"``).
    classes : ClassCatalogue, optional
        When given, every ``particle_type`` must be one of its names.
    require_score : bool
        Raise when the ``score`` column is absent.
    allow_empty : bool
        Raise :class:`EmptyInputError` for a table without rows when False.
    line_offset : int, optional
        When the table was read from a text file, the file line of its first
        row (2 for a CSV with one header line).  It is kept in
        ``attrs["line_offset"]`` so that this and every later error cites
        file lines (index label + offset).

    Returns
    -------
    pandas.DataFrame
        The normalised table.

    Raises
    ------
    SchemaError
        Missing columns or values that are not numbers.
    NonFiniteCoordinatesError
        NaN or infinite coordinates or scores (the rows are listed).
    UnknownParticleError
        A particle type outside ``classes``.
    EmptyInputError
        No rows and ``allow_empty`` is False.
    """
    if not isinstance(table, pd.DataFrame):
        raise SchemaError(source, f"expected a pandas DataFrame, found {type(table).__name__}")
    required = list(PICKS_COLUMNS) + ([SCORE_COLUMN] if require_score else [])
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise SchemaError(
            source,
            f"missing column(s) {missing}; expected columns {required}, "
            f"found {[str(c) for c in table.columns]}",
        )
    if not allow_empty and len(table) == 0:
        raise EmptyInputError(source, "the table has no rows")
    out = table.copy()
    if line_offset is not None:
        out.index = pd.RangeIndex(len(out))
        out.attrs["line_offset"] = int(line_offset)
    out.attrs["source"] = out.attrs.get("source", source)
    for column in ("experiment", "particle_type"):
        values = out[column]
        absent = values.isna().to_numpy()
        if absent.any():
            raise SchemaError(source, f"column {column!r} is empty in {describe_rows(out, absent)}")
        if not pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
            out[column] = values.astype(str)
    numeric = list(COORDINATE_COLUMNS) + ([SCORE_COLUMN] if SCORE_COLUMN in out.columns else [])
    for column in numeric:
        out[column] = _as_float(out, column, source)
    coords = out[list(COORDINATE_COLUMNS)].to_numpy()
    bad = ~np.isfinite(coords).all(axis=1)
    if bad.any():
        raise NonFiniteCoordinatesError(
            source, f"non-finite (NaN or infinite) coordinates x, y, z in {describe_rows(out, bad)}"
        )
    if SCORE_COLUMN in out.columns:
        bad = ~np.isfinite(out[SCORE_COLUMN].to_numpy())
        if bad.any():
            raise NonFiniteCoordinatesError(
                source, f"non-finite values in column 'score' in {describe_rows(out, bad)}"
            )
    if classes is not None:
        check_particle_types(out, classes, source=source)
    ordered = list(PICKS_COLUMNS) + [c for c in out.columns if c not in PICKS_COLUMNS]
    return out[ordered]


def check_particle_types(table: pd.DataFrame, classes: ClassCatalogue, *, source: str) -> None:
    """Raise :class:`UnknownParticleError` naming the first unknown ``particle_type``.

    Parameters
    ----------
    table : pandas.DataFrame
        A picks table with a string ``particle_type`` column.
    classes : ClassCatalogue
        The allowed classes.
    source : str
        Name used in the error message.
    """
    known = set(classes.names)
    types = table["particle_type"]
    unknown_mask = ~types.isin(known).to_numpy()
    if not unknown_mask.any():
        return
    unknown = sorted(set(types[unknown_mask]))
    first = unknown[0]
    raise UnknownParticleError(
        source,
        f"column 'particle_type': unknown value(s) {unknown} in "
        f"{describe_rows(table, unknown_mask)}; "
        f"expected one of {list(classes.names)}.{did_you_mean(first, classes.names)} "
        "(portal names such as 'cytosolic-ribosome' need an explicit name map: --map-names portal)",
    )


def _as_float(table: pd.DataFrame, column: str, source: str) -> pd.Series:
    values = table[column]
    if values.dtype == np.float64:
        return values
    converted = pd.to_numeric(values, errors="coerce")
    not_numbers = converted.isna().to_numpy() & ~values.isna().to_numpy()
    if not_numbers.any():
        first = values[not_numbers].iloc[0]
        raise SchemaError(
            source,
            f"column {column!r} must hold numbers; found {first!r} in "
            f"{describe_rows(table, not_numbers)}",
        )
    return converted.astype(np.float64)


def describe_rows(table: pd.DataFrame, mask: np.ndarray) -> str:
    """Describe the rows of ``table`` where ``mask`` is True, listing a few.

    Rows are named by their index labels (0-based positions for a default
    index), or by file lines when the table was read from a text file
    (``attrs["line_offset"]``, see :func:`validate_picks_table`).
    """
    labels = list(table.index[np.asarray(mask, dtype=bool)])
    offset = table.attrs.get("line_offset")
    if offset is not None and all(isinstance(label, (int, np.integer)) for label in labels):
        unit, labels = "file lines", [int(label) + offset for label in labels]
    else:
        unit = "rows"
    listed = ", ".join(str(label) for label in labels[:_MAX_ROWS_LISTED])
    more = f" and {len(labels) - _MAX_ROWS_LISTED} more" if len(labels) > _MAX_ROWS_LISTED else ""
    return f"{len(labels)} {'row' if len(labels) == 1 else 'rows'} ({unit} {listed}{more})"
