#!/usr/bin/env python
"""Stand-in for TomoTwin's ``tomotwin_pick.py`` (tests only).

Same options and outputs as tomotwin-cryoet 0.9: for each reference with
located particles (after ``--minmetric``/``--maxmetric``/``--minsize``/
``--maxsize``), ``{out}/{reference stem}.coords`` (``X Y Z`` separated by
spaces, no header) and ``{out}/{reference stem}_relion3.star``.
"""

from __future__ import annotations

import argparse
import os
import sys

import pandas as pd
import starfile

PROGRAM = "tomotwin_pick.py"


def main() -> int:
    parser = argparse.ArgumentParser(prog=PROGRAM)
    parser.add_argument("-l", "--locate_results", required=True)
    parser.add_argument("--target", default=None, nargs="+")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--minmetric", type=float)
    parser.add_argument("--maxmetric", type=float)
    parser.add_argument("--minsize", type=float)
    parser.add_argument("--maxsize", type=float)
    args = parser.parse_args()
    located = pd.read_pickle(args.locate_results)
    references = located.attrs["references"]
    for target in args.target or references:
        chosen = located[located["predicted_class"] == references.index(target)]
        for column, low, high in (
            ("metric_best", args.minmetric, args.maxmetric),
            ("size", args.minsize, args.maxsize),
        ):
            if low:
                chosen = chosen[chosen[column] >= low]
            if high:
                chosen = chosen[chosen[column] <= high]
        if not len(chosen):
            print(f"Target: {target} - Skip.")
            continue
        os.makedirs(args.output, exist_ok=True)
        stem = os.path.join(args.output, os.path.splitext(target)[0])
        chosen[["X", "Y", "Z"]].to_csv(stem + ".coords", index=False, header=None, sep=" ")
        star = chosen[["X", "Y", "Z"]].set_axis(
            ["rlnCoordinateX", "rlnCoordinateY", "rlnCoordinateZ"], axis=1
        )
        starfile.write(star, stem + "_relion3.star")
        print(f"Target: {target} - Write {len(chosen)} positions to disk.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
