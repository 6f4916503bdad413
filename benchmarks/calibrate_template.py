"""Calibrate a phantom difficulty against the ``template`` picker (§2.6 of the specification).

For each seed, ``--runs`` phantom runs (run seeds derived from the seed with
:func:`run_seed`) are generated with the chosen preset, picked by
:class:`TemplatePicker` and pooled into one :func:`score_picks` call at the
best per-class thresholds; the table shows the per-class F-beta mean ± std
over seeds, next to the targets.

Usage::

    python benchmarks/calibrate_template.py          # small-kaggle-like, 3 seeds × 3 runs
    python benchmarks/calibrate_template.py --noise-sigma 5 --crowder-density 0.3 --jobs 2
    python benchmarks/calibrate_template.py --picker n_rotations=48 --seeds 0 1 2 3
    python benchmarks/calibrate_template.py --class-contrast beta-galactosidase=1.6 --runs 10
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from topcup_bench.datasets.phantom import generate_run, resolve_preset, run_seed
from topcup_bench.metrics import score_picks
from topcup_bench.pickers.factory import create_picker
from topcup_bench.types import Tomogram

#: Best-threshold F-beta bands of §2.6 (as set for this calibration): (low, high).
TARGETS: dict[str, tuple[float, float]] = {
    "ribosome": (0.85, 1.0),
    "virus-like-particle": (0.85, 1.0),
    "apo-ferritin": (0.75, 0.97),
    "thyroglobulin": (0.35, 0.75),
    "beta-galactosidase": (0.35, 0.75),
    "beta-amylase": (0.0, 0.3),
}


def _pick_one(task: tuple) -> tuple[pd.DataFrame, pd.DataFrame]:
    preset, seed, index, picker_params = task
    run = generate_run(preset, run_seed(seed, index), workers=1)
    name = f"seed{seed}-run{index}"
    tomogram = Tomogram(name, run.volumes["denoised"], preset.voxel_size_angstrom)
    picker = create_picker("template", picker_params)
    picks = picker.pick(tomogram, preset.catalogue)
    return run.picks.assign(experiment=name), picks


def calibrate(
    preset,
    seeds,
    runs: int,
    picker_params: dict,
    jobs: int = 1,
) -> pd.DataFrame:
    """Per-seed best-threshold F-beta of every class: rows seeds, columns classes."""
    tasks = [(preset, s, i, picker_params) for s in seeds for i in range(runs)]
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(_pick_one, tasks))
    else:
        results = [_pick_one(t) for t in tasks]
    rows = {}
    for k, seed in enumerate(seeds):
        chunk = results[k * runs : (k + 1) * runs]
        truth = pd.concat([t for t, _ in chunk], ignore_index=True)
        picks = pd.concat([p for _, p in chunk], ignore_index=True)
        result = score_picks(truth, picks, classes=preset.catalogue, thresholds="best")
        rows[seed] = {name: c.fbeta for name, c in result.classes.items()}
        rows[seed]["score"] = result.score
    return pd.DataFrame.from_dict(rows, orient="index")


def summary(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std over seeds and whether the mean lies in its target band."""
    out = []
    for name in per_seed.columns:
        values = per_seed[name].to_numpy()
        low, high = TARGETS.get(name, (np.nan, np.nan))
        mean = float(values.mean())
        out.append(
            {
                "class": name,
                "mean": mean,
                "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                "target": "" if name not in TARGETS else f"{low:.2f}–{high:.2f}",
                "ok": "" if name not in TARGETS else ("yes" if low <= mean <= high else "NO"),
            }
        )
    return pd.DataFrame(out).set_index("class")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small-kaggle-like")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--runs", type=int, default=3, help="runs per seed, pooled")
    parser.add_argument("--noise-sigma", type=float)
    parser.add_argument("--crowder-density", type=float)
    parser.add_argument("--denoise-factor", type=float)
    parser.add_argument(
        "--class-contrast",
        help="per-class density multipliers replacing the preset's, e.g. beta-galactosidase=1.6",
    )
    parser.add_argument("--picker", default="", help="template parameters, key=value;key=value")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    preset = resolve_preset(args.preset)
    overrides = {
        key: value
        for key, value in (
            ("noise_sigma", args.noise_sigma),
            ("crowder_density", args.crowder_density),
            ("denoise_factor", args.denoise_factor),
        )
        if value is not None
    }
    if args.class_contrast is not None:
        overrides["class_contrast"] = {
            name.strip(): float(value)
            for name, _, value in (
                item.partition("=") for item in args.class_contrast.split(",") if item.strip()
            )
        }
    if overrides:
        preset = preset.replace(**overrides)
    params = dict(item.split("=", 1) for item in args.picker.split(";") if item.strip())
    start = time.perf_counter()
    per_seed = calibrate(preset, args.seeds, args.runs, params, jobs=args.jobs)
    elapsed = time.perf_counter() - start
    print(
        f"{preset.name}: noise_sigma {preset.noise_sigma:g}, crowder_density "
        f"{preset.crowder_density:g}, denoise_factor {preset.denoise_factor:g}, "
        f"class_contrast {dict(preset.class_contrast) or 'none'}, counts per run "
        f"{'/'.join(str(n) for _, n in preset.counts)}; "
        f"seeds {args.seeds} × {args.runs} runs; template {params or 'defaults'}; "
        f"{elapsed:.0f} s"
    )
    print(per_seed.round(3).to_string())
    table = summary(per_seed)
    print(
        table.to_string(
            formatters={"mean": "{:.3f}".format, "std": "± {:.3f}".format}, justify="left"
        )
    )


if __name__ == "__main__":
    main()
