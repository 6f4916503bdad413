"""``seg2picks``: turn per-class segmentation or probability maps into picks.

Segmentation tools (DeepFinder, octopi, membrain-style U-Nets) write maps, not
points; this module turns them into a picks table so that they enter the
same leaderboard.  Two kinds of map, both indexed (z, y, x) like the tomogram:

* **probability** (float): a confidence per voxel.  ``method="nms"`` keeps
  local maxima above ``threshold`` at least one class radius apart
  (:func:`topcup_bench.pickers.peaks.find_peaks`), scored by the map value.
* **labels** (integer or boolean): a mask per class (non-zero = the class).
  ``method="nms"`` keeps the centroid of each connected component
  (26-connectivity), scored by its size in voxels.

``method="copick-utils"`` hands the mask (a probability map thresholded at
``threshold``) to copick-utils' ``picks_from_segmentation`` (distance
transform, maxima, watershed, size filter), which needs a copick run: the
mask is written into a throw-away copick project in a temporary folder.  Its
picks have no confidence; they are scored by the size of the connected
component that holds them (labels) or by the largest probability inside it.

Picks are Å in x-y-z with ``x = i · voxel_size`` for voxel index ``i``
(:func:`topcup_bench.datasets.units.voxel_peaks_to_picks`; copick-utils uses
the same convention).
"""

from __future__ import annotations

import json
import math
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

from topcup_bench.datasets.units import angstrom_to_voxels, voxel_peaks_to_picks, xyz_to_zyx
from topcup_bench.errors import InputError, did_you_mean
from topcup_bench.pickers.peaks import find_peaks
from topcup_bench.types import PICKS_COLUMNS, SCORE_COLUMN, ClassCatalogue, empty_picks_table

__all__ = ["METHODS", "KINDS", "picks_from_maps", "split_label_map"]

#: Ways of turning a map into points.
METHODS = ("nms", "copick-utils")
#: Kinds of map; ``auto`` is ``labels`` for integer or boolean arrays, else ``probability``.
KINDS = ("auto", "probability", "labels")
#: Install line for the copick-utils method.
COPICK_UTILS_HINT = "pip install 'topcup-bench[seg2picks]' (copick-utils)"

_FULL_CONNECTIVITY = np.ones((3, 3, 3), dtype=bool)


def picks_from_maps(
    maps: Mapping[str, np.ndarray],
    *,
    run: str,
    voxel_size_angstrom: float,
    classes: ClassCatalogue,
    method: str = "nms",
    threshold: float = 0.5,
    kind: str = "auto",
    min_size_fraction: float = 0.05,
    max_peaks: int | None = None,
    source: str = "seg2picks",
) -> pd.DataFrame:
    """Picks of every class from its (z, y, x) map.

    Parameters
    ----------
    maps : mapping of str to numpy.ndarray, each shape (nz, ny, nx)
        Class name → probability map (float) or mask (integer or boolean; non-zero = class).
    run : str
        Value of the ``experiment`` column.
    voxel_size_angstrom : float
        Å per voxel of the maps.
    classes : ClassCatalogue
        The classes; each map's class must be one of them (its radius sets the
        suppression distance and the size filter).
    method : {"nms", "copick-utils"}
        Our peaks / connected components, or copick-utils' ``picks_from_segmentation``.
    threshold : float
        Probability maps: keep voxels (peaks) strictly above this.  Unused for masks.
    kind : {"auto", "probability", "labels"}
        How to read the maps (``auto``: by dtype).
    min_size_fraction : float
        Components smaller than this fraction of the class's sphere volume
        (``4/3 π r³`` in voxels, at least 1 voxel) are dropped (labels with
        ``nms``; both kinds with ``copick-utils``).
    max_peaks : int, optional
        Keep at most this many picks per class (the highest scores).
    source : str
        Name of the maps in error messages (a file path).

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment, particle_type, x, y, z, score``; Å, x-y-z.

    Raises
    ------
    InputError
        Unknown method, kind or class; a map that is not 3-D; a bad threshold
        or voxel size.
    ToolMissingError
        ``method="copick-utils"`` without copick-utils installed.

    Examples
    --------
    >>> from topcup_bench.types import ClassCatalogue, ParticleClass
    >>> catalogue = ClassCatalogue((ParticleClass("ribosome", 30.0),))
    >>> mask = np.zeros((8, 8, 8), dtype=np.uint8); mask[1:4, 2:5, 3:6] = 1
    >>> picks_from_maps({"ribosome": mask}, run="TS_1", voxel_size_angstrom=10.0,
    ...                 classes=catalogue)[["x", "y", "z", "score"]].values.tolist()
    [[40.0, 30.0, 20.0, 27.0]]
    """
    _check_choice(method, METHODS, "method", source)
    _check_choice(kind, KINDS, "kind", source)
    if not (isinstance(threshold, (int, float)) and math.isfinite(threshold)):
        raise InputError(source, f"threshold must be a finite number, found {threshold!r}")
    if not (math.isfinite(voxel_size_angstrom) and voxel_size_angstrom > 0):
        raise InputError(
            source, f"voxel size must be a positive number of Å, found {voxel_size_angstrom!r}"
        )
    if not (math.isfinite(min_size_fraction) and min_size_fraction >= 0):
        raise InputError(
            source, f"min_size_fraction must be a number >= 0, found {min_size_fraction!r}"
        )
    frames = []
    for name, volume in maps.items():
        particle_class = _class(classes, name, source)
        array = np.asarray(volume)
        if array.ndim != 3:
            raise InputError(
                source, f"map of class {name!r} must be 3-D (z, y, x), found shape {array.shape}"
            )
        map_kind = kind if kind != "auto" else _kind_of(array)
        radius = particle_class.radius_angstrom / float(voxel_size_angstrom)
        min_size = max(1, math.ceil(min_size_fraction * 4.0 / 3.0 * math.pi * radius**3))
        if method == "copick-utils":
            indices, scores = _copick_utils_centres(
                array, map_kind, threshold, radius, min_size, voxel_size_angstrom, name
            )
        elif map_kind == "probability":
            indices, scores = find_peaks(
                array.astype(np.float32, copy=False), max(radius, 1.0), threshold=threshold
            )
        else:
            indices, scores = _component_centres(array != 0, min_size)
        order = np.argsort(-scores, kind="stable")[:max_peaks]
        frames.append(
            voxel_peaks_to_picks(run, name, indices[order], scores[order], voxel_size_angstrom)
        )
    if not frames:
        return empty_picks_table()
    table = pd.concat(frames, ignore_index=True)
    return table[list(PICKS_COLUMNS) + [SCORE_COLUMN]]


def split_label_map(
    label_map: np.ndarray, classes: ClassCatalogue, *, source: str = "label map"
) -> dict[str, np.ndarray]:
    """Masks per class of one multi-class label map: label ``i`` is the ``i``-th class (1-based).

    Parameters
    ----------
    label_map : numpy.ndarray, shape (nz, ny, nx), integer
        0 = background, ``i`` = ``classes`` entry ``i - 1`` (the order of the classes JSON).
    classes : ClassCatalogue
    source : str
        Name of the map in error messages (a file path).

    Returns
    -------
    dict of str to numpy.ndarray of bool
        Class name → mask, for every class.

    Raises
    ------
    InputError
        A non-integer map (fractional values) or labels outside ``0..len(classes)``.

    Examples
    --------
    >>> from topcup_bench.types import COMPETITION_CLASSES
    >>> masks = split_label_map(np.array([[[0, 1, 4]]]), COMPETITION_CLASSES)
    >>> masks["ribosome"].astype(int).tolist(), masks["apo-ferritin"].astype(int).tolist()
    ([[[0, 0, 1]]], [[[0, 1, 0]]])
    """
    array = np.asarray(label_map)
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or not np.array_equal(array, np.round(array)):
            raise InputError(
                source, "a segmentation must hold whole-number labels; found fractional values"
            )
    values = np.unique(array)
    bad = [v for v in values.tolist() if v < 0 or v > len(classes)]
    if bad:
        raise InputError(
            source,
            f"labels {bad[:5]} name no class: labels are 0 (background) and 1..{len(classes)} "
            f"for {list(classes.names)}",
        )
    return {c.name: array == index for index, c in enumerate(classes, start=1)}


def _check_choice(value: str, choices: tuple[str, ...], field: str, source: str) -> None:
    if value not in choices:
        raise InputError(
            source,
            f"unknown {field} {value!r}; choose one of {list(choices)}."
            + did_you_mean(value, choices),
        )


def _class(classes: ClassCatalogue, name: str, source: str):
    if name not in classes:
        raise InputError(
            source,
            f"map of unknown class {name!r}; classes: {list(classes.names)}."
            + did_you_mean(name, classes.names),
        )
    return classes[name]


def _kind_of(array: np.ndarray) -> str:
    return "labels" if array.dtype.kind in "biu" else "probability"


def _component_centres(mask: np.ndarray, min_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Centroids (z, y, x voxels) and sizes of the 26-connected components of ``mask``."""
    labels, count = ndimage.label(mask, structure=_FULL_CONNECTIVITY)
    if count == 0:
        return np.zeros((0, 3)), np.zeros(0)
    index = np.arange(1, count + 1)
    sizes = ndimage.sum_labels(mask, labels, index).astype(np.float64)
    centres = np.asarray(ndimage.center_of_mass(mask, labels, index), dtype=np.float64)
    keep = sizes >= min_size
    return centres[keep].reshape(-1, 3), sizes[keep]


def _copick_utils_centres(
    array: np.ndarray,
    kind: str,
    threshold: float,
    radius_voxels: float,
    min_size: int,
    voxel_size: float,
    name: str,
) -> tuple[np.ndarray, np.ndarray]:
    """copick-utils' centroids of a mask (z, y, x voxels) and our score for each."""
    try:
        from copick_utils.converters.picks_from_segmentation import picks_from_segmentation
    except ImportError:
        from topcup_bench.pickers.adapters.tool_process import ToolMissingError

        raise ToolMissingError(
            f"seg2picks method 'copick-utils' needs copick-utils: {COPICK_UTILS_HINT}"
        ) from None
    mask = array > threshold if kind == "probability" else array != 0
    if not mask.any():
        return np.zeros((0, 3)), np.zeros(0)
    filter_size = max(3, 2 * int(radius_voxels // 2) + 1)  # odd, about one radius
    with tempfile.TemporaryDirectory(prefix="topcup-seg2picks-") as folder:
        run = _scratch_copick_run(Path(folder), name)
        segmentation = run.new_segmentation(voxel_size, name, "0", False, "seg2picks")
        segmentation.from_numpy(mask.astype(np.uint8))
        with warnings.catch_warnings():  # its skimage calls are deprecated upstream
            warnings.simplefilter("ignore", FutureWarning)
            made = picks_from_segmentation(
                segmentation,
                run,
                name,
                "1",
                "seg2picks",
                1,
                maxima_filter_size=filter_size,
                min_particle_size=min_size,
                max_particle_size=int(mask.size),
            )
        if made is None:  # no centroid passed its filters (it logs why)
            return np.zeros((0, 3)), np.zeros(0)
        positions_xyz, _ = made[0].numpy()
    # copick-utils returns Å (index × voxel size, x-y-z); back to voxel indices to score them
    indices = xyz_to_zyx(angstrom_to_voxels(np.asarray(positions_xyz).reshape(-1, 3), voxel_size))
    labels, _ = ndimage.label(mask, structure=_FULL_CONNECTIVITY)
    where = np.clip(np.rint(indices).astype(np.int64), 0, np.array(mask.shape) - 1)
    owner = labels[tuple(where.T)]
    if kind == "probability":
        best = ndimage.maximum(array, labels, np.arange(1, labels.max() + 1))
        scores = np.asarray(best, dtype=np.float64)[np.maximum(owner - 1, 0)]
    else:
        sizes = np.bincount(labels.ravel())
        scores = sizes[owner].astype(np.float64)
    return indices, np.where(owner > 0, scores, 0.0)


def _scratch_copick_run(folder: Path, name: str):
    """A one-run copick filesystem project under ``folder`` with one object ``name``."""
    import copick

    config = {
        "config_type": "filesystem",
        "name": "seg2picks",
        "description": "scratch project of topcup-bench seg2picks",
        "version": "1.31.0",
        "pickable_objects": [{"name": name, "is_particle": True, "label": 1, "radius": 1.0}],
        "overlay_root": f"local://{folder}",
        "overlay_fs_args": {"auto_mkdir": True},
    }
    path = folder / "copick_config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return copick.from_file(str(path)).new_run("maps")
