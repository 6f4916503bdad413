"""``command``: run any command-line picker on each tomogram, from a command template.

For each run the picker writes the tomogram as MRC (or hands the tool the
copick project and run name), the classes as JSON, and an empty output
folder; fills the placeholders of the command template
(:mod:`~topcup_bench.pickers.adapters.command_template`); runs each step
without a shell, with the output captured in a log file and a timeout; checks
that the tool wrote only into its output folder; and reads the output
through the picks importers, or through :mod:`~topcup_bench.pickers.seg2picks`
for segmentation and probability maps
(:mod:`~topcup_bench.pickers.adapters.command_output`).

With a train command the picker is trainable: ``fit`` writes the training
runs' ground truth (STAR, CSV; or the copick project) and tomograms, and the
train command writes a model folder ``{model}`` that the pick command reads.

Presets for particular tools subclass :class:`CommandPicker` and set the
``default_*`` class attributes; a preset with a ``default_train_command`` is
trainable too (:func:`trainable_variant`).
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from topcup_bench.datasets.catalog import cache_dir
from topcup_bench.errors import InputError
from topcup_bench.identity import digest_json
from topcup_bench.pickers.protocol import Picker, TrainablePicker
from topcup_bench.types import ClassCatalogue, Tomogram, empty_picks_table

from .command_inputs import (
    check_writes,
    copick_config,
    new_work_folder,
    write_run_inputs,
    write_training_inputs,
)
from .command_output import find_outputs, read_outputs
from .command_spec import CommandSpec, check_settings, number_text
from .command_template import fill_steps
from .command_variants import rebuild, register_variant, trainable_variant, wants_training
from .tool_process import ToolError, run_log_path, run_tool
from .tool_process import tool_version as run_version_command

if TYPE_CHECKING:  # pragma: no cover
    from topcup_bench.datasets.dataset import Dataset

__all__ = ["CommandPicker", "TrainableCommandPicker", "trainable_variant"]

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


class CommandPicker(Picker):
    """Run a command-line picker on each tomogram (see the module docstring).

    Parameters
    ----------
    command : str
        Command template, steps separated by ``&&`` (no shell); placeholders
        such as ``{tomogram}``, ``{output}``, ``{class}``
        (:data:`~topcup_bench.pickers.adapters.command_template.PLACEHOLDERS`).
    output : str
        Where the picks are, relative to ``{output}``: may use ``{run}``,
        ``{class}`` and glob wildcards; ``""``: every file of the format's (or a
        known picks) extension.
    format : str
        ``csv``, ``star``, ``dynamo``, ``deepfinder``, ``cbox``, ``coords``,
        ``ndjson``; ``segmentation`` (one MRC label map, label i = i-th class of
        the classes JSON) or ``probability`` (one MRC per class: ``output`` must
        use ``{class}``); ``""``: by extension.
    version_command : str
        Prints the tool's version (first line kept in the picker card).
    train_command : str
        Makes the picker trainable: writes ``{model}`` from the training data.
    python : str
        Interpreter for ``{python}`` (another environment's); default the one
        running topcup-bench.
    input : {"mrc", "copick"}
        Hand the tool an MRC (``{tomogram}``) or the copick project
        (``{copick_config}`` and ``{run}``).
    templates, masks : str
        Per-class files for ``{template}`` / ``{mask}``: ``"class:path,class:path"``
        or a pattern with ``{class}`` (``"templates/{class}.mrc"``).
    timeout_s : float
        Wall-clock limit per run (all steps together), seconds.
    label : str
        Leaderboard name (default ``command``).
    threads : int
        ``{threads}``, and ``OMP_NUM_THREADS`` (and MKL, OpenBLAS) of the tool.
    keep_work : bool
        Keep the temporary work folders (their path is written into the log).
    protein_dark : bool
        ``{protein_dark}`` is ``true`` (tomograms with dark protein) or ``false``.
    seg_method : {"nms", "copick-utils"}
        How maps become picks (:func:`~topcup_bench.pickers.seg2picks.picks_from_maps`).
    seg_threshold : float
        Probability threshold of maps.
    """

    name = "command"
    version = "1"
    description = "any command-line picker, run on each tomogram from a command template"
    citation = "see the tool that the command runs"
    licence = "n/a (the tool's own)"

    default_command: ClassVar[str] = ""
    default_output: ClassVar[str] = ""
    default_format: ClassVar[str] = ""
    default_version_command: ClassVar[str] = ""
    default_train_command: ClassVar[str] = ""
    install_hint: ClassVar[str] = "install the tool and put it on PATH (or give its path)"
    #: Placeholders a preset adds; it fills them in :meth:`extra_values`.
    extra_placeholders: ClassVar[tuple[str, ...]] = ()
    #: A file (relative to ``{output}``) that a preset's tool writes even when it finds
    #: nothing: when it exists and no output matches, the run has no picks (not an error).
    no_picks_marker: ClassVar[str] = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> CommandPicker:
        if not issubclass(cls, TrainablePicker) and wants_training(cls, args, kwargs):
            cls = trainable_variant(cls)
        return super().__new__(cls)

    def __init__(
        self,
        command: str = "",
        output: str = "",
        format: str = "",
        version_command: str = "",
        train_command: str = "",
        python: str = "",
        input: str = "mrc",
        templates: str = "",
        masks: str = "",
        timeout_s: float = 3600.0,
        label: str = "",
        threads: int = 1,
        keep_work: bool = False,
        protein_dark: bool = True,
        seg_method: str = "nms",
        seg_threshold: float = 0.5,
    ) -> None:
        self.command, self.output, self.format = command, output, format
        self.version_command, self.train_command = version_command, train_command
        self.python, self.input = python, input
        self.templates, self.masks = templates, masks
        self.timeout_s, self.label, self.threads = float(timeout_s), label, int(threads)
        self.keep_work, self.protein_dark = bool(keep_work), bool(protein_dark)
        self.seg_method, self.seg_threshold = seg_method, float(seg_threshold)
        check_settings(
            self.display_name,
            input=input,
            format=self._format,
            timeout_s=self.timeout_s,
            threads=self.threads,
            seg_method=seg_method,
            seg_threshold=self.seg_threshold,
        )
        self._spec = CommandSpec.parse(
            picker=self.display_name,
            command=self.command or self.default_command,
            output=self.output or self.default_output,
            format=self._format,
            version_command=self.version_command or self.default_version_command,
            train_command=self.train_command or self.default_train_command,
            input=input,
            templates=templates,
            masks=masks,
            trainable=isinstance(self, TrainablePicker),
            extra_placeholders=self.extra_placeholders,
        )
        self._resolved: dict[str, str] | None = None
        self._tool_version: str | None = None
        self._copick_config: str | None = None

    # ---------------------------------------------------------------- resolved parameters
    @property
    def _format(self) -> str:
        return self.format or self.default_format

    @property
    def _source(self) -> str:
        return f"picker {self.display_name!r}"

    @property
    def display_name(self) -> str:
        """The leaderboard name: ``label``, else the registry name."""
        return self.label or self.leaderboard_label or self.name

    @property
    def tool_version(self) -> str:
        """First line printed by the version command (``""`` without one); run once."""
        if self._tool_version is None:
            steps = self._spec.version_steps
            if not steps:
                self._tool_version = ""
            else:
                argv = fill_steps(steps[:1], {"python": self._python_path()}, [])[0]
                argv[0] = self._executables(strict=False).get(steps[0].tokens[0], argv[0])
                self._tool_version = run_version_command(argv)
        return self._tool_version

    def extra_values(
        self, voxel_size: float, classes: ClassCatalogue
    ) -> dict[str, str | list[str]]:
        """Values of a preset's :attr:`extra_placeholders` (a list becomes several arguments).

        Called once per run (and once for training) with the run's voxel size
        (Å) and classes, so that a value may depend on them.
        """
        return {}

    def read_tool_outputs(
        self,
        found: list[tuple[Path, str | None]],
        tomogram: Tomogram,
        classes: ClassCatalogue,
    ) -> pd.DataFrame:
        """Read the output files the tool wrote (each with its class, or None) as picks.

        Presets override this for native files the picks importers cannot
        take whole (a DeepFinder object list with several class labels).

        Raises
        ------
        InputError
            An unreadable file (``pick`` reports it as a ``ToolError`` with the log).
        ToolError
            Picks outside the tomogram, a map of another shape.
        """
        return read_outputs(
            found,
            fmt=self._spec.format,
            tomogram=tomogram,
            classes=classes,
            seg_method=self.seg_method,
            seg_threshold=self.seg_threshold,
            picker=self.display_name,
        )

    # ---------------------------------------------------------------- the picker protocol
    def prepare(self, dataset: Dataset) -> None:
        """Find the tool (``ToolMissingError`` naming it), record its version, check templates.

        Raises
        ------
        ToolMissingError
            A command, or the ``python`` interpreter, that is not installed.
        InputError
            A class of the dataset without a template (mask) where the command
            uses ``{template}`` (``{mask}``), a template file that does not
            exist, or ``input=copick`` on a dataset that is not a copick project.
        """
        self._resolved = self._executables(strict=True)
        self._spec.check_class_files(dataset.classes)
        if self.input == "copick":
            self._copick_config = copick_config(dataset, "input=copick")
        _ = self.tool_version

    def pick(self, tomogram: Tomogram, classes: ClassCatalogue) -> pd.DataFrame:
        """Run the command on ``tomogram`` and read its output (see the class docstring).

        Raises
        ------
        ToolMissingError
            The tool is not installed.
        ToolError
            The tool crashed, timed out, wrote nothing, wrote outside its
            output folder, wrote picks outside the tomogram or an unreadable
            file (each message names the log file).
        InputError
            A class without a template where the command uses ``{template}``.
        """
        classes = ClassCatalogue.coerce(classes)
        spec = self._spec
        if self._resolved is None:
            self._resolved = self._executables(strict=True)
        spec.check_class_files(classes)
        if self.input == "copick" and self._copick_config is None:
            raise InputError(self._source, "input=copick: call prepare(dataset) before pick")
        log_path = self._log_path(tomogram.run)
        log_path.unlink(missing_ok=True)
        work = new_work_folder(f"{self.display_name}-{tomogram.run}")
        try:
            values = self._values(tomogram.voxel_size_angstrom, classes)
            values.update(
                write_run_inputs(
                    work,
                    tomogram,
                    classes,
                    write_tomogram=self.input == "mrc",
                    templates=spec.class_files("template", classes),
                    masks=spec.class_files("mask", classes),
                )
            )
            values["run"] = tomogram.run
            if self._copick_config is not None:
                values["copick_config"] = self._copick_config
            if any("model" in step.names for step in spec.steps):
                values["model"] = str(self._trained_model())
            before = work.snapshot()
            per_class = spec.class_values(classes, tomogram.voxel_size_angstrom)
            self._run_steps(fill_steps(spec.steps, values, per_class), work.output, log_path)
            files = check_writes(work, before, picker=self.display_name, log_path=log_path)
            found = find_outputs(
                work.output,
                files,
                pattern=spec.output,
                fmt=spec.format,
                run=tomogram.run,
                classes=classes,
            )
            if not found and self.no_picks_marker:
                if (work.output / self.no_picks_marker).is_file():
                    return empty_picks_table()
            if not found:
                expected = spec.output or f"any {spec.format or 'picks'} file"
                raise ToolError(
                    f"picker {self.display_name!r}: the tool wrote no output matching "
                    f"{expected!r} in its output folder; log: {log_path}"
                )
            try:
                return self.read_tool_outputs(found, tomogram, classes)
            except InputError as error:
                raise ToolError(
                    f"picker {self.display_name!r}: cannot read its output: {error}; "
                    f"log: {log_path}"
                ) from None
            except ToolError as error:  # picks outside the tomogram, a map of another shape
                raise ToolError(f"{error}; log: {log_path}") from None
        finally:
            self._finish(work.path, log_path)

    def fit(self, dataset: Dataset, runs: Sequence[str]) -> None:
        """Run the train command on ``runs``: it writes ``{model}``; sets ``trained_on``.

        Raises
        ------
        InputError
            The picker has no train command.
        ToolError
            The train command failed, timed out or wrote outside ``{model}``.
        """
        spec = self._spec
        if not spec.train_steps:
            raise InputError(self._source, "fit needs parameter 'train_command'")
        if self._resolved is None:
            self.prepare(dataset)
        model = self._model_folder()
        shutil.rmtree(model, ignore_errors=True)
        model.mkdir(parents=True)
        log_path = self._log_path("fit")
        log_path.unlink(missing_ok=True)
        work = new_work_folder(f"{self.display_name}-fit", output=model)
        voxel_size = float(dataset.voxel_size_angstrom)
        try:
            values = self._values(voxel_size, dataset.classes)
            values.update(
                write_training_inputs(
                    work,
                    dataset,
                    list(runs),
                    needed=frozenset().union(*(s.names for s in spec.train_steps)),
                    templates=spec.class_files("template", dataset.classes),
                    masks=spec.class_files("mask", dataset.classes),
                )
            )
            values["model"] = str(model)
            before = work.snapshot()
            per_class = spec.class_values(dataset.classes, voxel_size)
            self._run_steps(fill_steps(spec.train_steps, values, per_class), model, log_path)
            check_writes(work, before, picker=self.display_name, log_path=log_path)
            (model / ".trained").write_text(",".join(runs) + "\n", encoding="utf-8")
        finally:
            self._finish(work.path, log_path)
        self.trained_on = tuple(runs)

    def input_digest(self, dataset: Dataset, run: str) -> str:
        """Digest of the tomogram, the commands, the tool (path, version) and the per-class files.

        Also digested: every literal argument of the commands that names an
        existing file (a script handed to ``{python}``), so that editing it
        changes the key.  Placeholders stay unfilled in the digested text, so
        temporary paths never enter it.
        """
        return digest_json(
            {
                "tomogram": dataset.run_digest(run),
                **self._spec.digest_fields(dataset.classes),
                "executables": self._executables(strict=False),
                "tool_version": self.tool_version,
            }
        )

    def log_files(self, runs: Sequence[str]) -> dict[str, str]:
        """Existing logs: ``LOGS/<label>/<hash>/<run>.log`` (and ``fit`` → ``fit.log``)."""
        logs = {run: self._log_path(run) for run in [*runs, "fit"]}
        return {run: str(path) for run, path in logs.items() if path.is_file()}

    def __reduce_ex__(self, protocol: Any) -> tuple:
        """Pickle through the plain class, so that generated trainable variants pickle too."""
        plain = type(self).__dict__.get("_plain_class", type(self))
        trainable = isinstance(self, TrainablePicker)
        return (rebuild, (plain, trainable), self.__dict__.copy())

    def _python_path(self) -> str:
        return self.python or sys.executable

    def _executables(self, *, strict: bool) -> dict[str, str]:
        return self._spec.executables(
            python=self._python_path(),
            python_given=bool(self.python),
            install_hint=self.install_hint,
            strict=strict,
        )

    def _values(self, voxel_size: float, classes: ClassCatalogue) -> dict[str, str | list[str]]:
        values: dict[str, str | list[str]] = {
            "voxel_size": number_text(voxel_size),
            "python": (self._resolved or {}).get("{python}", self._python_path()),
            "threads": str(self.threads),
            "protein_dark": "true" if self.protein_dark else "false",
        }
        values.update(self.extra_values(voxel_size, classes))
        return values

    def _run_steps(self, argvs: list[list[str]], cwd: Path, log_path: Path) -> None:
        deadline = time.monotonic() + self.timeout_s
        environment = {name: str(self.threads) for name in _THREAD_VARIABLES}
        for argv in argvs:
            argv = [(self._resolved or {}).get(argv[0], argv[0]), *argv[1:]]
            left = deadline - time.monotonic()
            if left <= 0:
                raise ToolError(
                    f"picker {self.display_name!r}: timed out after {self.timeout_s:g} s "
                    f"(timeout_s) before {Path(argv[0]).name}; log: {log_path}"
                )
            try:
                run_tool(
                    argv,
                    picker=self.display_name,
                    log_path=log_path,
                    timeout_s=left,
                    cwd=cwd,
                    env=environment,
                )
            except ToolError:
                if time.monotonic() < deadline:
                    raise
                raise ToolError(  # name the limit, not what was left of it for this step
                    f"picker {self.display_name!r}: {Path(argv[0]).name} timed out after "
                    f"{self.timeout_s:g} s (timeout_s, all steps of a run); log: {log_path}"
                ) from None

    def _finish(self, work: Path, log_path: Path) -> None:
        if self.keep_work:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "a", encoding="utf-8") as log:
                log.write(f"[topcup-bench] work folder kept: {work}\n")
        else:
            shutil.rmtree(work, ignore_errors=True)

    def _log_path(self, name: str) -> Path:
        return run_log_path(self.display_name, self.parameters(), name)

    def _model_folder(self) -> Path:
        return (
            cache_dir() / "command-models" / self.display_name / digest_json(self.parameters())[:12]
        )

    def _trained_model(self) -> Path:
        model = self._model_folder()
        if not (model / ".trained").is_file():
            raise InputError(
                self._source,
                f"the command reads {{model}}: call fit(dataset, runs) first ({model})",
            )
        return model


class TrainableCommandPicker(CommandPicker, TrainablePicker):
    """:class:`CommandPicker` with a train command (what ``command`` is given ``train_command``)."""

    _plain_class: ClassVar[type] = CommandPicker


register_variant(CommandPicker, TrainableCommandPicker)
