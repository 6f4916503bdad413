"""Shared fixtures and options of the test suite."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

# The naive reference metric and the random cases are plain modules beside the tests.
sys.path.insert(0, str(Path(__file__).parent / "metrics"))


def pytest_addoption(parser):
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run the full-size (485-experiment) benchmark comparisons",
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="full-size benchmark; run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def make_table(rows, with_score=None):
    """Picks table from (experiment, particle_type, x, y, z[, score]) tuples."""
    columns = ["experiment", "particle_type", "x", "y", "z"]
    if rows and len(rows[0]) == 6 or with_score:
        columns.append("score")
    frame = pd.DataFrame(rows, columns=columns)
    for axis in "xyz":
        frame[axis] = frame[axis].astype(float)
    return frame


@pytest.fixture
def table():
    return make_table


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Keep generated phantoms and cached picks of the tests out of the user's cache."""
    import os

    previous = os.environ.get("TOPCUP_BENCH_CACHE")
    os.environ["TOPCUP_BENCH_CACHE"] = str(tmp_path_factory.mktemp("topcup-bench-cache"))
    yield
    if previous is None:
        os.environ.pop("TOPCUP_BENCH_CACHE", None)
    else:
        os.environ["TOPCUP_BENCH_CACHE"] = previous
