"""What the ``command`` picker hands a tool: a work folder per run (or per training).

Layout of a run's work folder (a fresh temporary folder)::

    WORK/{run}.mrc        the tomogram (input=mrc; voxel size in the header)
    WORK/classes.json     the classes (tool_inputs.write_classes_json)
    WORK/output/          empty: the tool writes its picks here ({output})

and of a training work folder::

    WORK/classes.json
    WORK/train.star       ground truth of the training runs, RELION STAR (pixels)
    WORK/train.csv        the same as CSV (Å)
    WORK/tomograms/{run}.mrc

After the tool ran, :func:`check_writes` compares the folder with what we
wrote: anything new outside the output folder, or an output that resolves
outside it (a symbolic link), is a :class:`ToolError`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from topcup_bench.datasets.picks_csv import write_kaggle_csv
from topcup_bench.datasets.picks_star import write_picks_star
from topcup_bench.errors import InputError
from topcup_bench.types import ClassCatalogue, Tomogram

from .tool_inputs import write_classes_json, write_mrc
from .tool_process import ToolError

if TYPE_CHECKING:  # pragma: no cover
    from topcup_bench.datasets.dataset import Dataset

__all__ = [
    "WorkFolder",
    "new_work_folder",
    "write_run_inputs",
    "write_training_inputs",
    "check_writes",
]

OUTPUT_NAME = "output"
CLASSES_NAME = "classes.json"


@dataclass(frozen=True)
class WorkFolder:
    """A work folder, its output folder and what was in it before the tool ran."""

    path: Path
    output: Path

    def snapshot(self) -> frozenset[str]:
        """Relative paths of everything in the work folder now (files, folders, links)."""
        found = set()
        for root, dirs, files in os.walk(self.path):
            for name in dirs + files:
                found.add(os.path.relpath(os.path.join(root, name), self.path))
        return frozenset(found)


def new_work_folder(prefix: str, *, output: Path | None = None) -> WorkFolder:
    """A fresh temporary work folder; ``output`` defaults to its empty ``output/`` subfolder."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in prefix)[:60]
    path = Path(tempfile.mkdtemp(prefix=f"topcup-bench-{safe}-")).resolve()
    out = output if output is not None else path / OUTPUT_NAME
    out.mkdir(parents=True, exist_ok=True)
    return WorkFolder(path, out)


def write_run_inputs(
    work: WorkFolder,
    tomogram: Tomogram,
    classes: ClassCatalogue,
    *,
    write_tomogram: bool,
    templates: Mapping[str, str],
    masks: Mapping[str, str],
) -> dict[str, str]:
    """Write a run's inputs into ``work``; returns the placeholders they fill.

    Returns
    -------
    dict of str to str
        ``classes`` and ``work`` (and ``tomogram`` when ``write_tomogram``), absolute paths.
    """
    values = {"work": str(work.path), "output": str(work.output)}
    values["classes"] = str(
        write_classes_json(
            work.path / CLASSES_NAME,
            classes,
            voxel_size_angstrom=tomogram.voxel_size_angstrom,
            templates={k: v for k, v in templates.items() if k in classes},
            masks={k: v for k, v in masks.items() if k in classes},
        )
    )
    if write_tomogram:
        path = work.path / f"{_file_name(tomogram.run)}.mrc"
        values["tomogram"] = str(write_mrc(path, tomogram.data, tomogram.voxel_size_angstrom))
    return values


def write_training_inputs(
    work: WorkFolder,
    dataset: Dataset,
    runs: Sequence[str],
    *,
    needed: frozenset[str],
    templates: Mapping[str, str],
    masks: Mapping[str, str],
) -> dict[str, str]:
    """Write what the train command reads (only the ``needed`` placeholders' files).

    Returns
    -------
    dict of str to str
        ``work``, ``classes``, ``train_runs`` and, where needed, ``train_star``,
        ``train_csv``, ``train_tomograms`` and ``train_copick``.

    Raises
    ------
    InputError
        ``{train_copick}`` for a dataset that is not a copick project.
    """
    values = {"work": str(work.path), "train_runs": ",".join(runs)}
    voxel_size = float(dataset.voxel_size_angstrom)
    values["classes"] = str(
        write_classes_json(
            work.path / CLASSES_NAME,
            dataset.classes,
            voxel_size_angstrom=voxel_size,
            templates=templates,
            masks=masks,
        )
    )
    if needed & {"train_star", "train_csv"}:
        truth = dataset.truth(list(runs))
        if "train_star" in needed:
            values["train_star"] = str(work.path / "train.star")
            write_picks_star(truth, values["train_star"], pixel_size_angstrom=voxel_size)
        if "train_csv" in needed:
            values["train_csv"] = str(work.path / "train.csv")
            write_kaggle_csv(truth, values["train_csv"])
    if "train_tomograms" in needed:
        folder = work.path / "tomograms"
        folder.mkdir()
        for run in runs:
            tomogram = dataset.tomogram(run)
            write_mrc(folder / f"{_file_name(run)}.mrc", tomogram.data, voxel_size)
        values["train_tomograms"] = str(folder)
    if "train_copick" in needed:
        values["train_copick"] = copick_config(dataset, "train_command")
    return values


def copick_config(dataset: Dataset, parameter: str) -> str:
    """Absolute path of the dataset's copick config; an :class:`InputError` names ``parameter``."""
    config = getattr(dataset, "config_path", None)
    if not config:
        raise InputError(
            f"dataset {getattr(dataset, 'name', '?')!r}",
            f"{parameter} uses a copick placeholder, but the dataset is not a copick project",
        )
    return str(Path(config).resolve())


def check_writes(
    work: WorkFolder, before: frozenset[str], *, picker: str, log_path: Path
) -> list[Path]:
    """Check where the tool wrote; return the regular files of the output folder.

    Raises
    ------
    ToolError
        ``wrote outside its output folder: PATH`` for a new entry of the work
        folder outside the output folder, or an output entry that resolves
        outside it (a symbolic link to elsewhere).
    """
    output_rel = os.path.relpath(work.output, work.path)
    inside_work = not output_rel.startswith("..")
    for entry in sorted(work.snapshot() - before):
        if inside_work and (entry == output_rel or entry.startswith(output_rel + os.sep)):
            continue
        _outside(work.path / entry, picker, log_path)
    real_output = work.output.resolve()
    files = []
    for root, dirs, names in os.walk(work.output):
        for name in dirs + names:
            path = Path(root) / name
            if not path.resolve().is_relative_to(real_output):
                _outside(path, picker, log_path)
            if name in names and path.is_file():
                files.append(path)
    return sorted(files)


def _outside(path: Path, picker: str, log_path: Path) -> None:
    raise ToolError(
        f"picker {picker!r}: the tool wrote outside its output folder: {path}; log: {log_path}"
    )


def _file_name(run: str) -> str:
    """A run name usable as a file name (``/`` and other separators replaced)."""
    return run.replace(os.sep, "_").replace("/", "_") or "run"
