#!/usr/bin/env python
"""Stand-in for TomoTwin's ``tomotwin_embed.py`` (tests only).

Same sub-commands, options and files as tomotwin-cryoet 0.9: ``tomogram``
writes ``{out}/{tomo}_embeddings.temb`` (a pickled DataFrame with the window
centres X, Y, Z in voxels and one column per embedding dimension, attrs
``stride``, ``window_size``, ``tomogram_input_shape``, ``tomotwin_config``);
``subvolumes`` writes ``{out}/embeddings.temb`` with a ``filepath`` column.
The "embedding" is a z-scored patch at the window centre (not a network).
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

import numpy as np
import pandas as pd
from _standin import fail, patch_embeddings, read_volume

PROGRAM = "tomotwin_embed.py"
WINDOW = 37
CONFIG = {"distance": "COSINE", "window_size": WINDOW}


def frame(vectors: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(vectors, columns=[str(i) for i in range(vectors.shape[1])])


def main() -> int:
    parser = argparse.ArgumentParser(prog=PROGRAM)
    commands = parser.add_subparsers(dest="command", required=True)
    tomo = commands.add_parser("tomogram")
    tomo.add_argument("-m", "--modelpth", required=True)
    tomo.add_argument("-v", "--volumes", required=True)
    tomo.add_argument("-b", "--batchsize", type=int, default=64)
    tomo.add_argument("-o", "--outpath", required=True)
    tomo.add_argument("-s", "--stride", type=int, default=[2], nargs="+")
    volumes = commands.add_parser("subvolumes")
    volumes.add_argument("-m", "--modelpth", required=True)
    volumes.add_argument("-v", "--volumes", required=True, nargs="+")
    volumes.add_argument("-b", "--batchsize", type=int, default=128)
    volumes.add_argument("-o", "--outpath", required=True)
    args = parser.parse_args()
    if not os.path.isfile(args.modelpth):
        fail(PROGRAM, f"model {args.modelpth} not found")
    os.makedirs(args.outpath, exist_ok=True)
    if args.command == "tomogram":
        data, _ = read_volume(args.volumes)
        stride = args.stride[0]
        grid = np.stack(
            np.meshgrid(*(np.arange(0, n, stride) for n in data.shape), indexing="ij"), axis=-1
        ).reshape(-1, 3)
        table = frame(patch_embeddings(data, grid))
        table.insert(0, "Z", grid[:, 0])
        table.insert(0, "Y", grid[:, 1])
        table.insert(0, "X", grid[:, 2])
        table.attrs.update(
            filepath=args.volumes,
            modelpth=args.modelpth,
            window_size=WINDOW,
            stride=args.stride,
            tomogram_input_shape=data.shape,
            tomotwin_config=CONFIG,
            padding=True,
            tt_version_embed="0.9.1",
        )
        stem = os.path.splitext(os.path.basename(args.volumes))[0]
        table.to_pickle(os.path.join(args.outpath, stem + "_embeddings.temb"))
    else:
        paths = []
        for path in args.volumes:
            found = sorted(glob.glob(os.path.join(path, "*.mrc")))
            paths += found if os.path.isdir(path) else [path]
        vectors = []
        for path in paths:
            data, _ = read_volume(path)
            vectors.append(patch_embeddings(data, np.array([s // 2 for s in data.shape]))[0])
        table = frame(np.array(vectors).reshape(len(paths), -1))
        table.insert(0, "filepath", paths)
        table.index.name = "index"
        table.attrs.update(modelpth=args.modelpth, tomotwin_config=CONFIG)
        table.to_pickle(os.path.join(args.outpath, "embeddings.temb"))
    print(f"Wrote embeddings to {args.outpath}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
