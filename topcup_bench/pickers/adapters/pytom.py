"""``pytom-match-pick``: GPU template matching by pytom-match-pick, run per tomogram and class.

For each class, in a folder ``{output}/{class}`` of its own::

    pytom_match_template.py -t TEMPLATE -m MASK -v {tomogram} -d {output}/{class}
        --particle-diameter D --voxel-size-angstrom V -a TILTS ... -g GPU...
    pytom_extract_candidates.py -j {output}/{class}/{run}_job.json -n N
        --particle-diameter D -c CUT_OFF

``pytom_match_template.py`` writes ``{run}_scores.mrc``, ``{run}_angles.mrc``
and the job ``{run}_job.json`` into the folder (which must exist: the preset
creates it with ``mkdir``); ``pytom_extract_candidates.py`` reads the job and
writes ``{run}_particles.star`` beside it: ``rlnCoordinateX/Y/Z`` in voxels
(0-based, x the fastest array axis), ``rlnAngleRot/Tilt/Psi``, ``rlnLCCmax``
(the score), ``rlnCutOff``, ``rlnSearchStd``, ``rlnDetectorPixelSize`` and
``rlnMicrographName`` (SBC-Utrecht/pytom-match-pick 0.14, ``entry_points.py``
and ``extract.py``).  The files are read per class by the STAR importer.

pytom-match-pick needs CUDA (cupy): it cannot run without a GPU.
"""

from __future__ import annotations

from typing import ClassVar

from topcup_bench.errors import InputError
from topcup_bench.types import ClassCatalogue

from .command_spec import number_text
from .presets import (
    ToolPreset,
    absolute,
    parse_gpu_ids,
    parse_numbers,
    require,
    split_options,
)

__all__ = ["PytomMatchPickPicker", "INSTALL_HINT"]

#: What to install when pytom-match-pick cannot be found.
INSTALL_HINT = (
    "install pytom-match-pick (pip install pytom-match-pick; GPL-2.0, needs CUDA and cupy) "
    "and put its environment's bin folder on PATH"
)


class PytomMatchPickPicker(ToolPreset):
    """pytom-match-pick template matching and candidate extraction, per class.

    Parameters
    ----------
    templates, masks : str
        One template and one mask (same box) per class, MRC at the tomogram's
        voxel size and with its contrast: ``"class:path,class:path"`` or a
        pattern with ``{class}``.  Required.
    tilt_angles : str
        ``"MIN,MAX"`` tilt range in degrees (e.g. ``"-60,60"``), or a
        ``.tlt``/``.rawtlt`` file with every tilt (pytom's ``-a``).  Required:
        pytom builds the missing wedge from it.
    gpu_ids : str
        GPU indices, ``"0"`` or ``"0,1"`` (pytom's ``-g``).
    angular_search : str
        pytom's ``--angular-search`` (degrees, or a file of angles); empty:
        pytom derives the sampling from the class diameter.
    low_pass, high_pass : float
        Band-pass resolutions in Å (0: off).
    defocus_um : float
        Defocus in µm for the CTF of the template (0: no CTF); with
        ``voltage_kv``, ``spherical_aberration_mm`` and ``amplitude_contrast``.
    per_tilt_weighting : bool
        pytom's ``--per-tilt-weighting`` (needs a tilt file).
    random_phase_correction : bool
        pytom's ``-r``, seeded with ``rng_seed`` for repeatable scores.
    volume_split : str
        ``"X,Y,Z"`` sub-volumes per axis (pytom's ``-s``), for GPU memory.
    max_particles : int
        Most candidates per class and tomogram (``-n``).
    cut_off : float
        LCC down to which candidates are extracted (``-c``); 0 keeps every
        positive peak, so that the benchmark sweeps the threshold.
    auto_cut_off : bool
        Leave the cut-off to pytom's false-alarm estimate instead.
    match_options, extract_options : str
        More options for each program, split like a shell line.
    timeout_s, label, threads, keep_work, version_command
        As for ``command``.
    """

    name = "pytom-match-pick"
    version = "1"
    description = (
        "pytom-match-pick GPU template matching (pytom_match_template.py + "
        "pytom_extract_candidates.py), one template per class; score rlnLCCmax"
    )
    citation = (
        "Chaillet, M. L. et al. (2023) Extensive angular sampling enables the sensitive "
        "localization of macromolecules in electron tomograms. Int. J. Mol. Sci. 24, 13375; "
        "github.com/SBC-Utrecht/pytom-match-pick"
    )
    licence = "GPL-2.0 (pytom-match-pick, run as a separate program)"
    distribution = "pytom-match-pick"
    entry_point = "pytom_match_template.py"
    install_hint = INSTALL_HINT
    extra_placeholders: ClassVar[tuple[str, ...]] = (
        "tilt_angles",
        "gpu_ids",
        "match_options",
        "max_particles",
        "extract_options",
    )
    default_command = (
        "mkdir {output}/{class}"
        " && pytom_match_template.py -t {template} -m {mask} -v {tomogram} -d {output}/{class}"
        " --particle-diameter {diameter_angstrom} --voxel-size-angstrom {voxel_size}"
        " -a {tilt_angles} {match_options} -g {gpu_ids}"
        " && pytom_extract_candidates.py -j {output}/{class}/{run}_job.json"
        " -n {max_particles} --particle-diameter {diameter_angstrom} {extract_options}"
    )
    default_output = "{class}/*_particles.star"
    default_format = "star"

    def __init__(
        self,
        templates: str = "",
        masks: str = "",
        tilt_angles: str = "",
        gpu_ids: str = "0",
        angular_search: str = "",
        low_pass: float = 0.0,
        high_pass: float = 0.0,
        defocus_um: float = 0.0,
        voltage_kv: float = 300.0,
        spherical_aberration_mm: float = 2.7,
        amplitude_contrast: float = 0.07,
        per_tilt_weighting: bool = False,
        random_phase_correction: bool = False,
        rng_seed: int = 1,
        volume_split: str = "1,1,1",
        max_particles: int = 500,
        cut_off: float = 0.0,
        auto_cut_off: bool = False,
        match_options: str = "",
        extract_options: str = "",
        timeout_s: float = 3600.0,
        label: str = "",
        threads: int = 1,
        keep_work: bool = False,
        version_command: str = "",
    ) -> None:
        picker = label or self.name
        require(templates, "templates", picker, "templates=/refs/{class}.mrc")
        require(masks, "masks", picker, "masks=/refs/{class}_mask.mrc")
        require(tilt_angles, "tilt_angles", picker, "tilt_angles=-60,60 or a .tlt file")
        self.tilt_angles, self.gpu_ids = tilt_angles, gpu_ids
        self.angular_search = angular_search
        self.low_pass, self.high_pass = float(low_pass), float(high_pass)
        self.defocus_um, self.voltage_kv = float(defocus_um), float(voltage_kv)
        self.spherical_aberration_mm = float(spherical_aberration_mm)
        self.amplitude_contrast = float(amplitude_contrast)
        self.per_tilt_weighting = bool(per_tilt_weighting)
        self.random_phase_correction, self.rng_seed = bool(random_phase_correction), int(rng_seed)
        self.volume_split, self.max_particles = volume_split, int(max_particles)
        self.cut_off, self.auto_cut_off = float(cut_off), bool(auto_cut_off)
        self.match_options, self.extract_options = match_options, extract_options
        self._tilts = _tilt_arguments(tilt_angles, per_tilt_weighting, picker)
        self._gpus = parse_gpu_ids(gpu_ids, "gpu_ids", picker)
        self._match = self._match_arguments(picker)
        self._extract = self._extract_arguments(picker)
        super().__init__(
            version_command=version_command,
            templates=templates,
            masks=masks,
            timeout_s=timeout_s,
            label=label,
            threads=threads,
            keep_work=keep_work,
        )

    def preset_files(self) -> dict[str, str]:
        """The tilt-angle file, when ``tilt_angles`` names one."""
        return {"tilt_angles": self._tilts[0]} if len(self._tilts) == 1 else {}

    def extra_values(self, voxel_size: float, classes: ClassCatalogue) -> dict[str, list[str]]:
        """Tilts, GPUs, the candidate count and the options of both programs."""
        return {
            "tilt_angles": self._tilts,
            "gpu_ids": self._gpus,
            "match_options": self._match,
            "max_particles": [str(self.max_particles)],
            "extract_options": self._extract,
        }

    def _match_arguments(self, picker: str) -> list[str]:
        args: list[str] = []
        if self.angular_search.strip():
            args += ["--angular-search", self.angular_search.strip()]
        for flag, value in (("--low-pass", self.low_pass), ("--high-pass", self.high_pass)):
            if value < 0:
                raise InputError(
                    f"picker {picker!r}",
                    f"parameter {flag[2:].replace('-', '_')!r} must be "
                    f">= 0 Å (0: off), found {value!r}",
                )
            if value > 0:
                args += [flag, number_text(value)]
        if self.defocus_um > 0:
            args += [
                "--defocus", number_text(self.defocus_um),
                "--amplitude-contrast", number_text(self.amplitude_contrast),
                "--spherical-aberration", number_text(self.spherical_aberration_mm),
                "--voltage", number_text(self.voltage_kv),
            ]  # fmt: skip
        if self.per_tilt_weighting:
            args.append("--per-tilt-weighting")
        if self.random_phase_correction:
            if self.rng_seed < 1:
                raise InputError(
                    f"picker {picker!r}",
                    f"parameter 'rng_seed' must be >= 1, found {self.rng_seed}",
                )
            args += ["-r", "--rng-seed", str(self.rng_seed)]
        split = parse_numbers(self.volume_split, "volume_split", picker, 3)
        if any(n < 1 or n != int(n) for n in split):
            raise InputError(
                f"picker {picker!r}",
                "parameter 'volume_split' must be 3 whole numbers >= 1, "
                f"found {self.volume_split!r}",
            )
        args += ["-s", *(str(int(n)) for n in split)]
        return args + split_options(self.match_options, "match_options", picker)

    def _extract_arguments(self, picker: str) -> list[str]:
        if self.max_particles < 1:
            raise InputError(
                f"picker {picker!r}",
                f"parameter 'max_particles' must be >= 1, found {self.max_particles}",
            )
        args = [] if self.auto_cut_off else ["-c", number_text(self.cut_off)]
        return args + split_options(self.extract_options, "extract_options", picker)


def _tilt_arguments(text: str, per_tilt: bool, picker: str) -> list[str]:
    """``"-60,60"`` → ``["-60", "60"]``; a file name → ``[absolute path]``."""
    text = text.strip()
    if "," in text or _is_number(text):
        low, high = parse_numbers(text, "tilt_angles", picker, 2)
        if not -90 <= low < high <= 90:
            raise InputError(
                f"picker {picker!r}",
                f"parameter 'tilt_angles': expected MIN,MAX with -90 <= MIN < MAX <= 90 "
                f"degrees, found {text!r}",
            )
        if per_tilt:
            raise InputError(
                f"picker {picker!r}",
                "per_tilt_weighting needs every tilt: give tilt_angles as a .tlt/.rawtlt file",
            )
        return [number_text(low), number_text(high)]
    return [absolute(text)]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
