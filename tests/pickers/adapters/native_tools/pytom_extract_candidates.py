#!/usr/bin/env python
"""Stand-in for pytom-match-pick's ``pytom_extract_candidates.py`` (tests only).

Reads the job JSON and the score map that ``pytom_match_template.py`` wrote,
extracts peaks greedily (highest first, blanking a ball of the particle's
radius) down to ``--cut-off`` and writes ``{tomo}_particles.star`` beside the
job: block ``data_particles`` with pytom's columns, in its order, coordinates
in voxels with x the fastest array axis.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import starfile
from _standin import fail, greedy_peaks, read_volume

PROGRAM = "pytom_extract_candidates.py"
COLUMNS = [
    "rlnCoordinateX",
    "rlnCoordinateY",
    "rlnCoordinateZ",
    "rlnAngleRot",
    "rlnAngleTilt",
    "rlnAnglePsi",
    "rlnLCCmax",
    "rlnCutOff",
    "rlnSearchStd",
    "rlnDetectorPixelSize",
    "rlnMicrographName",
]


def main() -> int:
    parser = argparse.ArgumentParser(prog=PROGRAM)
    parser.add_argument("-j", "--job-file", required=True)
    parser.add_argument("-n", "--number-of-particles", type=int, required=True)
    parser.add_argument("--number-of-false-positives", type=float, default=1.0)
    parser.add_argument("--particle-diameter", type=float)
    parser.add_argument("-c", "--cut-off", type=float)
    args = parser.parse_args()
    if not os.path.isfile(args.job_file):
        fail(PROGRAM, f"argument -j/--job-file: {args.job_file} does not exist")
    job = json.loads(Path(args.job_file).read_text(encoding="utf-8"))
    output = Path(job["output_dir"])
    scores, _ = read_volume(str(output / f"{job['tomo_id']}_scores.mrc"))
    sigma = float(scores.std())
    cut_off = args.cut_off
    if cut_off is None:  # pytom estimates it from the background; the stand-in uses 3 sigma
        cut_off = float(np.median(scores) + 3 * sigma)
    diameter = args.particle_diameter or job["particle_diameter"]
    radius = int(diameter / 2 / job["voxel_size"])
    rows = [
        (x, y, z, 0.0, 0.0, 0.0, value, cut_off, sigma, job["voxel_size"], job["tomo_id"])
        for (z, y, x), value in greedy_peaks(scores, radius, args.number_of_particles, cut_off)
    ]
    table = pd.DataFrame(rows, columns=COLUMNS)
    starfile.write({"particles": table}, output / f"{job['tomo_id']}_particles.star")
    print(f"extracted {len(table)} particles above {cut_off:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
