#!/usr/bin/env python
"""Stand-in for TomoTwin's ``tomotwin_map.py distance`` (tests only).

Reads the reference and tomogram embeddings and writes ``{out}/map.tmap``: a
pickled DataFrame with X, Y, Z and ``d_class_<i>`` (cosine similarity to
reference i), attrs ``references`` (file names) plus the tomogram's attrs.
"""

from __future__ import annotations

import argparse
import os
import sys

import pandas as pd

PROGRAM = "tomotwin_map.py"


def main() -> int:
    parser = argparse.ArgumentParser(prog=PROGRAM)
    commands = parser.add_subparsers(dest="command", required=True)
    distance = commands.add_parser("distance")
    distance.add_argument("-r", "--references", required=True)
    distance.add_argument("-v", "--volumes", required=True)
    distance.add_argument("--refine", action="store_true")
    distance.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    references = pd.read_pickle(args.references)
    volumes = pd.read_pickle(args.volumes)
    drop = ["index", "filepath", "X", "Y", "Z"]
    similarity = volumes.drop(columns=drop, errors="ignore").to_numpy() @ (
        references.drop(columns=drop, errors="ignore").to_numpy().T
    )
    table = volumes[["X", "Y", "Z"]].copy()
    for index in range(similarity.shape[1]):
        table[f"d_class_{index}"] = similarity[:, index]
    table.attrs.update(volumes.attrs)
    table.attrs["references"] = [os.path.basename(p) for p in references["filepath"]]
    table.attrs["skip_refinement"] = not args.refine
    os.makedirs(args.output, exist_ok=True)
    table.to_pickle(os.path.join(args.output, "map.tmap"))
    print(f"Wrote output to {os.path.join(args.output, 'map.tmap')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
