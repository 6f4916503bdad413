"""A tiny command-line particle picker, used to test the ``command`` picker end to end.

It reads a tomogram (MRC, voxel size in the header) and the classes JSON that
topcup-bench writes, smooths the volume at each class's size, keeps the local
maxima and writes them as a RELION STAR file: ``rlnCoordinateX/Y/Z`` in
pixels (voxels), ``rlnMicrographName``, ``rlnParticleName`` (omitted for a
per-class file) and ``rlnLCCmax`` (the smoothed value as a z-score).

``--mode`` makes it misbehave in the ways the tests need: crash, sleep, write
nothing, write outside its output folder, write z-y-x or voxel units, and
write probability or label maps instead of points.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np  # scipy and mrcfile are imported where needed: --version stays quick

VERSION = "tiny-picker 0.1"
MODES = (
    "picks",
    "crash",
    "sleep",
    "nothing",
    "outside",
    "symlink",
    "zyx",
    "voxels-csv",
    "probability",
    "segmentation",
    "garbage",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tiny_picker")
    parser.add_argument("--version", action="version", version=VERSION)
    parser.add_argument("tomogram")
    parser.add_argument("classes", help="classes JSON written by topcup-bench")
    parser.add_argument("out", help="STAR file to write (a folder for map modes)")
    parser.add_argument("--class", dest="only", default="", help="pick this class only")
    parser.add_argument("--protein-dark", default="true", choices=("true", "false"))
    parser.add_argument("--max-peaks", type=int, default=8)
    parser.add_argument("--mode", default="picks", choices=MODES)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--template", default="", help="a template file (must exist)")
    parser.add_argument("--model", default="", help="folder written by tiny_train.py")
    parser.add_argument("--copick-run", default="", help="TOMOGRAM is a copick config; this run")
    args = parser.parse_args(argv)

    if args.mode == "crash":
        print("tiny_picker: simulated crash while reading the tomogram", file=sys.stderr)
        return 3
    if args.mode == "sleep":
        time.sleep(args.sleep)
    if args.mode == "nothing":
        print("tiny_picker: found nothing worth writing")
        return 0

    if args.template and not Path(args.template).is_file():
        print(f"tiny_picker: template {args.template} not found", file=sys.stderr)
        return 4
    if args.template:
        print(f"tiny_picker: template {args.template}")
    if args.model:
        model = json.loads((Path(args.model) / "model.json").read_text(encoding="utf-8"))
        args.max_peaks = int(model["max_peaks"])
        print(f"tiny_picker: model trained on {model['runs']}, max_peaks {args.max_peaks}")
    if args.mode == "garbage":
        Path(args.out).write_text("this is not a STAR file {\n", encoding="utf-8")
        return 0
    import mrcfile

    if args.copick_run:
        volume, voxel, micrograph = read_copick(args.tomogram, args.copick_run)
    else:
        with mrcfile.open(args.tomogram, permissive=True) as mrc:
            volume = np.asarray(mrc.data, dtype=np.float32)
            voxel = float(mrc.voxel_size.x)
        micrograph = Path(args.tomogram).name
    if args.protein_dark == "true":
        volume = -volume  # protein bright
    document = json.loads(Path(args.classes).read_text(encoding="utf-8"))
    classes = [c for c in document["classes"] if not args.only or c["name"] == args.only]
    print(
        f"tiny_picker: {Path(args.tomogram).name} {volume.shape} at {voxel:g} A, "
        f"{len(classes)} classes"
    )

    if args.mode in ("probability", "segmentation"):
        write_maps(volume, classes, Path(args.out), args.mode, args.max_peaks)
        return 0
    rows = []
    for entry in classes:
        for (z, y, x), score in peaks(volume, entry["radius_voxels"], args.max_peaks):
            rows.append((x, y, z, entry["name"], score))
    out = Path(args.out)
    if args.mode == "voxels-csv":  # wrong: voxel indices in a file that must hold Å
        run = Path(micrograph).stem
        lines = ["experiment,particle_type,x,y,z,score"]
        lines += [f"{run},{n},{x},{y},{z},{s:.4f}" for x, y, z, n, s in rows]
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return 0
    if args.mode == "zyx":  # wrong: z-y-x order in columns named X, Y, Z
        rows = [(z, y, x, n, s) for x, y, z, n, s in rows]
    text = star_text(rows, micrograph, with_names=not args.only)
    if args.mode == "outside":
        target = out.parent.parent / out.name
        target.write_text(text, encoding="utf-8")
        return 0
    if args.mode == "symlink":  # an output that is a link to a file outside the output folder
        os.symlink(Path(args.classes).resolve(), out)
        return 0
    out.write_text(text, encoding="utf-8")
    print(f"tiny_picker: wrote {len(rows)} picks to {out}")
    return 0


def read_copick(config: str, run_name: str):
    """The denoised (else first) tomogram of a copick run, its voxel size and a file name."""
    import copick

    run = copick.from_file(config).get_run(run_name)
    spacing = run.voxel_spacings[0]
    tomograms = spacing.get_tomograms("denoised") or spacing.tomograms
    volume = np.asarray(tomograms[0].numpy(), dtype=np.float32)
    return volume, float(spacing.voxel_size), f"{run_name}.mrc"


def smoothed(volume: np.ndarray, radius_voxels: float) -> np.ndarray:
    """The volume smoothed at half the particle radius, as z-scores."""
    from scipy import ndimage

    blurred = ndimage.gaussian_filter(volume, sigma=max(1.0, radius_voxels / 2.0))
    return (blurred - blurred.mean()) / (blurred.std() or 1.0)


def peaks(volume: np.ndarray, radius_voxels: float, max_peaks: int):
    """The strongest local maxima (z, y, x voxels) of the smoothed volume and their values."""
    from scipy import ndimage

    score = smoothed(volume, radius_voxels)
    size = 2 * max(1, int(radius_voxels)) + 1
    maxima = (score == ndimage.maximum_filter(score, size=size, mode="nearest")) & (score > 0)
    where = np.argwhere(maxima)
    values = score[maxima]
    order = np.argsort(-values, kind="stable")[:max_peaks]
    return [(tuple(int(i) for i in where[k]), float(values[k])) for k in order]


def star_text(rows, micrograph: str, *, with_names: bool) -> str:
    """A RELION particles STAR file (pixel coordinates)."""
    columns = ["rlnCoordinateX", "rlnCoordinateY", "rlnCoordinateZ", "rlnMicrographName"]
    columns += ["rlnParticleName"] if with_names else []
    columns += ["rlnLCCmax"]
    lines = ["# written by tiny_picker", "", "data_particles", "", "loop_"]
    lines += [f"_{name} #{i}" for i, name in enumerate(columns, start=1)]
    for x, y, z, name, score in rows:
        cells = [f"{x:.1f}", f"{y:.1f}", f"{z:.1f}", micrograph]
        cells += [name] if with_names else []
        cells += [f"{score:.4f}"]
        lines.append(" ".join(cells))
    return "\n".join(lines) + "\n"


def write_maps(volume, classes, folder: Path, mode: str, max_peaks: int) -> None:
    """One probability map per class (``{class}.mrc``), or one label map ``labels.mrc``."""
    import mrcfile

    labels = np.zeros(volume.shape, dtype=np.int16)
    grid = np.indices(volume.shape)
    for entry in classes:
        radius = entry["radius_voxels"]
        score = smoothed(volume, radius)
        if mode == "probability":
            probability = 0.9 * (score - score.min()) / ((score.max() - score.min()) or 1.0)
            with mrcfile.new(folder / f"{entry['name']}.mrc", overwrite=True) as mrc:
                mrc.set_data(probability.astype(np.float32))
            continue
        for (z, y, x), _ in peaks(volume, radius, max_peaks):
            ball = (grid[0] - z) ** 2 + (grid[1] - y) ** 2 + (grid[2] - x) ** 2 <= (radius / 2) ** 2
            labels[ball] = entry["label"]
    if mode == "segmentation":
        with mrcfile.new(folder / "labels.mrc", overwrite=True) as mrc:
            mrc.set_data(labels)


if __name__ == "__main__":
    sys.exit(main())
