"""Write what another tool reads: tomograms as MRC (voxel size in the header) and class lists."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import mrcfile
import numpy as np

from topcup_bench.types import ClassCatalogue

__all__ = ["write_mrc", "write_classes_json"]


def write_mrc(path: Path, data_zyx: np.ndarray, voxel_size_angstrom: float) -> Path:
    """Write a (z, y, x) volume as float32 MRC with the voxel size (Å) in the header."""
    path = Path(path)
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(np.ascontiguousarray(data_zyx, dtype=np.float32))
        mrc.voxel_size = float(voxel_size_angstrom)
    return path


def write_classes_json(
    path: Path,
    classes: ClassCatalogue,
    *,
    voxel_size_angstrom: float,
    templates: Mapping[str, str] | None = None,
    masks: Mapping[str, str] | None = None,
) -> Path:
    """Write the classes a tool should pick as JSON.

    One object per class: ``name``, ``label`` (1-based index, for label maps),
    ``radius_angstrom``, ``radius_voxels`` and, where given, ``template`` and
    ``mask`` (paths).
    """
    entries = []
    for index, particle_class in enumerate(ClassCatalogue.coerce(classes), start=1):
        entry = {
            "name": particle_class.name,
            "label": index,
            "radius_angstrom": float(particle_class.radius_angstrom),
            "radius_voxels": float(particle_class.radius_angstrom) / float(voxel_size_angstrom),
        }
        if templates and particle_class.name in templates:
            entry["template"] = str(templates[particle_class.name])
        if masks and particle_class.name in masks:
            entry["mask"] = str(masks[particle_class.name])
        entries.append(entry)
    document = {"voxel_size_angstrom": float(voxel_size_angstrom), "classes": entries}
    Path(path).write_text(
        json.dumps(document, indent=1) + "\n",
        encoding="utf-8",
    )
    return Path(path)
