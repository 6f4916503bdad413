"""What the presets of the ``command`` picker for particular tools share.

A preset (``pytom-match-pick``, ``deepfinder``, ``tomotwin``, ``cryolo``,
``topcup-cli``) is a :class:`~topcup_bench.pickers.adapters.command.CommandPicker`
whose command template, output pattern and format are fixed by the tool's
own command line, with the tool's options as picker parameters.  This module
holds the base class :class:`ToolPreset` and the parameter parsers:

* required parameters are checked when the picker is created (an
  :class:`~topcup_bench.errors.InputError` naming the parameter and an
  example), the files they name when it is prepared (so that a missing
  weights file fails this picker only);
* the files a preset reads (weights, references, configurations) are digested
  into the picks cache key;
* the tool's version is read from its Python environment: the interpreter
  in the first line of its entry-point script asks ``importlib.metadata``
  for the distribution's version (none of these tools has ``--version``,
  except TopCUP's CLI, whose preset uses it).
"""

from __future__ import annotations

import math
import os
import shlex
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from topcup_bench.errors import InputError
from topcup_bench.identity import digest_file, digest_json

from .command import CommandPicker
from .tool_process import tool_version as run_version_command

if TYPE_CHECKING:  # pragma: no cover
    from topcup_bench.datasets.dataset import Dataset

__all__ = [
    "ToolPreset",
    "distribution_version",
    "script_interpreter",
    "parse_class_paths",
    "parse_gpu_ids",
    "parse_numbers",
    "require",
    "split_options",
    "absolute",
]

#: The program that prints a distribution's version from inside its environment.
_VERSION_CODE = """import sys, importlib.metadata as m
try:
    print(sys.argv[1], m.version(sys.argv[1]))
except m.PackageNotFoundError:
    print("unknown:", sys.argv[1], "is not installed for", sys.executable)
"""


class ToolPreset(CommandPicker):
    """Base class of the tool presets (see the module docstring).

    Subclasses set the ``default_*`` attributes of ``CommandPicker``, the
    :attr:`distribution` whose version is the tool's, and return the files
    they read from :meth:`preset_files`.
    """

    #: PyPI distribution of the tool (its version goes into the picker card).
    distribution: ClassVar[str] = ""
    #: The tool's entry-point script, whose ``#!`` line names the tool's Python.
    entry_point: ClassVar[str] = ""

    def preset_files(self) -> dict[str, str]:
        """Parameter → file or folder the tool reads (checked in ``prepare``, digested)."""
        return {}

    @property
    def tool_version(self) -> str:
        """The tool's version: its version command, else its distribution's version.

        ``"unknown: ..."`` when neither can be had (the tool is missing, its
        script is not a Python script, or the distribution is not installed).
        """
        if self._tool_version is None:
            if self._spec.version_steps or not self.distribution:
                return super().tool_version
            program = self.entry_point or self._spec.steps[0].tokens[0]
            found = self._executables(strict=False).get(program, program)
            self._tool_version = distribution_version(found, self.distribution)
        return self._tool_version

    def prepare(self, dataset: Dataset) -> None:
        """Check that the files of the parameters exist, then as ``CommandPicker.prepare``.

        Raises
        ------
        InputError
            A file or folder named by a parameter that does not exist.
        ToolMissingError
            The tool is not installed.
        """
        for parameter, path in self.preset_files().items():
            if not os.path.exists(path):
                raise InputError(self._source, f"parameter {parameter!r}: {path} does not exist")
        super().prepare(dataset)

    def input_digest(self, dataset: Dataset, run: str) -> str:
        """``CommandPicker.input_digest`` plus the digests of :meth:`preset_files`."""
        files = {name: _digest_path(path) for name, path in sorted(self.preset_files().items())}
        return digest_json({"command": super().input_digest(dataset, run), "files": files})


def require(value: str, parameter: str, picker: str, example: str) -> str:
    """``value`` stripped, or an :class:`InputError` saying that ``parameter`` is required.

    Examples
    --------
    >>> require(" model.pth ", "model", "tomotwin", "model=/models/tomotwin.pth")
    'model.pth'
    """
    text = str(value).strip()
    if not text:
        raise InputError(
            f"picker {picker!r}", f"parameter {parameter!r} is required, e.g. {example}"
        )
    return text


def absolute(path: str) -> str:
    """``path`` with ``~`` expanded, made absolute (not resolved: links are kept)."""
    return os.path.abspath(os.path.expanduser(path))


def parse_class_paths(text: str, parameter: str, picker: str) -> dict[str, str]:
    """``"class:path,class:path"`` → {class: absolute path}.

    Raises
    ------
    InputError
        An item without ``class:`` or without a path, or a class named twice.

    Examples
    --------
    >>> parse_class_paths("ribosome:/m/rib.h5", "weights", "cryolo")
    {'ribosome': '/m/rib.h5'}
    """
    found: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, path = item.partition(":")
        if not sep or not name.strip() or not path.strip():
            raise InputError(
                f"picker {picker!r}",
                f"parameter {parameter!r}: expected 'class:path,class:path', found {item!r}",
            )
        if name.strip() in found:
            raise InputError(
                f"picker {picker!r}", f"parameter {parameter!r}: class {name.strip()!r} twice"
            )
        found[name.strip()] = absolute(path.strip())
    return found


def parse_gpu_ids(text: str, parameter: str, picker: str) -> list[str]:
    """``"0"`` or ``"0,1"`` → ``["0", "1"]`` (GPU indices).

    Raises
    ------
    InputError
        Empty, or an entry that is not a non-negative integer.

    Examples
    --------
    >>> parse_gpu_ids("0, 2", "gpu_ids", "pytom-match-pick")
    ['0', '2']
    """
    items = [part.strip() for part in str(text).split(",")]
    if not items or not all(item.isdigit() for item in items):
        raise InputError(
            f"picker {picker!r}",
            f"parameter {parameter!r} must list GPU indices like '0' or '0,1', found {text!r}",
        )
    return [str(int(item)) for item in items]


def parse_numbers(text: str, parameter: str, picker: str, count: int) -> list[float]:
    """``count`` finite numbers separated by commas.

    Raises
    ------
    InputError
        Another count, or an entry that is not a finite number.

    Examples
    --------
    >>> parse_numbers("-60, 60", "tilt_angles", "pytom-match-pick", 2)
    [-60.0, 60.0]
    """
    items = [part.strip() for part in str(text).split(",")]
    try:
        numbers = [float(item) for item in items]
    except ValueError:
        numbers = []
    if len(numbers) != count or not all(math.isfinite(n) for n in numbers):
        raise InputError(
            f"picker {picker!r}",
            f"parameter {parameter!r} must be {count} numbers separated by commas, found {text!r}",
        )
    return numbers


def script_interpreter(program: str) -> list[str] | None:
    """The interpreter command of a Python script's ``#!`` line, or None.

    ``#!/opt/env/bin/python`` gives ``["/opt/env/bin/python"]``;
    ``#!/usr/bin/env python3`` gives ``["/usr/bin/env", "python3"]``.
    None for a program that is not a readable file or whose first line names
    no Python interpreter.
    """
    try:
        with open(program, "rb") as handle:
            first = handle.readline(1024).decode("utf-8", errors="replace").strip()
    except OSError:
        return None
    if not first.startswith("#!"):
        return None
    try:
        argv = shlex.split(first[2:])
    except ValueError:
        return None
    names = [Path(token).name for token in argv]
    if not argv or not any(name.startswith("python") for name in names):
        return None
    return argv


def distribution_version(program: str, distribution: str) -> str:
    """``"NAME VERSION"`` of ``distribution`` as installed beside the script ``program``.

    Runs the interpreter of the script's ``#!`` line
    (:func:`script_interpreter`) with ``importlib.metadata``; ``"unknown:
    ..."`` when the program is missing, is not a Python script, or its
    environment lacks the distribution.
    """
    path = program if os.sep in program else shutil.which(program)
    if not path or not os.path.isfile(path):
        return f"unknown: {program} not found"
    interpreter = script_interpreter(path)
    if interpreter is None:
        return f"unknown: {Path(path).name} is not a Python script"
    return run_version_command([*interpreter, "-c", _VERSION_CODE, distribution])


def _digest_path(path: str) -> Any:
    """Digest of a file, or {relative path: digest} of the files under a folder."""
    if os.path.isfile(path):
        return digest_file(path)
    if os.path.isdir(path):
        files: Mapping[str, str] = {
            os.path.relpath(os.path.join(root, name), path): digest_file(os.path.join(root, name))
            for root, _, names in os.walk(path)
            for name in names
        }
        return dict(sorted(files.items()))
    return None


def split_options(text: str, parameter: str, picker: str) -> list[str]:
    """Extra options of a tool, split like a shell line (no shell runs them).

    Raises
    ------
    InputError
        Unbalanced quotes.

    Examples
    --------
    >>> split_options("--log debug --note 'a b'", "match_options", "pytom-match-pick")
    ['--log', 'debug', '--note', 'a b']
    """
    try:
        return shlex.split(text)
    except ValueError as error:
        raise InputError(
            f"picker {picker!r}", f"parameter {parameter!r}: cannot split {text!r}: {error}"
        ) from None
