"""The ``external`` picker on native picks formats: format, experiment, particle_type, pixel size.

The hand-written files of ``tests/cli/test_score_formats.py`` hold two
ribosomes of run TS_1 at (1000, 2000, 300) and (300, 350, 50) Å once read
with 10 Å pixels. The stand-in dataset below has runs TS_1 (2000 × 3000 ×
600 Å) and TS_2; the last tests use the generated ``phantom:tiny``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from tests.cli.test_score_formats import (
    COORDS,
    DYNAMO,
    NATIVE_FILES,
    RELION5_OPTICS,
    RELION5_PARTICLES,
)
from tests.datasets.test_picks_native_formats import _dynamo_row
from topcup_bench.datasets.catalog import open_dataset
from topcup_bench.errors import InputError, SchemaError
from topcup_bench.pick_cache import PickCache
from topcup_bench.pickers import create_picker
from topcup_bench.pickers.factory import parse_picker_spec
from topcup_bench.types import COMPETITION_CLASSES, Tomogram

EXPECTED = np.array([[1000.0, 2000.0, 300.0], [300.0, 350.0, 50.0]])
CONTEXT = {"experiment": "TS_1", "particle_type": "ribosome", "pixel_size_angstrom": "10"}


class _Dataset:
    """What ``external`` asks of a dataset: runs, voxel size, classes, extents in Å."""

    voxel_size_angstrom = 10.0
    classes = COMPETITION_CLASSES

    def __init__(self, extents=None):
        self.extents = extents or {"TS_1": (2000.0, 3000.0, 600.0), "TS_2": (900.0, 900.0, 300.0)}
        self.runs = tuple(self.extents)

    def extent_angstrom_xyz(self, run):
        return self.extents[run]


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def _tomogram(run):
    return Tomogram(run=run, data=np.zeros((2, 2, 2), dtype=np.float32), voxel_size_angstrom=10.0)


def _prepared(params, dataset=None):
    picker = create_picker("external", params)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Å inside the tomogram: no units warning
        picker.prepare(dataset if dataset is not None else _Dataset())
    return picker


def test_dynamo_spec_through_create_picker_and_prepare(tmp_path):
    path = _write(tmp_path / "picks.tbl", DYNAMO)
    name, params = parse_picker_spec(
        f"external:source={path};experiment=TS_1;particle_type=ribosome;pixel_size_angstrom=10"
    )
    picker = _prepared(params)
    picks = picker.pick(_tomogram("TS_1"), COMPETITION_CLASSES)
    assert list(picks.columns) == ["experiment", "particle_type", "x", "y", "z", "score"]
    np.testing.assert_allclose(picks[["x", "y", "z"]].to_numpy(), EXPECTED)
    assert picks["score"].tolist() == [0.9, 0.4]
    assert set(picks["particle_type"]) == {"ribosome"}
    assert picker.pick(_tomogram("TS_2"), COMPETITION_CLASSES).empty
    assert picker.unplaced_picks(["TS_1"]) == {}
    assert picker.card().parameters["experiment"] == "TS_1"


@pytest.mark.parametrize("name", sorted(NATIVE_FILES))
def test_every_native_format_reads_the_same_picks(tmp_path, name):
    file_name, text = NATIVE_FILES[name]
    picker = _prepared({"source": str(_write(tmp_path / file_name, text)), **CONTEXT})
    picks = picker.pick(_tomogram("TS_1"), COMPETITION_CLASSES)
    np.testing.assert_allclose(picks[["x", "y", "z"]].to_numpy(), EXPECTED)
    if name in ("coords", "ndjson", "star"):  # no score in the file: 1.0
        assert picks["score"].tolist() == [1.0, 1.0]


def test_format_parameter_reads_any_file_name(tmp_path):
    path = _write(tmp_path / "picks.txt", DYNAMO)
    picker = _prepared({"source": str(path), "format": "dynamo", **CONTEXT})
    np.testing.assert_allclose(picker._picks[["x", "y", "z"]].to_numpy(), EXPECTED)
    with pytest.raises(InputError, match=r"no picks format has the extension '.txt'") as caught:
        create_picker("external", {"source": str(path), **CONTEXT})
    assert "format=NAME" in str(caught.value) and "'dynamo'" in str(caught.value)


def test_unknown_format_is_refused_at_creation_with_the_known_names():
    with pytest.raises(InputError) as caught:
        create_picker("external", {"source": "p.tbl", "format": "dynamoo"})
    message = str(caught.value)
    assert message.startswith("picker 'external': parameter 'format': unknown picks format")
    assert "'ndjson'" in message and "Did you mean 'dynamo'?" in message


def test_format_for_a_copick_source_is_refused():
    with pytest.raises(InputError, match=r"parameter 'format' \('csv'\) applies to files"):
        create_picker("external", {"source": "copick:/c.json?user=u", "format": "csv"})


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"pixel_size_angstrom": "10"}, r"\['pixel_size_angstrom'\] apply to files in pixels"),
        ({"experiment": "TS_1"}, r"\['experiment'\] apply to files"),
        ({"particle_type": "ribosome"}, r"\['particle_type'\] apply to files"),
    ],
)
def test_options_a_csv_source_cannot_use_are_refused(params, match):
    with pytest.raises(InputError, match=match) as caught:
        create_picker("external", {"source": "picks.csv", **params})
    assert "is csv (Å, run and class on every row)" in str(caught.value)
    with pytest.raises(InputError, match=match):
        create_picker("external", {"source": "copick:/c.json?user=u", **params})


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"experiment": " "}, r"parameter 'experiment' must be a name \(or empty\), found ' '"),
        ({"particle_type": "\t"}, r"parameter 'particle_type' must be a name"),
        ({"pixel_size_override": "true"}, r"'pixel_size_override' needs 'pixel_size_angstrom'"),
    ],
)
def test_bad_parameters_are_refused_at_creation(params, match):
    with pytest.raises(InputError, match=match):
        create_picker("external", {"source": "picks.tbl", **params})


@pytest.mark.parametrize(
    ("missing", "hint"),
    [
        ("experiment", "the picker parameter experiment=RUN"),
        ("particle_type", "the picker parameter particle_type=CLASS"),
        ("pixel_size_angstrom", "the picker parameter pixel_size_angstrom=<Å per pixel>"),
    ],
)
def test_what_the_file_leaves_out_names_the_picker_parameter(tmp_path, missing, hint):
    path = _write(tmp_path / "picks.coords", COORDS)
    params = {k: v for k, v in CONTEXT.items() if k != missing}
    picker = create_picker("external", {"source": str(path), **params})
    with pytest.raises(SchemaError) as caught:
        picker.prepare(_Dataset())
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and hint in message
    assert "PicksContext" not in message


def test_relion5_centred_picks_take_the_dataset_extents(tmp_path):
    path = _write(tmp_path / "r5.star", RELION5_OPTICS + RELION5_PARTICLES)
    picker = _prepared({"source": str(path)})
    np.testing.assert_allclose(picker._picks[["x", "y", "z"]].to_numpy(), EXPECTED)
    elsewhere = _write(
        tmp_path / "r9.star", (RELION5_OPTICS + RELION5_PARTICLES).replace("TS_1", "TS_9")
    )
    with pytest.raises(SchemaError) as caught:
        create_picker("external", {"source": str(elsewhere)}).prepare(_Dataset())
    message = str(caught.value)
    assert "extent of run(s) ['TS_9'] is unknown" in message
    assert "the dataset gives the extents of its own runs only" in message


def test_parameters_and_star_extents_are_in_the_cache_key(tmp_path):
    coords = str(_write(tmp_path / "picks.coords", COORDS))
    keys = PickCache(None)
    dataset = _Dataset()

    def key(params, data=dataset):
        return keys.key(create_picker("external", params), data, "TS_1", ())

    base = key({"source": coords, **CONTEXT})
    assert key({"source": coords, **CONTEXT}) == base
    for change in ({"experiment": "TS_2"}, {"particle_type": "thyroglobulin"}):
        assert key({"source": coords, **CONTEXT, **change}) != base
    assert key({"source": coords, **CONTEXT, "pixel_size_angstrom": "5"}) != base
    assert key({"source": coords, **CONTEXT, "format": "coords"}) != base
    resized = _Dataset({"TS_1": (1000.0, 3000.0, 600.0), "TS_2": (900.0, 900.0, 300.0)})
    assert key({"source": coords, **CONTEXT}, resized) == base  # .coords: the extent plays no part
    star = str(_write(tmp_path / "r5.star", RELION5_OPTICS + RELION5_PARTICLES))
    assert key({"source": star}, resized) != key({"source": star})


# --------------------------------------------------------------------------- phantom:tiny


@pytest.fixture(scope="module")
def tiny():
    return open_dataset("phantom:tiny", progress=False)


def test_dynamo_table_of_one_run_and_class_on_a_real_dataset(tmp_path, tiny):
    run, name = tiny.split("test")[0], "ribosome"
    truth = tiny.truth([run])
    chosen = truth.loc[truth["particle_type"] == name].reset_index(drop=True)
    voxels = chosen[["x", "y", "z"]].to_numpy() / tiny.voxel_size_angstrom + 1.0  # 1-based
    rows = [
        _dynamo_row(c1=i + 1, c10=0.5, c20=1, c22=4, c24=x, c25=y, c26=z)
        for i, (x, y, z) in enumerate(voxels)
    ]
    path = _write(tmp_path / "ribosome.tbl", "\n".join(rows) + "\n")
    spec = f"external:source={path};experiment={run};particle_type={name};pixel_size_angstrom=10"
    picker = _prepared(parse_picker_spec(spec)[1], tiny)
    picks = picker.pick(tiny.tomogram(run), tiny.classes)
    pd.testing.assert_frame_equal(
        picks[["experiment", "particle_type", "x", "y", "z"]], chosen[list(picks.columns[:5])]
    )
    assert picker.unplaced_picks(tiny.runs) == {}


def test_relion5_file_of_a_real_dataset_uses_its_extents(tmp_path, tiny):
    truth = tiny.truth()
    centres = np.array([tiny.extent_angstrom_xyz(run) for run in truth["experiment"]]) / 2.0
    centred = truth[["x", "y", "z"]].to_numpy() - centres
    lines = [
        f"{run} {name} {x:.6f} {y:.6f} {z:.6f}"
        for run, name, (x, y, z) in zip(
            truth["experiment"], truth["particle_type"], centred, strict=True
        )
    ]
    header = (
        "data_particles\n\nloop_\n_rlnTomoName #1\n_rlnParticleName #2\n"
        "_rlnCenteredCoordinateXAngst #3\n_rlnCenteredCoordinateYAngst #4\n"
        "_rlnCenteredCoordinateZAngst #5\n"
    )
    path = _write(tmp_path / "r5.star", header + "\n".join(lines) + "\n")
    picker = _prepared({"source": str(path)}, tiny)
    np.testing.assert_allclose(
        picker._picks[["x", "y", "z"]].to_numpy(), truth[["x", "y", "z"]].to_numpy(), atol=1e-5
    )
    assert picker._picks["experiment"].tolist() == truth["experiment"].tolist()
    assert picker._picks["particle_type"].tolist() == truth["particle_type"].tolist()
