"""Shared fixtures of the TopCUP tests."""

import pytest


@pytest.fixture(scope="session")
def tiny_phantom(tmp_path_factory):
    """``phantom:tiny-easy`` with 3 runs (2 train, 1 test), generated once into a private cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("TOPCUP_BENCH_CACHE", str(tmp_path_factory.mktemp("topcup-cache")))
    from topcup_bench.datasets.catalog import open_dataset

    yield open_dataset("phantom:tiny-easy?runs=3&test=1", progress=False)
    mp.undo()
