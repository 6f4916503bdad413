"""The ``octopi`` adapter: parameters, a missing octopi, targets, localisation, training.

Everything but the parameter and missing-octopi tests needs octopi (the ``octopi``
extra) and is skipped without it.  The end-to-end benchmark on ``phantom:default``
is marked slow (``--run-slow``).
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from topcup_bench.datasets.catalog import open_dataset
from topcup_bench.datasets.dataset import Dataset
from topcup_bench.errors import InputError
from topcup_bench.pickers import create_picker
from topcup_bench.pickers.adapters.octopi import INSTALL_HINT, OctopiPicker
from topcup_bench.pickers.adapters.tool_process import ToolMissingError
from topcup_bench.runner import run_pickers
from topcup_bench.types import ClassCatalogue, ParticleClass, Tomogram

try:
    metadata.version("octopi")
    HAVE_OCTOPI = True
except metadata.PackageNotFoundError:
    HAVE_OCTOPI = False

needs_octopi = pytest.mark.skipif(not HAVE_OCTOPI, reason="octopi (extra 'octopi') missing")

#: A budget that trains in seconds: the picks are not meant to be good.
TINY = dict(epochs=1, batch_size=2, crop_size=32, channels=(4, 8, 16), strides=(2, 2), tta=1)


# -- parameters ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"epochs": 0}, "epochs must be an integer >= 1"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"channels": (16,)}, "channels must be at least 2 integers >= 1"),
        ({"channels": (16, 0)}, "channels must be at least 2 integers >= 1"),
        ({"channels": (16, 32.5)}, "channels must be at least 2 integers"),
        ({"channels": "16,x"}, "channels must be at least 2 integers"),
        ({"strides": (2,)}, r"strides must be 3 integers >= 1, found \(2,\)"),
        ({"strides": (2, 3, 1)}, "strides must be 1 or 2"),
        ({"crop_size": 4}, "crop_size must be an integer >= 8"),
        ({"crop_size": 50}, r"crop_size must be a multiple of 4 \(the product of strides"),
        ({"res_units": -1}, "res_units must be an integer >= 0"),
        ({"dropout": 1.0}, "dropout must be < 1"),
        ({"learning_rate": 0.0}, "learning_rate must be a finite number > 0"),
        ({"tversky_alpha": 1.5}, "tversky_alpha must be <= 1"),
        ({"radius_scale": 0.0}, "radius_scale must be a finite number > 0"),
        ({"radius_scale": 1.2}, "radius_scale must be <= 1"),
        ({"background_ratio": -0.1}, "background_ratio must be a finite number >= 0"),
        ({"ema": "yes"}, "ema must be a bool"),
        ({"tta": 0}, "tta must be an integer >= 1"),
        ({"tta": 9}, "tta must be at most 8"),
        ({"overlap": 1.0}, "overlap must be < 1"),
        ({"sw_batch_size": 0}, "sw_batch_size must be an integer >= 1"),
        ({"method": "blobs"}, r"method must be one of \['watershed', 'com'\], found 'blobs'"),
        ({"filter_size": 0}, "filter_size must be an integer >= 1"),
        ({"radius_min_scale": -1.0}, "radius_min_scale must be a finite number >= 0"),
        ({"radius_max_scale": 0.5}, "radius_max_scale must be a finite number > 0.5"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"threads": 0}, "threads must be an integer >= 1"),
    ],
)
def test_bad_parameters_name_the_parameter_and_value(params, message):
    with pytest.raises(InputError, match=message):
        OctopiPicker(**params)


def test_command_line_strings_become_typed_parameters():
    picker = create_picker(
        "octopi", {"channels": "8,16,32", "strides": "2,1", "crop_size": "36", "ema": "false"}
    )
    assert picker.channels == (8, 16, 32) and picker.strides == (2, 1)
    assert picker.crop_size == 36 and picker.ema is False
    assert picker.architecture() == {
        "architecture": "Unet",
        "channels": [8, 16, 32],
        "strides": [2, 1],
        "num_res_units": 1,
        "dropout": 0.1,
        "dim_in": 36,
    }


def test_card_names_octopi_and_its_version():
    card = OctopiPicker().card()
    assert card.name == "octopi" and card.trainable and card.licence == "MIT"
    assert "Object deTection Of Proteins" in card.citation
    expected = metadata.version("octopi") if HAVE_OCTOPI else "unknown: octopi is not installed"
    assert card.tool_version == expected


def test_untrained_picker_refuses_to_pick():
    tomogram = Tomogram("TS_x", np.zeros((8, 8, 8), np.float32), 10.0)
    with pytest.raises(InputError, match=r"not trained: call fit\(dataset, runs\) first"):
        OctopiPicker().pick(tomogram, ClassCatalogue((ParticleClass("ribosome", 150.0),)))


# -- a missing octopi ---------------------------------------------------------------------------
@pytest.fixture
def without_octopi(monkeypatch):
    """Make every ``import octopi...`` fail as if octopi were not installed."""
    for name in [m for m in sys.modules if m == "octopi" or m.startswith("octopi.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "octopi", None)

    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)


def test_missing_octopi_is_one_clear_line(without_octopi):
    picker = OctopiPicker()
    expected = f"picker 'octopi': octopi is not installed; {INSTALL_HINT}"
    with pytest.raises(ToolMissingError) as raised:
        picker.prepare(None)
    assert str(raised.value) == expected
    with pytest.raises(ToolMissingError, match="octopi is not installed"):
        picker.fit(None, ["TS_000"])
    assert picker.tool_version == "unknown: octopi is not installed"


@needs_octopi
def test_broken_octopi_dependency_is_named(monkeypatch):
    monkeypatch.delitem(sys.modules, "octopi.extract.localize", raising=False)
    monkeypatch.setitem(sys.modules, "copick_utils.io", None)
    with pytest.raises(ToolMissingError) as raised:
        OctopiPicker().prepare(None)
    message = str(raised.value)
    assert message.startswith("picker 'octopi': octopi cannot be imported (")
    assert "copick_utils.io" in message and message.endswith(INSTALL_HINT)
    assert "\n" not in message


def test_missing_octopi_fails_that_picker_only(tiny, without_octopi, tmp_path):
    dataset = tiny
    run = dataset.splits["test"][0]
    octopi, oracle = run_pickers(
        [OctopiPicker(), create_picker("oracle")],
        dataset,
        [run],
        dataset.splits["train"],
        cache_root=tmp_path / "cache",
        progress=False,
    )
    assert octopi.status == "failed" and "\n" not in octopi.error
    assert octopi.error == f"picker 'octopi': octopi is not installed; {INSTALL_HINT}"
    assert oracle.status == "ok" and len(oracle.picks) > 0


# -- the training project -----------------------------------------------------------------------
#: A one-epoch budget of ``octopi_model.train_model`` for the tests that stop octopi early.
ONE_STEP = dict(
    epochs=1,
    batch_size=1,
    learning_rate=1e-3,
    tversky_alpha=0.3,
    background_ratio=0.0,
    ema=False,
    overlap=0.25,
    sw_batch_size=1,
)


class _HandMade(Dataset):
    """Two runs of 24 x 32 x 40 voxels (10 Å), one pick each: ribosome (40 Å), apo-ferritin (30)."""

    name = "hand-made"
    classes = ClassCatalogue((ParticleClass("ribosome", 40.0), ParticleClass("apo-ferritin", 30.0)))
    runs = ("TS_a", "TS_b")
    splits = {"train": ("TS_a", "TS_b")}
    voxel_size_angstrom = 10.0

    def __init__(self, voxel_sizes=(10.0, 10.0), truth_rows=None):
        self.voxel_sizes = dict(zip(self.runs, voxel_sizes, strict=True))
        self.loaded = []
        # ribosome at voxel (z, y, x) = (12, 16, 20) of TS_a; apo-ferritin at (5, 6, 7) of TS_b
        self.rows = truth_rows or [
            ("TS_a", "ribosome", 200.0, 160.0, 120.0),
            ("TS_b", "apo-ferritin", 70.0, 60.0, 50.0),
        ]

    def tomogram(self, run):
        self.loaded.append(run)
        data = np.random.default_rng(ord(run[-1])).normal(size=(24, 32, 40)).astype(np.float32)
        return Tomogram(run, data, self.voxel_sizes[run])

    def truth(self, runs=None):
        frame = pd.DataFrame(self.rows, columns=["experiment", "particle_type", "x", "y", "z"])
        return frame[frame["experiment"].isin(runs or self.runs)].reset_index(drop=True)


@needs_octopi
def test_targets_are_octopi_balls_in_a_project_of_our_own(tmp_path):
    import copick

    from topcup_bench.pickers.adapters.octopi_project import (
        TARGET_NAME,
        TARGET_SESSION,
        TARGET_USER,
        build_training_project,
    )

    project = build_training_project(
        _HandMade(), ["TS_a", "TS_b"], tmp_path / "p", radius_scale=0.5
    )
    assert project.labels == {"ribosome": 1, "apo-ferritin": 2}
    assert project.tomo_uri == "topcup@10.0" and project.runs == ("TS_a", "TS_b")
    assert project.validation_run == "TS_b"  # small enough to validate whole
    root = copick.from_file(str(project.config_path))
    targets = {}
    for run in ("TS_a", "TS_b"):
        (seg,) = root.get_run(run).get_segmentations(
            name=TARGET_NAME, user_id=TARGET_USER, session_id=TARGET_SESSION
        )
        targets[run] = seg.numpy()
    # ribosome: ball of 0.5 * 40 Å = 2 voxels around (12, 16, 20): 1 + 6 + 12 + 8 + 6 = 33 voxels
    assert targets["TS_a"].shape == (24, 32, 40)
    assert targets["TS_a"][12, 16, 20] == 1 and (targets["TS_a"] == 1).sum() == 33
    assert (targets["TS_a"] == 2).sum() == 0
    # apo-ferritin: 1.5 voxels around (5, 6, 7): 1 + 6 + 12 = 19 voxels, label 2
    assert targets["TS_b"][5, 6, 7] == 2 and (targets["TS_b"] == 2).sum() == 19
    # the copied tomogram is the dataset's
    (copied,) = root.get_run("TS_b").get_voxel_spacing(10.0).get_tomograms("topcup")
    np.testing.assert_array_equal(copied.numpy(), _HandMade().tomogram("TS_b").data)


@needs_octopi
def test_a_large_last_run_is_validated_on_a_crop_around_a_pick(tmp_path, monkeypatch):
    import copick

    from topcup_bench.pickers.adapters import octopi_project

    monkeypatch.setattr(octopi_project, "VALIDATION_CROP_ZYX", (16, 16, 16))
    dataset = _HandMade(
        truth_rows=[
            ("TS_a", "ribosome", 200.0, 160.0, 120.0),
            ("TS_b", "ribosome", 200.0, 160.0, 120.0),  # voxel (12, 16, 20): the centre
            ("TS_b", "apo-ferritin", 70.0, 60.0, 50.0),  # voxel (5, 6, 7): y outside the crop
            ("TS_b", "apo-ferritin", 130.0, 100.0, 150.0),  # voxel (15, 10, 13): inside
        ]
    )
    project = octopi_project.build_training_project(
        dataset, ["TS_a", "TS_b"], tmp_path / "p", radius_scale=0.5
    )
    assert project.runs == ("TS_a", "TS_b") and project.validation_run == "TS_b-validation"
    assert dataset.loaded == ["TS_a", "TS_b"]  # each tomogram read once
    root = copick.from_file(str(project.config_path))
    # window: start = centre (12, 16, 20) - 8 = (4, 8, 12), inside the 24 x 32 x 40 volume
    (crop,) = root.get_run("TS_b-validation").get_voxel_spacing(10.0).get_tomograms("topcup")
    np.testing.assert_array_equal(crop.numpy(), dataset.tomogram("TS_b").data[4:20, 8:24, 12:28])
    (seg,) = root.get_run("TS_b-validation").get_segmentations(
        name=octopi_project.TARGET_NAME,
        user_id=octopi_project.TARGET_USER,
        session_id=octopi_project.TARGET_SESSION,
    )
    target = seg.numpy()
    assert target.shape == (16, 16, 16)
    assert target[8, 8, 8] == 1 and (target == 1).sum() == 33  # the ribosome, moved by the crop
    assert target[11, 2, 1] == 2 and (target == 2).sum() == 19  # one apo-ferritin of two
    # the training runs keep their whole tomograms and targets
    (whole,) = root.get_run("TS_b").get_voxel_spacing(10.0).get_tomograms("topcup")
    assert whole.numpy().shape == (24, 32, 40)


@pytest.mark.parametrize(
    ("shape", "rows", "window"),
    [
        ((92, 160, 160), [], None),
        ((128, 256, 256), [], None),
        # the nearest pick to the centre (92, 315, 315) is the second
        (
            (184, 630, 630),
            [(100, 100, 100), (90, 300, 320)],
            (slice(26, 154), slice(172, 428), slice(192, 448)),
        ),
        # no pick: the centre
        ((184, 630, 300), [], (slice(28, 156), slice(187, 443), slice(22, 278))),
        # near the edge: the window stays inside
        ((200, 40, 300), [(199, 1, 299)], (slice(72, 200), slice(0, 40), slice(44, 300))),
    ],
)
def test_validation_window(shape, rows, window):
    from topcup_bench.pickers.adapters.octopi_project import validation_window

    truth = pd.DataFrame(
        [(x * 10.0, y * 10.0, z * 10.0) for z, y, x in rows], columns=["x", "y", "z"]
    )
    assert validation_window(shape, truth, 10.0) == window


@needs_octopi
def test_octopi_validates_on_the_projects_validation_run(tmp_path, monkeypatch):
    import octopi.datasets.config

    from topcup_bench.pickers.adapters.octopi_model import train_model
    from topcup_bench.pickers.adapters.octopi_project import TrainingProject

    seen = {}

    class Stop(Exception):
        pass

    def record(**kwargs):
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(octopi.datasets.config, "DataGeneratorConfig", record)
    project = TrainingProject(tmp_path / "c.json", ("TS_a", "TS_b"), 10.0, {}, "TS_b-validation")
    with pytest.raises(Stop):
        train_model(project, tmp_path / "model", architecture={}, **ONE_STEP)
    assert seen["trainRunIDs"] == ["TS_a", "TS_b"]
    assert seen["validateRunIDs"] == ["TS_b-validation"]


@needs_octopi
@pytest.mark.parametrize(
    ("dataset", "runs", "message"),
    [
        (_HandMade(), [], "fit needs at least one training run"),
        (
            _HandMade(truth_rows=[("TS_a", "thyroglobulin", 1.0, 1.0, 1.0)]),
            ["TS_a"],
            r"no ground-truth picks of \['ribosome', 'apo-ferritin'\] in runs \['TS_a'\]",
        ),
        (
            _HandMade(voxel_sizes=(10.0, 7.5)),
            ["TS_a", "TS_b"],
            r"run 'TS_b' has voxel size 7.5 Å, the first training run 'TS_a' 10.0 Å",
        ),
    ],
)
def test_training_project_refusals(dataset, runs, message, tmp_path):
    from topcup_bench.pickers.adapters.octopi_project import build_training_project

    with pytest.raises(InputError, match=message):
        build_training_project(dataset, runs, tmp_path / "p", radius_scale=0.7)


@needs_octopi
def test_training_that_saves_no_model_is_a_tool_error(tmp_path, monkeypatch):
    import octopi.workflows

    from topcup_bench.pickers.adapters.octopi_model import train_model
    from topcup_bench.pickers.adapters.octopi_project import build_training_project
    from topcup_bench.pickers.adapters.tool_process import ToolError

    project = build_training_project(
        _HandMade(), ["TS_a", "TS_b"], tmp_path / "p", radius_scale=0.5
    )
    monkeypatch.setattr(octopi.workflows, "train", lambda *args, **kwargs: None)
    with pytest.raises(ToolError, match=r"picker 'mine': octopi's training saved no model in "):
        train_model(
            project,
            tmp_path / "model",
            architecture=OctopiPicker(**TINY).architecture(),
            picker="mine",
            **ONE_STEP,
        )


# -- process-wide settings, put back ------------------------------------------------------------
def test_threads_seeds_and_output_are_restored(tmp_path, monkeypatch):
    import random

    import torch

    from topcup_bench.pickers.adapters.octopi_model import captured_output, seeded, torch_threads

    monkeypatch.setenv("OCTOPI_MAX_WORKERS", "7")
    threads = torch.get_num_threads()
    with torch_threads(3):
        assert torch.get_num_threads() == 3 and os.environ["OCTOPI_MAX_WORKERS"] == "2"
    assert torch.get_num_threads() == threads
    assert os.environ["OCTOPI_MAX_WORKERS"] == "7"

    random.seed(11)
    expected = random.random()
    random.seed(11)
    with seeded(5):
        first = (random.random(), float(torch.rand(1)))
    with seeded(5):
        assert (random.random(), float(torch.rand(1))) == first
    assert random.random() == expected  # the caller's stream goes on as if nothing happened

    log = tmp_path / "logs" / "x.log"
    with captured_output(log, mode="w"):
        print("hello from octopi")
        print("to stderr", file=sys.stderr)
    assert log.read_text(encoding="utf-8") == "hello from octopi\nto stderr\n"


# -- localisation and scores --------------------------------------------------------------------
def _ball_map(shape, centres_labels, radius):
    zz, yy, xx = np.indices(shape)
    labels = np.zeros(shape, dtype=np.int64)
    for (z, y, x), label in centres_labels:
        labels[(zz - z) ** 2 + (yy - y) ** 2 + (xx - x) ** 2 <= radius**2] = label
    return labels


class _FixedSegmenter:
    """Stands in for octopi's predictor: always the same label map."""

    def __init__(self, labels):
        self.labels = labels

    def segment(self, data_zyx):
        assert data_zyx.shape == self.labels.shape
        return self.labels


@needs_octopi
@pytest.mark.parametrize("method", ["watershed", "com"])
def test_pick_turns_octopi_regions_into_angstrom_xyz(method):
    from topcup_bench.pickers.adapters.octopi_model import TrainedModel

    # ribosome (R = 100 Å = 10 voxels at 10 Å): balls of 5 voxels at (z, y, x) = (12, 20, 30)
    # and (12, 44, 60); apo-ferritin (R = 60 Å): a ball of 3 voxels at (20, 40, 15).
    shape = (32, 64, 80)
    labels = _ball_map(shape, [((12, 20, 30), 1), ((12, 44, 60), 1)], 5)
    labels = np.maximum(labels, _ball_map(shape, [((20, 40, 15), 2)], 3))
    picker = OctopiPicker(method=method, radius_scale=0.5, radius_min_scale=0.3)
    picker._model = TrainedModel(b"", "", {"ribosome": 1, "apo-ferritin": 2})
    picker._segmenter = _FixedSegmenter(labels)
    classes = ClassCatalogue(
        (ParticleClass("ribosome", 100.0), ParticleClass("apo-ferritin", 60.0))
    )
    picks = picker.pick(Tomogram("TS_9", np.zeros(shape, np.float32), 10.0), classes)
    assert list(picks.columns) == ["experiment", "particle_type", "x", "y", "z", "score"]
    got = picks.sort_values(["particle_type", "x"]).reset_index(drop=True)
    expected = pd.DataFrame(
        {
            "experiment": ["TS_9"] * 3,
            "particle_type": ["apo-ferritin", "ribosome", "ribosome"],
            "x": [150.0, 300.0, 600.0],
            "y": [400.0, 200.0, 440.0],
            "z": [200.0, 120.0, 120.0],
            "score": [1.0, 1.0, 1.0],  # the score ball (0.5 R) lies inside each region
        }
    )
    pd.testing.assert_frame_equal(got, expected, check_exact=False, atol=1e-6)


@needs_octopi
def test_regions_outside_the_size_bounds_are_dropped():
    from topcup_bench.pickers.adapters.octopi_model import localise

    # R = 10 voxels: keep volumes between balls of 0.5 R (524 voxels) and R (4189)
    labels = _ball_map((40, 64, 64), [((20, 16, 16), 1)], 2)  # 33 voxels: too small
    labels = np.maximum(labels, _ball_map((40, 64, 64), [((20, 40, 44), 1)], 6))  # 925: kept
    centres = localise(
        labels, 1, 10.0, method="com", filter_size=10, radius_min_scale=0.5, radius_max_scale=1.0
    )
    np.testing.assert_allclose(centres, [[20.0, 40.0, 44.0]])
    none = localise(
        labels,
        2,
        10.0,
        method="watershed",
        filter_size=10,
        radius_min_scale=0.5,
        radius_max_scale=1.0,
    )
    assert none.shape == (0, 3)


def test_fill_fraction_counts_the_ball_inside_the_volume():
    from topcup_bench.pickers.adapters.octopi_model import fill_fraction

    labels = np.zeros((6, 6, 6), dtype=np.int64)
    labels[0, 0, 0] = labels[1, 0, 0] = 3
    # radius 1 at the corner: the ball's 7 voxels, 4 inside (centre and 3 neighbours), 2 labelled
    # 3; at (3.4, 3.6, 3.0) → voxel (3, 4, 3): nothing labelled
    scores = fill_fraction(labels, 3, np.array([[0.0, 0.0, 0.0], [3.4, 3.6, 3.0]]), 1.0)
    np.testing.assert_allclose(scores, [0.5, 0.0])
    assert fill_fraction(labels, 3, np.zeros((0, 3)), 1.0).shape == (0,)


# -- training on a tiny phantom -----------------------------------------------------------------
def _tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOPCUP_BENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        dataset = open_dataset("phantom:tiny", progress=False)
        yield dataset


@pytest.fixture(scope="module")
def trained(tiny):
    """A tiny-budget picker trained by the conformance checks, and the project's files around it."""
    from topcup_bench.testing import check_picker

    folder = Path(tiny.config_path).parent
    before = _tree_digest(folder)
    picker = OctopiPicker(**TINY)
    passed = check_picker(picker, tiny)
    return picker, passed, before, _tree_digest(folder)


@needs_octopi
def test_fit_and_pick_pass_the_conformance_checks(tiny, trained):
    picker, passed, _, _ = trained
    assert {"fit", "schema", "units and axes", "picklable"} <= set(passed)
    assert picker.trained_on == tiny.splits["train"] == picker.card().trained_on


@needs_octopi
def test_training_leaves_the_source_project_untouched(trained):
    _, _, before, after = trained
    assert before and after == before


@needs_octopi
def test_pickled_picker_picks_the_same_and_logs_are_named(tiny, trained):
    picker, *_ = trained
    run = tiny.splits["test"][0]
    tomogram = tiny.tomogram(run)
    picks = picker.pick(tomogram, tiny.classes)
    clone = pickle.loads(pickle.dumps(picker))
    assert clone._segmenter is None and clone._model == picker._model
    pd.testing.assert_frame_equal(picks, clone.pick(tomogram, tiny.classes))
    logs = picker.log_files([run, "TS_never"])
    assert set(logs) == {"fit", run}
    assert "Training Complete" in Path(logs["fit"]).read_text(encoding="utf-8")


@needs_octopi
def test_same_seed_same_weights_other_seed_other_weights(tiny, trained):
    import torch

    picker, *_ = trained
    again = OctopiPicker(**TINY)
    again.fit(tiny, tiny.splits["train"])
    other = OctopiPicker(**{**TINY, "seed": 1})
    other.fit(tiny, tiny.splits["train"][:1])

    def weights(p):
        return torch.load(io.BytesIO(p._model.weights), weights_only=True)

    first, second, third = weights(picker), weights(again), weights(other)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not all(torch.equal(first[k], third[k]) for k in first)
    assert other.trained_on == tiny.splits["train"][:1]


@needs_octopi
def test_classes_missing_from_training_are_refused(tiny, trained):
    picker, *_ = trained
    tomogram = tiny.tomogram(tiny.splits["test"][0])
    extra = ClassCatalogue((ParticleClass("proteasome", 80.0),))
    with pytest.raises(InputError, match=r"classes \['proteasome'\] were not in training"):
        picker.pick(tomogram, extra)


@needs_octopi
def test_input_digest_adds_the_octopi_version(tiny):
    picker = OctopiPicker()
    run = tiny.runs[0]
    digest = picker.input_digest(tiny, run)
    assert digest == picker.input_digest(tiny, run) != tiny.run_digest(run)
    assert digest != picker.input_digest(tiny, tiny.runs[1])


# -- end to end ---------------------------------------------------------------------------------
@pytest.mark.slow
@needs_octopi
def test_default_budget_on_the_default_phantom_beats_chance(tmp_path):
    """``topcup-bench run --pickers octopi,oracle --dataset phantom:default``, in Python.

    Trains on the 4 fit runs of the train split, picks the 2 tuning and 4 test runs.
    Measured on 2 cores (octopi 1.7.0, torch 2.13 CPU): 7 min 16 s in all (phantom
    generation included), fit 392 s, 3.6 s per tomogram, peak RSS 2.1 GB; score 0.315
    with F-beta 0.986 ribosome, 0.515 virus-like particle, 0.352 beta-galactosidase and
    0 for the three small classes.
    """
    from topcup_bench.benchmark_config import BenchmarkConfig
    from topcup_bench.workflow import run_benchmark

    config = BenchmarkConfig(
        dataset="phantom:default",
        pickers=(("octopi", {}), ("oracle", {})),
        out=tmp_path / "out",
        bootstrap=100,
    )
    results = {r["picker"]: r for r in run_benchmark(config, progress=False).results["results"]}
    octopi = results["octopi"]
    assert octopi["status"] == "ok", octopi["error"]
    assert results["oracle"]["score"] == 1.0
    fbeta = {name: round(c["fbeta"], 3) for name, c in octopi["classes"].items()}
    timings = octopi["timings"]
    print(
        f"octopi: score {octopi['score']:.3f}, F-beta per class {fbeta}, "
        f"fit {timings['fit_s']:.0f} s, {timings['pick_s_per_tomogram']:.1f} s per tomogram"
    )
    assert octopi["card"]["trained_on"] == ["TS_000", "TS_001", "TS_002", "TS_003"]
    assert octopi["score"] > 0.05
