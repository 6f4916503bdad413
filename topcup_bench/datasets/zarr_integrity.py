"""Check a stored zarr (v2) array's chunks before decoding it.

zarr reads a missing chunk file as the array's fill value, so a tomogram with
a lost chunk would be scored as zeros; and numcodecs can crash the process
(a segmentation fault) on a truncated blosc chunk.  :func:`check_zarr_chunks`
checks, from file sizes and compressed headers only, that every chunk the
array's ``shape`` and ``chunks`` imply exists and is whole:

* blosc: the 16-byte header's compressed size (``cbytes``) equals the file
  size, and its uncompressed size (``nbytes``) is the chunk's size;
* no compressor: the file holds exactly one chunk's bytes;
* other codecs (zlib, gzip, zstd, ...): the chunk is decoded on its own and
  any decoding error is reported.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from topcup_bench.errors import InputError

__all__ = [
    "ZarrChunkError",
    "blosc_block_spans",
    "check_zarr_chunks",
    "chunk_keys",
    "is_local_zarr_array",
    "read_array_metadata",
]

_BLOSC_HEADER = 16
_BLOSC_MEMCPYED = 0x02


class ZarrChunkError(InputError):
    """A chunk of a stored array is missing, truncated or undecodable."""


def is_local_zarr_array(array_path: str | os.PathLike[str]) -> bool:
    """Whether ``array_path`` is a local folder holding a zarr v2 ``.zarray``."""
    return (Path(array_path) / ".zarray").is_file()


def check_zarr_chunks(array_path: str | os.PathLike[str], *, run: str) -> None:
    """Raise if a chunk of the zarr v2 array at ``array_path`` is missing or not whole.

    Parameters
    ----------
    array_path : str or os.PathLike
        The array's folder (holding ``.zarray``), e.g. ``denoised.zarr/0``.
    run : str
        The run the array belongs to, named in the error.

    Raises
    ------
    ZarrChunkError
        The metadata is unreadable, or a chunk file is missing, truncated or
        cannot be decoded; the message names the run, the array and the chunk key.
    """
    root = Path(array_path)
    meta = read_array_metadata(root, run=run)
    chunk_nbytes = _chunk_nbytes(meta, tuple(meta["chunks"]))
    compressor = meta.get("compressor")
    for key, _index in chunk_keys(meta):
        path = root / key
        where = f"run {run!r}, array {root}, chunk {key!r}"
        if not path.is_file():
            raise ZarrChunkError(
                str(path),
                f"{where}: chunk file missing (zarr would read it as fill values); "
                "the tomogram is incomplete: re-copy or re-process it",
            )
        _check_chunk(path, compressor, chunk_nbytes, where)


def chunk_keys(meta: dict[str, Any]) -> list[tuple[str, tuple[int, ...]]]:
    """``(key, chunk index)`` of every chunk that the array's ``shape`` and ``chunks`` imply.

    Examples
    --------
    >>> chunk_keys({"shape": [3, 2], "chunks": [2, 2], "dimension_separator": "/"})
    [('0/0', (0, 0)), ('1/0', (1, 0))]
    """
    shape, chunks = meta["shape"], meta["chunks"]
    separator = meta.get("dimension_separator") or "."
    grid = [
        range(math.ceil(n / c)) if c > 0 else range(0) for n, c in zip(shape, chunks, strict=True)
    ]
    if not shape:
        return [("0", ())]
    return [
        (separator.join(str(i) for i in index), tuple(index)) for index in itertools.product(*grid)
    ]


def read_array_metadata(root: str | os.PathLike[str], *, run: str) -> dict[str, Any]:
    """The ``.zarray`` of the array at ``root``, with ``shape`` and ``chunks`` checked.

    Raises
    ------
    ZarrChunkError
        Unreadable metadata, or ``shape``/``chunks`` not lists of non-negative integers.
    """
    root = Path(root)
    meta = _read_metadata(root, run)
    for field in ("shape", "chunks"):
        _ints(meta, field, root, run)
    if len(meta["shape"]) != len(meta["chunks"]):
        raise ZarrChunkError(
            str(root / ".zarray"),
            f"run {run!r}: 'shape' {meta['shape']} and 'chunks' {meta['chunks']} differ in length",
        )
    return meta


def _read_metadata(root: Path, run: str) -> dict[str, Any]:
    path = root / ".zarray"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ZarrChunkError(
            str(path), f"run {run!r}: unreadable zarr array metadata ({error})"
        ) from None
    if not isinstance(meta, dict):
        raise ZarrChunkError(str(path), f"run {run!r}: zarr array metadata is not a JSON object")
    return meta


def _ints(meta: dict[str, Any], field: str, root: Path, run: str) -> tuple[int, ...]:
    value = meta.get(field)
    if not isinstance(value, list) or not all(isinstance(v, int) and v >= 0 for v in value):
        raise ZarrChunkError(
            str(root / ".zarray"),
            f"run {run!r}: field {field!r} must be a list of non-negative integers, "
            f"found {str(value)[:80]}",
        )
    return tuple(value)


def _chunk_nbytes(meta: dict[str, Any], chunks: tuple[int, ...]) -> int | None:
    """Bytes of one decoded chunk, or None when filters or the dtype make it unknown."""
    if meta.get("filters"):
        return None
    try:
        dtype = meta["dtype"]
        dtype = np.dtype([tuple(f) for f in dtype] if isinstance(dtype, list) else dtype)
    except (KeyError, TypeError, ValueError):
        return None
    if dtype.hasobject:
        return None
    return int(np.prod(chunks, dtype=np.int64)) * dtype.itemsize


def _check_chunk(path: Path, compressor: Any, chunk_nbytes: int | None, where: str) -> None:
    size = path.stat().st_size
    codec = compressor.get("id") if isinstance(compressor, dict) else None
    if compressor is None:
        if chunk_nbytes is not None and size != chunk_nbytes:
            raise ZarrChunkError(
                str(path), f"{where}: {size} bytes, expected {chunk_nbytes} (truncated?)"
            )
        return
    if codec == "blosc":
        _check_blosc(path, size, chunk_nbytes, where)
        return
    _try_decode(path, compressor, where)


def _check_blosc(path: Path, size: int, chunk_nbytes: int | None, where: str) -> None:
    with open(path, "rb") as handle:
        header = handle.read(_BLOSC_HEADER)
    if len(header) < _BLOSC_HEADER:
        raise ZarrChunkError(
            str(path), f"{where}: {size} bytes, shorter than a blosc header (truncated)"
        )
    nbytes, _blocksize, cbytes = struct.unpack("<III", header[4:16])
    if cbytes != size:
        raise ZarrChunkError(
            str(path),
            f"{where}: the blosc header says {cbytes} compressed bytes, the file has {size} "
            f"({'truncated' if size < cbytes else 'trailing bytes'}); not decoded",
        )
    if chunk_nbytes is not None and nbytes != chunk_nbytes:
        raise ZarrChunkError(
            str(path),
            f"{where}: the blosc header says {nbytes} decoded bytes, a chunk holds "
            f"{chunk_nbytes}; not decoded",
        )
    with open(path, "rb") as handle:
        head = handle.read(_BLOSC_HEADER + 4 * _blosc_nblocks(header))
    try:
        blosc_block_spans(head, size)
    except ValueError as error:
        raise ZarrChunkError(
            str(path), f"{where}: corrupt blosc chunk ({error}); not decoded"
        ) from None


def blosc_block_spans(data: bytes, size: int | None = None) -> list[tuple[int, int]] | None:
    """``(start, end)`` byte span of each block of a blosc (v1 format) chunk, in block order.

    Blosc compresses a chunk's blocks independently and, with several
    threads, stores them in the order they finish; the spans let a digest
    read the blocks in a fixed order.  None for a chunk stored uncompressed
    (``memcpyed``: the values follow the 16-byte header).

    Parameters
    ----------
    data : bytes
        The chunk, or at least its header and block offsets (16 + 4 x blocks bytes).
    size : int, optional
        The chunk's full size, default ``len(data)``.

    Raises
    ------
    ValueError
        The header or the block offsets are inconsistent with ``size``.
    """
    size = len(data) if size is None else size
    if len(data) < _BLOSC_HEADER:
        raise ValueError(f"{len(data)} bytes, shorter than a blosc header")
    nbytes, blocksize, cbytes = struct.unpack("<III", data[4:16])
    if cbytes != size:
        raise ValueError(f"header says {cbytes} compressed bytes, found {size}")
    if data[2] & _BLOSC_MEMCPYED:
        if size != _BLOSC_HEADER + nbytes:
            raise ValueError(f"uncompressed chunk of {size} bytes, expected {16 + nbytes}")
        return None
    nblocks = _blosc_nblocks(data[:_BLOSC_HEADER])
    first = _BLOSC_HEADER + 4 * nblocks
    if len(data) < first or (nbytes and blocksize == 0):
        raise ValueError(f"{nblocks} block offsets do not fit in {len(data)} bytes")
    starts = struct.unpack(f"<{nblocks}i", data[_BLOSC_HEADER:first])
    if len(set(starts)) != nblocks or any(not first <= s < size for s in starts):
        raise ValueError("block offsets outside the chunk or repeated")
    ordered = sorted(starts)
    ends = dict(zip(ordered, [*ordered[1:], size], strict=True))
    return [(start, ends[start]) for start in starts]


def _blosc_nblocks(header: bytes) -> int:
    nbytes, blocksize = struct.unpack("<II", header[4:12])
    if header[2] & _BLOSC_MEMCPYED or nbytes == 0:
        return 0
    return math.ceil(nbytes / blocksize) if blocksize else 0


def _try_decode(path: Path, compressor: dict[str, Any], where: str) -> None:
    import numcodecs

    try:
        codec = numcodecs.get_codec(dict(compressor))
    except (ValueError, TypeError, KeyError):
        return  # an unknown codec: zarr will report it when reading
    try:
        codec.decode(path.read_bytes())
    except Exception as error:  # codecs raise many types for corrupt input
        raise ZarrChunkError(
            str(path), f"{where}: cannot decode ({type(error).__name__}: {error}); truncated?"
        ) from None
