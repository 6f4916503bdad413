#!/usr/bin/env python
"""Stand-in for TomoTwin's ``tomotwin_locate.py findmax`` (tests only).

Each window goes to its most similar reference; maxima of each reference's
similarity (at least ``-g``, ``-b``/2 voxels apart) become rows X, Y, Z
(voxels), ``predicted_class``, ``size``, ``metric_best``, ``width``, ``height``,
``depth`` of ``{out}/located.tloc`` (a pickled DataFrame), as the real one.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import pandas as pd
from _standin import greedy_peaks

PROGRAM = "tomotwin_locate.py"


def main() -> int:
    parser = argparse.ArgumentParser(prog=PROGRAM)
    commands = parser.add_subparsers(dest="command", required=True)
    findmax = commands.add_parser("findmax")
    findmax.add_argument("-m", "--map", required=True)
    findmax.add_argument("-o", "--output", required=True)
    findmax.add_argument("-t", "--tolerance", type=float, default=0.2)
    findmax.add_argument("-b", "--boxsize", default=37)
    findmax.add_argument("-g", "--global_min", type=float, default=0.5)
    args = parser.parse_args()
    table = pd.read_pickle(args.map)
    stride = table.attrs["stride"][0]
    boxsize = int(args.boxsize)
    scores = table[[c for c in table.columns if c.startswith("d_class_")]].to_numpy()
    best = scores.argmax(axis=1)
    cells = table[["Z", "Y", "X"]].to_numpy() // stride
    shape = tuple(int(n) for n in cells.max(axis=0) + 1)
    rows = []
    for index in range(scores.shape[1]):
        volume = np.zeros(shape)
        keep = best == index
        volume[tuple(cells[keep].T)] = scores[keep, index]
        for (z, y, x), value in greedy_peaks(volume, boxsize / 2 / stride, 10_000, args.global_min):
            rows.append((x * stride, y * stride, z * stride, index, 1, value, boxsize))
    columns = ["X", "Y", "Z", "predicted_class", "size", "metric_best", "width"]
    located = pd.DataFrame(rows, columns=columns)
    located["height"] = located["width"]
    located["depth"] = located["width"]
    located.attrs.update(table.attrs)
    os.makedirs(args.output, exist_ok=True)
    located.to_pickle(os.path.join(args.output, "located.tloc"))
    print(f"located {len(located)} particles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
