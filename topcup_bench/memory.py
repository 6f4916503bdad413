"""Refuse work that would not fit in memory, before allocating it.

A phantom of a huge shape or a bootstrap of a billion resamples would
otherwise be killed by the operating system (no message at all) or fail deep
inside numpy.  :func:`check_fits` compares an estimate with the memory the
machine has available and raises an :class:`~topcup_bench.errors.InputError`
naming the flag or knob, the estimate and what is available.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from topcup_bench.errors import InputError

__all__ = ["available_bytes", "check_disk_fits", "check_fits", "format_bytes", "free_disk_bytes"]

#: Share of the available memory one allocation may take (the rest: Python, other buffers).
_SHARE = 0.8


def available_bytes() -> int | None:
    """Memory available to new allocations, in bytes (None when it cannot be told)."""
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        return int(psutil.virtual_memory().available)
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def format_bytes(n_bytes: float) -> str:
    """``1536`` → ``"1.5 KiB"``.

    Examples
    --------
    >>> format_bytes(3 * 2**30)
    '3.0 GiB'
    """
    value = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1024
    return f"{value:.1f} PiB"  # pragma: no cover


def check_fits(estimate_bytes: float, source: str, what: str) -> None:
    """Raise when ``estimate_bytes`` exceeds what this machine can give.

    Parameters
    ----------
    estimate_bytes : float
        Estimated peak memory of the work, in bytes.
    source : str
        The flag or knob that sets the size (e.g. ``"--bootstrap"``), named first.
    what : str
        What needs the memory, e.g. ``"1000000000 bootstrap resamples of 7 runs"``.

    Raises
    ------
    InputError
        The estimate exceeds 80 % of the available memory.
    """
    available = available_bytes()
    if available is None or estimate_bytes <= _SHARE * available:
        return
    raise InputError(
        source,
        f"{what} need about {format_bytes(estimate_bytes)} of memory; this machine has "
        f"{format_bytes(available)} available. Choose a smaller value.",
    )


def free_disk_bytes(folder: str | os.PathLike[str]) -> int | None:
    """Free space of the file system that holds ``folder`` (or its nearest existing parent)."""
    path = Path(folder).absolute()
    for candidate in (path, *path.parents):
        if candidate.exists():
            try:
                return int(shutil.disk_usage(candidate).free)
            except OSError:
                return None
    return None


def check_disk_fits(
    estimate_bytes: float, folder: str | os.PathLike[str], source: str, what: str
) -> None:
    """Raise when writing ``estimate_bytes`` into ``folder`` would fill its disk.

    Parameters
    ----------
    estimate_bytes : float
        Estimated bytes to write (an upper bound, e.g. uncompressed).
    folder : str or os.PathLike
        Where they go (need not exist yet: its nearest existing parent is asked).
    source : str
        The flag that sets the size (e.g. ``"--runs"``), named first.
    what : str
        What is written, e.g. ``"100000 runs of 48 x 96 x 96 voxels"``.

    Raises
    ------
    InputError
        The estimate exceeds the free space of ``folder``'s file system.
    """
    free = free_disk_bytes(folder)
    if free is None or estimate_bytes <= free:
        return
    raise InputError(
        source,
        f"{what} need up to {format_bytes(estimate_bytes)} of disk; {folder} has "
        f"{format_bytes(free)} free. Choose a smaller value or another folder.",
    )
