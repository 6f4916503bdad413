"""What a picks file may not say itself: run, class, pixel size and tomogram extent.

Many native formats leave out something a picks table needs: a Dynamo table
numbers its tomograms, a crYOLO ``.cbox`` file holds one tomogram and one class
without naming either, most formats count pixels without saying how large a
pixel is, and RELION 5 measures from the tomogram centre. A
:class:`PicksContext` carries those values; readers use them only where the
file is silent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from topcup_bench.errors import InputError, SchemaError, short_repr

__all__ = ["PicksContext"]

_SOURCE = "picks context"


@dataclass(frozen=True)
class PicksContext:
    """What a file may not say itself; used only where the file is silent.

    Parameters
    ----------
    experiment : str, optional
        Run name for rows whose file names none.
    particle_type : str, optional
        Class name for rows whose file names none.
    pixel_size_angstrom : float, optional
        Å per pixel of pixel coordinates, when the file states none.
    tomogram_extent_angstrom : mapping of str to (float, float, float), optional
        Run name → (x, y, z) extent of its tomogram in Å (shape along x, y, z
        × voxel size); needed for coordinates measured from the tomogram
        centre (RELION 5).

    Raises
    ------
    InputError
        An empty name, a pixel size that is not a positive finite number, or
        an extent that is not three positive finite numbers.

    Examples
    --------
    >>> context = PicksContext(experiment="TS_5_4", pixel_size_angstrom=10.0)
    >>> context.pixel_size("picks.tbl", what="columns 24-26")
    10.0
    """

    experiment: str | None = None
    particle_type: str | None = None
    pixel_size_angstrom: float | None = None
    tomogram_extent_angstrom: Mapping[str, tuple[float, float, float]] | None = None

    def __post_init__(self) -> None:
        for field in ("experiment", "particle_type"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise InputError(
                    _SOURCE, f"{field} must be a non-empty string, found {short_repr(value)}"
                )
        if self.pixel_size_angstrom is not None:
            object.__setattr__(self, "pixel_size_angstrom", _positive(self.pixel_size_angstrom))
        if self.tomogram_extent_angstrom is not None:
            object.__setattr__(
                self, "tomogram_extent_angstrom", _extents(self.tomogram_extent_angstrom)
            )

    def run_name(self, source: str, *, what: str) -> str:
        """The run name for rows whose file does not name it.

        Parameters
        ----------
        source : str
            The file, for the error message.
        what : str
            What the file says instead (a field), for the error message.

        Raises
        ------
        SchemaError
            No ``experiment`` in the context.
        """
        if self.experiment is None:
            raise SchemaError(
                source,
                f"{what}: the file does not name its run; give the run name with "
                "context=PicksContext(experiment=RUN)",
            )
        return self.experiment

    def class_name(self, source: str, *, what: str) -> str:
        """The particle type for rows whose file does not name it.

        Raises
        ------
        SchemaError
            No ``particle_type`` in the context; the message names ``source`` and ``what``.
        """
        if self.particle_type is None:
            raise SchemaError(
                source,
                f"{what}: the file does not name the particle type; give it with "
                "context=PicksContext(particle_type=CLASS)",
            )
        return self.particle_type

    def pixel_size(self, source: str, *, what: str) -> float:
        """Å per pixel for pixel coordinates of a file that states no pixel size.

        Raises
        ------
        SchemaError
            No ``pixel_size_angstrom`` in the context; the message names ``source`` and ``what``.
        """
        if self.pixel_size_angstrom is None:
            raise SchemaError(
                source,
                f"{what} are in pixels and the file states no pixel size; give it with "
                "context=PicksContext(pixel_size_angstrom=Å per pixel)",
            )
        return float(self.pixel_size_angstrom)

    def missing_extents(self, runs: Iterable[str]) -> list[str]:
        """The runs among ``runs`` whose tomogram extent is unknown, sorted."""
        known = self.tomogram_extent_angstrom or {}
        return sorted({str(run) for run in runs} - set(known))

    def centres_angstrom(
        self, runs: Iterable[str], source: str, *, what: str
    ) -> dict[str, np.ndarray]:
        """Run → centre of its tomogram in Å, ``extent / 2``, shape (3,), for each of ``runs``.

        Raises
        ------
        SchemaError
            A run without an extent; the message names ``source``, ``what`` and the runs.
        """
        names = {str(run) for run in runs}
        missing = self.missing_extents(names)
        if missing:
            raise SchemaError(
                source,
                f"{what} are measured from the tomogram centre, and the tomogram extent of "
                f"run(s) {missing[:10]} is unknown; give it with context=PicksContext("
                "tomogram_extent_angstrom={RUN: (x, y, z) in Å})",
            )
        known = self.tomogram_extent_angstrom or {}
        return {run: np.asarray(known[run], dtype=np.float64) / 2.0 for run in names}


def _positive(value: object) -> float:
    try:
        size = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        size = math.nan
    if not (math.isfinite(size) and size > 0):
        raise InputError(
            _SOURCE,
            f"pixel_size_angstrom must be a positive finite number of Å, found {short_repr(value)}",
        )
    return size


def _extents(extents: object) -> Mapping[str, tuple[float, float, float]]:
    if not isinstance(extents, Mapping):
        raise InputError(
            _SOURCE,
            "tomogram_extent_angstrom must map run names to (x, y, z) extents in Å, found "
            f"{type(extents).__name__}",
        )
    checked: dict[str, tuple[float, float, float]] = {}
    for run, extent in extents.items():
        try:
            values = np.asarray(extent, dtype=np.float64)
        except (TypeError, ValueError):
            values = np.full(1, np.nan)
        if values.shape != (3,) or not (np.isfinite(values).all() and (values > 0).all()):
            raise InputError(
                _SOURCE,
                f"tomogram_extent_angstrom[{str(run)!r}] must be 3 positive finite numbers "
                f"(x, y, z in Å), found {short_repr(extent)}",
            )
        checked[str(run)] = (float(values[0]), float(values[1]), float(values[2]))
    return MappingProxyType(checked)
