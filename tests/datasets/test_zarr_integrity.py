"""Chunk checks before decoding: missing chunks and truncated chunks are errors, never zeros."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numcodecs
import numpy as np
import pytest
import zarr

from topcup_bench.datasets.catalog import open_dataset
from topcup_bench.datasets.kaggle_layout import KaggleDataset
from topcup_bench.datasets.zarr_integrity import ZarrChunkError, check_zarr_chunks
from topcup_bench.errors import InputError

DATA = np.random.default_rng(0).normal(size=(8, 12, 16)).astype(np.float32)


def _array(folder, compressor="default", separator="."):
    group = zarr.open_group(str(folder), mode="w")
    options = {} if compressor == "default" else {"compressor": compressor}
    group.create_dataset("0", data=DATA, chunks=(4, 8, 8), dimension_separator=separator, **options)
    return folder / "0"


@pytest.mark.parametrize(
    "compressor", ["default", numcodecs.Zlib(level=1), numcodecs.GZip(), None], ids=str
)
@pytest.mark.parametrize("separator", [".", "/"])
def test_whole_arrays_pass_and_every_chunk_is_checked(tmp_path, compressor, separator):
    array = _array(tmp_path / "t.zarr", compressor, separator)
    check_zarr_chunks(array, run="TS_1")  # 2 x 2 x 2 chunks, all present
    key = separator.join(["1", "1", "1"])
    (array / key).unlink()
    with pytest.raises(ZarrChunkError, match=f"run 'TS_1', array .*t.zarr/0, chunk '{key}'"):
        check_zarr_chunks(array, run="TS_1")


@pytest.mark.parametrize("compressor", ["default", numcodecs.Zlib(level=1), None], ids=str)
def test_truncated_chunks_are_errors(tmp_path, compressor):
    array = _array(tmp_path / "t.zarr", compressor)
    chunk = array / "0.1.0"
    whole = chunk.read_bytes()
    for size in (len(whole) - 1, len(whole) // 2, 10, 0):
        chunk.write_bytes(whole[:size])
        with pytest.raises(ZarrChunkError, match="chunk '0.1.0'") as caught:
            check_zarr_chunks(array, run="TS_1")
        assert isinstance(caught.value, InputError) and "TS_1" in str(caught.value)
    chunk.write_bytes(whole + b"\0\0")  # trailing bytes: not what was written either
    if compressor == "default":
        with pytest.raises(ZarrChunkError, match="trailing bytes"):
            check_zarr_chunks(array, run="TS_1")


def test_unreadable_metadata_is_an_error(tmp_path):
    array = _array(tmp_path / "t.zarr")
    (array / ".zarray").write_text("{not json")
    with pytest.raises(ZarrChunkError, match="unreadable zarr array metadata"):
        check_zarr_chunks(array, run="TS_1")
    (array / ".zarray").write_text(json.dumps({"shape": "big", "chunks": [4]}))
    with pytest.raises(ZarrChunkError, match="'shape' must be a list"):
        check_zarr_chunks(array, run="TS_1")


def _kaggle(tmp_path):
    base = tmp_path / "kaggle"
    store = base / "train/static/ExperimentRuns/TS_1/VoxelSpacing10.000/denoised.zarr"
    array = _array(store)
    (base / "train/overlay/ExperimentRuns/TS_1/Picks").mkdir(parents=True)
    return base, array


def test_kaggle_tomogram_with_a_missing_chunk_is_an_error_not_zeros(tmp_path):
    base, array = _kaggle(tmp_path)
    dataset = KaggleDataset(base)
    np.testing.assert_array_equal(dataset.tomogram("TS_1").data, DATA)
    (array / "1.0.1").unlink()
    assert zarr.open_array(str(array), mode="r")[4:, :8, 8:].max() == 0  # zarr: silent zeros
    with pytest.raises(ZarrChunkError, match="run 'TS_1', array .*denoised.zarr/0, chunk '1.0.1'"):
        dataset.tomogram("TS_1")
    with pytest.raises(ZarrChunkError, match="chunk '1.0.1'"):
        dataset.identity()


def test_truncated_blosc_chunk_of_a_phantom_is_an_error_in_a_process_that_survives(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("TOPCUP_BENCH_CACHE", str(tmp_path / "cache"))
    dataset = open_dataset("phantom:tiny?runs=2&test=1", progress=False)
    run = dataset.runs[1]
    array = dataset._local_array(run)
    chunk = next(p for p in sorted(array.rglob("*")) if p.is_file() and p.name != ".zarray")
    chunk.write_bytes(chunk.read_bytes()[: chunk.stat().st_size // 3])
    # decoding in a child process: a segfault there would show as a negative return code
    code = (
        "from topcup_bench.datasets.catalog import open_dataset\n"
        "from topcup_bench.errors import InputError\n"
        f"d = open_dataset({dataset.spec!r}, progress=False)\n"
        "try:\n"
        f"    d.tomogram({run!r})\n"
        "except InputError as error:\n"
        "    print('ERROR', error)\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert child.returncode == 0, child.stderr[-2000:]
    assert f"run {run!r}" in child.stdout and "truncated" in child.stdout
    key = chunk.relative_to(array).as_posix()
    with pytest.raises(ZarrChunkError, match=f"chunk '{key}'"):
        dataset.tomogram(run)
    dataset.tomogram(dataset.runs[0])  # the other run still reads
    shutil.rmtree(tmp_path / "cache")


def test_blosc_block_offsets_outside_the_chunk_are_errors(tmp_path):
    array = _array(tmp_path / "t.zarr", numcodecs.Blosc(blocksize=256))
    chunk = array / "1.1.1"
    data = bytearray(chunk.read_bytes())
    data[16:20] = (len(data) + 100).to_bytes(4, "little")
    chunk.write_bytes(bytes(data))
    with pytest.raises(ZarrChunkError, match="chunk '1.1.1'.*corrupt blosc chunk"):
        check_zarr_chunks(array, run="TS_1")


def test_incompressible_blosc_chunks_stored_as_copies_pass(tmp_path):
    array = _array(tmp_path / "t.zarr", numcodecs.Blosc(clevel=0))
    check_zarr_chunks(array, run="TS_1")
    chunk = array / "0.0.0"
    chunk.write_bytes(chunk.read_bytes()[:-4])
    with pytest.raises(ZarrChunkError, match="truncated"):
        check_zarr_chunks(array, run="TS_1")


def test_run_with_a_missing_chunk_exits_2_naming_run_and_chunk_before_picking(
    tmp_path, monkeypatch, capsys
):
    from topcup_bench.cli import main

    monkeypatch.setenv("TOPCUP_BENCH_CACHE", str(tmp_path / "cache"))
    dataset = open_dataset("phantom:tiny?runs=3&test=2", progress=False)
    array = dataset._local_array("TS_002")
    chunk = next(p for p in sorted(array.rglob("*")) if p.is_file() and p.name != ".zarray")
    chunk.unlink()
    out = tmp_path / "out"
    status = main(["run", "--dataset", dataset.spec, "--pickers", "oracle,blob", "--out", str(out)])
    err = capsys.readouterr().err
    key = chunk.relative_to(array).as_posix()
    assert status == 2, err
    assert "run 'TS_002'" in err and f"chunk '{key}'" in err and "missing" in err
    assert "Traceback" not in err
    assert not (out / "results.json").exists()
    assert not (tmp_path / "cache" / "picks").exists()  # nothing was picked or cached
