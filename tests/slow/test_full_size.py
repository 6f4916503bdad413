"""Every built-in picker on one full-size tomogram (184 × 630 × 630): slow, ``--run-slow``.

The fixture (``TOPCUP_BENCH_FULL_SPEC``, default ``phantom:full?runs=2&test=1``)
is generated once per session into the session's private cache; each picker is
fitted and run in fresh processes by ``benchmarks/measure_full_size.py``, which
measures the peak memory of each process (``ru_maxrss``, and the process tree's
resident memory sampled with psutil).  Memory is a limit the issue sets (12 GB
per picker on 2 cores), not a timing.  Set ``TOPCUP_BENCH_FULL_SPEC=phantom:tiny``
to run the same checks in a few minutes.  With ``TOPCUP_BENCH_FULL_REPORT=DIR``
the figures are also written there (``full_size.json``, ``full_size.md``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from benchmarks.measure_full_size import (
    LIMIT_GB,
    MEASURED,
    TOPCUP_MEMBERS,
    full_spec,
    make_checkpoints,
    markdown_table,
    measure_picker,
    picker_params,
    report_document,
    run_child,
)

pytestmark = pytest.mark.slow

THREADS = 2
TIMEOUT_S = 4 * 3600.0
COLUMNS = ["experiment", "particle_type", "x", "y", "z", "score"]


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    """The opened dataset's facts, the TopCUP checkpoints, and the rows measured so far."""
    folder = tmp_path_factory.mktemp("full-size")
    spec = full_spec()
    opened = run_child(
        {"phase": "generate", "dataset": spec}, folder, threads=THREADS, timeout_s=TIMEOUT_S
    )
    assert opened["status"] == "ok", opened["reason"]
    checkpoints = make_checkpoints(
        spec, folder / "checkpoints", folder, threads=THREADS, timeout_s=TIMEOUT_S
    )
    facts = {"spec": spec, "folder": folder, "opened": opened, "checkpoints": checkpoints}
    rows: list[dict] = []
    yield facts, rows
    target = os.environ.get("TOPCUP_BENCH_FULL_REPORT", "").strip()
    if target and rows:
        report = report_document(spec, opened, rows, threads=THREADS, measured={})
        out = Path(target)
        out.mkdir(parents=True, exist_ok=True)
        (out / "full_size.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
        (out / "full_size.md").write_text(markdown_table(report), encoding="utf-8")


def test_fixture_is_the_full_size(fixture):
    facts, _ = fixture
    opened = facts["opened"]
    if facts["spec"] == "phantom:full?runs=2&test=1":
        assert opened["shape_zyx"] == [184, 630, 630]
        assert opened["runs"] == ["TS_000", "TS_001"]
    assert opened["run"] not in opened["train_runs"]
    assert len(facts["checkpoints"]) == TOPCUP_MEMBERS


@pytest.mark.parametrize("name", MEASURED)
def test_picker_at_full_size(fixture, name):
    facts, rows = fixture
    opened = facts["opened"]
    row = measure_picker(
        name,
        picker_params(name, THREADS, facts["checkpoints"]),
        spec=facts["spec"],
        run=opened["run"],
        train_runs=opened["train_runs"],
        folder=facts["folder"] / "work",
        threads=THREADS,
        timeout_s=TIMEOUT_S,
    )
    rows.append(row)
    if row["status"] == "skipped":  # pytme or octopi not installed: their own clear line
        assert name in ("pytme", "octopi"), row["reason"]
        pytest.skip(row["reason"])
    assert row["status"] == "ok", row["reason"]
    assert row["columns"] == COLUMNS
    assert row["picks_inside_extent"], row["extent_angstrom_xyz"]
    assert row["peak_gb"] < LIMIT_GB, row
    if "fit_peak_gb" in row:
        assert row["fit_peak_gb"] < LIMIT_GB, row
        assert row["fit_max_live_tomograms"] == 1  # one training run in memory at a time
    assert row["max_live_tomograms"] == 1  # the picker gets one tomogram, loads none
    truth = row["n_truth"]
    if name == "oracle":
        assert row["true_positives"] == truth
    if name in ("blob", "template"):  # they find some of the biggest, easiest particles
        assert row["n_picks"] > 0
        assert row["true_positives"]["ribosome"] >= 1, row["true_positives"]


def test_runner_loads_one_tomogram_at_a_time(fixture):
    """``run_pickers`` (serial executor) hands each picker one tomogram at a time."""
    from topcup_bench.datasets.catalog import open_dataset
    from topcup_bench.pickers import create_picker
    from topcup_bench.runner import run_pickers
    from topcup_bench.testing import track_loaded_tomograms

    facts, _ = fixture
    dataset = open_dataset(facts["spec"], progress=False)
    counts = track_loaded_tomograms(dataset)
    runs = list(dataset.runs)
    outcomes = run_pickers(
        [create_picker("random")], dataset, runs, [], cache_root=None, progress=False
    )
    assert [o.status for o in outcomes] == ["ok"]
    assert counts and max(counts) == 1, counts
