"""Digests of what a result depends on: the one place that decides "same data".

A result (a picks table, a score, a trained network) depends on the content
of its inputs, never on where they are stored.  This module turns content
into short, stable hex digests (SHA-256):

* :func:`digest_json` — any JSON-ready value, through a canonical JSON text;
* :func:`digest_file` — the bytes of one file (picks sources, weights);
* :func:`digest_zarr_array` — a stored zarr (v2) array: its shape, dtype
  and decoded values, after checking that every chunk is present and whole
  (a default phantom tomogram digests in about 0.1 s, once per process);
* :func:`digest_table` — a picks table by its canonical sorted rows, so the
  same points digest equally whatever file format or row order held them.

The dataset identity (:meth:`topcup_bench.datasets.dataset.Dataset.identity`),
the runner's picks cache key and ``compare`` all use these functions, and
:func:`same_dataset` is the one comparison of two identities.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "canonical_json",
    "digest_json",
    "digest_bytes",
    "digest_file",
    "digest_array",
    "digest_zarr_array",
    "digest_table",
    "with_digest",
    "same_dataset",
    "files_signature",
]

_BLOCK = 1 << 20
_ZARR_MEMO: dict[tuple[str, tuple | None], str] = {}
_FILE_MEMO: dict[tuple[str, tuple], str] = {}


def canonical_json(value: Any) -> str:
    """The canonical JSON text of ``value``: sorted keys, no spaces, ``repr`` floats.

    Non-finite floats are written as the strings ``"NaN"``, ``"Infinity"``,
    ``"-Infinity"``; other objects that JSON cannot hold (paths, numpy
    scalars) by ``str``.

    Examples
    --------
    >>> canonical_json({"b": 1, "a": [1.5, "x"]})
    '{"a":[1.5,"x"],"b":1}'
    """
    return json.dumps(
        _finite(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def digest_json(value: Any) -> str:
    """Hex SHA-256 of :func:`canonical_json` of ``value``.

    Examples
    --------
    >>> digest_json({"a": 1, "b": 2}) == digest_json({"b": 2, "a": 1})
    True
    """
    return digest_bytes(canonical_json(value).encode("utf-8"))


def digest_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def digest_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of the bytes of the file at ``path`` (read in 1 MiB blocks).

    Memoised per process on the file's size, modification time and inode.
    """
    memo_key = (os.path.abspath(path), files_signature([Path(path)]))
    if memo_key in _FILE_MEMO:
        return _FILE_MEMO[memo_key]
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            sha.update(block)
    _FILE_MEMO[memo_key] = sha.hexdigest()
    return _FILE_MEMO[memo_key]


def files_signature(paths: Sequence[Path]) -> tuple:
    """``(name, size, mtime_ns, inode)`` of each path: changes whenever a file is rewritten."""
    out = []
    for path in paths:
        info = os.stat(path)
        out.append((str(path), info.st_size, info.st_mtime_ns, info.st_ino))
    return tuple(out)


def digest_array(
    values: Any,
    *,
    slab: int | None = None,
    on_read_error: Callable[[int, int, Exception], Exception] | None = None,
) -> str:
    """Hex SHA-256 of an array's values: its shape, little-endian dtype and C-order bytes.

    Parameters
    ----------
    values : array-like
        A numpy array, or anything sliceable along its first axis with
        ``shape``, ``dtype`` and ``ndim`` (a zarr array), read ``slab``
        planes at a time.
    slab : int, optional
        Planes per read along the first axis (default: all at once).
    on_read_error : callable, optional
        ``on_read_error(start, stop, error)`` returns the exception to raise
        when reading planes ``start:stop`` fails (default: the error as it is).

    Examples
    --------
    >>> import numpy as np
    >>> a = np.arange(6, dtype=np.float32).reshape(2, 3)
    >>> digest_array(a) == digest_array(a.astype(">f4")) == digest_array(a, slab=1)
    True
    >>> digest_array(a) == digest_array(a.reshape(3, 2))
    False
    """
    import numpy as np

    dtype = values.dtype.newbyteorder("<") if values.dtype.byteorder == ">" else values.dtype
    shape = [int(n) for n in values.shape]
    sha = hashlib.sha256(canonical_json({"shape": shape, "dtype": dtype.str}).encode())
    if values.ndim == 0 or not shape[0]:
        sha.update(np.ascontiguousarray(values[...], dtype=dtype).tobytes())
        return sha.hexdigest()
    step = slab or shape[0]
    for start in range(0, shape[0], step):
        try:
            part = values[start : start + step]
        except Exception as error:  # a codec's error (blosc: RuntimeError) on a corrupt chunk
            if on_read_error is None:
                raise
            raise on_read_error(start, min(start + step, shape[0]), error) from error
        sha.update(np.ascontiguousarray(part, dtype=dtype).tobytes())
    return sha.hexdigest()


def digest_zarr_array(array_path: str | os.PathLike[str], *, run: str = "") -> str:
    """:func:`digest_array` of a stored zarr v2 array, after checking its chunks.

    The chunks are first checked (:func:`~topcup_bench.datasets.zarr_integrity.check_zarr_chunks`:
    all present, none truncated), so that a damaged store is an error and
    never digested (or decoded) as fill values.  Then the array's shape, its
    little-endian dtype and its values in C order are hashed, one slab of
    chunks along the first axis at a time (memory: one slab).  The digest is
    of the data, not of its storage: the same values compressed by another
    codec, level, chunking or library version (blosc stores a chunk's blocks
    in the order its threads finish) digest equally, so the same phantom
    generated on two machines has one identity.  The result is memoised per
    process on the files' sizes, modification times and inodes: an unchanged
    array is decoded once, an edited one again.

    Parameters
    ----------
    array_path : str or os.PathLike
        The array's folder (holding ``.zarray``), e.g. ``tomo.zarr/0``.
    run : str
        Named in errors.

    Raises
    ------
    ZarrChunkError
        A chunk is missing or truncated, or the metadata is unreadable.
    """
    import zarr

    from topcup_bench.datasets.zarr_integrity import (
        check_zarr_chunks,
        chunk_keys,
        read_array_metadata,
    )

    root = Path(array_path)
    meta = read_array_metadata(root, run=run)
    keys = sorted(key for key, _ in chunk_keys(meta))
    try:
        signature = files_signature([root / ".zarray"] + [root / key for key in keys])
    except FileNotFoundError:
        signature = None  # a missing chunk: the check below names it
    memo_key = (os.fspath(root), signature)
    if signature is not None and memo_key in _ZARR_MEMO:
        return _ZARR_MEMO[memo_key]
    check_zarr_chunks(root, run=run)
    array = zarr.open_array(os.fspath(root), mode="r")

    def undecodable(start: int, stop: int, error: Exception) -> Exception:
        return undecodable_chunks(array, root, run, meta, start, error)

    digest = digest_array(
        array, slab=array.chunks[0] if array.ndim else None, on_read_error=undecodable
    )
    _ZARR_MEMO[memo_key] = digest
    return digest


def undecodable_chunks(
    array: Any,
    root: Path,
    run: str,
    meta: Mapping[str, Any],
    start: int | None,
    error: Exception,
) -> Exception:
    """A ``ZarrChunkError`` naming the chunks of the slab at plane ``start`` that fail to decode.

    Each chunk of the slab (of the whole array when ``start`` is None) is
    decoded on its own (the headers were checked, so a codec error, not a
    crash, is what a damaged chunk gives).

    Parameters
    ----------
    array : zarr.Array
        The array opened from ``root``.
    root : pathlib.Path
        Its folder (holding ``.zarray``).
    run : str
        Named in the message.
    meta : mapping
        Its ``.zarray`` metadata.
    start : int or None
        First plane (axis 0) of the slab whose read failed.
    error : Exception
        The codec's error, quoted (cut to 200 characters).

    Returns
    -------
    ZarrChunkError
        To raise; its ``chunk_keys`` lists the chunks that failed to decode.
    """
    from topcup_bench.datasets.zarr_integrity import ZarrChunkError, chunk_keys

    first = start // int(array.chunks[0]) if array.ndim and start is not None else None
    start = start or 0
    bad = []
    for key, index in chunk_keys(dict(meta)):
        if first is not None and index and index[0] != first:
            continue
        try:
            array.blocks[index]
        except Exception:  # the codec's own error type varies
            bad.append(key)
    keys = ", ".join(repr(k) for k in bad[:10])
    keys += f" (+{len(bad) - 10} more)" if len(bad) > 10 else ""
    keys = keys or f"(of planes from {start})"
    array_name = f"{root.parent.name}/{root.name}"
    found = ZarrChunkError(
        str(root / bad[0]) if len(bad) == 1 else str(root),
        f"run {run!r}, array {array_name!r}, chunk {keys}: "
        f"cannot be decoded ({type(error).__name__}: {str(error)[:200]}); the chunk is "
        "corrupt: re-copy or re-generate the tomogram",
    )
    found.chunk_keys = bad  # the chunks that failed on their own (may be empty)
    return found


def digest_table(table: pd.DataFrame, columns: Sequence[str]) -> str:
    """Hex SHA-256 of the rows of ``table`` (restricted to ``columns``), sorted.

    Floats enter as ``repr`` of float64, strings as they are; the row order
    of the table does not matter, duplicates do.

    Parameters
    ----------
    table : pandas.DataFrame
        E.g. a ground-truth picks table (``experiment, particle_type, x, y, z``).
    columns : sequence of str
        Columns that define the content, in this order.
    """
    rows = sorted(
        tuple(_cell(v) for v in row)
        for row in table.loc[:, list(columns)].itertuples(index=False, name=None)
    )
    return digest_json({"columns": list(columns), "rows": rows})


def with_digest(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` plus ``"digest"``: :func:`digest_json` of the fields (an identity record)."""
    body = {k: v for k, v in fields.items() if k != "digest"}
    return {**body, "digest": digest_json(body)}


def same_dataset(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    """Whether two dataset identities describe the same data (equal ``"digest"``).

    Either argument may also be a results ``dataset`` record (holding
    ``"identity"``).  Identities without a digest (results written before
    schema version 2) are never the same as anything.

    Examples
    --------
    >>> same_dataset({"digest": "ab"}, {"identity": {"digest": "ab"}})
    True
    >>> same_dataset({"digest": "ab"}, {"config": "/x"})
    False
    """
    first, second = _digest_of(a), _digest_of(b)
    return first is not None and first == second


def _digest_of(record: Mapping[str, Any] | None) -> str | None:
    if not isinstance(record, Mapping):
        return None
    if isinstance(record.get("identity"), Mapping):
        record = record["identity"]
    digest = record.get("digest")
    return digest if isinstance(digest, str) and digest else None


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int)) and not isinstance(value, float):
        return int(value)
    try:
        return repr(float(value))
    except (TypeError, ValueError):
        return str(value)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
