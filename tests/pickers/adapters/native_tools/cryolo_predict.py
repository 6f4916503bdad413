#!/usr/bin/env python
"""Stand-in for crYOLO's ``cryolo_predict.py`` in tomography mode (tests only).

Same options and files as crYOLO 1.9 (``--tomogram``): for each input
tomogram ``{out}/CBOX_3D/{tomo}.cbox`` (STAR: ``data_global`` with
``_cbox_format_version``, the loop ``data_cryolo`` with ``_CoordinateX/Y``
the box corner, ``_CoordinateZ`` the centre slice, ``_Width _Height _Depth
_EstWidth _EstHeight _Confidence _NumBoxes _Angle``, and ``data_cryolo_include``),
``{out}/COORDS/{tomo}.coords`` and ``logs/`` in the current folder.  The box
size comes from the config's anchors; boxes are smoothed dark blobs whose
confidence (in [0, 1]) passes ``-t``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import pandas as pd
import starfile
from _standin import darkness, fail, greedy_peaks, read_volume

PROGRAM = "cryolo_predict.py"


def main() -> int:
    parser = argparse.ArgumentParser(prog=PROGRAM)
    parser.add_argument("-c", "--conf", required=True)
    parser.add_argument("-w", "--weights", required=True)
    parser.add_argument("-i", "--input", nargs="+", required=True)
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("-t", "--threshold", type=float, default=0.3)
    parser.add_argument("-g", "--gpu", default="", nargs="+")
    parser.add_argument("-nc", "--num_cpu", type=int, default=-1)
    parser.add_argument("--tomogram", action="store_true")
    parser.add_argument("-tsr", "--tracing_search_range", type=int, default=-1)
    parser.add_argument("-tmem", "--tracing_memory", type=int, default=0)
    parser.add_argument("-tmin", "--tracing_min_length", type=int, default=5)
    parser.add_argument("--write_empty", action="store_true")
    args = parser.parse_args()
    if not args.weights.endswith(".h5") or not os.path.isfile(args.weights):
        fail(PROGRAM, f"weights {args.weights} is not an .h5 file")
    with open(args.conf, encoding="utf-8") as handle:
        box = int(json.load(handle)["model"]["anchors"][0])
    os.makedirs(os.path.join("logs", "cmdlogs"), exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with open(os.path.join("logs", "cmdlogs", f"command_predict_{stamp}.txt"), "w") as log:
        log.write(PROGRAM + " " + " ".join(sys.argv[1:]) + "\n")
    if not args.tomogram:
        fail(PROGRAM, "the stand-in picks tomograms only (--tomogram)")
    for path in args.input:
        data, _ = read_volume(path)
        peaks = greedy_peaks(darkness(data, box / 6), box / 2, 1000, args.threshold)
        rows = [
            (x - box / 2, y - box / 2, z, box, box, box, box, box, value, box, np.nan)
            for (z, y, x), value in peaks
        ]
        columns = [
            "CoordinateX", "CoordinateY", "CoordinateZ", "Width", "Height", "Depth",
            "EstWidth", "EstHeight", "Confidence", "NumBoxes", "Angle",
        ]  # fmt: skip
        boxes = pd.DataFrame(rows, columns=columns)
        if not rows and not args.write_empty:
            print(f"0 particles are found in {path}")
            continue
        stem = os.path.splitext(os.path.basename(path))[0]
        for folder in ("CBOX_3D", "COORDS"):
            os.makedirs(os.path.join(args.output, folder), exist_ok=True)
        slices = pd.DataFrame({"slice_index": sorted({int(z) for (z, _, _), _ in peaks})})
        starfile.write(
            {"global": {"cbox_format_version": "1.0"}, "cryolo": boxes, "cryolo_include": slices},
            os.path.join(args.output, "CBOX_3D", stem + ".cbox"),
        )
        centres = [(x, y, z) for (z, y, x), _ in peaks]
        np.savetxt(os.path.join(args.output, "COORDS", stem + ".coords"), centres, fmt="%d")
        print(f"{len(peaks)} particles are found in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
