"""Atomic, no-clobber file output shared by the picks writers.

A writer produces its file under a temporary name in the destination
directory and moves it into place with :func:`os.replace`, so a reader never
sees a half-written file and an interrupted write leaves the old file intact.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from topcup_bench.errors import InputError, OutputExistsError

__all__ = ["atomic_output"]


@contextmanager
def atomic_output(path: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write to; move it onto ``path`` on success.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file. Its directory must exist.
    overwrite : bool
        Replace an existing file at ``path``; when False an existing file is an
        error and is left untouched.

    Yields
    ------
    pathlib.Path
        A fresh, empty temporary file in the same directory as ``path``.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is False.
    InputError
        The destination directory does not exist, one of its parents is a
        file, or ``path`` is a directory.
    OSError
        Creating or writing the temporary failed (disk full, read-only, ...);
        the error names ``path``, never the temporary, so that the message
        names what the user asked for.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "picks.csv"
    >>> with atomic_output(target) as tmp:
    ...     _ = tmp.write_text("x,y,z\\n")
    >>> target.read_text()
    'x,y,z\\n'
    """
    target = Path(path)
    if target.is_dir():
        raise InputError(str(target), "output path is a directory; expected a file path")
    _check_parent(target)
    if target.exists() and not overwrite:
        raise OutputExistsError(f"{target}: file exists; pass --overwrite to replace it")
    try:
        handle, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
    except OSError as error:  # name the destination, not the temporary we tried to make
        if error.filename is not None and os.fsdecode(error.filename) == str(target.parent):
            raise  # already names the folder the user chose
        raise OSError(error.errno, error.strerror or str(error), str(target)) from None
    os.close(handle)
    tmp = Path(tmp_name)
    os.chmod(tmp, _new_file_mode(target))  # mkstemp creates 0600; match a normal new file
    try:
        yield tmp
        if target.exists() and not overwrite:  # created by someone else meanwhile
            raise OutputExistsError(f"{target}: file exists; pass --overwrite to replace it")
        os.replace(tmp, target)
    except OSError as error:
        if error.errno is not None and (error.filename is None or error.filename == str(tmp)):
            # e.g. ENOSPC from a write(): name the destination, not our temporary
            raise OSError(error.errno, error.strerror or str(error), str(target)) from error
        raise
    finally:
        if tmp.exists():
            tmp.unlink()


def _check_parent(target: Path) -> None:
    """Refuse a destination whose folder is missing or is a file (``userfile.txt/x``)."""
    if target.parent.is_dir():
        return
    for folder in (target.parent, *target.parent.parents):
        if folder.exists() and not folder.is_dir():
            raise InputError(
                str(target), f"{str(folder)!r} is a file, not a folder; choose another output path"
            )
    raise InputError(
        str(target), f"output directory {str(target.parent)!r} does not exist; create it first"
    )


def _new_file_mode(target: Path) -> int:
    """Permission bits for the output: those of the file replaced, else 0666 minus the umask."""
    if target.exists():
        return target.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
