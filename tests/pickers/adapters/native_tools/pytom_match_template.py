#!/usr/bin/env python
"""Stand-in for pytom-match-pick's ``pytom_match_template.py`` (tests only).

Same options and outputs as pytom-match-pick 0.14: ``{tomo}_scores.mrc``,
``{tomo}_angles.mrc`` and ``{tomo}_job.json`` in the existing ``-d`` folder.
The score map is the smoothed dark-blob map at the particle's size (not a
rotational search), scaled like an LCC.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
from _standin import darkness, fail, read_volume, write_volume

PROGRAM = "pytom_match_template.py"


def main() -> int:
    parser = argparse.ArgumentParser(prog=PROGRAM)
    parser.add_argument("-t", "--template", required=True)
    parser.add_argument("-v", "--tomogram", required=True)
    parser.add_argument("-d", "--destination", default="./")
    parser.add_argument("-m", "--mask", required=True)
    parser.add_argument("--particle-diameter", type=float)
    parser.add_argument("--angular-search")
    parser.add_argument("-s", "--volume-split", nargs=3, type=int, default=[1, 1, 1])
    parser.add_argument("-a", "--tilt-angles", nargs="+")
    parser.add_argument("--per-tilt-weighting", action="store_true")
    parser.add_argument("--voxel-size-angstrom", type=float)
    parser.add_argument("--low-pass", type=float)
    parser.add_argument("--high-pass", type=float)
    parser.add_argument("--defocus")
    parser.add_argument("--amplitude-contrast", type=float)
    parser.add_argument("--spherical-aberration", type=float)
    parser.add_argument("--voltage", type=float)
    parser.add_argument("-r", "--random-phase-correction", action="store_true")
    parser.add_argument("--rng-seed", type=int)
    parser.add_argument("-g", "--gpu-ids", nargs="+", type=int, required=True)
    args = parser.parse_args()
    for name in ("template", "tomogram", "mask"):
        if not os.path.isfile(getattr(args, name)):
            fail(PROGRAM, f"argument --{name}: {getattr(args, name)} does not exist")
    if not os.path.isdir(args.destination):
        fail(PROGRAM, f"argument -d/--destination: {args.destination} is not a directory")
    if args.tilt_angles is None:
        raise ValueError("Without tilt angles the missing wedge cannot be calculated.")
    if args.angular_search is None and args.particle_diameter is None:
        raise ValueError("Either the angular search should be specifically set or a particle")
    tomogram, header_size = read_volume(args.tomogram)
    template, _ = read_volume(args.template)
    mask, _ = read_volume(args.mask)
    if template.shape != mask.shape:
        fail(PROGRAM, "template and mask must have the same box size")
    voxel = args.voxel_size_angstrom or header_size
    radius = (args.particle_diameter or 2 * voxel) / 2 / voxel
    scores = 0.4 * darkness(tomogram, radius / 2)
    destination = Path(args.destination)
    stem = Path(args.tomogram).stem
    write_volume(str(destination / f"{stem}_scores.mrc"), scores, voxel)
    write_volume(str(destination / f"{stem}_angles.mrc"), np.zeros_like(scores), voxel)
    nz, ny, nx = tomogram.shape
    job = {
        "mask": str(Path(args.mask).absolute()),
        "mask_is_spherical": True,
        "output_dir": str(destination.absolute()),
        "tomogram": str(Path(args.tomogram).absolute()),
        "template": str(Path(args.template).absolute()),
        "tomo_id": stem,
        "tomo_shape": [nx, ny, nz],
        "template_shape": list(template.shape[::-1]),
        "voxel_size": voxel,
        "particle_diameter": args.particle_diameter,
        "search_x": [0, nx],
        "search_y": [0, ny],
        "search_z": [0, nz],
        "pytom_tm_version_number": "0.14.0",
        "job_key": "0",
    }
    (destination / f"{stem}_job.json").write_text(json.dumps(job, indent=4), encoding="utf-8")
    print(f"template matching of {stem} on GPU(s) {args.gpu_ids} with tilts {args.tilt_angles}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
