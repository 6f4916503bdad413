"""Fixtures shared by the runner tests: a private cache and the three-run tiny phantom."""

import pytest

from topcup_bench.datasets.catalog import open_dataset

#: Three tiny runs: one train run, two test runs.
TINY = "phantom:tiny?runs=3&test=2"


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    """One cache folder per session, so phantoms are generated once."""
    folder = tmp_path_factory.getbasetemp() / "tb-cache"
    monkeypatch.setenv("TOPCUP_BENCH_CACHE", str(folder))
    return folder


@pytest.fixture
def dataset():
    """The tiny phantom dataset."""
    return open_dataset(TINY, progress=False)
