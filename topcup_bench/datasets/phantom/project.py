"""Write generated phantoms as a real copick filesystem project, cached by their parameters.

Layout of ``DIR`` (the copick overlay root)::

    DIR/copick_config.json                         six pickable objects (radius, score_weight)
    DIR/manifest.json                              preset, seeds, parameters, split, versions
    DIR/ExperimentRuns/<run>/VoxelSpacing10.000/<flavour>.zarr   OME-Zarr, 3 levels, z-y-x
    DIR/ExperimentRuns/<run>/Picks/curation_0_<object>.json      ground truth (Å, x-y-z)

The project is generated in a temporary sibling folder (``.DIR.partial-*``)
and renamed into place when complete, so an interrupted generation leaves
nothing half-written.  Generation holds a lock on ``DIR``
(:class:`~topcup_bench.folder_lock.FolderLock`): a second process generating
the same project waits and then finds it complete, and staging folders left
by killed generations are removed by the next one.  A second call with the
same parameters finds the manifest's cache key and returns at once.  The
config's ``overlay_root`` names ``DIR``, and
:func:`~topcup_bench.datasets.copick_project.open_copick_root` re-roots a
generated project at its config's folder, so a copied or moved project uses
its own files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy
from tqdm.auto import tqdm

from topcup_bench._version import __version__
from topcup_bench.datasets.atomic import atomic_output
from topcup_bench.datasets.copick_project import open_copick_root
from topcup_bench.datasets.dataset import MANIFEST_NAME
from topcup_bench.datasets.phantom.generator import generate_run, run_seed
from topcup_bench.datasets.phantom.presets import PhantomPreset
from topcup_bench.errors import InputError, OutputExistsError
from topcup_bench.folder_lock import FolderLock
from topcup_bench.memory import check_disk_fits
from topcup_bench.palette import class_colour, rgba
from topcup_bench.types import COMPETITION_CLASSES

__all__ = [
    "PhantomProjectSpec",
    "write_phantom_project",
    "phantom_disk_bytes",
    "CONFIG_NAME",
    "TRUTH_USER",
    "TRUTH_SESSION",
]

CONFIG_NAME = "copick_config.json"
#: Ground-truth picks owner, as in the competition's copick projects.
TRUTH_USER = "curation"
TRUTH_SESSION = "0"

_PDB = {
    "apo-ferritin": "4V1W",
    "beta-amylase": "1FA2",
    "beta-galactosidase": "6X1Q",
    "ribosome": "6EK0",
    "thyroglobulin": "6SCJ",
    "virus-like-particle": "6N4V",
}


@dataclass(frozen=True)
class PhantomProjectSpec:
    """Everything that determines a generated phantom project.

    Parameters
    ----------
    preset : PhantomPreset
        Size, difficulty and every generator knob.
    n_runs : int
        Number of tomograms (runs ``TS_000``, ``TS_001``, ...).
    seed : int
        Project seed; run ``i`` uses a seed derived from it and ``i`` only.
    n_test : int
        The last ``n_test`` runs form the ``test`` split, the others ``train``.
    flavours : tuple of str, optional
        Tomogram types to write; default the preset's.
    """

    preset: PhantomPreset
    n_runs: int
    seed: int = 0
    n_test: int = 1
    flavours: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.n_runs < 1:
            raise InputError("phantom", f"n_runs must be at least 1, found {self.n_runs}")
        if not 0 <= self.n_test < self.n_runs or (self.n_runs > 1 and self.n_test == 0):
            raise InputError(
                "phantom",
                f"n_test must leave at least one training run and be >= 1 when there are several "
                f"runs; found n_test={self.n_test} for n_runs={self.n_runs}",
            )
        if not self.flavours:
            object.__setattr__(self, "flavours", tuple(self.preset.flavours))

    @property
    def run_names(self) -> tuple[str, ...]:
        """Run names ``TS_000`` ... in generation order."""
        return tuple(f"TS_{i:03d}" for i in range(self.n_runs))

    @property
    def split(self) -> dict[str, list[str]]:
        """``train`` and ``test`` run names."""
        names = list(self.run_names)
        cut = len(names) - self.n_test
        return {"train": names[:cut], "test": names[cut:]}

    def parameters(self) -> dict[str, Any]:
        """JSON-ready description of everything that shapes the data."""
        return {
            "preset": self.preset.to_dict(),
            "n_runs": self.n_runs,
            "seed": self.seed,
            "n_test": self.n_test,
            "flavours": list(self.flavours),
            "version": __version__,
        }

    def cache_key(self) -> str:
        """Hash of :meth:`parameters`: equal keys mean identical projects."""
        text = json.dumps(self.parameters(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def write_phantom_project(
    out_dir: str | os.PathLike[str],
    spec: PhantomProjectSpec,
    *,
    overwrite: bool = False,
    progress: bool = True,
    workers: int | None = None,
    size_source: str = "--runs",
) -> Path:
    """Generate the phantom runs of ``spec`` and write them as a copick project in ``out_dir``.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Project folder; created if missing.
    spec : PhantomProjectSpec
        What to generate.
    overwrite : bool
        Replace another phantom project in ``out_dir`` (a folder holding
        anything else is refused even then).
    progress : bool
        Show a progress bar.
    workers : int, optional
        FFT worker threads (default: the CPU count, at most 4); the data do not
        depend on it.
    size_source : str
        Named when the project would not fit on the disk
        (:func:`phantom_disk_bytes` against the free space), e.g. ``"--runs"``.

    Returns
    -------
    pathlib.Path
        The copick config path.  When ``out_dir`` already holds a complete
        project with the same cache key, it is returned without generating.

    Raises
    ------
    OutputExistsError
        ``out_dir`` holds another phantom project and ``overwrite`` is False,
        or holds anything else.
    InputError
        ``out_dir`` or a parent is a file.
    """
    target = Path(out_dir).resolve()
    if is_complete_project(target, spec):
        _tidy_if_idle(target)
        return target / CONFIG_NAME
    _refuse_other_content(target, spec, overwrite)
    check_disk_fits(  # before writing anything: --runs 100000 must not fill the disk
        phantom_disk_bytes(spec),
        target.parent,
        size_source,
        f"{spec.n_runs} runs x {len(spec.flavours)} flavours of "
        f"{' x '.join(str(n) for n in spec.preset.shape_zyx)} voxels",
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    workers = workers or min(4, os.cpu_count() or 1)
    lock = FolderLock(target)
    lock.acquire(wait=True)  # another process generating the same project: wait for it
    staging = None
    try:
        if is_complete_project(target, spec):
            return target / CONFIG_NAME
        _refuse_other_content(target, spec, overwrite)
        _remove_stale_staging(target)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes 0700; the project is a normal folder
        _generate_into(staging, spec, progress=progress, workers=workers)
        _write_config(staging, overlay=target, name=target.name)
        _replace_folder(staging, target)
    finally:
        if staging is not None and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        lock.release()
    return target / CONFIG_NAME


#: Bytes written per voxel of scale 0: float32, times 1 + 1/8 + 1/64 for the 3-level pyramid,
#: rounded up; compression is not counted (phantom noise barely compresses): an upper bound.
_DISK_BYTES_PER_VOXEL = 4 * 1.15


def phantom_disk_bytes(spec: PhantomProjectSpec) -> float:
    """Upper bound of the bytes a project of ``spec`` writes (tomograms, uncompressed).

    Examples
    --------
    >>> from topcup_bench.datasets.phantom.presets import resolve_preset
    >>> spec = PhantomProjectSpec(resolve_preset("tiny"), n_runs=2, n_test=1)
    >>> round(phantom_disk_bytes(spec) / 2**20, 2)  # 2 runs of 48 x 96 x 96, one flavour
    3.88
    """
    voxels = int(np.prod(spec.preset.shape_zyx, dtype=np.int64))
    return float(spec.n_runs) * len(spec.flavours) * voxels * _DISK_BYTES_PER_VOXEL


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _refuse_other_content(target: Path, spec: PhantomProjectSpec, overwrite: bool) -> None:
    """Refuse a non-empty ``target`` unless ``overwrite`` and it is a phantom project of ours.

    ``overwrite`` replaces only another phantom project (a ``manifest.json``
    of generator ``topcup-bench phantom``); a folder holding anything else is
    never removed.
    """
    for path in (target, *target.parents):
        if path.exists() and not path.is_dir():
            raise InputError("--out", f"{path} is a file, not a folder")
        if path.is_dir():
            break
    if not target.exists() or not any(target.iterdir()):
        return
    if not _is_phantom_project(target):
        shown = sorted(p.name for p in target.iterdir())
        more = f" ... ({len(shown)} entries)" if len(shown) > 5 else ""
        raise OutputExistsError(
            f"{target}: holds files that are not a topcup-bench phantom project "
            f"({', '.join(shown[:5])}{more}); --overwrite replaces only a phantom project: "
            "move them away or choose another --out"
        )
    if not overwrite:
        raise OutputExistsError(
            f"{target}: folder is not empty and is not a phantom with these parameters "
            f"(cache key {spec.cache_key()}); pass --overwrite to replace it"
        )


def _is_phantom_project(folder: Path) -> bool:
    """True when ``folder`` has the ``manifest.json`` of a ``topcup-bench phantom`` project."""
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("generator") == "topcup-bench phantom"


def _remove_stale_staging(target: Path) -> None:
    """Remove ``.NAME.partial-*`` and ``.NAME.old-*`` folders of killed generations.

    Only called under the lock of ``target``: no live generation of it owns them.
    """
    prefixes = (f".{target.name}.partial-", f".{target.name}.old-")
    with os.scandir(target.parent) as entries:
        stale = [
            e.path
            for e in entries
            if e.name.startswith(prefixes) and e.is_dir(follow_symlinks=False)
        ]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)


def _tidy_if_idle(target: Path) -> None:
    """Remove stale staging folders beside a complete project when nobody is generating it."""
    lock = FolderLock(target)
    try:
        if lock.acquire(wait=False) is None:
            try:
                _remove_stale_staging(target)
            finally:
                lock.release()
    except OSError:  # a read-only cache: nothing to tidy
        pass


def is_complete_project(folder: Path, spec: PhantomProjectSpec) -> bool:
    """True when ``folder`` holds a finished project generated from ``spec``."""
    manifest = folder / MANIFEST_NAME
    if not (manifest.is_file() and (folder / CONFIG_NAME).is_file()):
        return False
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return recorded.get("cache_key") == spec.cache_key() and recorded.get("complete") is True


def _generate_into(folder: Path, spec: PhantomProjectSpec, *, progress: bool, workers: int) -> None:
    config = _write_config(folder, overlay=folder, name=folder.name)
    root = open_copick_root(config)
    run_seeds = {}
    bar = tqdm(spec.run_names, desc="phantom runs", unit="run", disable=not progress, leave=False)
    for index, name in enumerate(bar):
        seed = run_seed(spec.seed, index)
        run_seeds[name] = seed
        generated = generate_run(spec.preset, seed, flavours=spec.flavours, workers=workers)
        run = root.new_run(name)
        spacing = run.new_voxel_spacing(spec.preset.voxel_size_angstrom)
        for flavour, volume in generated.volumes.items():
            spacing.new_tomogram(flavour).from_numpy(volume, levels=3)
        _write_truth(run, generated)
    _write_manifest(folder, spec, run_seeds)


def _write_truth(run: Any, generated: Any) -> None:
    picks = generated.picks
    for name in COMPETITION_CLASSES.names:
        rows = np.flatnonzero(picks["particle_type"].to_numpy() == name)
        if not len(rows):
            continue
        run.new_picks(name, TRUTH_SESSION, TRUTH_USER).from_numpy(
            picks[["x", "y", "z"]].to_numpy(np.float64)[rows],
            transforms=generated.transforms[rows],
            instance_ids=np.arange(1, len(rows) + 1),
            scores=np.ones(len(rows)),
        )


def _write_config(folder: Path, *, overlay: Path, name: str) -> Path:
    objects = [
        {
            "name": c.name,
            "is_particle": True,
            "label": c.label,
            "color": rgba(class_colour(c.name)),
            "radius": c.radius_angstrom,
            "pdb_id": _PDB.get(c.name),
            "map_threshold": None,
            "metadata": {"score_weight": c.weight},
        }
        for c in COMPETITION_CLASSES
    ]
    config = {
        "config_type": "filesystem",
        "name": name,
        "description": "Synthetic cryo-ET phantom generated by topcup-bench",
        "version": "1.31.0",
        "pickable_objects": objects,
        "overlay_root": f"local://{overlay}",
        "overlay_fs_args": {"auto_mkdir": True},
    }
    path = folder / CONFIG_NAME
    with atomic_output(path, overwrite=True) as temporary:
        temporary.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


def _write_manifest(folder: Path, spec: PhantomProjectSpec, run_seeds: dict[str, int]) -> None:
    manifest = {
        "generator": "topcup-bench phantom",
        "topcup_bench_version": __version__,
        "numpy_version": np.__version__,
        "scipy_version": scipy.__version__,
        "cache_key": spec.cache_key(),
        **spec.parameters(),
        "voxel_size_angstrom": spec.preset.voxel_size_angstrom,
        "run_seeds": run_seeds,
        "runs": list(spec.run_names),
        "split": spec.split,
        "truth_user": TRUTH_USER,
        "truth_session": TRUTH_SESSION,
        "complete": True,
    }
    with atomic_output(folder / MANIFEST_NAME, overwrite=True) as temporary:
        temporary.write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def _replace_folder(staging: Path, target: Path) -> None:
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(target)
