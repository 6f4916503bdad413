"""A chunk whose header is whole but whose compressed bytes are damaged: a ZarrChunkError naming
the run, the array and the chunk (exit 2), never a codec's RuntimeError."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from topcup_bench.cli import main
from topcup_bench.datasets.catalog import open_dataset
from topcup_bench.datasets.zarr_integrity import ZarrChunkError
from topcup_bench.identity import digest_zarr_array

#: Compressible values: blosc's decoder notices damage to them (random floats decode as garbage).
DATA = np.random.default_rng(0).integers(0, 4, size=(16, 32, 32)).astype(np.float32)


def _flip(path, start=200, stop=1200):
    data = bytearray(path.read_bytes())
    for i in range(start, min(stop, len(data))):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def test_digest_names_the_undecodable_chunk(tmp_path):
    group = zarr.open_group(str(tmp_path / "t.zarr"), mode="w")
    group.create_dataset("0", data=DATA, chunks=(8, 32, 32), dimension_separator="/")
    array = tmp_path / "t.zarr" / "0"
    whole = digest_zarr_array(array, run="TS_1")
    _flip(array / "1" / "0" / "0")
    with pytest.raises(ZarrChunkError) as caught:
        digest_zarr_array(array, run="TS_1")
    message = str(caught.value)
    assert message.startswith(
        f"{array / '1' / '0' / '0'}: run 'TS_1', array 't.zarr/0', chunk '1/0/0'"
    )
    assert "cannot be decoded" in message and "'0/0/0'" not in message
    assert caught.value.chunk_keys == ["1/0/0"]
    assert whole  # the undamaged array digested


def _damaged_phantom(tmp_path, monkeypatch):
    monkeypatch.setenv("TOPCUP_BENCH_CACHE", str(tmp_path / "cache"))
    dataset = open_dataset("phantom:tiny", progress=False)
    run = dataset.runs[-1]
    array = next((tmp_path / "cache").rglob(f"{run}/VoxelSpacing*/denoised.zarr/0"))
    chunk = sorted(p for p in array.rglob("*") if p.is_file() and not p.name.startswith("."))[0]
    data = bytearray(chunk.read_bytes())
    middle = len(data) // 2
    for i in range(middle, middle + 1000):
        data[i] ^= 0xFF
    chunk.write_bytes(bytes(data))
    return dataset, run, array


def test_run_on_a_damaged_phantom_exits_2_naming_the_chunk(tmp_path, monkeypatch, capsys):
    _, run, _ = _damaged_phantom(tmp_path, monkeypatch)
    code = main(
        [
            "run",
            "--dataset",
            "phantom:tiny",
            "--pickers",
            "oracle",
            "--split",
            "all",
            "--quiet",
            "--no-report",
            "--bootstrap",
            "20",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"run {run!r}, array 'denoised.zarr/0'" in err
    assert "corrupt" in err and "Traceback" not in err and "unexpected" not in err


def test_tomogram_read_names_the_chunk(tmp_path, monkeypatch):
    dataset, run, _ = _damaged_phantom(tmp_path, monkeypatch)
    with pytest.raises(ZarrChunkError, match=f"run {run!r}, array 'denoised.zarr/0', chunk"):
        dataset.tomogram(run)
