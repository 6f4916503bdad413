"""Build pickers from names and parameters (command line, TOML or Python)."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from typing import Any

from topcup_bench.errors import InputError, did_you_mean
from topcup_bench.pickers.labels import check_picker_label
from topcup_bench.pickers.protocol import Picker, parameter_defaults
from topcup_bench.pickers.registry import PICKERS

__all__ = ["create_picker", "parse_picker_spec", "split_picker_list"]


_PICKER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


def split_picker_list(text: str) -> list[str]:
    """Split a comma-separated list of picker specs, keeping commas inside values.

    A comma starts a new picker only when what follows is a picker name
    (letters, digits, ``-``, ``_``), optionally followed by ``:``; otherwise the
    piece continues the previous value, so lists such as
    ``weights=a.pt,b.pt`` or ``decoder_channels=32,16,16,8,8`` stay whole.

    Examples
    --------
    >>> split_picker_list("oracle, topcup:weights=a.pt,b.pt;tta=false,blob")
    ['oracle', 'topcup:weights=a.pt,b.pt;tta=false', 'blob']
    """
    specs: list[str] = []
    for piece in text.split(","):
        head = piece.strip().partition(":")[0]
        starts_picker = bool(_PICKER_NAME.match(head)) and "=" not in piece.partition(":")[0]
        if specs and not starts_picker:
            specs[-1] += "," + piece.strip()
        elif piece.strip():
            specs.append(piece.strip())
    return specs


def parse_picker_spec(spec: str) -> tuple[str, dict[str, str]]:
    """Split ``"name:key=value;key=value"`` into the name and raw parameters.

    Examples
    --------
    >>> parse_picker_spec("template:n_rotations=24;mask_fraction=0.9")
    ('template', {'n_rotations': '24', 'mask_fraction': '0.9'})
    """
    name, _, rest = spec.strip().partition(":")
    params: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in rest.split(";"))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(spec, f"picker parameters must be key=value, found {item!r}")
        params[key.strip()] = value.strip()
    return name.strip(), params


def create_picker(name: str, params: Mapping[str, Any] | None = None) -> Picker:
    """Instantiate the picker ``name`` with ``params``.

    Parameter values are checked against the type of each default; strings
    (from the command line) are converted.  Unknown names and parameters get
    a did-you-mean hint.  A ``label`` parameter (for pickers without one of
    their own) sets the leaderboard name, so that one picker can appear with
    several parameter sets.  Labels are names, not paths
    (:func:`~topcup_bench.pickers.labels.check_picker_label`).

    Raises
    ------
    InputError
        Unknown picker or parameter, a value of the wrong type, or a label
        that is not a plain name (naming ``--pickers``).
    """
    picker_class = PICKERS.get(name)
    if not (isinstance(picker_class, type) and issubclass(picker_class, Picker)):
        raise InputError(f"picker {name!r}", f"{picker_class!r} is not a Picker subclass")
    defaults = parameter_defaults(picker_class)
    if params is not None and not isinstance(params, Mapping):
        raise TypeError(
            f"create_picker: params must be a mapping {{name: value}}, got {type(params).__name__}"
        )
    params = dict(params or {})
    if "label" in params:  # a label is a name, never a path (given empty: refused too)
        check_picker_label(params["label"])
    label = params.pop("label", None) if "label" not in defaults else None
    converted = {}
    for key, value in params.items():
        if key not in defaults:
            raise InputError(
                f"picker {name!r}",
                f"unknown parameter {key!r}; parameters: {sorted(defaults)}."
                + _parameter_hint(key, list(defaults)),
            )
        converted[key] = _convert(name, key, value, defaults[key])
    picker = picker_class(**converted)
    if label:
        picker.leaderboard_label = str(label)
    check_picker_label(picker.display_name)
    return picker


def _parameter_hint(key: str, names: list[str]) -> str:
    """``did_you_mean`` over parameter ``names``; on a tie, the one declared first wins.

    ``pixel_size`` is as close to ``pixel_size_angstrom`` as to
    ``pixel_size_override``; the declaration order says which one is meant.

    Examples
    --------
    >>> _parameter_hint("pixel_size", ["source", "pixel_size_angstrom", "pixel_size_override"])
    " Did you mean 'pixel_size_angstrom'?"
    """
    scored = [
        (difflib.SequenceMatcher(None, key, name).ratio(), -index, name)
        for index, name in enumerate(names)
    ]
    best = max(scored, default=None)
    if best is None or best[0] < 0.6:
        return did_you_mean(key, names)  # the same hint (or none) as elsewhere
    return f" Did you mean {best[2]!r}?"


def _convert(picker: str, key: str, value: Any, default: Any) -> Any:
    expected = type(default)
    if (
        default is None
        or isinstance(value, expected)
        and not (expected is int and isinstance(value, bool))
    ):
        return value
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            if expected is bool:
                lowered = value.lower()
                if lowered in ("true", "1", "yes"):
                    return True
                if lowered in ("false", "0", "no"):
                    return False
                raise ValueError(value)
            if expected in (int, float, str):
                return expected(value)
            if expected in (tuple, list):
                parsed = json.loads(value) if value.startswith("[") else value.split(",")
                return expected(parsed)
        except (ValueError, json.JSONDecodeError):
            pass
    raise InputError(
        f"picker {picker!r}",
        f"parameter {key!r} expects {expected.__name__} (default {default!r}), found {value!r}",
    )
