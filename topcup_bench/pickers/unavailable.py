"""The pickers of one benchmark run: input errors stop the run, set-up failures fail one picker.

Where the line is drawn (``topcup-bench run --help`` says the same):

* Found before any work, and the run stops (exit 2): an unknown picker name,
  an unknown parameter, a value of the wrong type, a value the picker rejects
  with an :class:`~topcup_bench.errors.InputError` when it is created, and
  duplicate leaderboard names.  A typo never costs a long run.
* Found while a picker is set up, and only that picker fails (the others
  finish; exit 1): an unexpected error while creating it (a missing optional
  dependency of a plug-in), and anything ``prepare``/``fit`` raise (a missing
  weights or picks file).  Creation failures become an :class:`UnavailablePicker`
  whose ``prepare`` raises the original reason, so the runner marks it failed
  like any other picker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from topcup_bench.errors import TopcupBenchError
from topcup_bench.pickers.factory import create_picker
from topcup_bench.pickers.protocol import Picker, PickerCard
from topcup_bench.pickers.registry import PICKERS
from topcup_bench.types import ClassCatalogue, Tomogram

__all__ = ["UnavailablePicker", "create_run_pickers"]


class UnavailablePicker(Picker):
    """Stands in for a picker that could not be created; ``prepare`` raises why.

    Parameters
    ----------
    name : str
        Registry name.
    params : mapping
        The parameters it was given.
    reason : str
        Why it could not be created.
    """

    cacheable = False

    def __init__(self, name: str = "", params: Mapping[str, Any] | None = None, reason: str = ""):
        self.name_given = name
        self.params = dict(params or {})
        self.reason = reason
        self.leaderboard_label = str(self.params.get("label") or name)

    def parameters(self) -> dict[str, Any]:
        """The parameters it was given (as given)."""
        return dict(self.params)

    def card(self) -> PickerCard:
        """A card with the registry name's version when the class is known."""
        try:
            version = str(getattr(PICKERS.get(self.name_given), "version", "?"))
        except Exception:  # the class itself may be what failed to load
            version = "?"
        return PickerCard(name=self.display_name, version=version, parameters=self.parameters())

    def prepare(self, dataset) -> None:
        """Raise the reason the picker could not be created."""
        raise TopcupBenchError(self.reason)

    def pick(self, tomogram: Tomogram, classes: ClassCatalogue) -> pd.DataFrame:
        """Never reached: :meth:`prepare` raises."""
        raise TopcupBenchError(self.reason)


def create_run_pickers(specs: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Picker]:
    """Create the pickers of a run, in order.

    Raises
    ------
    InputError
        (Any :class:`~topcup_bench.errors.TopcupBenchError`.) Unknown names or
        parameters, wrong types, values a picker rejects: the run stops before
        any work.

    Returns
    -------
    list of Picker
        A picker whose creation failed unexpectedly is an :class:`UnavailablePicker`.
    """
    pickers: list[Picker] = []
    for name, params in specs:
        try:
            pickers.append(create_picker(name, params))
        except TopcupBenchError:
            raise
        except Exception as error:  # a plug-in's own failure: that picker fails, not the run
            label = (params or {}).get("label") or name
            reason = f"picker {label!r} could not be created: {type(error).__name__}: {error}"
            pickers.append(UnavailablePicker(name, params, reason))
    return pickers
