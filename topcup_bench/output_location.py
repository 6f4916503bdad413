"""Where an output folder may not be: in (or around) the data it reads, or the cache.

``run --out``, ``report --out`` and ``phantom --out`` write and, with
``--overwrite``, replace files.  Pointed at a copick project, a Kaggle folder
or the topcup-bench cache (:func:`topcup_bench.datasets.catalog.cache_dir`),
they would mix results into the data or remove data; such an ``--out`` is
refused, even with ``--overwrite``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from topcup_bench.errors import InputError

__all__ = ["check_out_location", "dataset_folders"]


def check_out_location(
    out: str | os.PathLike[str], protected: Mapping[str, str | os.PathLike[str]], flag="--out"
) -> None:
    """Refuse an ``out`` that equals, is inside, or contains a protected folder.

    Parameters
    ----------
    out : str or os.PathLike
        The output folder.
    protected : mapping of str to path
        Folders ``out`` must stay clear of, by description ("the dataset's folder").
    flag : str
        The command-line option named in messages.

    Raises
    ------
    InputError
        ``out`` equals, is inside or contains one of the ``protected`` folders.
    """
    target = Path(os.path.realpath(os.fspath(out)))
    for what, folder in protected.items():
        where = Path(os.path.realpath(os.fspath(folder)))
        if target == where or target.is_relative_to(where):
            relation = "is" if target == where else "is inside"
        elif where.is_relative_to(target):
            relation = "contains"
        else:
            continue
        raise InputError(
            flag,
            f"{target} {relation} {what} ({where}); topcup-bench does not write its outputs "
            f"there, even with --overwrite: choose another {flag}",
        )


def dataset_folders(dataset: Any) -> dict[str, Path]:
    """The local folders holding ``dataset``'s files, by description.

    A copick project: its local ``overlay_root`` and ``static_root`` (a
    generated phantom: the folder of its config); a Kaggle layout: its folder.
    Other datasets (in memory, remote) have none.
    """
    folders: dict[str, Path] = {}
    if isinstance(getattr(dataset, "folder", None), (str, os.PathLike)):
        folders["the dataset's folder"] = Path(dataset.folder)
    config_path = getattr(dataset, "config_path", None)
    if config_path is None:
        return folders
    config_path = Path(config_path)
    if getattr(dataset, "manifest", None):  # a generated phantom: read at its config's folder
        folders["the dataset's copick project"] = config_path.parent
        return folders
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return folders
    for key in ("overlay_root", "static_root"):
        root = config.get(key) if isinstance(config, dict) else None
        if isinstance(root, str) and root.startswith("local://"):
            folders[f"the dataset's copick {key}"] = Path(root.removeprefix("local://"))
    return folders
