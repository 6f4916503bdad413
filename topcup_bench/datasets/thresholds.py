"""Per-class confidence thresholds from a file.

Two formats are accepted:

* a JSON object ``{"apo-ferritin": 0.16, "ribosome": 0.19, ...}``;
* a copick configuration, whose pickable objects carry the threshold in
  ``metadata.score_threshold`` (the convention of TopCUP projects).

A threshold ``t`` keeps predictions with ``score > t``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path

from topcup_bench.errors import (
    EmptyInputError,
    InputError,
    SchemaError,
    UnknownParticleError,
    did_you_mean,
)

__all__ = ["load_thresholds"]


def load_thresholds(
    path: str | os.PathLike[str], classes: Iterable[str] | None = None
) -> dict[str, float]:
    """Read per-class thresholds from a JSON mapping or a copick configuration.

    Parameters
    ----------
    path : str or os.PathLike
        The file (``--thresholds``).
    classes : iterable of str, optional
        The scored class names; when given, every class of the file must be one
        of them.

    Returns
    -------
    dict of str to float
        Threshold per class name.

    Raises
    ------
    InputError
        Missing file, invalid JSON, or non-numeric thresholds (the class is named).
    UnknownParticleError
        A class of the file that is not in ``classes`` (file and flag named).
    """
    source = os.fspath(path)
    file = Path(source)
    if not file.is_file():
        raise InputError(source, "thresholds file not found")
    text = file.read_text(encoding="utf-8")
    if not text.strip():
        raise EmptyInputError(source, "thresholds file is empty")
    try:
        content = json.loads(text)
    except json.JSONDecodeError as error:
        raise SchemaError(source, f"not valid JSON ({error})") from error
    if isinstance(content, dict) and "pickable_objects" in content:
        content = {
            obj.get("name"): (obj.get("metadata") or {}).get("score_threshold")
            for obj in content["pickable_objects"]
            if (obj.get("metadata") or {}).get("score_threshold") is not None
        }
        if not content:
            raise SchemaError(
                source, "no pickable object of this copick config has metadata.score_threshold"
            )
    if not isinstance(content, dict):
        raise SchemaError(
            source, f"expected a JSON object {{class: threshold}}, found {type(content).__name__}"
        )
    thresholds = {}
    for name, value in content.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise SchemaError(
                source, f"threshold of {name!r} must be a finite number, found {value!r}"
            )
        thresholds[str(name)] = float(value)
    if classes is not None:
        _check_names(thresholds, list(classes), source)
    return thresholds


def _check_names(thresholds: dict[str, float], known: list[str], source: str) -> None:
    for name in thresholds:
        if name not in known:
            raise UnknownParticleError(
                source,
                f"--thresholds: unknown class {name!r}; known: {known}."
                + did_you_mean(name, known),
            )
