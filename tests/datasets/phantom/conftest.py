"""Shared fixtures of the phantom tests: one tiny run per flavour set, generated once."""

from __future__ import annotations

import pytest

from topcup_bench.datasets.phantom import generate_run, resolve_preset


@pytest.fixture(scope="package")
def tiny():
    return resolve_preset("tiny")


@pytest.fixture(scope="package")
def tiny_run(tiny):
    return generate_run(tiny, 11, flavours=("denoised", "wbp"))
