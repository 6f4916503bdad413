"""An exclusive lock on a folder, held by one process for as long as it writes there.

The lock is an :func:`fcntl.flock` on a small file beside the folder
(``.NAME.topcup-bench.lock`` in its parent), so that it can be taken before
the folder exists.  The kernel drops the lock when its holder exits, even
when killed with SIGKILL: a killed run never blocks the next one.  The holder
writes its process id into the file (for the message a second process
shows) and removes the file when it releases the lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

__all__ = ["FolderLock", "lock_path"]


def lock_path(folder: Path) -> Path:
    """The lock file of ``folder``: ``PARENT/.NAME.topcup-bench.lock``."""
    return folder.parent / f".{folder.name}.topcup-bench.lock"


class FolderLock:
    """Exclusive lock on ``folder`` (see the module docstring).

    Parameters
    ----------
    folder : pathlib.Path
        The folder to guard; its parent must exist.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "out"
    >>> lock = FolderLock(folder)
    >>> lock.acquire(wait=False) is None
    True
    >>> FolderLock(folder).acquire(wait=False) == str(os.getpid())
    True
    >>> lock.release()
    """

    def __init__(self, folder: Path) -> None:
        self.path = lock_path(folder)
        self._fd: int | None = None

    def acquire(self, *, wait: bool) -> str | None:
        """Take the lock; return None, or the holder's pid (as text) when busy and not ``wait``.

        Raises
        ------
        OSError
            The lock file cannot be created (read-only or missing parent).
        """
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                return holder
            if self._still_ours(fd):
                break
            os.close(fd)  # the previous holder removed the file while we waited: retry
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return None

    def release(self) -> None:
        """Remove the lock file and drop the lock (no-op when not held)."""
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None

    def _still_ours(self, fd: int) -> bool:
        try:
            return os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            return False
