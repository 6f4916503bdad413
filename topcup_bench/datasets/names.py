"""Mapping particle names of other sources onto the scored class names.

The CZ cryoET Data Portal names some objects differently from the Kaggle
competition (``cytosolic-ribosome`` for ``ribosome``, ...). A name map is only
applied when a caller asks for it: silently renaming classes would hide a
wrong input.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import pandas as pd

from topcup_bench.errors import InputError, SchemaError

__all__ = ["PORTAL_NAME_MAP", "apply_name_map", "load_name_map"]

#: CZ cryoET Data Portal object names → competition class names.
PORTAL_NAME_MAP: Mapping[str, str] = MappingProxyType(
    {
        "apoferritin": "apo-ferritin",
        "ferritin-complex": "apo-ferritin",
        "cytosolic-ribosome": "ribosome",
        "beta-gal": "beta-galactosidase",
        "virus-like-capsid": "virus-like-particle",
    }
)

_PORTAL = "portal"


def apply_name_map(table: pd.DataFrame, mapping: Mapping[str, str], *, source: str) -> pd.DataFrame:
    """Return a copy of a picks table with ``particle_type`` renamed through ``mapping``.

    Parameters
    ----------
    table : pandas.DataFrame
        Picks table with a ``particle_type`` column; shape (N, >= 1).
    mapping : mapping of str to str
        Old name → new name; names not in it are kept.
    source : str
        Name of the table in error messages.

    Returns
    -------
    pandas.DataFrame
        A copy; ``table`` is not modified.

    Raises
    ------
    SchemaError
        ``table`` has no ``particle_type`` column.
    InputError
        A mapping entry that is not a non-empty string to a non-empty string.

    Examples
    --------
    >>> picks = pd.DataFrame({"particle_type": ["cytosolic-ribosome", "thyroglobulin"]})
    >>> apply_name_map(picks, PORTAL_NAME_MAP, source="picks")["particle_type"].tolist()
    ['ribosome', 'thyroglobulin']
    """
    if "particle_type" not in table.columns:
        raise SchemaError(
            source,
            f"missing column 'particle_type' needed for the name map; "
            f"found {[str(c) for c in table.columns]}",
        )
    checked = _checked_mapping(mapping, "name map")
    out = table.copy()
    out["particle_type"] = [checked.get(name, name) for name in out["particle_type"]]
    return out


def load_name_map(spec: str | os.PathLike[str]) -> dict[str, str]:
    """Load a name map: ``"portal"`` for :data:`PORTAL_NAME_MAP`, or a JSON file.

    Parameters
    ----------
    spec : str or os.PathLike
        ``"portal"``, or the path of a JSON object ``{"from": "to", ...}``.

    Returns
    -------
    dict of str to str

    Raises
    ------
    InputError
        The file does not exist.
    SchemaError
        The file is not valid JSON, not an object, or maps to something other
        than a non-empty string.

    Examples
    --------
    >>> load_name_map("portal")["cytosolic-ribosome"]
    'ribosome'
    """
    if isinstance(spec, str) and spec == _PORTAL:
        return dict(PORTAL_NAME_MAP)
    path = Path(spec)
    source = str(path)
    if not path.is_file():
        raise InputError(
            source,
            "name map file not found; expected 'portal' or the path of a JSON object "
            '{"from-name": "to-name"}',
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SchemaError(source, f"name map is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise SchemaError(
            source,
            'name map must be a JSON object {"from-name": "to-name"}, '
            f"found {type(data).__name__}",
        )
    return _checked_mapping(data, source, error=SchemaError)


def _checked_mapping(
    mapping: Mapping[object, object], source: str, error: type[InputError] = InputError
) -> dict[str, str]:
    for key, value in mapping.items():
        if not (isinstance(key, str) and key and isinstance(value, str) and value):
            raise error(
                source,
                f"entry {key!r}: expected a non-empty name mapped to a non-empty name, "
                f"found {value!r}",
            )
    return dict(mapping)  # type: ignore[arg-type]
