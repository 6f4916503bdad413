"""Output folders that topcup-bench owns: manifest, lock, staging and an all-or-nothing move.

``run --out OUT`` and ``report --out OUT`` write through :func:`claim_output_folder`:

* **Lock.** An exclusive :class:`~topcup_bench.folder_lock.FolderLock` is held
  for the whole command; a second command writing to ``OUT`` at the same time
  gets a clear :class:`~topcup_bench.errors.OutputExistsError` naming the
  holder's pid.  The kernel releases the lock of a killed process.
* **Ownership.** ``OUT/.topcup-bench-manifest.json`` lists every file the last
  command wrote (relative path and sha256).  A missing or empty ``OUT`` is
  fine; files the manifest does not list, or that were changed since, are
  *foreign* and ``OUT`` is refused unless ``overwrite``.  With ``overwrite``,
  foreign files at paths the new command writes are replaced and all other
  foreign files are left untouched (and recorded as kept, so later commands
  accept them).  A folder written by another command (``run`` versus
  ``report``) is refused unless ``overwrite``, and that command's files are
  then kept, never removed.  A folder inside another output folder (such as a
  run's own ``report/``) is refused.
* **Staging.** Everything is written into a sibling ``.OUT.staging-XXXX``
  folder and moved into ``OUT`` by :meth:`OwnedFolder.commit` only when the
  command succeeded; files of the previous command that the new one does not
  produce are then removed, so that ``OUT`` never mixes two runs.  A failure
  before the commit leaves the previous results untouched.  Staging folders
  of killed commands are removed by the next command on the same ``OUT``.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from topcup_bench._version import __version__
from topcup_bench.datasets.atomic import atomic_output
from topcup_bench.errors import InputError, OutputExistsError
from topcup_bench.folder_lock import FolderLock

__all__ = [
    "MANIFEST_NAME",
    "OwnedFolder",
    "check_folder_path",
    "claim_output_folder",
    "folder_manifest",
]

#: The manifest of an owned output folder.
MANIFEST_NAME = ".topcup-bench-manifest.json"
_SHOWN = 5


@dataclass
class OwnedFolder:
    """An output folder claimed by one command (see the module docstring).

    Attributes
    ----------
    out : pathlib.Path
        The output folder (absolute).
    staging : pathlib.Path
        Where the command writes its files before :meth:`commit`.
    command : str
        ``"run"`` or ``"report"``.
    previous : dict or None
        The manifest of the previous command in ``out`` (None when there is none).
    foreign : list of str
        Files in ``out`` that no topcup-bench command wrote (relative paths).
    """

    out: Path
    staging: Path
    command: str
    previous: dict[str, Any] | None
    foreign: list[str] = field(default_factory=list)
    committed: bool = False

    def previous_file(self, name: str) -> Path | None:
        """``out/name`` when the previous command of the same kind wrote it, unchanged."""
        if self.previous is None or self.previous.get("command") != self.command:
            return None
        if name not in self.previous.get("files", {}) or name in self.foreign:
            return None
        return self.out / name

    def commit(self) -> list[str]:
        """Move the staged files into ``out``; remove the previous command's other files.

        Returns
        -------
        list of str
            The relative paths now owned by this command.

        Raises
        ------
        InputError
            A staged file's path is taken by a folder in ``out`` (or a parent
            by a file); nothing has been moved then.
        """
        new = {p: _sha256(self.staging / p) for p in _files(self.staging)}
        self._check_paths(new)
        old = dict((self.previous or {}).get("files", {}))
        if (self.previous or {}).get("command") != self.command:
            old = {}  # another command's files are kept, never removed (like foreign files)
        kept = [p for p in _files(self.out) if p not in new and (p not in old or p in self.foreign)]
        pending = {**old, **new}
        _write_manifest(self.out, self.command, pending, kept, complete=False)
        for rel in sorted(new, key=lambda p: p == "results.json"):  # results.json last
            target = self.out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            _move(self.staging / rel, target)
        for rel in old:
            if rel not in new and rel not in self.foreign:
                _remove_file(self.out, rel)
        _write_manifest(self.out, self.command, new, kept, complete=True)
        self.committed = True
        return sorted(new)

    def _check_paths(self, new: dict[str, str]) -> None:
        for rel in new:
            target = self.out / rel
            if target.is_dir() and not target.is_symlink():
                raise InputError(
                    str(target), "is a folder where topcup-bench writes a file; move it away"
                )
            for parent in list(Path(rel).parents)[:-1]:
                where = self.out / parent
                if where.exists() and not where.is_dir():
                    raise InputError(
                        str(where), "is a file where topcup-bench writes a folder; move it away"
                    )


@contextmanager
def claim_output_folder(
    out: str | os.PathLike[str],
    *,
    command: str,
    overwrite: bool = False,
    flag: str = "--out",
) -> Iterator[OwnedFolder]:
    """Lock ``out``, check that it may be written, and yield it with a fresh staging folder.

    Parameters
    ----------
    out : str or os.PathLike
        The output folder; created (with its parents) when missing.
    command : str
        The writing command, recorded in the manifest (``"run"``, ``"report"``).
    overwrite : bool
        Accept a folder holding foreign files or another command's outputs.
    flag : str
        The command-line option named in messages.

    Yields
    ------
    OwnedFolder
        Write into ``.staging``, then call ``.commit()``; without a commit
        nothing in ``out`` changes.  The staging folder and the lock are
        removed on exit in every case.

    Raises
    ------
    OutputExistsError
        Another command holds the lock, or ``out`` holds foreign files or
        another command's outputs and ``overwrite`` is False.
    InputError
        ``out`` is a file, or its parent cannot be written.
    """
    folder = Path(os.path.realpath(os.fspath(out)))
    check_folder_path(folder, flag)
    _refuse_nested(folder, flag)
    lock = FolderLock(folder)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        holder = lock.acquire(wait=False)
    except OSError as error:
        raise InputError(flag, f"cannot write beside {folder}: {error.strerror or error}") from None
    if holder is not None:
        raise OutputExistsError(
            f"{folder}: another topcup-bench command is writing to this {flag} folder "
            f"(pid {holder}); wait for it to finish or choose another {flag}"
        )
    staging = None
    try:
        _remove_stale_staging(folder)
        previous = folder_manifest(folder)
        foreign = _foreign_files(folder, previous)
        _refuse(folder, previous, foreign, command, overwrite, flag)
        try:
            staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.staging-", dir=folder.parent))
        except OSError as error:
            raise InputError(flag, f"cannot write beside {folder}: {error.strerror}") from None
        yield OwnedFolder(folder, staging, command, previous, foreign)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        lock.release()


def check_folder_path(folder: Path, flag: str = "--out") -> None:
    """Refuse a ``folder`` that is a file, or whose parent is a file.

    Raises
    ------
    InputError
        ``folder`` or one of its parents exists and is not a folder.
    """
    for path in (folder, *folder.parents):
        if path.exists() and not path.is_dir():
            raise InputError(flag, f"{path} is a file, not a folder")
        if path.is_dir():
            return


def _refuse_nested(folder: Path, flag: str) -> None:
    """Refuse a ``folder`` inside another topcup-bench output folder (its files belong to it)."""
    for parent in folder.parents:
        manifest = folder_manifest(parent)
        if manifest is None:
            continue
        command = manifest.get("command")
        if command == "run" and folder == parent / "report":
            raise InputError(
                flag,
                f"{folder} is the report of the run in {parent} (written by 'topcup-bench run'); "
                f"re-run 'topcup-bench run' to update it, or write elsewhere, e.g. "
                f"{parent}-report",
            )
        raise InputError(
            flag,
            f"{folder} is inside {parent}, the output folder of 'topcup-bench {command}'; "
            f"choose an {flag} outside it",
        )


def folder_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of ``folder``, or None when it has none (or an unreadable one)."""
    path = folder / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return None
    return manifest


def _refuse(folder, previous, foreign, command, overwrite, flag) -> None:
    if overwrite:
        return
    if foreign:
        shown = foreign[:_SHOWN]
        if len(foreign) > _SHOWN:
            shown.append(f"... ({len(foreign)} files)")
        why = f" (it has no {MANIFEST_NAME}: not a topcup-bench folder)" if not previous else ""
        raise OutputExistsError(
            f"{folder}: holds files topcup-bench did not write{why}: {shown}; choose another "
            f"{flag} or pass --overwrite (files topcup-bench did not write are then left "
            "untouched unless a new output has the same path)"
        )
    if previous is not None and previous.get("command") != command:
        raise OutputExistsError(
            f"{folder}: holds the output of 'topcup-bench {previous.get('command')}', not of "
            f"'topcup-bench {command}'; choose another {flag} or pass --overwrite to replace it"
        )


def _foreign_files(folder: Path, manifest: dict[str, Any] | None) -> list[str]:
    """Files in ``folder`` not written by topcup-bench, or changed since (relative paths)."""
    if not folder.is_dir():
        return []
    listed = (manifest or {}).get("files", {})
    kept = set((manifest or {}).get("kept", []))
    check_hashes = bool((manifest or {}).get("complete"))
    foreign = []
    for rel in _files(folder):
        if rel in kept:
            continue
        if rel not in listed or (check_hashes and _sha256(folder / rel) != listed[rel]):
            foreign.append(rel)
    return foreign


def _files(folder: Path) -> list[str]:
    """Relative paths of the files (and links) under ``folder``, the manifest excluded."""
    if not folder.is_dir():
        return []
    found = []
    for root, dirs, names in os.walk(folder):
        base = Path(root)
        found += [(base / n).relative_to(folder).as_posix() for n in names]
        found += [
            (base / d).relative_to(folder).as_posix() for d in dirs if (base / d).is_symlink()
        ]
    return sorted(p for p in found if p != MANIFEST_NAME)


def _sha256(path: Path) -> str:
    if path.is_symlink() or not path.is_file():
        return ""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_manifest(folder: Path, command, files, kept, *, complete: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "generator": "topcup-bench",
        "version": __version__,
        "command": command,
        "complete": complete,
        "files": dict(sorted(files.items())),
        "kept": sorted(kept),
    }
    with atomic_output(folder / MANIFEST_NAME, overwrite=True) as temporary:
        temporary.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")


def _move(source: Path, target: Path) -> None:
    """``os.replace``; across file systems (``OUT`` a mount point) copy beside, then replace."""
    try:
        os.replace(source, target)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        shutil.copy2(source, temporary)
        os.replace(temporary, target)


def _remove_file(folder: Path, rel: str) -> None:
    """Remove ``folder/rel`` and the folders it leaves empty (up to ``folder``)."""
    path = folder / rel
    if path.is_file() or path.is_symlink():
        path.unlink()
    for parent in path.parents:
        if parent == folder or not parent.is_relative_to(folder):
            break
        try:
            parent.rmdir()
        except OSError:  # not empty (or gone)
            break


def _remove_stale_staging(folder: Path) -> None:
    """Remove ``.NAME.staging-*`` folders of killed commands (the caller holds the lock)."""
    prefix = f".{folder.name}.staging-"
    with os.scandir(folder.parent) as entries:
        stale = [
            e.path for e in entries if e.name.startswith(prefix) and e.is_dir(follow_symlinks=False)
        ]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
