"""Silence third-party messages that a topcup-bench user cannot act on.

Only named messages are silenced; every other warning still shows.

* matplotlib's font-cache messages ("Matplotlib is building the font cache;
  this may take a moment.", "generated new fontManager"): a filter on the
  ``matplotlib.font_manager`` logger, attached when this module is imported.
  matplotlib builds its cache when ``matplotlib.font_manager`` is first
  imported, so :mod:`topcup_bench.cli` imports this module before anything
  that imports matplotlib.
* Library log records below WARNING: copick, when imported, sets the root
  logger to INFO with a handler that writes to standard output, so any
  library's INFO record would land between the leaderboard's lines.
  :func:`quiet_library_logging` turns them off for the length of a command.
* Warnings (:func:`ignore_unactionable_warnings`): dask's "Sending large graph
  of size ..." (the dask executor sends each task its fitted picker, by design)
  and joblib's "Inside a Dask worker with daemon=True, setting n_jobs=1"
  (scikit-learn in a dask worker: workers run one thread each anyway), and
  scikit-learn's "`sklearn.utils.parallel.delayed` should be used with
  `sklearn.utils.parallel.Parallel` ...", which a random forest's prediction
  threads emit now and then (one line per tree: 1,464 lines in one
  ``phantom:paper`` run); scikit-learn's configuration is the default in every
  thread here, so nothing is lost.
* dask workers' INFO log lines ("Start worker at ...", "Run out-of-band
  function ..."): workers started inside :func:`quiet_dask_workers` log
  warnings and errors only.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

__all__ = [
    "UNACTIONABLE_WARNINGS",
    "FontCacheFilter",
    "ignore_unactionable_warnings",
    "quiet_dask_workers",
    "quiet_library_logging",
    "silence_font_cache_messages",
]

#: (start of the message, category) of the warnings that are ignored.
UNACTIONABLE_WARNINGS: tuple[tuple[str, type[Warning]], ...] = (
    ("Sending large graph of size", UserWarning),  # distributed.client
    ("Inside a Dask worker with daemon=True, setting n_jobs=1", UserWarning),  # joblib
    # scikit-learn, from the forest's threads (intermittent, one per tree and tomogram):
    ("`sklearn.utils.parallel.delayed` should be used with", UserWarning),
)

_FONT_CACHE_MESSAGES = ("Matplotlib is building the font cache", "generated new fontManager")


class FontCacheFilter(logging.Filter):
    """Drop matplotlib's font-cache messages; let every other record through."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return not message.startswith(_FONT_CACHE_MESSAGES)


def silence_font_cache_messages() -> None:
    """Attach a :class:`FontCacheFilter` to the ``matplotlib.font_manager`` logger (once)."""
    logger = logging.getLogger("matplotlib.font_manager")
    if not any(isinstance(existing, FontCacheFilter) for existing in logger.filters):
        logger.addFilter(FontCacheFilter())


def ignore_unactionable_warnings() -> None:
    """Ignore the warnings of :data:`UNACTIONABLE_WARNINGS` (in this process, from now on).

    Call it inside :func:`warnings.catch_warnings` to limit it to a block; the
    executors call it in every worker process.
    """
    for start, category in UNACTIONABLE_WARNINGS:
        warnings.filterwarnings("ignore", message=re.escape(start), category=category)


@contextmanager
def quiet_library_logging() -> Iterator[None]:
    """Turn off log records below WARNING, of every logger, inside the block.

    topcup-bench itself does not log; libraries' INFO records would reach
    standard output through the handler copick installs.
    """
    previous = logging.root.manager.disable
    logging.disable(logging.INFO)
    try:
        yield
    finally:
        logging.disable(previous)


def quiet_dask_workers() -> AbstractContextManager[Any]:
    """A dask configuration block: dask workers started inside it log warnings and errors only.

    A worker process sets up its logging when it imports ``distributed``,
    before anything of ours runs in it, so the level travels in its
    environment (``DASK_LOGGING__DISTRIBUTED``, set only while the worker is
    spawned; a value already in the environment wins).
    """
    import dask

    return dask.config.set(
        {"distributed.nanny.pre-spawn-environ.DASK_LOGGING__DISTRIBUTED": "warning"}
    )


silence_font_cache_messages()
