"""``pytme``: template matching by pyTME, called as a separate program.

pyTME (the ``pytme`` package, GPL-2.0) is run through its command line, one
``pytme match`` and one ``pytme postprocess`` per tomogram and class; nothing
of it is imported here.  The templates are the *same* clean primitives as our
``template`` picker's (never the generator's perturbed instances), and the
options mirror ``template``'s where pyTME has them, so the two can be compared
at matched settings.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from topcup_bench.datasets.phantom.primitives import (
    PRIMITIVES,
    bounding_radius_voxels,
    clean_primitive,
)
from topcup_bench.errors import InputError, did_you_mean
from topcup_bench.identity import digest_json
from topcup_bench.pickers.adapters import tool_process
from topcup_bench.pickers.adapters.pytme_output import read_orientations
from topcup_bench.pickers.adapters.tool_inputs import write_mrc
from topcup_bench.pickers.protocol import Picker
from topcup_bench.pickers.template import is_isotropic
from topcup_bench.pickers.template_matching import spherical_mask
from topcup_bench.types import ClassCatalogue, Tomogram

if TYPE_CHECKING:  # pragma: no cover
    from topcup_bench.datasets.dataset import Dataset

__all__ = ["PytmePicker", "INSTALL_HINT"]

#: What to install when ``pytme`` cannot be found.
INSTALL_HINT = "pip install 'topcup-bench[pytme]' (pyTME, GPL-2.0; builds C++ for a few minutes)"
#: ``--min-score`` of ``pytme postprocess``: below any correlation, so that every
#: candidate up to ``max_candidates`` is kept for the threshold sweep.
_SCORE_FLOOR = -1e9
#: Angular sampling (degrees) at which pyTME searches the identity rotation alone.
_ONE_ROTATION_DEG = 180.0


class PytmePicker(Picker):
    """pyTME template matching of the clean primitives (``pytme match`` + ``pytme postprocess``).

    For each class, the clean primitive (density positive, at the tomogram's
    voxel size) and a spherical mask are written as MRC and handed to
    ``pytme match`` *unfiltered*: pyTME applies the missing wedge (continuous,
    ±``wedge_half_angle_deg`` about y) and the phase-flipped CTF (|CTF|, as our
    ``template`` picker) to the template itself, and scores with its
    locally normalised correlation under a spherical mask (``FLCSphericalMask``,
    the same score as ``template``'s FLCF).  ``pytme postprocess`` calls peaks
    with its maximum-filter peak caller and writes an orientations table, read
    by :func:`~topcup_bench.pickers.adapters.pytme_output.read_orientations`;
    pyTME's score is kept as ``score``.

    Parameters
    ----------
    angular_sampling_deg : float
        pyTME's ``--angular-sampling`` for anisotropic classes, degrees in (0, 180];
        isotropic shells and spheres (:func:`~topcup_bench.pickers.template.is_isotropic`)
        are searched with the identity alone (``--angular-sampling 180``).  pyTME
        0.3.6 searches 24 rotations at 55–60° (the default: ``template``'s
        ``n_rotations=24``), 60 at 45–50°, 216 at 35–40°, 360 at 25–30°, 648 at
        20° and 1992 at 15°; the count is written in each run's log.  Its 24 are
        the cube's rotation group, which turns a particle's axes onto the three
        coordinate axes only: for particles with an axis of symmetry
        (thyroglobulin, beta-galactosidase) 45° (60 rotations) finds far more.
    mask_radius_factor : float
        Spherical mask radius as a multiple of the clean primitive's bounding radius.
    nms_fraction : float
        pyTME's ``--min-distance``, as a fraction of the class radius R (rounded
        to whole voxels, at least 1).
    max_candidates : int
        Most peaks kept per class and tomogram (pyTME's ``--num-peaks``).
    protein_dark : bool
        The data show protein dark (``--invert-target-contrast``).
    defocus_um : float
        Nominal underfocus of the template's |CTF|, µm.
    wedge_half_angle_deg : float
        Tilt range ±angle about y (``--tilt-angles A,A``, ``--wedge-axes 2,0``:
        beam along z, the wedge opening between z and x).
    voltage_kv, cs_mm, amplitude_contrast : float
        Microscope of the |CTF|.
    threads : int
        pyTME's ``--processes`` (the picks do not depend on it).
    timeout_s : float
        Wall-clock limit of each ``pytme`` call, seconds.
    executable : str
        The ``pytme`` program; empty: ``pytme`` on ``PATH``, else beside the
        running Python interpreter (same virtual environment).

    Notes
    -----
    Differences from ``template`` at matched settings: no B-factor envelope
    (pyTME's CTF has none; ``template`` uses 150 Å²), no class-conflict
    resolution (each class keeps its own peaks), pyTME's own angular set (see
    ``angular_sampling_deg``), cubic-spline rotation of the template, and the
    target filtered with the same wedge.  Scores repeat to about 1e-7, not bit
    for bit: pyTME's FFT library picks its algorithms by timing them
    (FFTW_MEASURE); the runner's picks cache keeps results stable.  Time per
    tomogram: one ``pytme match`` and one ``pytme postprocess`` per class, each a
    new Python process (1.5–2.5 s of start-up each, 12 for six classes).
    """

    name = "pytme"
    version = "1"
    description = (
        "pyTME template matching (FLC under a spherical mask) of the clean primitives, "
        "wedge and |CTF| applied by pyTME; peaks by pyTME's maximum-filter peak caller"
    )
    citation = (
        'Maurer, V. J., Siggel, M. & Kosinski, J. (2024) "PyTME (Python Template Matching '
        "Engine): A fast, flexible, and multi-purpose template matching library for "
        'cryogenic electron microscopy data", SoftwareX 25:101636'
    )
    licence = "GPL-2.0 (called as a separate program)"

    def __init__(
        self,
        angular_sampling_deg: float = 60.0,
        mask_radius_factor: float = 1.1,
        nms_fraction: float = 0.6,
        max_candidates: int = 500,
        protein_dark: bool = True,
        defocus_um: float = 3.5,
        wedge_half_angle_deg: float = 45.0,
        voltage_kv: float = 300.0,
        cs_mm: float = 2.7,
        amplitude_contrast: float = 0.07,
        threads: int = 1,
        timeout_s: float = 3600.0,
        executable: str = "",
    ) -> None:
        for key, value in (("max_candidates", max_candidates), ("threads", threads)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise InputError("pytme", f"{key} must be an integer ≥ 1, got {value!r}")
        for key, value in (
            ("mask_radius_factor", mask_radius_factor),
            ("nms_fraction", nms_fraction),
            ("defocus_um", defocus_um),
            ("voltage_kv", voltage_kv),
            ("timeout_s", timeout_s),
        ):
            if not (_is_number(value) and value > 0):
                raise InputError("pytme", f"{key} must be a positive number, got {value!r}")
        if not (_is_number(cs_mm) and cs_mm >= 0):
            raise InputError("pytme", f"cs_mm must be ≥ 0, got {cs_mm!r}")
        for key, value, upper in (
            ("angular_sampling_deg", angular_sampling_deg, _ONE_ROTATION_DEG),
            ("wedge_half_angle_deg", wedge_half_angle_deg, 90.0),
        ):
            if not (_is_number(value) and 0 < value <= upper):
                raise InputError("pytme", f"{key} must be in (0, {upper:g}], got {value!r}")
        if not (_is_number(amplitude_contrast) and 0 <= amplitude_contrast < 1):
            raise InputError(
                "pytme", f"amplitude_contrast must be in [0, 1), got {amplitude_contrast!r}"
            )
        if not isinstance(executable, str):
            raise InputError("pytme", f"executable must be a string, got {executable!r}")
        self.angular_sampling_deg = float(angular_sampling_deg)
        self.mask_radius_factor = float(mask_radius_factor)
        self.nms_fraction = float(nms_fraction)
        self.max_candidates = int(max_candidates)
        self.protein_dark = bool(protein_dark)
        self.defocus_um = float(defocus_um)
        self.wedge_half_angle_deg = float(wedge_half_angle_deg)
        self.voltage_kv = float(voltage_kv)
        self.cs_mm = float(cs_mm)
        self.amplitude_contrast = float(amplitude_contrast)
        self.threads = int(threads)
        self.timeout_s = float(timeout_s)
        self.executable = executable
        self._program: str | None = None
        self._tool_version: str | None = None

    # -- the tool ---------------------------------------------------------------------------
    def program(self) -> str:
        """Absolute path of ``pytme``; a :class:`~.tool_process.ToolMissingError` when absent."""
        if self._program is None:
            self._program = tool_process.resolve_executable(
                self.executable or _default_program(),
                picker=self.display_name,
                install_hint=INSTALL_HINT,
            )
        return self._program

    @property
    def tool_version(self) -> str:
        """``pytme --version`` output (``"unknown: ..."`` when it cannot be run)."""
        if self._tool_version is None:
            try:
                program = self.program()
            except tool_process.ToolMissingError:
                return "unknown: pytme not found"
            self._tool_version = tool_process.tool_version([program, "--version"])
        return self._tool_version

    def prepare(self, dataset: Dataset) -> None:
        """Find ``pytme`` (one clear line when it is missing) and record its version."""
        self.program()
        _ = self.tool_version

    def input_digest(self, dataset: Dataset, run: str) -> str:
        """Run data + pyTME version + the clean primitives of the dataset's classes."""
        primitives = {c.name: repr(PRIMITIVES.get(c.name)) for c in dataset.classes}
        return digest_json(
            {"run": dataset.run_digest(run), "tool": self.tool_version, "templates": primitives}
        )

    def log_path(self, run: str) -> Path:
        """Log of ``run``: ``log_folder(label)/<parameters digest>/<run>.log``."""
        parameters = {"version": self.version, "parameters": self.parameters()}
        return tool_process.run_log_path(self.display_name, parameters, run)

    def log_files(self, runs: Sequence[str]) -> dict[str, str]:
        return {run: str(self.log_path(run)) for run in runs if self.log_path(run).is_file()}

    def rotations_argument(self, class_name: str) -> float:
        """``--angular-sampling`` of a class: 180 (identity alone) for isotropic ones."""
        return _ONE_ROTATION_DEG if is_isotropic(class_name) else self.angular_sampling_deg

    # -- picking ----------------------------------------------------------------------------
    def pick(self, tomogram: Tomogram, classes: ClassCatalogue) -> pd.DataFrame:
        classes = ClassCatalogue.coerce(classes)
        for particle_class in classes:
            if particle_class.name not in PRIMITIVES:
                raise InputError(
                    "pytme",
                    f"no clean template for class {particle_class.name!r}."
                    f"{did_you_mean(particle_class.name, PRIMITIVES)} Known: {list(PRIMITIVES)}",
                )
        if not np.isfinite(tomogram.data).all():
            raise InputError("pytme", f"run {tomogram.run!r}: the tomogram has non-finite values")
        program = self.program()
        log = self.log_path(tomogram.run)
        log.unlink(missing_ok=True)  # one pick, one log
        voxel_size = float(tomogram.voxel_size_angstrom)
        with tempfile.TemporaryDirectory(prefix="topcup-pytme-") as folder:
            work = Path(folder)
            target = write_mrc(work / "target.mrc", tomogram.data, voxel_size)
            tables = [
                self._pick_class(program, work, target, tomogram.run, c, index, voxel_size, log)
                for index, c in enumerate(classes)
            ]
        return pd.concat(tables, ignore_index=True)

    def _pick_class(self, program, work, target, run, particle_class, index, voxel_size, log):
        """Match one class and call its peaks: a picks table (Å, x-y-z)."""
        name = particle_class.name
        template, mask = self._write_template(work, index, name, voxel_size)
        scores = work / f"class{index}.pickle"
        match = self.match_arguments(target, template, mask, scores, name, work)
        self._run(program, match, work, log)
        radius_voxels = particle_class.radius_angstrom / voxel_size
        prefix = work / f"class{index}"
        self._run(program, self.postprocess_arguments(scores, prefix, radius_voxels), work, log)
        table = prefix.with_suffix(".tsv")
        if not table.is_file():
            raise tool_process.ToolError(
                f"picker {self.display_name!r}: pytme postprocess wrote no {table.name} "
                f"for class {name!r}; log: {log}"
            )
        return read_orientations(table, run=run, particle_type=name, voxel_size_angstrom=voxel_size)

    def match_arguments(self, target, template, mask, output, class_name, work) -> list[str]:
        """Arguments of ``pytme match`` for one class (after the program)."""
        wedge = f"{self.wedge_half_angle_deg:g}"
        arguments = [
            "match",
            "--target", str(target),
            "--template", str(template),
            "--template-mask", str(mask),
            "--output", str(output),
            "--score", "FLCSphericalMask",
            "--angular-sampling", f"{self.rotations_argument(class_name):g}",
            "--processes", str(self.threads),
            "--tilt-angles", f"{wedge},{wedge}",
            "--wedge-axes", "2,0",
            "--defocus", f"{self.defocus_um * 1e4:g}",  # Å
            "--acceleration-voltage", f"{self.voltage_kv:g}",  # kV
            "--spherical-aberration", f"{self.cs_mm * 1e7:g}",  # Å
            "--amplitude-contrast", f"{self.amplitude_contrast:g}",
            "--ctf-correction", "phase-flip",
            "--temp-directory", str(work),
        ]  # fmt: skip
        if self.protein_dark:
            arguments.append("--invert-target-contrast")
        return arguments

    def postprocess_arguments(self, scores, prefix, radius_voxels: float) -> list[str]:
        """Arguments of ``pytme postprocess`` (after the program), writing ``prefix``.tsv."""
        min_distance = max(1, round(self.nms_fraction * radius_voxels))
        return [
            "postprocess",
            "--input-file", str(scores),
            "--output-format", "orientations",
            "--output-prefix", str(prefix),
            "--peak-caller", "PeakCallerMaximumFilter",
            "--num-peaks", str(self.max_candidates),
            "--min-distance", str(min_distance),
            f"--min-score={_SCORE_FLOOR:g}",
            "--no-stats",
        ]  # fmt: skip

    def _run(self, program: str, arguments: list[str], work: Path, log: Path) -> None:
        tool_process.run_tool(
            [program, *arguments],
            picker=self.display_name,
            log_path=log,
            timeout_s=self.timeout_s,
            cwd=work,
        )

    def _write_template(self, work: Path, index: int, name: str, voxel_size: float):
        """Write the clean primitive and its spherical mask as MRC, same odd box, same centre."""
        density = clean_primitive(name, voxel_size)
        mask = spherical_mask(self.mask_radius_factor * bounding_radius_voxels(name, voxel_size))
        side = max(density.shape[0], mask.shape[0])
        return (
            write_mrc(work / f"template{index}.mrc", _centred(density, side), voxel_size),
            write_mrc(work / f"mask{index}.mrc", _centred(mask, side), voxel_size),
        )


def _centred(cube: np.ndarray, side: int) -> np.ndarray:
    """``cube`` (odd side) centred in a zero cube of odd ``side``: centres at ``side // 2``."""
    out = np.zeros((side,) * 3, dtype=np.float32)
    n = cube.shape[0]
    lo = side // 2 - n // 2
    out[lo : lo + n, lo : lo + n, lo : lo + n] = cube
    return out


def _default_program() -> str:
    """``pytme`` on ``PATH``, else the one beside the running interpreter, else ``pytme``."""
    if shutil.which("pytme") is None:
        beside = Path(sys.executable).parent / "pytme"
        if beside.is_file() and os.access(beside, os.X_OK):
            return str(beside)
    return "pytme"


def _is_number(value) -> bool:
    return (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )
