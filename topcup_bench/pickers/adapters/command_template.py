"""Command templates of the ``command`` picker: parse, check and fill in placeholders.

A template is one or more steps separated by ``&&``; each step is split like
a POSIX shell line (:func:`shlex.split`) but never run by a shell: no pipes,
redirections or variables.  Placeholders are names in braces (``{tomogram}``);
``{{`` and ``}}`` stand for literal braces.  A token that is exactly one
placeholder whose value is a list becomes that many arguments (zero or more),
so that presets can pass optional flags.

A step that uses a per-class placeholder (:data:`PER_CLASS`) runs once per
class, in class order; the other steps run once, in the order written.
"""

from __future__ import annotations

import shlex
import string
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

from topcup_bench.errors import InputError, did_you_mean

__all__ = [
    "PLACEHOLDERS",
    "PER_CLASS",
    "TRAIN_ONLY",
    "Step",
    "parse_command",
    "fill_steps",
    "check_output_pattern",
    "fill_pattern",
]

#: Every placeholder and what it stands for (the error for an unknown one lists them).
PLACEHOLDERS: dict[str, str] = {
    "tomogram": "the run's tomogram as MRC (input=mrc), a file named {run}.mrc",
    "run": "the run name",
    "voxel_size": "voxel size, Å",
    "output": "the run's empty output folder (the tool writes its picks here)",
    "work": "the run's work folder (holds the inputs we wrote)",
    "classes": "classes JSON (name, label, radius_angstrom, radius_voxels, template, mask)",
    "class": "class name (per class)",
    "radius_angstrom": "class radius, Å (per class)",
    "radius_voxels": "class radius, voxels (per class)",
    "diameter_angstrom": "class diameter, Å (per class)",
    "template": "the class's template file, from templates= (per class)",
    "mask": "the class's mask file, from masks= (per class)",
    "copick_config": "the dataset's copick config (input=copick)",
    "python": "the interpreter: python= or the one running topcup-bench",
    "threads": "threads= (also OMP_NUM_THREADS and friends)",
    "protein_dark": "'true' when protein is dark (negative contrast), else 'false'",
    "model": "the model folder: the train command writes it, pick commands read it",
    "train_copick": "training: the dataset's copick config (runs in {train_runs})",
    "train_runs": "training: the training runs, comma separated",
    "train_star": "training: ground truth of the training runs as RELION STAR (pixels)",
    "train_csv": "training: ground truth of the training runs as CSV (Å)",
    "train_tomograms": "training: folder of {run}.mrc of the training runs",
}
#: Placeholders that make a step run once per class.
PER_CLASS = frozenset(
    {"class", "radius_angstrom", "radius_voxels", "diameter_angstrom", "template", "mask"}
)
#: Placeholders only the train command may use.
TRAIN_ONLY = frozenset({"train_copick", "train_runs", "train_star", "train_csv", "train_tomograms"})

_FORMATTER = string.Formatter()


@dataclass(frozen=True)
class Step:
    """One step of a command: its tokens (placeholders not filled in) and their names."""

    tokens: tuple[str, ...]
    names: frozenset[str]

    @property
    def per_class(self) -> bool:
        """Whether the step runs once per class."""
        return bool(self.names & PER_CLASS)

    @property
    def text(self) -> str:
        """The step as written (quoted where needed)."""
        return shlex.join(self.tokens)


def parse_command(
    text: str, *, parameter: str, picker: str, allowed: Collection[str]
) -> tuple[Step, ...]:
    """Split a command template into steps and check its placeholders.

    Parameters
    ----------
    text : str
        The template, steps separated by ``&&``.
    parameter : str
        The picker parameter that holds it (``command``, ``train_command``, ...).
    picker : str
        The picker's name, for messages.
    allowed : collection of str
        Placeholders this template may use.

    Returns
    -------
    tuple of Step
        Empty for an empty template.

    Raises
    ------
    InputError
        Unbalanced quotes or braces, an empty step, a placeholder that is not
        known or not allowed here (listing the known ones), or a format
        specification (``{x:3}``, ``{x!r}``).

    Examples
    --------
    >>> steps = parse_command("tool {tomogram} -o {output} && merge {output}",
    ...                       parameter="command", picker="command",
    ...                       allowed=("tomogram", "output"))
    >>> [step.tokens for step in steps]
    [('tool', '{tomogram}', '-o', '{output}'), ('merge', '{output}')]
    """
    source = f"picker {picker!r}"
    try:
        tokens = shlex.split(text)
    except ValueError as error:
        raise InputError(
            source, f"parameter {parameter!r}: cannot split {text!r}: {error}"
        ) from None
    groups: list[list[str]] = [[]]
    for token in tokens:
        if token == "&&":
            groups.append([])
        else:
            groups[-1].append(token)
    if tokens and not all(groups):
        raise InputError(source, f"parameter {parameter!r}: an empty step in {text!r}")
    steps = []
    for group in groups if tokens else []:
        names = frozenset(name for token in group for name in _names(token, parameter, source))
        _check_names(names, allowed, parameter, source)
        steps.append(Step(tuple(group), names))
    return tuple(steps)


def fill_steps(
    steps: Sequence[Step],
    values: Mapping[str, str | Sequence[str]],
    per_class: Sequence[Mapping[str, str]],
) -> list[list[str]]:
    """The argument lists to run, in order: per-class steps once per entry of ``per_class``.

    Parameters
    ----------
    steps : sequence of Step
    values : mapping
        Placeholder → text, or a list of texts (spliced when a token is exactly
        that placeholder; joined with spaces inside a longer token).
    per_class : sequence of mapping
        One mapping of the per-class placeholders per class, in class order.

    Returns
    -------
    list of list of str

    Examples
    --------
    >>> step = parse_command("t {class} {flags}", parameter="command", picker="c",
    ...                      allowed=("class", "flags"))
    >>> fill_steps(step, {"flags": ["-a", "-b"]}, [{"class": "x"}, {"class": "y"}])
    [['t', 'x', '-a', '-b'], ['t', 'y', '-a', '-b']]
    """
    argvs = []
    for step in steps:
        for extra in per_class if step.per_class else [{}]:
            merged = {**values, **extra}
            argv: list[str] = []
            for token in step.tokens:
                whole = _whole_placeholder(token)
                value = merged.get(whole) if whole else None
                if isinstance(value, (list, tuple)):
                    argv.extend(str(v) for v in value)
                else:
                    argv.append(_fill(token, merged))
            argvs.append(argv)
    return argvs


def check_output_pattern(pattern: str, *, picker: str) -> frozenset[str]:
    """Check an output pattern: relative, inside ``{output}``, placeholders ``{run}``, ``{class}``.

    Returns
    -------
    frozenset of str
        The placeholders it uses.

    Raises
    ------
    InputError
        An absolute path, a ``..`` component, a drive, or another placeholder.

    Examples
    --------
    >>> sorted(check_output_pattern("{run}_{class}.star", picker="command"))
    ['class', 'run']
    """
    source = f"picker {picker!r}"
    names = frozenset(_names(pattern, "output", source))
    _check_names(names, ("run", "class"), "output", source)
    posix, windows = PurePosixPath(pattern), PureWindowsPath(pattern)
    if (
        posix.is_absolute()
        or windows.is_absolute()
        or windows.drive
        or pattern.startswith("~")
        or ".." in posix.parts
        or ".." in windows.parts
    ):
        raise InputError(
            source,
            f"parameter 'output' must be a path inside the output folder (relative, no '..'), "
            f"found {pattern!r}",
        )
    return names


def fill_pattern(pattern: str, values: Mapping[str, str]) -> str:
    """Fill ``{run}`` and ``{class}`` into an output pattern (see :func:`check_output_pattern`)."""
    return _fill(pattern, values)


def _names(token: str, parameter: str, source: str) -> list[str]:
    try:
        parsed = list(_FORMATTER.parse(token))
    except ValueError as error:
        raise InputError(
            source, f"parameter {parameter!r}: bad braces in {token!r}: {error} (use {{{{ }}}})"
        ) from None
    names = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if spec or conversion:
            raise InputError(
                source,
                f"parameter {parameter!r}: placeholder {{{name}}} in {token!r} takes no format "
                "or conversion; write just {name}",
            )
        names.append(name)
    return names


def _check_names(names, allowed: Collection[str], parameter: str, source: str) -> None:
    for name in sorted(names):
        if name in allowed:
            continue
        if name in PLACEHOLDERS:
            raise InputError(
                source,
                f"parameter {parameter!r}: placeholder {{{name}}} cannot be used here "
                f"({PLACEHOLDERS[name]}); usable here: {sorted(allowed)}",
            )
        known = sorted(set(PLACEHOLDERS) | set(allowed))
        raise InputError(
            source,
            f"parameter {parameter!r}: unknown placeholder {{{name}}}; known placeholders: "
            f"{known}.{did_you_mean(name, known)}",
        )


def _whole_placeholder(token: str) -> str | None:
    parsed = list(_FORMATTER.parse(token))
    if len(parsed) == 1 and parsed[0][0] == "" and parsed[0][1]:
        return parsed[0][1]
    return None


def _fill(token: str, values: Mapping[str, str | Sequence[str]]) -> str:
    out = []
    for literal, name, _, _ in _FORMATTER.parse(token):
        out.append(literal)
        if name is not None:
            value = values[name]
            out.append(" ".join(value) if isinstance(value, (list, tuple)) else str(value))
    return "".join(out)
