"""identity.py: canonical digests of JSON values, files, tables and stored zarr arrays."""

from __future__ import annotations

import math
import shutil
import struct

import numcodecs
import numpy as np
import pandas as pd
import zarr

from topcup_bench.identity import (
    canonical_json,
    digest_file,
    digest_json,
    digest_table,
    digest_zarr_array,
    same_dataset,
    with_digest,
)


def test_canonical_json_is_order_free_and_writes_non_finite_floats():
    assert canonical_json({"b": [1, 2.5], "a": "é"}) == '{"a":"é","b":[1,2.5]}'
    assert canonical_json({"x": math.nan, "y": -math.inf}) == '{"x":"NaN","y":"-Infinity"}'
    assert digest_json({"a": 1, "b": 2}) == digest_json({"b": 2, "a": 1})
    assert digest_json({"a": 1}) != digest_json({"a": 1.5})
    assert len(digest_json([])) == 64


def test_with_digest_hashes_the_other_fields_and_same_dataset_compares_digests():
    record = with_digest({"kind": "copick", "runs": ["a"]})
    assert record["digest"] == digest_json({"kind": "copick", "runs": ["a"]})
    assert with_digest(record) == record  # an old digest is not hashed into the new one
    other = with_digest({"kind": "copick", "runs": ["b"]})
    assert same_dataset(record, dict(record))
    assert same_dataset(record, {"identity": record, "spec": "phantom:x"})  # a results record
    assert not same_dataset(record, other)
    assert not same_dataset({"kind": "copick"}, {"kind": "copick"})  # no digest: never the same
    assert not same_dataset(None, record)


def test_table_digest_ignores_row_order_but_not_values():
    rows = pd.DataFrame(
        {
            "experiment": ["r1", "r2", "r1"],
            "particle_type": ["a", "b", "a"],
            "x": [1.0, 2.0, 3.0],
            "y": [0.5, 0.25, 0.125],
            "z": [10.0, 20.0, 30.0],
        }
    )
    columns = ["experiment", "particle_type", "x", "y", "z"]
    shuffled = rows.iloc[[2, 0, 1]].reset_index(drop=True)
    assert digest_table(rows, columns) == digest_table(shuffled, columns)
    moved = rows.copy()
    moved.loc[1, "x"] = 2.0000001
    assert digest_table(rows, columns) != digest_table(moved, columns)
    doubled = pd.concat([rows, rows.iloc[[0]]], ignore_index=True)
    assert digest_table(rows, columns) != digest_table(doubled, columns)


def test_file_digest_is_of_the_bytes(tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_bytes(b"x,y\n1,2\n")
    second.write_bytes(b"x,y\n1,2\n")
    assert digest_file(first) == digest_file(second)
    second.write_bytes(b"x,y\n1,3\n")
    assert digest_file(first) != digest_file(second)


def _array(folder, data):
    group = zarr.open_group(str(folder), mode="w")
    group.create_dataset("0", data=data, chunks=(4, 4, 4))
    return folder / "0"


def test_zarr_digest_is_of_the_stored_content_not_the_location(tmp_path, monkeypatch):
    data = np.arange(8 * 8 * 8, dtype=np.float32).reshape(8, 8, 8)
    array = _array(tmp_path / "one.zarr", data)
    copy = tmp_path / "elsewhere" / "two.zarr"
    shutil.copytree(tmp_path / "one.zarr", copy)
    (copy / "0" / ".zattrs").write_text('{"note": "attributes are not data"}')
    assert digest_zarr_array(array) == digest_zarr_array(copy / "0")

    opened = []
    original = zarr.open_array
    monkeypatch.setattr(zarr, "open_array", lambda *a, **k: opened.append(a) or original(*a, **k))
    before = digest_zarr_array(array)
    assert opened == []  # unchanged files: memoised, nothing decoded

    changed = data.copy()
    changed[5, 5, 5] += 1.0
    original(str(array), mode="r+")[:] = changed  # rewrites one chunk
    after = digest_zarr_array(array)
    assert after != before and len(opened) == 1  # decoded again
    original(str(array), mode="r+")[:] = data
    assert digest_zarr_array(array) == before


def test_zarr_digest_is_of_the_values_not_of_their_compression_or_chunking(tmp_path):
    data = np.random.default_rng(5).normal(size=(12, 10, 9)).astype(np.float32)
    stored = [
        _array(tmp_path / "blosc.zarr", data),
        tmp_path / "zlib.zarr" / "0",
        tmp_path / "raw.zarr" / "0",
    ]
    zarr.open_group(str(tmp_path / "zlib.zarr"), mode="w").create_dataset(
        "0", data=data, chunks=(5, 3, 9), compressor=numcodecs.Zlib(level=9)
    )
    zarr.open_group(str(tmp_path / "raw.zarr"), mode="w").create_dataset(
        "0", data=data, chunks=(12, 10, 9), compressor=None
    )
    digests = {digest_zarr_array(path) for path in stored}
    assert len(digests) == 1
    other = data.copy()
    other[11, 9, 8] = np.nextafter(other[11, 9, 8], np.float32(np.inf))  # one ulp, last voxel
    assert digest_zarr_array(_array(tmp_path / "other.zarr", other)) not in digests
    reshaped = data.reshape(12, 9, 10)  # same bytes, another shape
    assert digest_zarr_array(_array(tmp_path / "shape.zarr", reshaped)) not in digests


def _permuted_blocks(chunk: bytes) -> bytes:
    """The same blosc chunk with its blocks stored in reverse order (as threads may)."""
    from topcup_bench.datasets.zarr_integrity import blosc_block_spans

    spans = blosc_block_spans(chunk)
    first = 16 + 4 * len(spans)
    body, starts = b"", []
    for start, end in reversed(spans):
        starts.append(first + len(body))
        body += chunk[start:end]
    starts.reverse()
    return chunk[:16] + struct.pack(f"<{len(spans)}i", *starts) + body


def test_zarr_digest_does_not_depend_on_the_order_blosc_stored_its_blocks(tmp_path):
    data = np.random.default_rng(3).normal(size=(64, 64, 64)).astype(np.float32)
    group = zarr.open_group(str(tmp_path / "t.zarr"), mode="w")
    group.create_dataset(
        "0", data=data, chunks=(64, 64, 64), compressor=numcodecs.Blosc(blocksize=1 << 14)
    )
    chunk_path = tmp_path / "t.zarr" / "0" / "0.0.0"
    stored = chunk_path.read_bytes()
    before = digest_zarr_array(chunk_path.parent)
    permuted = _permuted_blocks(stored)
    assert permuted != stored and len(permuted) == len(stored)
    chunk_path.write_bytes(permuted)
    np.testing.assert_array_equal(zarr.open_array(str(chunk_path.parent), mode="r")[:], data)
    assert digest_zarr_array(chunk_path.parent) == before
