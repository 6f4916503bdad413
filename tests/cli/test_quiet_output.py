"""Quiet output: no matplotlib font-cache line, no dask or joblib warning a user cannot act on."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings

from topcup_bench.quiet import (
    FontCacheFilter,
    ignore_unactionable_warnings,
    quiet_library_logging,
)

_LARGE_GRAPH = "Sending large graph of size 19.28 MiB.\nThis may cause some slowdown."
_DAEMON = "Inside a Dask worker with daemon=True, setting n_jobs=1.\nPossible work-arounds:"
_SKLEARN_DELAYED = (
    "`sklearn.utils.parallel.delayed` should be used with `sklearn.utils.parallel.Parallel` to "
    "make it possible to propagate the scikit-learn configuration of the current thread to the "
    "joblib workers."
)


def test_a_fresh_matplotlib_cache_prints_nothing(tmp_path):
    config = tmp_path / "mpl"
    config.mkdir()
    env = {
        **os.environ,
        "MPLCONFIGDIR": str(config),
        "TOPCUP_BENCH_CACHE": str(tmp_path / "cache"),
        "COLUMNS": "100",
    }
    done = subprocess.run(
        [sys.executable, "-m", "topcup_bench", "list", "pickers"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert list(config.glob("fontlist-*.json"))  # the font cache was built in this run
    output = done.stdout + done.stderr
    assert "fontManager" not in output and "font cache" not in output
    assert done.stderr == ""  # nothing else either


def test_only_the_named_warnings_are_ignored():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ignore_unactionable_warnings()
        warnings.warn(_LARGE_GRAPH, UserWarning, stacklevel=1)
        warnings.warn(_DAEMON, UserWarning, stacklevel=1)
        warnings.warn(_SKLEARN_DELAYED, UserWarning, stacklevel=1)
        warnings.warn("Sending a small graph", UserWarning, stacklevel=1)
        warnings.warn(_LARGE_GRAPH, RuntimeWarning, stacklevel=1)  # another category
    assert [(str(w.message), w.category) for w in caught] == [
        ("Sending a small graph", UserWarning),
        (_LARGE_GRAPH, RuntimeWarning),
    ]


def test_the_font_cache_filter_drops_only_the_font_cache_messages():
    def record(message):
        return logging.LogRecord(
            "matplotlib.font_manager", logging.INFO, "f.py", 1, message, (), None
        )

    keep = FontCacheFilter()
    assert not keep.filter(record("generated new fontManager"))
    assert not keep.filter(record("Matplotlib is building the font cache; this may take a moment."))
    assert keep.filter(record("findfont: Font family 'Nope' not found."))
    assert FontCacheFilter in {
        type(f) for f in logging.getLogger("matplotlib.font_manager").filters
    }


def test_library_info_records_are_off_inside_the_block_only(caplog):
    logger = logging.getLogger("some.library")
    with caplog.at_level(logging.INFO, logger="some.library"):
        with quiet_library_logging():
            logger.info("chatter")
            logger.warning("a real problem")
        logger.info("after")
    assert [r.getMessage() for r in caplog.records] == ["a real problem", "after"]


_DASK_SCRIPT = """
import copick.impl.filesystem  # sets the root logger to INFO, writing to stdout (as in the CLI)
from topcup_bench.executors import DaskExecutor
from topcup_bench.quiet import quiet_library_logging

if __name__ == "__main__":
    with quiet_library_logging(), DaskExecutor(1) as executor:  # as topcup_bench.cli.main does
        print(list(executor.map(abs, [(-2,)])))
"""


def test_dask_workers_log_no_info_lines(tmp_path):
    script = tmp_path / "work.py"
    script.write_text(_DASK_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1", "DASK_TEMPORARY_DIRECTORY": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[(0, True, 2)]\n"  # the worker's lines are silenced ("Start worker at")
