"""The ``blob`` picker: schema, units, axes, determinism, a tiny phantom, parameters."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from topcup_bench.datasets.phantom import generate_run, resolve_preset
from topcup_bench.errors import InputError
from topcup_bench.metrics import score_picks
from topcup_bench.pickers import create_picker
from topcup_bench.pickers.blob import BlobPicker
from topcup_bench.types import COMPETITION_CLASSES, ClassCatalogue, ParticleClass, Tomogram

ONE_CLASS = ClassCatalogue((ParticleClass("apo-ferritin", 60.0),))


def planted(sign: float) -> Tomogram:
    """One blurred ball (r = 5 voxels of 10 Å) at (z=10, y=20, x=30) in faint noise."""
    rng = np.random.default_rng(0)
    volume = rng.normal(0, 0.05, size=(24, 40, 48)).astype(np.float32)
    z, y, x = np.ogrid[:24, :40, :48]
    ball = ((z - 10) ** 2 + (y - 20) ** 2 + (x - 30) ** 2) <= 25
    volume += sign * ndimage.gaussian_filter(ball.astype(np.float32), 1.0)
    return Tomogram("TS_planted", volume, 10.0)


@pytest.mark.parametrize(("sign", "protein_dark"), [(1.0, False), (-1.0, True)])
def test_planted_blob_found_in_x_y_z_order(sign, protein_dark):
    picks = BlobPicker(protein_dark=protein_dark).pick(planted(sign), ONE_CLASS)
    best = picks.sort_values("score", ascending=False).iloc[0]
    found = np.array([best["x"], best["y"], best["z"]])
    assert np.abs(found - [300.0, 200.0, 100.0]).max() <= 10.0  # within one voxel


def test_wrong_contrast_sign_misses_the_blob():
    picks = BlobPicker(protein_dark=True).pick(planted(1.0), ONE_CLASS)
    xyz = picks[["x", "y", "z"]].to_numpy()
    assert not len(picks) or np.linalg.norm(xyz - [300, 200, 100], axis=1).min() > 20


@pytest.fixture(scope="module")
def tiny_easy():
    run = generate_run(resolve_preset("tiny-easy"), 1)
    truth = run.picks.assign(experiment="TS_tiny")
    return Tomogram("TS_tiny", run.volumes["denoised"], 10.0), truth


def test_schema_units_and_determinism(tiny_easy):
    tomogram, _ = tiny_easy
    picker = BlobPicker()
    picks = picker.pick(tomogram, COMPETITION_CLASSES)
    assert list(picks.columns) == ["experiment", "particle_type", "x", "y", "z", "score"]
    assert (picks["experiment"] == tomogram.run).all()
    assert set(picks["particle_type"]) <= set(COMPETITION_CLASSES.names)
    assert np.isfinite(picks["score"]).all()
    xyz = picks[["x", "y", "z"]].to_numpy()
    assert ((xyz >= 0) & (xyz <= np.array(tomogram.extent_angstrom_xyz))).all()
    pd.testing.assert_frame_equal(picks, picker.pick(tomogram, COMPETITION_CLASSES))
    clone = pickle.loads(pickle.dumps(picker))
    pd.testing.assert_frame_equal(picks, clone.pick(tomogram, COMPETITION_CLASSES))


def test_finds_ribosomes_on_easy_tiny_phantom(tiny_easy):
    tomogram, truth = tiny_easy
    picks = BlobPicker().pick(tomogram, COMPETITION_CLASSES)
    result = score_picks(truth, picks, thresholds="best")
    assert result.classes["ribosome"].fbeta > 0.9  # measured 1.0 (seed 1)


def test_exclusion_keeps_one_class_per_blob():
    picker = BlobPicker(protein_dark=False, exclusion_factor=1.0)
    classes = ClassCatalogue((ParticleClass("small", 40.0), ParticleClass("large", 60.0)))
    picks = picker.pick(planted(1.0), classes)
    xyz = picks[["x", "y", "z"]].to_numpy()
    near = np.linalg.norm(xyz - [300, 200, 100], axis=1) <= 40
    assert near.sum() == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("sigma_factor", 0.0),
        ("dog_ratio", 1.0),
        ("pre_blur_sigma", -1.0),
        ("nms_factor", float("nan")),
        ("max_candidates", 0),
        ("min_score", float("nan")),
        ("exclusion_factor", -0.5),
        ("protein_dark", "yes"),
    ],
)
def test_bad_parameters_name_the_parameter(name, value):
    with pytest.raises(InputError, match=name):
        BlobPicker(**{name: value})


def test_registered_and_card():
    picker = create_picker("blob", {"pre_blur_sigma": "2.0"})
    assert isinstance(picker, BlobPicker) and picker.pre_blur_sigma == 2.0
    card = picker.card()
    assert card.name == "blob" and card.parameters["nms_factor"] == 0.8 and not card.trainable
