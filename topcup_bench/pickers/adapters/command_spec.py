"""The ``command`` picker's parameters, parsed and checked once: :class:`CommandSpec`.

Everything a user can get wrong in the parameters is an :class:`InputError`
at creation (an unknown placeholder, a bad output pattern, a probability
format without ``{class}``, ``{template}`` without ``templates=``); what
depends on the dataset (a class without a template, a missing program) is
checked by :meth:`CommandSpec.check_class_files` and
:meth:`CommandSpec.executables` when the picker is prepared.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from topcup_bench.errors import InputError
from topcup_bench.identity import digest_file
from topcup_bench.pickers.seg2picks import METHODS
from topcup_bench.types import ClassCatalogue

from .command_output import output_formats
from .command_template import PER_CLASS, TRAIN_ONLY, Step, check_output_pattern, parse_command
from .tool_process import ToolMissingError, resolve_executable

__all__ = ["CommandSpec", "check_settings", "INPUTS"]

#: How the tool gets the tomogram: an MRC file, or the copick project and run name.
INPUTS = ("mrc", "copick")
#: Placeholders every pick and train step may use.
_COMMON = frozenset({"voxel_size", "work", "classes", "python", "threads", "protein_dark"})
#: Literal command arguments larger than this are not digested into the cache key.
_DIGEST_LIMIT_BYTES = 64 << 20


@dataclass(frozen=True)
class CommandSpec:
    """Parsed commands, output pattern and format, and per-class files of a ``command`` picker.

    Attributes
    ----------
    picker : str
        Leaderboard name, for messages.
    steps, train_steps, version_steps : tuple of Step
        The pick command (never empty), the train and version commands (may be empty).
    output : str
        Output pattern relative to ``{output}`` (``""``: by extension).
    format : str
        Output format (``""``: by extension).
    templates, masks : dict of str to str, or str
        Class → absolute path, or a pattern with ``{class}``.
    """

    picker: str
    steps: tuple[Step, ...]
    train_steps: tuple[Step, ...]
    version_steps: tuple[Step, ...]
    output: str
    format: str
    templates: dict[str, str] | str
    masks: dict[str, str] | str

    @classmethod
    def parse(
        cls,
        *,
        picker: str,
        command: str,
        output: str,
        format: str,
        version_command: str,
        train_command: str,
        input: str,
        templates: str,
        masks: str,
        trainable: bool,
        extra_placeholders: Collection[str] = (),
    ) -> CommandSpec:
        """Parse and check the parameters (see :class:`~.command.CommandPicker`).

        Raises
        ------
        InputError
            An empty command; an unknown or misplaced placeholder; a bad
            output pattern; ``probability`` without ``{class}`` in ``output``;
            ``{template}`` / ``{mask}`` without ``templates=`` / ``masks=``;
            a malformed ``templates=`` / ``masks=``; a trainable picker
            without a train command.
        """
        source = f"picker {picker!r}"
        extra = set(extra_placeholders)
        pick_allowed = _COMMON | PER_CLASS | {"run", "output"} | extra
        pick_allowed |= {"tomogram"} if input == "mrc" else {"copick_config"}
        pick_allowed |= {"model"} if trainable else set()
        steps = parse_command(command, parameter="command", picker=picker, allowed=pick_allowed)
        if not steps:
            raise InputError(
                source,
                "parameter 'command' is required: a command template such as "
                "'mytool {tomogram} --out {output}/picks.star'",
            )
        train_steps = parse_command(
            train_command,
            parameter="train_command",
            picker=picker,
            allowed=_COMMON | PER_CLASS | TRAIN_ONLY | {"model"} | extra,
        )
        if trainable and not train_steps:
            raise InputError(source, "parameter 'train_command' is required for a trainable picker")
        version_steps = parse_command(
            version_command, parameter="version_command", picker=picker, allowed=("python",)
        )
        output_names = check_output_pattern(output, picker=picker)
        if format == "probability" and "class" not in output_names:
            raise InputError(
                source,
                "format 'probability' reads one map per class: parameter 'output' must use "
                f"{{class}}, e.g. '{{class}}.mrc'; found {output!r}",
            )
        spec = cls(
            picker=picker,
            steps=_absolute_files(steps),
            train_steps=_absolute_files(train_steps),
            version_steps=_absolute_files(version_steps),
            output=output,
            format=format,
            templates=_class_files(templates, "templates", source),
            masks=_class_files(masks, "masks", source),
        )
        for placeholder, given in (("template", templates), ("mask", masks)):
            if spec.uses(placeholder) and not given.strip():
                raise InputError(
                    source,
                    f"the command uses {{{placeholder}}} but parameter '{placeholder}s' is empty; "
                    f"give '{placeholder}s=class:path,class:path' or a pattern with {{class}}",
                )
        return spec

    @property
    def all_steps(self) -> tuple[Step, ...]:
        """Pick, train and version steps."""
        return self.steps + self.train_steps + self.version_steps

    def uses(self, placeholder: str) -> bool:
        """Whether the pick or train command uses ``placeholder``."""
        return any(placeholder in s.names for s in self.steps + self.train_steps)

    def class_files(self, kind: str, classes: ClassCatalogue) -> dict[str, str]:
        """Class → template (``kind="template"``) or mask file, for the classes that have one."""
        spec = self.templates if kind == "template" else self.masks
        if isinstance(spec, dict):
            return {name: spec[name] for name in classes.names if name in spec}
        if not spec:
            return {}
        paths = {
            name: str(Path(spec.replace("{class}", name)).expanduser().resolve())
            for name in classes.names
        }
        return {name: path for name, path in paths.items() if os.path.isfile(path)}

    def check_class_files(self, classes: ClassCatalogue) -> None:
        """Check that each class has a template (mask) file where the command uses one.

        Raises
        ------
        InputError
            Naming the classes without one, or the file that does not exist.
        """
        for kind in ("template", "mask"):
            if not self.uses(kind):
                continue
            spec = self.templates if kind == "template" else self.masks
            files = self.class_files(kind, classes)
            missing = [name for name in classes.names if name not in files]
            if missing:
                where = (
                    f"no file {spec!r}" if isinstance(spec, str) else f"given for {sorted(spec)}"
                )
                raise InputError(
                    f"picker {self.picker!r}",
                    f"the command uses {{{kind}}} but class(es) {missing} have no {kind} in "
                    f"parameter '{kind}s' ({where})",
                )
            for name, path in files.items():
                if not os.path.isfile(path):
                    raise InputError(
                        f"picker {self.picker!r}",
                        f"{kind} of class {name!r} not found: {path} (parameter '{kind}s')",
                    )

    def class_values(self, classes: ClassCatalogue, voxel_size: float) -> list[dict[str, str]]:
        """Per-class placeholder values, in class order."""
        templates = self.class_files("template", classes)
        masks = self.class_files("mask", classes)
        return [
            {
                "class": c.name,
                "radius_angstrom": number_text(c.radius_angstrom),
                "radius_voxels": number_text(c.radius_angstrom / voxel_size),
                "diameter_angstrom": number_text(2 * c.radius_angstrom),
                "template": templates.get(c.name, ""),
                "mask": masks.get(c.name, ""),
            }
            for c in classes
        ]

    def executables(
        self, *, python: str, python_given: bool, install_hint: str, strict: bool
    ) -> dict[str, str]:
        """Program → absolute path, for each step starting with a literal program or ``{python}``.

        Parameters
        ----------
        python : str
            The interpreter of ``{python}``.
        python_given : bool
            Whether it came from the ``python`` parameter (checked even if unused).
        install_hint : str
            What to install when a program is missing.
        strict : bool
            Raise for a missing program; otherwise leave it as written.

        Raises
        ------
        ToolMissingError
            (``strict``) A program not found, or ``python`` not an executable.
        """
        resolved: dict[str, str] = {}
        if python_given or any(s.tokens[0] == "{python}" for s in self.all_steps):
            interpreter = _interpreter(python)
            if interpreter is not None:
                resolved["{python}"] = interpreter
            elif strict:
                raise ToolMissingError(
                    f"picker {self.picker!r}: parameter 'python' = {python!r} is not an "
                    "executable interpreter; give the path of a Python interpreter "
                    "(e.g. /opt/tool-env/bin/python)"
                )
        for step in self.all_steps:
            program = step.tokens[0]
            if "{" in program or program in resolved:
                continue
            try:  # checked (and its message) by resolve_executable; links kept, as for python
                resolve_executable(program, picker=self.picker, install_hint=install_hint)
                resolved[program] = _interpreter(program) or program
            except ToolMissingError:
                if strict:
                    raise
        return resolved

    def digest_fields(self, classes: ClassCatalogue) -> dict[str, object]:
        """What the picks depend on in the spec, for the cache key (no temporary paths).

        The command texts with placeholders unfilled, the output pattern and
        format, the digests of the per-class files and of every literal
        argument that names an existing file (a script given to ``{python}``).
        """
        literal_files = {
            token: digest_file(token)
            for step in self.all_steps
            for token in step.tokens
            if "{" not in token and _small_file(token)
        }
        return {
            "command": [s.text for s in self.steps],
            "train_command": [s.text for s in self.train_steps],
            "output": self.output,
            "format": self.format,
            "files": literal_files,
            "templates": _digests(self.class_files("template", classes)),
            "masks": _digests(self.class_files("mask", classes)),
        }


def check_settings(
    picker: str,
    *,
    input: str,
    format: str,
    timeout_s: float,
    threads: int,
    seg_method: str,
    seg_threshold: float,
) -> None:
    """Check the scalar parameters of a ``command`` picker.

    Raises
    ------
    InputError
        Naming the parameter and the value.
    """
    source = f"picker {picker!r}"
    checks = (
        (input in INPUTS, "input", f"one of {list(INPUTS)}", input),
        (
            not format or format in output_formats(),
            "format",
            f"one of {list(output_formats())} or ''",
            format,
        ),
        (
            math.isfinite(timeout_s) and timeout_s > 0,
            "timeout_s",
            "a positive number of seconds",
            timeout_s,
        ),
        (threads >= 1, "threads", "an integer >= 1", threads),
        (seg_method in METHODS, "seg_method", f"one of {list(METHODS)}", seg_method),
        (math.isfinite(seg_threshold), "seg_threshold", "a finite number", seg_threshold),
    )
    for ok, name, expected, value in checks:
        if not ok:
            raise InputError(source, f"parameter {name!r} must be {expected}, found {value!r}")


def number_text(value: float) -> str:
    """A number as a placeholder value: up to 10 significant digits, no trailing zeros.

    Examples
    --------
    >>> number_text(150.0), number_text(13.5), number_text(1 / 3)
    ('150', '13.5', '0.3333333333')
    """
    return format(float(value), ".10g")


def _class_files(text: str, parameter: str, source: str) -> dict[str, str] | str:
    """``"a:path,b:path"`` → {class: absolute path}; a pattern with ``{class}`` is kept as text."""
    text = text.strip()
    if not text or "{class}" in text:
        return text
    files = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, path = item.partition(":")
        if not sep or not name.strip() or not path.strip():
            raise InputError(
                source,
                f"parameter {parameter!r}: expected 'class:path,class:path' or a pattern with "
                f"{{class}}, found {item!r}",
            )
        files[name.strip()] = str(Path(path.strip()).expanduser().resolve())
    return files


def _interpreter(python: str) -> str | None:
    """Absolute path of a program or interpreter, symbolic links kept, or None.

    A virtual environment's python is a link: resolving it would run the base
    interpreter, outside the environment.
    """
    if os.sep not in python and not (os.altsep and os.altsep in python):
        found = shutil.which(python)
        return os.path.abspath(found) if found else None
    path = os.path.abspath(os.path.expanduser(python))
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def _absolute_files(steps: tuple[Step, ...]) -> tuple[Step, ...]:
    """Steps whose literal path arguments (with a ``/``) that exist are made absolute.

    The tool runs in its output folder; a script or file named relative to
    the folder topcup-bench was started in must still be found.
    """
    fixed = []
    for step in steps:
        tokens = tuple(
            os.path.abspath(token)
            if "{" not in token
            and "/" in token
            and not os.path.isabs(token)
            and os.path.exists(token)
            else token
            for token in step.tokens
        )
        fixed.append(Step(tokens, step.names))
    return tuple(fixed)


def _small_file(token: str) -> bool:
    try:
        path = Path(token)
        return path.is_file() and path.stat().st_size <= _DIGEST_LIMIT_BYTES
    except (OSError, ValueError):
        return False


def _digests(files: dict[str, str]) -> dict[str, str]:
    return {name: digest_file(path) for name, path in sorted(files.items())}
