"""Parsing ``portal:ID[,ID...][?tomo_type=T&user=U&session=S&voxel_size=V&overlay=DIR]``.

:func:`parse_portal_spec` checks the IDs and options; :func:`portal_overlay`
resolves and checks the local overlay folder. Used by
:mod:`topcup_bench.datasets.portal`.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from topcup_bench.datasets.catalog import _split_options, cache_dir
from topcup_bench.datasets.copick_project import check_copick_id
from topcup_bench.errors import InputError

__all__ = [
    "DEFAULT_VOXEL_SIZE",
    "PORTAL_TRUTH_USER",
    "PortalSpec",
    "parse_portal_spec",
    "portal_overlay",
]

#: Voxel size (Å) read when ``voxel_size`` is not given.
DEFAULT_VOXEL_SIZE = 10.0
#: Copick user of the portal's own annotations (the default ground truth).
PORTAL_TRUTH_USER = "data-portal"

_PREFIX = "portal:"
_OPTIONS = {"tomo_type", "user", "session", "voxel_size", "overlay"}
_DATASET_ID = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class PortalSpec:
    """A parsed ``portal:`` dataset specification.

    Attributes
    ----------
    text : str
        The specification as given (used in messages and as the dataset name).
    dataset_ids : tuple of int
        Portal dataset IDs, ascending.
    tomo_type : str or None
        Tomogram type; None: chosen by
        :func:`~topcup_bench.datasets.portal.choose_tomo_type`.
    user, session : str, str or None
        Ground-truth copick user and session (None: any session).
    voxel_size_angstrom : float
        Requested voxel size, Å.
    overlay : pathlib.Path or None
        The ``overlay`` option; None: the default folder in the cache.
    """

    text: str
    dataset_ids: tuple[int, ...]
    tomo_type: str | None = None
    user: str = PORTAL_TRUTH_USER
    session: str | None = None
    voxel_size_angstrom: float = DEFAULT_VOXEL_SIZE
    overlay: Path | None = None

    @property
    def key(self) -> str:
        """The dataset IDs joined by ``-`` (``"10445"``, ``"10445-10446"``)."""
        return "-".join(str(i) for i in self.dataset_ids)

    @property
    def config_name(self) -> str:
        """File name of the copick configuration in the overlay folder."""
        return f"copick-portal-{self.key}.json"


def parse_portal_spec(text: str) -> PortalSpec:
    """Parse ``portal:ID[,ID...][?tomo_type=T&user=U&session=S&voxel_size=V&overlay=DIR]``.

    Raises
    ------
    InputError
        Not a ``portal:`` spec, a missing, repeated or non-positive-integer
        ID, an unknown option (with a did-you-mean), or a bad option value.

    Examples
    --------
    >>> spec = parse_portal_spec("portal:10446,10445?voxel_size=10&user=curation")
    >>> spec.dataset_ids, spec.voxel_size_angstrom, spec.user, spec.key
    ((10445, 10446), 10.0, 'curation', '10445-10446')
    """
    if not isinstance(text, str) or not text.startswith(_PREFIX):
        raise InputError(str(text), "expected portal:ID[,ID...][?option=value&...]")
    body, options = _split_options(text.removeprefix(_PREFIX), _OPTIONS, text)
    ids = [part.strip() for part in body.split(",")]
    if ids == [""]:
        raise InputError(text, "no dataset ID; expected portal:ID, e.g. portal:10445")
    for part in ids:
        if not _DATASET_ID.fullmatch(part) or int(part) == 0:
            raise InputError(
                text, f"dataset ID must be a positive integer (e.g. 10445), found {part!r}"
            )
    repeated = sorted({int(p) for p in ids if [int(q) for q in ids].count(int(p)) > 1})
    if repeated:
        raise InputError(text, f"dataset ID(s) {repeated} listed more than once")
    overlay = _text_option(options, "overlay", text)
    return PortalSpec(
        text=text,
        dataset_ids=tuple(sorted(int(p) for p in ids)),
        tomo_type=_text_option(options, "tomo_type", text),
        user=check_copick_id(options.get("user", PORTAL_TRUTH_USER), "user", text),
        session=(
            check_copick_id(options["session"], "session", text) if "session" in options else None
        ),
        voxel_size_angstrom=_voxel_size_option(options, text),
        overlay=Path(overlay).expanduser() if overlay else None,
    )


def portal_overlay(spec: PortalSpec) -> Path:
    """The overlay folder of ``spec``, absolute; checked, not created.

    Default ``<cache>/portal/<IDs>``. A given ``overlay`` must not be a file (nor
    below one) and, inside the topcup-bench cache folder, must be the default:
    the cache's other folders belong to other datasets.

    Raises
    ------
    InputError
        Naming the spec, the ``overlay`` value and the conflict.
    """
    default = Path(os.path.abspath(cache_dir() / "portal" / spec.key))
    if spec.overlay is None:
        return default
    folder = Path(os.path.abspath(spec.overlay))
    for path in (folder, *folder.parents):
        if path.exists() and not path.is_dir():
            raise InputError(
                spec.text, f"overlay={str(spec.overlay)!r}: {str(path)!r} is a file, not a folder"
            )
    cache = cache_dir().resolve()
    resolved = folder.resolve()
    if resolved != default.resolve() and (resolved == cache or cache in resolved.parents):
        raise InputError(
            spec.text,
            f"overlay={str(spec.overlay)!r} is inside the topcup-bench cache folder "
            f"{str(cache)!r}, which holds other datasets; leave overlay out (default "
            f"{str(default)!r}) or choose a folder outside the cache",
        )
    return folder


def _text_option(options: Mapping[str, str], key: str, spec: str) -> str | None:
    if key not in options:
        return None
    if not options[key].strip():
        raise InputError(spec, f"option {key!r} is empty")
    return options[key]


def _voxel_size_option(options: Mapping[str, str], spec: str) -> float:
    if "voxel_size" not in options:
        return DEFAULT_VOXEL_SIZE
    value = options["voxel_size"]
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        raise InputError(
            spec, f"option 'voxel_size' must be a positive number of Å, found {value!r}"
        )
    return number
