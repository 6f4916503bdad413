"""The picker contract: one method, ``pick(tomogram, classes) -> picks table``.

* :class:`Picker`: ``pick`` returns candidates with a confidence ``score`` per
  pick (Å, x-y-z), so that thresholds can be swept; :meth:`Picker.thresholds`
  is the picker's own operating point.
* :class:`TrainablePicker` adds ``fit(dataset, runs)``.
* :class:`PickerCard`: name, version, citation, licence, parameters and the
  runs a picker was trained on, kept beside the code.

Parameters are the keyword arguments of the picker's ``__init__``; their
defaults fix their types, and :meth:`Picker.parameters` returns them (they
key the runner's cache).
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from topcup_bench.types import ClassCatalogue, Tomogram

if TYPE_CHECKING:  # pragma: no cover
    from topcup_bench.datasets.dataset import Dataset

__all__ = ["Picker", "TrainablePicker", "PickerCard"]


@dataclass(frozen=True)
class PickerCard:
    """What a picker is, where it comes from and what it was trained on."""

    name: str
    version: str
    description: str = ""
    citation: str = ""
    licence: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)
    trained_on: tuple[str, ...] = ()
    trainable: bool = False
    #: Version of the external tool an adapter runs (from its version command); "" for our own.
    tool_version: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        out = dict(vars(self))
        out["parameters"] = dict(self.parameters)
        out["trained_on"] = list(self.trained_on)
        return out


class Picker(abc.ABC):
    """A particle picker.

    Subclasses set the class attributes below, take their parameters as
    keyword arguments with defaults in ``__init__`` (store each under the
    same attribute name) and implement :meth:`pick`.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    citation: ClassVar[str] = ""
    licence: ClassVar[str] = "MIT"

    @abc.abstractmethod
    def pick(self, tomogram: Tomogram, classes: ClassCatalogue) -> pd.DataFrame:
        """Find particles of ``classes`` in ``tomogram``.

        Parameters
        ----------
        tomogram : Tomogram
            Volume indexed (z, y, x), float32, with its voxel size in Å.
        classes : ClassCatalogue
            Classes to pick (name, radius in Å).

        Returns
        -------
        pandas.DataFrame
            Columns ``experiment`` (= ``tomogram.run``), ``particle_type``,
            ``x, y, z`` (Å, x-y-z order) and ``score`` (higher = more confident).
        """

    #: Whether the runner may cache this picker's picks (False for pickers that only
    #: read picks made elsewhere: the file may change under the same parameters).
    cacheable: ClassVar[bool] = True

    #: Leaderboard name set by :func:`~topcup_bench.pickers.create_picker` (``label=...``).
    leaderboard_label: str | None = None

    @property
    def display_name(self) -> str:
        """Name on the leaderboard: the label given at creation, else the registry name."""
        return self.leaderboard_label or self.name

    def prepare(self, dataset: Dataset) -> None:  # noqa: B027 - optional hook
        """Called by the runner once before picking on ``dataset``; the default does nothing.

        Reference pickers use it to read what they need (the oracle reads the
        ground truth); it must leave the picker picklable.
        """

    def unplaced_picks(self, runs: Sequence[str]) -> dict[str, int]:
        """Picks this picker holds that name none of ``runs``, counted per run name as written.

        Called by the runner after picking ``runs`` (once :meth:`prepare` ran), so
        that picks read from elsewhere (``external``) are never dropped silently.
        The default holds nothing: ``{}``.
        """
        return {}

    def log_files(self, runs: Sequence[str]) -> dict[str, str]:
        """Log files this picker wrote for ``runs`` (run → path), named in the results.

        Adapters that run another tool capture its output there; the default
        writes none: ``{}``.  Called by the runner after picking.
        """
        return {}

    def input_digest(self, dataset: Dataset, run: str) -> str:
        """Digest of the data this picker's picks of ``run`` depend on (keys the runner's cache).

        The default is the digest of the run's tomogram data
        (:meth:`Dataset.run_digest`).  Override it when picks depend on more
        (the oracle adds the run's ground truth; ``external`` its source file):
        whatever is not in the digest (or in :meth:`parameters`) may be served
        stale from the cache after it changes.
        """
        return dataset.run_digest(run)

    def thresholds(self, classes: ClassCatalogue) -> dict[str, float]:
        """The picker's own operating point: keep picks with ``score >`` this, per class.

        The default uses the classes' ``score_threshold`` where set and keeps
        every candidate otherwise.
        """
        return {
            c.name: (c.score_threshold if c.score_threshold is not None else float("-inf"))
            for c in classes
        }

    def parameters(self) -> dict[str, Any]:
        """The constructor parameters and their current values."""
        return {name: getattr(self, name) for name in parameter_defaults(type(self))}

    def card(self) -> PickerCard:
        """The picker card."""
        return PickerCard(
            name=self.display_name,
            version=self.version,
            description=self.description,
            citation=self.citation,
            licence=self.licence,
            parameters=self.parameters(),
            trained_on=tuple(getattr(self, "trained_on", ())),
            trainable=isinstance(self, TrainablePicker),
            tool_version=str(getattr(self, "tool_version", "") or ""),
        )

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.parameters().items())
        return f"{type(self).__name__}({shown})"


class TrainablePicker(Picker):
    """A picker that learns from labelled runs before picking."""

    trained_on: tuple[str, ...] = ()

    @abc.abstractmethod
    def fit(self, dataset: Dataset, runs: Sequence[str]) -> None:
        """Train on ``runs`` of ``dataset`` (tomograms and ground truth); set ``trained_on``."""


def parameter_defaults(picker_class: type) -> dict[str, Any]:
    """Keyword parameters of ``picker_class.__init__`` and their defaults."""
    signature = inspect.signature(picker_class.__init__)
    return {
        name: p.default
        for name, p in signature.parameters.items()
        if name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }
