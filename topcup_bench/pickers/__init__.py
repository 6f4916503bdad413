"""Pickers: the contract, the registry and the built-in pickers.

``PICKERS`` maps names to picker classes; built-ins are registered lazily and
third-party packages add theirs through the entry-point group
``topcup_bench.pickers``.  :func:`create_picker` builds a picker from a name
and parameters (strings from the command line are converted to the type of
each parameter's default).
"""

from __future__ import annotations

from topcup_bench.pickers.factory import create_picker, parse_picker_spec, split_picker_list
from topcup_bench.pickers.protocol import Picker, PickerCard, TrainablePicker
from topcup_bench.pickers.registry import DEFAULT_PICKERS, PICKERS, register_picker

__all__ = [
    "split_picker_list",
    "PICKERS",
    "DEFAULT_PICKERS",
    "Picker",
    "PickerCard",
    "TrainablePicker",
    "create_picker",
    "parse_picker_spec",
    "register_picker",
]
