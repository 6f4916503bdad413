"""What the topcup-bench cache folder holds, and clearing it safely.

The cache folder (:func:`topcup_bench.datasets.catalog.cache_dir`:
``$TOPCUP_BENCH_CACHE``, else ``$XDG_CACHE_HOME/topcup-bench``, else
``~/.cache/topcup-bench``) holds one subfolder per kind of entry:

========== ============================== =====================================
kind       subfolders                     entries
========== ============================== =====================================
phantoms   ``phantoms/``                  generated phantom projects
picks      ``picks/``                     cached picks tables, one per (picker, run)
topcup     ``topcup/``                    trained TopCUP ensembles (``model.pt`` files)
logs       ``logs/``                      log files of other tools' pickers
command    ``command-inputs/``,           inputs and trained models of
           ``command-models/``            ``command`` pickers
========== ============================== =====================================

A folder created by topcup-bench is marked with a ``CACHEDIR.TAG`` file (the
Cache Directory Tagging convention: backup tools skip the folder).  Clearing
is refused for a folder that is neither marked nor holds only the subfolders
above, so that a mistyped ``TOPCUP_BENCH_CACHE`` never deletes a user's
files; only the subfolders above are ever deleted, never a file beside them,
and a symbolic link is removed as a link, never followed.  A phantom that
another process is generating (its lock is held) is left in place.

Sizes are the bytes of the files (hard links counted once, links not
followed; ``du --apparent-size -s`` counts the same plus the folders).
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from topcup_bench.errors import InputError
from topcup_bench.folder_lock import FolderLock

__all__ = [
    "KINDS",
    "MARKER_NAME",
    "KindUsage",
    "CacheUsage",
    "ClearResult",
    "mark_cache",
    "is_marked",
    "cache_usage",
    "check_is_cache",
    "clear_cache",
    "format_bytes",
]

#: Marker file of a cache folder created by topcup-bench.
MARKER_NAME = "CACHEDIR.TAG"
#: First line the Cache Directory Tagging convention requires.
_SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55"
_MARKER_TEXT = (
    f"{_SIGNATURE}\n"
    "# This file marks the cache folder of topcup-bench (generated phantoms, cached picks,\n"
    "# trained TopCUP members, tool logs). `topcup-bench cache info` shows its size;\n"
    "# `topcup-bench cache clear` empties it. Backup tools that follow the Cache Directory\n"
    "# Tagging convention skip this folder.\n"
)


@dataclass(frozen=True)
class _Kind:
    folders: tuple[str, ...]
    noun: str
    depth: int | None  # entries counted at this depth below a folder; None: every file
    directories: bool  # entries are folders (else files)
    suffix: str = ""


#: Kinds of cache entries: name → subfolders of the cache folder and how entries are counted.
KINDS: dict[str, _Kind] = {
    "phantoms": _Kind(("phantoms",), "phantom project", 1, True),
    "picks": _Kind(("picks",), "picks table", 2, False, ".csv"),
    "topcup": _Kind(("topcup",), "trained ensemble", 1, True),
    "logs": _Kind(("logs",), "log file", None, False),
    "command": _Kind(("command-inputs", "command-models"), "tool folder", 2, True),
}
_KNOWN_NAMES = frozenset(name for kind in KINDS.values() for name in kind.folders)


@dataclass(frozen=True)
class KindUsage:
    """Size of one kind of cache entry.

    Attributes
    ----------
    kind : str
        A key of :data:`KINDS`.
    bytes : int
        Bytes of the files in its subfolders.
    entries : int
        Number of entries (see :data:`KINDS`; unfinished phantoms are not counted).
    noun : str
        What one entry is, e.g. ``"phantom project"`` (plural: add an s).
    """

    kind: str
    bytes: int
    entries: int
    noun: str


@dataclass(frozen=True)
class CacheUsage:
    """What a cache folder holds (see :func:`cache_usage`).

    Attributes
    ----------
    root : pathlib.Path
        The cache folder.
    exists : bool
        Whether it exists.
    marked : bool
        Whether it holds topcup-bench's ``CACHEDIR.TAG``.
    kinds : tuple of KindUsage
        One per kind, in the order of :data:`KINDS`.
    other_bytes : int
        Bytes of the files of everything else in the folder (never deleted by ``clear``).
    other_names : tuple of str
        Names of those other entries, sorted.
    """

    root: Path
    exists: bool
    marked: bool
    kinds: tuple[KindUsage, ...]
    other_bytes: int
    other_names: tuple[str, ...]

    @property
    def total_bytes(self) -> int:
        """Bytes of all the files in the folder."""
        return sum(k.bytes for k in self.kinds) + self.other_bytes


@dataclass(frozen=True)
class ClearResult:
    """What :func:`clear_cache` did.

    Attributes
    ----------
    freed_bytes : int
        Bytes of the files deleted.
    removed : tuple of str
        Deleted paths, relative to the cache folder.
    busy : tuple of str
        Phantom projects left in place because another process is generating them.
    """

    freed_bytes: int
    removed: tuple[str, ...]
    busy: tuple[str, ...]


def mark_cache(root: Path) -> None:
    """Create the cache folder ``root`` if needed and mark it as topcup-bench's.

    The marker is written only into a folder that is new, empty or holds only
    the cache's own subfolders: a ``TOPCUP_BENCH_CACHE`` pointing at a folder
    with other files in it is used as it is, unmarked.

    Raises
    ------
    OSError
        The folder cannot be created.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    marker = root / MARKER_NAME
    if marker.exists() or _foreign_names(root):
        return
    try:
        with open(marker, "x", encoding="utf-8") as handle:
            handle.write(_MARKER_TEXT)
    except FileExistsError:  # another process marked it first
        pass


def is_marked(root: Path) -> bool:
    """Whether ``root`` holds a ``CACHEDIR.TAG`` written by topcup-bench."""
    marker = Path(root) / MARKER_NAME
    try:
        if not stat.S_ISREG(marker.lstat().st_mode):
            return False
        with open(marker, encoding="utf-8", errors="replace") as handle:
            text = handle.read(4096)
    except OSError:
        return False
    return text.startswith(_SIGNATURE) and "topcup-bench" in text


def cache_usage(root: Path) -> CacheUsage:
    """Bytes and entry counts of the cache folder ``root``, per kind.

    Parameters
    ----------
    root : pathlib.Path
        The cache folder; a missing folder gives zeros.

    Raises
    ------
    InputError
        ``root`` exists but is not a folder.
    """
    root = Path(root)
    if not root.exists():
        empty = tuple(KindUsage(name, 0, 0, kind.noun) for name, kind in KINDS.items())
        return CacheUsage(root, False, False, empty, 0, ())
    _check_folder(root)
    seen: set[tuple[int, int]] = set()
    kinds = []
    for name, kind in KINDS.items():
        folders = [root / folder for folder in kind.folders]
        kinds.append(
            KindUsage(
                name,
                sum(_disk_bytes(folder, seen) for folder in folders),
                sum(_count_entries(folder, kind) for folder in folders),
                kind.noun,
            )
        )
    others = tuple(sorted(_foreign_names(root)))
    other_bytes = sum(_disk_bytes(root / name, seen) for name in others)
    other_bytes += _disk_bytes(root / MARKER_NAME, seen)
    return CacheUsage(root, True, is_marked(root), tuple(kinds), other_bytes, others)


def check_is_cache(root: Path) -> None:
    """Refuse a folder that does not look like a topcup-bench cache.

    Raises
    ------
    InputError
        ``root`` is not a folder, or it is neither marked (``CACHEDIR.TAG``)
        nor holds only the cache's own subfolders; the message names a few of
        the other entries.
    """
    root = Path(root)
    _check_folder(root)
    if is_marked(root):
        return
    foreign = sorted(_foreign_names(root))
    if foreign:
        shown = ", ".join(foreign[:5]) + (
            f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        )
        raise InputError(
            str(root),
            f"does not look like a topcup-bench cache folder (no {MARKER_NAME} of topcup-bench, "
            f"and it holds {shown}); nothing deleted. Check TOPCUP_BENCH_CACHE",
        )


def clear_cache(root: Path, kinds: Iterable[str]) -> ClearResult:
    """Delete the entries of ``kinds`` from the cache folder ``root``.

    Parameters
    ----------
    root : pathlib.Path
        The cache folder (checked with :func:`check_is_cache`); a missing
        folder has nothing to clear.
    kinds : iterable of str
        Keys of :data:`KINDS`.

    Returns
    -------
    ClearResult
        What was deleted and how much disk it used.

    Raises
    ------
    InputError
        An unknown kind, or a folder that is not a topcup-bench cache.
    """
    root = Path(root)
    chosen = list(dict.fromkeys(kinds))
    for kind in chosen:
        if kind not in KINDS:
            raise InputError("--kind", f"unknown kind {kind!r}; one of {', '.join(KINDS)}, all")
    if not root.exists():
        return ClearResult(0, (), ())
    check_is_cache(root)
    freed, removed, busy = 0, [], []
    for kind in chosen:
        for name in KINDS[kind].folders:
            folder = root / name
            if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
                folder.unlink()  # a link or a stray file: removed, never followed
                removed.append(name)
            elif folder.is_dir():
                result = _clear_folder(root, folder, locked=(kind == "phantoms"))
                freed += result.freed_bytes
                removed.extend(result.removed)
                busy.extend(result.busy)
    return ClearResult(freed, tuple(removed), tuple(busy))


def format_bytes(count: int) -> str:
    """Size in decimal units: ``"0 B"``, ``"512 B"``, ``"283 MB"``, ``"1.41 GB"``.

    Examples
    --------
    >>> format_bytes(0), format_bytes(999), format_bytes(283_000_000), format_bytes(1_410_000_000)
    ('0 B', '999 B', '283 MB', '1.41 GB')
    >>> format_bytes(12_345)
    '12.3 kB'
    """
    value = float(count)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 999.5 or unit == "TB":
            break
        value /= 1000.0
    if unit == "B" or value >= 99.95:
        return f"{value:.0f} {unit}"
    return f"{value:.1f} {unit}" if value >= 9.995 else f"{value:.2f} {unit}"


def _check_folder(root: Path) -> None:
    if not root.is_dir():
        raise InputError(str(root), "the cache folder is not a folder (check TOPCUP_BENCH_CACHE)")


def _foreign_names(root: Path) -> list[str]:
    """Names in ``root`` other than the cache's own subfolders and marker."""
    with os.scandir(root) as entries:
        return [e.name for e in entries if e.name not in _KNOWN_NAMES and e.name != MARKER_NAME]


def _disk_bytes(path: Path, seen: set[tuple[int, int]]) -> int:
    """Bytes of the files at or below ``path``; links not followed, hard links counted once."""
    total = 0
    stack = [os.fspath(path)]
    while stack:
        current = stack.pop()
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            continue
        if (info.st_dev, info.st_ino) in seen:
            continue
        seen.add((info.st_dev, info.st_ino))
        if stat.S_ISREG(info.st_mode):
            total += info.st_size
        elif stat.S_ISDIR(info.st_mode):
            try:
                with os.scandir(current) as entries:
                    stack.extend(entry.path for entry in entries)
            except (FileNotFoundError, NotADirectoryError):
                continue
    return total


def _count_entries(folder: Path, kind: _Kind) -> int:
    if not folder.is_dir() or folder.is_symlink():
        return 0
    if kind.depth is None:
        return sum(len(files) for _, _, files in os.walk(folder))
    level = [folder]
    for _ in range(kind.depth - 1):
        level = [p for parent in level for p in _children(parent) if p.is_dir()]
    count = 0
    for parent in level:
        for child in _children(parent):
            is_dir = child.is_dir() and not child.is_symlink()
            if is_dir == kind.directories and child.name.endswith(kind.suffix):
                count += 1
    return count


def _children(folder: Path) -> list[Path]:
    """Entries of ``folder`` not hidden (unfinished generations and lock files start with '.')."""
    try:
        return [p for p in folder.iterdir() if not p.name.startswith(".")]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _lock_target(name: str) -> str:
    """The phantom project an entry of ``phantoms/`` belongs to (its lock's folder name)."""
    if not name.startswith("."):
        return name
    body = name[1:]
    for marker in (".partial-", ".old-", ".topcup-bench.lock"):
        if marker in body:
            return body.split(marker)[0]
    return body


def _clear_folder(root: Path, folder: Path, *, locked: bool) -> ClearResult:
    """Delete everything in ``folder``, then the folder; with ``locked``, skip projects in use."""
    groups: dict[str, list[Path]] = {}
    for child in sorted(folder.iterdir()):
        groups.setdefault(_lock_target(child.name) if locked else child.name, []).append(child)
    freed, removed, busy = 0, [], []
    for target, paths in groups.items():
        lock = FolderLock(folder / target) if locked else None
        if lock is not None and lock.acquire(wait=False) is not None:
            busy.append(str((folder / target).relative_to(root)))
            continue
        try:
            for path in paths:
                if lock is not None and path == lock.path:
                    continue  # the lock file: removed when the lock is released
                freed += _disk_bytes(path, set())
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                removed.append(str(path.relative_to(root)))
        finally:
            if lock is not None:
                lock.release()
    if not busy:
        try:
            folder.rmdir()
        except OSError:  # something appeared meanwhile: leave the folder
            pass
    return ClearResult(freed, tuple(removed), tuple(busy))
