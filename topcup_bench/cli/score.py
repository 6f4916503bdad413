"""``topcup-bench score``: score picks against ground truth and print the per-class table."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import click
from rich.console import Console

from topcup_bench.cli.score_inputs import (
    ScoreInputs,
    centred_extents,
    check_name,
    input_kind,
    parse_pixel_size,
    parse_tomogram_size,
    read_score_input,
)
from topcup_bench.datasets import (
    apply_name_map,
    catalogue_from_copick_config,
    check_units_against,
    describe_source,
    load_name_map,
)
from topcup_bench.datasets.atomic import atomic_output
from topcup_bench.datasets.thresholds import load_thresholds
from topcup_bench.errors import InputError, OutputExistsError
from topcup_bench.metrics import RULES, bootstrap_score, score_picks
from topcup_bench.reports.score_table import (
    class_table,
    render_markdown,
    render_rich,
    summary_lines,
)
from topcup_bench.types import COMPETITION_CLASSES

__all__ = ["score_command"]

SOURCE_HELP = (
    "CSV (Kaggle or TopCUP), RELION 4/5 STAR, Dynamo .tbl, DeepFinder .xml, crYOLO/TomoTwin "
    ".cbox or .coords, portal .ndjson, or copick:CONFIG?user=U[&session=S][&runs=a,b]"
)
#: For the help of the flags that give what a file leaves out.
_SILENT = "Used for --truth and --picks, only where the file does not say it"


@click.command("score")
@click.option(
    "--truth", "truth_spec", required=True, metavar="SOURCE", help=f"Ground truth: {SOURCE_HELP}."
)
@click.option(
    "--picks", "picks_spec", required=True, metavar="SOURCE", help=f"Predictions: {SOURCE_HELP}."
)
@click.option(
    "--classes",
    "classes_config",
    type=click.Path(dir_okay=False),
    metavar="COPICK_CONFIG",
    help="Take classes, radii and weights (metadata.score_weight) from a copick config "
    "[default: the six competition classes].",
)
@click.option(
    "--rule",
    type=click.Choice(RULES),
    default="competition",
    show_default=True,
    help="Coverage counting as the official scorer, or maximum one-to-one matching.",
)
@click.option("--beta", type=float, default=4.0, show_default=True, help="F-beta parameter.")
@click.option(
    "--distance-multiplier",
    type=float,
    default=0.5,
    show_default=True,
    help="Match radius as a fraction of the particle radius.",
)
@click.option(
    "--thresholds",
    "thresholds_spec",
    metavar="best|FILE",
    help="Keep picks with score > a per-class threshold: 'best' (optimistic, in-sample) "
    "or a JSON file {class: threshold} or a copick config (metadata.score_threshold).",
)
@click.option(
    "--map-names",
    "name_map",
    metavar="portal|FILE",
    help="Rename particle types in both inputs first: 'portal' (cryoET data portal names) "
    "or a JSON file {from: to}.",
)
@click.option(
    "--dedupe-truth",
    is_flag=True,
    help="Drop ground-truth rows repeated on (experiment, x, y, z) instead of failing.",
)
@click.option(
    "--truth-format",
    metavar="NAME",
    help="Format of --truth: csv, star, dynamo, deepfinder, cbox, coords or ndjson "
    "[default: by the file's extension].",
)
@click.option(
    "--picks-format",
    metavar="NAME",
    help="Format of --picks, as --truth-format [default: by the file's extension].",
)
@click.option(
    "--run",
    "run_name",
    metavar="RUN",
    help="Run (experiment) name for files that name none (.cbox, .coords, .ndjson, a Dynamo "
    f"or DeepFinder file of one tomogram, STAR without rlnTomoName). {_SILENT}.",
)
@click.option(
    "--particle-type",
    metavar="CLASS",
    help="Particle type for files that name none (.cbox, .coords, .ndjson, one-class .tbl or "
    f".xml, STAR without rlnParticleName). {_SILENT}.",
)
@click.option(
    "--pixel-size",
    metavar="ANGSTROM",
    help="Å per pixel of inputs in pixels (STAR, .tbl, .xml, .cbox, .coords, .ndjson), for "
    "--truth and --picks; a STAR file that states its own must agree unless "
    "--override-pixel-size. Refused when both inputs are in Å (CSV, copick).",
)
@click.option(
    "--override-pixel-size",
    is_flag=True,
    help="Use --pixel-size even where a STAR file states another pixel size.",
)
@click.option(
    "--tomogram-size",
    metavar="X,Y,Z",
    help="Tomogram size in voxels (x, y, z) for RELION 5 STAR inputs "
    "(rlnCenteredCoordinate*Angst, Å from the tomogram centre), for every run of the file; "
    "× --pixel-size, else the pixel size the file states (RELION: unbinned tilt-series pixels, "
    "rlnTomoSizeX/Y/Z), gives the extent in Å.",
)
@click.option(
    "--bootstrap",
    "n_resamples",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Bootstrap resamples over experiments for the interval (0: none).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of the bootstrap.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "markdown"]),
    default="table",
    show_default=True,
    help="Format of the report (the inputs' formats: --truth-format, --picks-format).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the report (in --format) to this file, atomically.",
)
@click.option("--overwrite", is_flag=True, help="Replace --output if it exists.")
def score_command(
    truth_spec,
    picks_spec,
    classes_config,
    rule,
    beta,
    distance_multiplier,
    thresholds_spec,
    name_map,
    dedupe_truth,
    truth_format,
    picks_format,
    run_name,
    particle_type,
    pixel_size,
    override_pixel_size,
    tomogram_size,
    n_resamples,
    seed,
    output_format,
    output,
    overwrite,
) -> None:
    """Score PICKS against TRUTH with the CZII competition metric.

    Prints the per-class table (TP, FP, FN, precision, recall, F1, F-beta) and
    the weighted score with its bootstrap interval.
    """
    classes = (
        catalogue_from_copick_config(classes_config) if classes_config else COMPETITION_CLASSES
    )
    truth_kind = input_kind(truth_spec, truth_format, "--truth-format")
    picks_kind = input_kind(picks_spec, picks_format, "--picks-format")
    inputs = ScoreInputs(
        truth_kind=truth_kind,
        picks_kind=picks_kind,
        run=check_name("--run", run_name),
        particle_type=check_name("--particle-type", particle_type),
        pixel_size=parse_pixel_size(pixel_size),
        override_pixel_size=override_pixel_size,
        tomogram_size=parse_tomogram_size(tomogram_size),
    )
    if output is not None:
        _refuse_output_onto_input(
            output,
            {
                "--truth": truth_spec,
                "--picks": picks_spec,
                "--thresholds": None if thresholds_spec == "best" else thresholds_spec,
                "--classes": classes_config,
                "--map-names": None if name_map == "portal" else name_map,
            },
        )
    extents = _star_extents(inputs, {truth_spec: truth_kind, picks_spec: picks_kind})
    truth = read_score_input(truth_spec, truth_kind, truth_format, inputs, extents.get(truth_spec))
    picks = read_score_input(picks_spec, picks_kind, picks_format, inputs, extents.get(picks_spec))
    if name_map:
        mapping = load_name_map(name_map)
        truth = apply_name_map(truth, mapping, source=truth_spec)
        picks = apply_name_map(picks, mapping, source=picks_spec)
    check_units_against(truth, picks, source=picks_spec)
    thresholds = None
    if thresholds_spec:
        thresholds = (
            "best"
            if thresholds_spec == "best"
            else load_thresholds(thresholds_spec, classes=classes.names)
        )
    result = score_picks(
        truth,
        picks,
        classes=classes,
        beta=beta,
        distance_multiplier=distance_multiplier,
        rule=rule,
        thresholds=thresholds,
        dedupe_truth=dedupe_truth,
    )
    interval = bootstrap_score(result, n_resamples=n_resamples, seed=seed) if n_resamples else None
    report = _render(result, interval, output_format, truth_spec, picks_spec)
    if output is not None:
        with atomic_output(output, overwrite=overwrite) as temporary:
            temporary.write_text(
                report if isinstance(report, str) else _plain(report), encoding="utf-8"
            )
    if isinstance(report, str):
        click.echo(report, nl=not report.endswith("\n"))
    else:
        console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 150)
        for renderable in report:
            console.print(renderable)


def _star_extents(inputs: ScoreInputs, kinds: dict[str, str]) -> dict[str, dict]:
    """``--tomogram-size`` as run → extent (Å) for each RELION 5 STAR input (source → map).

    Raises
    ------
    InputError
        ``--tomogram-size`` given but no STAR input has centred coordinates.
    """
    if inputs.tomogram_size is None:
        return {}
    stars = [spec for spec, kind in kinds.items() if kind == "star"]
    extents = {spec: centred_extents(spec, inputs) for spec in stars}
    found = {spec: extent for spec, extent in extents.items() if extent is not None}
    if not found:
        raise InputError(
            "--tomogram-size",
            f"applies to RELION 5 coordinates (rlnCenteredCoordinate*Angst); {stars} hold none "
            "(RELION 4 pixel coordinates need only the pixel size)",
        )
    return found


def _refuse_output_onto_input(output: Path, inputs: dict[str, str | None]) -> None:
    """Refuse an ``--output`` that is one of the input files, even with ``--overwrite``.

    Raises
    ------
    OutputExistsError
        ``output`` resolves to (or is a link to) the file given to one of ``inputs``.
    """
    target = os.path.realpath(output)
    for flag, spec in inputs.items():
        if not spec or str(spec).startswith("copick:"):
            continue
        path = str(spec)
        same = os.path.realpath(path) == target
        if not same and os.path.exists(path) and os.path.exists(target):
            same = os.path.samefile(path, target)
        if same:
            raise OutputExistsError(
                f"--output: {str(output)!r} is the {flag} file; writing the report there "
                "would replace an input (refused even with --overwrite); choose another path"
            )


def _render(result, interval, output_format, truth_spec, picks_spec):
    if output_format == "json":
        payload = result.to_dict()
        payload["bootstrap"] = interval.to_dict() if interval else None
        payload["truth"] = describe_source(truth_spec)
        payload["picks"] = describe_source(picks_spec)
        return json.dumps(payload, indent=2) + "\n"
    table = class_table(result)
    lines = summary_lines(result, interval)
    if output_format == "markdown":
        return render_markdown(table, lines)
    return [
        render_rich(table, title=f"{describe_source(picks_spec)} vs {describe_source(truth_spec)}"),
        *lines,
    ]


def _plain(renderables) -> str:
    console = Console(record=True, width=150, file=io.StringIO())
    for renderable in renderables:
        console.print(renderable)
    return console.export_text()
