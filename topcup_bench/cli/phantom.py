"""``topcup-bench phantom``: generate a synthetic phantom as a copick project."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from topcup_bench.datasets.catalog import PHANTOM_DATASETS
from topcup_bench.datasets.dataset import CopickDataset
from topcup_bench.datasets.phantom.preset_checks import check_preset_fits
from topcup_bench.datasets.phantom.presets import PhantomPreset, list_presets, resolve_preset
from topcup_bench.datasets.phantom.project import PhantomProjectSpec, write_phantom_project
from topcup_bench.errors import InputError

__all__ = ["phantom_command"]

_DEFAULT = PHANTOM_DATASETS["default"]


def _knobs_epilog() -> str:
    default = resolve_preset(_DEFAULT.preset).to_dict()
    knobs = [
        f"  {field.name} = {json.dumps(default[field.name])}"
        for field in dataclasses.fields(PhantomPreset)
        if field.name != "name"
    ]
    presets = ", ".join(list_presets())
    # "\b" keeps click from re-wrapping the paragraph that follows it
    return (
        f"\b\nKnobs for --set (defaults of {_DEFAULT.preset}):\n"
        + "\n".join(knobs)
        + f"\n\n\b\nPresets: {presets}"
    )


def _test_runs(n_test: int | None, n_runs: int) -> int:
    """``--test-runs`` checked against ``--runs``; when not given, the default that fits."""
    if n_test is None:
        return min(_DEFAULT.n_test, n_runs - 1)
    if n_test >= n_runs:
        raise InputError(
            f"--test-runs {n_test}", f"must be less than --runs {n_runs} (at least one train run)"
        )
    return n_test


def _flavours(text: str | None) -> tuple[str, ...]:
    """``--flavours`` as a tuple (empty: the preset's); given but empty is an error."""
    if text is None:
        return ()
    flavours = tuple(item.strip() for item in text.split(",") if item.strip())
    if not flavours:
        raise InputError("--flavours", f"no flavour given (found {text!r})")
    return flavours


@click.command("phantom", epilog=_knobs_epilog())
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Project folder to write (copick_config.json, manifest.json, ExperimentRuns/).",
)
@click.option(
    "--preset",
    default=_DEFAULT.preset,
    show_default=True,
    help="Size and difficulty: tiny|small|quarter|full[-easy|-kaggle-like|-hard].",
)
@click.option(
    "--runs",
    "n_runs",
    type=click.IntRange(min=1),
    default=_DEFAULT.n_runs,
    show_default=True,
    help="Number of tomograms.",
)
@click.option(
    "--test-runs",
    "n_test",
    type=click.IntRange(min=0),
    help=f"The last N runs form the test split; fewer than --runs (at least one train "
    f"run) [default: {_DEFAULT.n_test}, or --runs - 1 when that is fewer].",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=_DEFAULT.seed,
    show_default=True,
    help="Project seed (>= 0).",
)
@click.option(
    "--flavours", help="Comma-separated tomogram types: denoised, wbp [default: the preset's]."
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KNOB=VALUE",
    help="Override a preset knob (JSON value), e.g. --set noise_sigma=6. Repeatable.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="FFT worker threads [default: the CPU count, at most 4]; results do not depend on it.",
)
@click.option(
    "--preview",
    "preview_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also save a PNG with central x-y and x-z slices of the first run and its "
    "ground truth marked.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an --out holding another phantom project; a folder holding anything else "
    "is never replaced.",
)
def phantom_command(
    out_dir, preset, n_runs, n_test, seed, flavours, overrides, workers, preview_path, overwrite
) -> None:
    """Generate a deterministic synthetic phantom and write it as a copick project.

    The same preset, knobs and seed always give the same tomograms and picks; a
    second call with the same parameters finds the finished project and returns
    at once.  Ground truth is stored as copick picks of user 'curation',
    session '0'; the train/test split is recorded in manifest.json.
    """
    chosen = resolve_preset(preset)
    if overrides:
        chosen = chosen.replace(**dict(_parse_override(item) for item in overrides))
    spec = PhantomProjectSpec(
        preset=chosen,
        n_runs=n_runs,
        seed=seed,
        n_test=_test_runs(n_test, n_runs),
        flavours=_flavours(flavours),
    )
    check_preset_fits(chosen, len(spec.flavours))  # refuse before creating anything
    config = write_phantom_project(out_dir, spec, overwrite=overwrite, workers=workers)
    dataset = CopickDataset(config, tomo_type=spec.flavours[0])
    truth = dataset.truth()
    counts = truth.groupby("particle_type").size().to_dict()
    click.echo(f"phantom {chosen.name}: {n_runs} runs, seed {seed}, cache key {spec.cache_key()}")
    click.echo(f"copick config: {config}")
    click.echo(f"split: {json.dumps(spec.split)}")
    click.echo(f"ground truth (user curation, session 0): {len(truth)} particles {counts}")
    if preview_path is not None:
        from topcup_bench.reports.slices import save_slice_figure  # matplotlib: only when asked

        run = dataset.runs[0]
        save_slice_figure(
            dataset.tomogram(run),
            dataset.truth([run]),
            preview_path,
            classes=dataset.classes,
            title=f"{chosen.name}, seed {seed}, run {run}",
            overwrite=overwrite,
        )
        click.echo(f"preview: {preview_path}")


def _parse_override(item: str) -> tuple[str, object]:
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise InputError("--set", f"expected KNOB=VALUE, found {item!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
        if "," in raw:  # a bare list: shape_zyx=92,160,160 as [92,160,160]
            try:
                value = json.loads(f"[{raw}]")
            except json.JSONDecodeError:
                pass
    if isinstance(value, list):
        value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
    return key.strip(), value
