"""Where (picker, run) tasks execute: ``serial``, ``processes`` or ``dask``.

Every executor maps a picklable function over argument tuples and yields
``(index, ok, value)`` as tasks finish (``value`` is the result or the
exception), so that one failing task never stops the others.  Worker
processes limit BLAS/OpenMP/torch threads to one each.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import AbstractContextManager
from typing import Any

from topcup_bench.errors import InputError, TopcupBenchError, short_repr
from topcup_bench.quiet import ignore_unactionable_warnings, quiet_dask_workers

__all__ = [
    "EXECUTORS",
    "make_executor",
    "limit_threads",
    "max_workers",
    "check_workers",
    "check_scheduler",
]

EXECUTORS = ("serial", "processes", "dask")

Outcome = tuple[int, bool, Any]


def limit_threads(threads: int = 1) -> None:
    """``threads`` threads (default one per worker) for BLAS, OpenMP and torch.

    Called in each worker; also ignores the warnings no user can act on
    (:mod:`topcup_bench.quiet`).
    """
    ignore_unactionable_warnings()
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = str(threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


class SerialExecutor(AbstractContextManager):
    """Run tasks one after the other in this process."""

    name = "serial"

    def map(self, fn: Callable[..., Any], tasks: Sequence[tuple]) -> Iterator[Outcome]:
        for index, arguments in enumerate(tasks):
            try:
                yield index, True, fn(*arguments)
            except Exception as error:  # reported per task, the others go on
                yield index, False, error

    def __exit__(self, *exc_info: object) -> None:
        return None


class ProcessExecutor(AbstractContextManager):
    """Run tasks in a pool of ``workers`` local processes."""

    name = "processes"

    def __init__(self, workers: int) -> None:
        self.pool = ProcessPoolExecutor(max_workers=workers, initializer=limit_threads)

    def map(self, fn: Callable[..., Any], tasks: Sequence[tuple]) -> Iterator[Outcome]:
        futures = {self.pool.submit(fn, *arguments): i for i, arguments in enumerate(tasks)}
        for future in as_completed(futures):
            error = future.exception()
            yield futures[future], error is None, future.result() if error is None else error

    def __exit__(self, *exc_info: object) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(AbstractContextManager):
    """Run tasks on a dask ``distributed`` cluster: a new LocalCluster or an existing scheduler."""

    name = "dask"

    def __init__(self, workers: int, scheduler: str | None = None, timeout_s: float = 5.0) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as error:  # pragma: no cover - dask is a dependency
            raise TopcupBenchError("the dask executor needs 'dask[distributed]'") from error
        self.cluster = None
        try:
            if scheduler:
                self.client = Client(scheduler, timeout=f"{timeout_s}s")
            else:
                with quiet_dask_workers():
                    self.cluster = LocalCluster(
                        n_workers=workers,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                    )
                self.client = Client(self.cluster)
        except (OSError, TimeoutError, ValueError) as error:
            raise InputError(
                "--scheduler",
                f"cannot reach the dask scheduler at {scheduler!r} within "
                f"{timeout_s:g} s ({type(error).__name__}: {error})",
            ) from None
        self.client.run(limit_threads)

    def map(self, fn: Callable[..., Any], tasks: Sequence[tuple]) -> Iterator[Outcome]:
        from dask.distributed import as_completed as dask_completed

        futures = {
            self.client.submit(fn, *arguments, pure=False): i for i, arguments in enumerate(tasks)
        }
        for future in dask_completed(futures):
            if future.status == "error":
                yield futures[future], False, future.exception()
            else:
                yield futures[future], True, future.result()

    def __exit__(self, *exc_info: object) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def max_workers() -> int:
    """The most ``--workers`` accepted: 4 per CPU core, at least 8.

    More processes than that only thrash the machine (``--workers 100000`` used
    to start a hundred thousand of them).
    """
    return max(8, 4 * (os.cpu_count() or 1))


def check_workers(workers: int, source: str = "--workers") -> None:
    """Refuse a worker count above :func:`max_workers`, naming ``source``.

    Raises
    ------
    InputError
        ``workers`` > :func:`max_workers`.
    """
    limit = max_workers()
    if workers > limit:
        raise InputError(
            source,
            f"at most {limit} workers (4 per CPU core on this machine, at least 8), "
            f"found {workers}",
        )


_SCHEDULER = re.compile(
    r"^(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://)?"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(?P<port>[0-9]{1,5})/?$"
)
_SCHEDULER_SCHEMES = ("tcp", "tls", "ucx", "ws", "wss")


def check_scheduler(address: str, source: str = "--scheduler") -> None:
    """Refuse a dask scheduler address that is not ``[tcp://]host:port``, naming ``source``.

    Parameters
    ----------
    address : str
        ``tcp://host:port`` or ``host:port`` (``tls``, ``ucx``, ``ws`` and
        ``wss`` schemes are accepted too); the port is 1 to 65535.

    Raises
    ------
    InputError
        Any other text.

    Examples
    --------
    >>> check_scheduler("tcp://127.0.0.1:8786")
    >>> check_scheduler("scheduler.local:8786")
    """
    match = _SCHEDULER.match(address.strip())
    scheme = match and match.group("scheme")
    if (
        match is None
        or (scheme is not None and scheme.lower() not in _SCHEDULER_SCHEMES)
        or not 1 <= int(match.group("port")) <= 65535
    ):
        raise InputError(
            source,
            "expected a dask scheduler address tcp://HOST:PORT or HOST:PORT (port 1 to "
            f"65535), found {short_repr(address)}",
        )


def make_executor(
    name: str, *, workers: int = 2, scheduler: str | None = None, tasks: int | None = None
):
    """Create the executor ``name`` (use it as a context manager).

    ``workers`` is capped at ``tasks`` (the most tasks one ``map`` gets), when
    given: never more processes than there is work for.
    """
    if tasks is not None:
        workers = max(1, min(workers, tasks))
    if name == "serial":
        return SerialExecutor()
    if name == "processes":
        return ProcessExecutor(workers)
    if name == "dask":
        return DaskExecutor(workers, scheduler)
    raise InputError("--executor", f"expected one of {list(EXECUTORS)}, found {name!r}")
