"""``external``: score picks produced by any other tool (octopi, DeepFinder, pytom, TopCUP CLI).

The picks are read once from a source that :func:`topcup_bench.datasets.read_picks`
understands — a Kaggle or TopCUP CSV, a RELION STAR file, or
``copick:CONFIG?user=U&session=S`` — and served run by run.  Picks without a
confidence get score 1.0 (then only the fixed operating point is meaningful).
"""

from __future__ import annotations

import pandas as pd

from topcup_bench.datasets import apply_name_map, load_name_map, read_picks
from topcup_bench.datasets.dataset import Dataset
from topcup_bench.errors import InputError
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
        Pixel size for STAR files without one (0: take it from the file).
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
    ) -> None:
        if not source:
            raise InputError(
                "picker 'external'", "parameter 'source' is required (a file or copick:...)"
            )
        self.source = source
        self.label = label
        self.name_map = name_map
        self.pixel_size_angstrom = float(pixel_size_angstrom)
        self._picks: pd.DataFrame | None = None

    @property
    def display_name(self) -> str:
        """The leaderboard name: ``label`` or ``external``."""
        return self.label or self.leaderboard_label or self.name

    def prepare(self, dataset: Dataset) -> None:
        """Read all picks of the source once."""
        options = {}
        if self.source.lower().endswith(".star") and self.pixel_size_angstrom > 0:
            options["pixel_size_angstrom"] = self.pixel_size_angstrom
        picks = read_picks(self.source, **options)
        if self.name_map:
            picks = apply_name_map(picks, load_name_map(self.name_map), source=self.source)
        if SCORE_COLUMN not in picks.columns:
            picks = picks.assign(score=1.0)
        self._picks = picks

    def pick(self, tomogram: Tomogram, classes: ClassCatalogue) -> pd.DataFrame:
        if self._picks is None:
            raise InputError("picker 'external'", "call prepare(dataset) first to read the source")
        picks = self._picks
        chosen = picks.loc[picks["experiment"] == tomogram.run]
        return chosen[["experiment", "particle_type", "x", "y", "z", "score"]].reset_index(
            drop=True
        )
