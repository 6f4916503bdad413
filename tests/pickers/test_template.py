"""The ``template`` picker: FLCF core, angular sets, picking accuracy, schema, units and errors."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from topcup_bench.datasets.phantom import clean_primitive, generate_run, resolve_preset
from topcup_bench.errors import InputError
from topcup_bench.metrics import score_picks
from topcup_bench.pickers import PICKERS, create_picker
from topcup_bench.pickers.rotations import super_fibonacci_quaternions, uniform_rotations
from topcup_bench.pickers.template import TemplatePicker, is_isotropic
from topcup_bench.pickers.template_matching import (
    FlcfVolume,
    fourier_weight,
    normalise_under_mask,
    spherical_mask,
)
from topcup_bench.types import COMPETITION_CLASSES, ClassCatalogue, ParticleClass, Tomogram

CLEAN = resolve_preset("tiny").replace(noise_sigma=0.5, crowder_density=0.0)


@pytest.fixture(scope="module")
def clean_run():
    return generate_run(CLEAN, 3)


@pytest.fixture(scope="module")
def clean_tomogram(clean_run):
    return Tomogram("TS_clean", clean_run.volumes["denoised"], CLEAN.voxel_size_angstrom)


@pytest.fixture(scope="module")
def clean_picks(clean_tomogram):
    return TemplatePicker().pick(clean_tomogram, CLEAN.catalogue)


def _catalogue(*names):
    return ClassCatalogue(tuple(COMPETITION_CLASSES[n] for n in names))


# -- picking ----------------------------------------------------------------------------------
def test_registered_under_template():
    assert PICKERS.get("template") is TemplatePicker
    assert create_picker("template", {"n_rotations": "8"}).n_rotations == 8


@pytest.mark.parametrize("name", ["ribosome", "virus-like-particle", "apo-ferritin"])
def test_clean_phantom_is_picked_well(clean_run, clean_picks, name):
    truth = clean_run.picks.assign(experiment="TS_clean")
    result = score_picks(truth, clean_picks, classes=CLEAN.catalogue, thresholds="best")
    assert result.classes[name].fbeta >= 0.9, result.to_frame()


def test_schema_and_units(clean_picks, clean_tomogram):
    assert list(clean_picks.columns) == ["experiment", "particle_type", "x", "y", "z", "score"]
    assert (clean_picks["experiment"] == "TS_clean").all()
    assert set(clean_picks["particle_type"]) <= set(CLEAN.catalogue.names)
    assert set(clean_picks["particle_type"]) == set(CLEAN.catalogue.names)
    for axis, extent in zip("xyz", clean_tomogram.extent_angstrom_xyz, strict=True):
        values = clean_picks[axis].to_numpy()
        assert values.dtype == np.float64
        assert (values >= 0).all() and (values < extent).all(), axis
    scores = clean_picks["score"].to_numpy()
    assert np.isfinite(scores).all() and (scores <= 1.0 + 1e-5).all()
    counts = clean_picks["particle_type"].value_counts()
    assert (counts <= TemplatePicker().max_candidates).all()


def test_deterministic_and_independent_of_workers(clean_tomogram):
    classes = _catalogue("thyroglobulin", "apo-ferritin")
    first = TemplatePicker(n_rotations=4).pick(clean_tomogram, classes)
    second = TemplatePicker(n_rotations=4).pick(clean_tomogram, classes)
    pd.testing.assert_frame_equal(first, second)
    threaded = TemplatePicker(n_rotations=4, workers=2).pick(clean_tomogram, classes)
    pd.testing.assert_frame_equal(first, threaded)


def _planted(class_name, centre_zyx, rotation=None, shape=(40, 56, 72), dark=True):
    rng = np.random.default_rng(5)
    volume = 0.02 * rng.standard_normal(shape).astype(np.float32)
    density = clean_primitive(class_name, 10.0, rotation=rotation)
    half = density.shape[0] // 2
    z, y, x = centre_zyx
    volume[z - half : z + half + 1, y - half : y + half + 1, x - half : x + half + 1] += (
        -density if dark else density
    )
    return Tomogram("TS_planted", volume, 10.0)


@pytest.mark.parametrize("dark", [True, False])
def test_planted_shell_found_at_its_place(dark):
    centre = (17, 21, 48)  # z, y, x: all different, in a non-cubic volume
    tomogram = _planted("apo-ferritin", centre, dark=dark)
    picks = TemplatePicker(protein_dark=dark).pick(tomogram, _catalogue("apo-ferritin"))
    top = picks.iloc[0]
    expected_xyz = np.array([centre[2], centre[1], centre[0]]) * 10.0
    assert np.linalg.norm(top[["x", "y", "z"]].to_numpy(float) - expected_xyz) <= 10.0
    assert top["score"] > 0.5


def test_planted_rotated_ribosome_found_at_its_place():
    picker = TemplatePicker(n_rotations=6)
    rotation = picker.rotations("ribosome")[4]
    centre = (20, 19, 50)
    tomogram = _planted("ribosome", centre, rotation=rotation, shape=(44, 40, 70))
    picks = picker.pick(tomogram, _catalogue("ribosome"))
    top = picks.iloc[0]
    expected_xyz = np.array([centre[2], centre[1], centre[0]]) * 10.0
    assert np.linalg.norm(top[["x", "y", "z"]].to_numpy(float) - expected_xyz) <= 10.0
    assert top["score"] == picks["score"].max()


def test_conflicts_keep_the_stronger_class():
    tomogram = _planted("virus-like-particle", (20, 28, 35), shape=(40, 56, 72))
    classes = _catalogue("virus-like-particle", "apo-ferritin")
    resolved = TemplatePicker(max_candidates=20).pick(tomogram, classes)
    loose = TemplatePicker(max_candidates=20, resolve_conflicts=False).pick(tomogram, classes)
    centre = np.array([350.0, 280.0, 200.0])

    def near(picks, name):
        sub = picks[picks["particle_type"] == name]
        return (np.linalg.norm(sub[["x", "y", "z"]].to_numpy() - centre, axis=1) <= 60.0).sum()

    assert near(resolved, "virus-like-particle") == near(loose, "virus-like-particle") == 1
    assert near(loose, "apo-ferritin") >= 1
    assert near(resolved, "apo-ferritin") == 0
    assert len(resolved) < len(loose)


# -- errors and parameters -------------------------------------------------------------------
def test_unknown_class_raises_naming_it(clean_tomogram):
    classes = ClassCatalogue((ParticleClass("membrane-protein", 80.0),))
    with pytest.raises(InputError, match="membrane-protein"):
        TemplatePicker().pick(clean_tomogram, classes)


@pytest.mark.parametrize(
    "params",
    [
        {"n_rotations": 0},
        {"max_candidates": 0},
        {"workers": True},
        {"mask_radius_factor": 0.0},
        {"nms_fraction": float("nan")},
        {"defocus_um": -1.0},
        {"voltage_kv": 0.0},
        {"b_factor": -1.0},
        {"cs_mm": float("inf")},
        {"wedge_half_angle_deg": 0.0},
        {"amplitude_contrast": 1.0},
        {"conflict_zscore": float("nan")},
    ],
)
def test_bad_parameters_raise(params):
    with pytest.raises(InputError, match=next(iter(params))):
        TemplatePicker(**params)


def test_non_finite_tomogram_raises():
    data = np.zeros((20, 20, 20), dtype=np.float32)
    data[3, 4, 5] = np.nan
    with pytest.raises(InputError, match="non-finite"):
        TemplatePicker().pick(Tomogram("TS", data, 10.0), _catalogue("apo-ferritin"))


def test_defaults_match_the_kaggle_like_microscope():
    preset = resolve_preset("small-kaggle-like")
    params = TemplatePicker().parameters()
    assert params["defocus_um"] == pytest.approx(sum(preset.defocus_range_um) / 2)
    assert params["b_factor"] == preset.b_factor
    assert params["wedge_half_angle_deg"] == preset.wedge_half_angle_deg
    assert params["voltage_kv"] == preset.voltage_kv
    assert params["cs_mm"] == preset.cs_mm
    assert params["amplitude_contrast"] == preset.amplitude_contrast
    assert params["protein_dark"] is preset.protein_dark
    assert TemplatePicker().card().name == "template"


# -- angular sets -----------------------------------------------------------------------------
def test_rotation_sets_are_proper_distinct_and_uniform():
    rotations = uniform_rotations(500)
    assert rotations.shape == (500, 3, 3)
    eye = np.broadcast_to(np.eye(3), rotations.shape)
    np.testing.assert_allclose(rotations @ rotations.transpose(0, 2, 1), eye, atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(rotations), 1.0, atol=1e-12)
    # the mean of Haar-uniform rotation matrices is zero
    assert np.abs(rotations.mean(axis=0)).max() < 0.02
    q = super_fibonacci_quaternions(24)
    cosines = np.abs(q @ q.T) - 2 * np.eye(24)
    assert cosines.max() < 0.99  # no two rotations (q ~ -q) nearly equal
    np.testing.assert_array_equal(uniform_rotations(24), uniform_rotations(24))
    np.testing.assert_array_equal(uniform_rotations(1), np.eye(3)[None])
    with pytest.raises(InputError, match="rotations"):
        uniform_rotations(0)


def test_shells_use_one_orientation():
    assert is_isotropic("apo-ferritin") and is_isotropic("virus-like-particle")
    picker = TemplatePicker(n_rotations=7)
    for name in ("beta-amylase", "beta-galactosidase", "ribosome", "thyroglobulin"):
        assert not is_isotropic(name)
        assert len(picker.rotations(name)) == 7
    assert len(picker.rotations("apo-ferritin")) == 1


# -- FLCF core --------------------------------------------------------------------------------
def test_ncc_equals_brute_force_pearson_correlation():
    rng = np.random.default_rng(1)
    volume = rng.standard_normal((18, 21, 25)).astype(np.float32)
    mask = spherical_mask(3.5)
    template = normalise_under_mask(rng.standard_normal(mask.shape).astype(np.float32), mask)
    flcf = FlcfVolume(volume, 4)
    ncc = flcf.ncc(template, flcf.denominator(mask), np.empty(volume.shape, np.float32))
    padded = np.pad(volume, 4)  # zero padding, as the FFT path
    inside = mask > 0
    for z, y, x in [(9, 10, 12), (0, 0, 0), (17, 3, 24), (5, 20, 1)]:
        patch = padded[z : z + 9, y : y + 9, x : x + 9][inside].astype(np.float64)
        expected = np.corrcoef(patch, template[inside])[0, 1]
        assert ncc[z, y, x] == pytest.approx(expected, abs=1e-4)


def test_fourier_weight_has_the_wedge_and_ctf():
    weight = fourier_weight(
        16,
        10.0,
        wedge_half_angle_deg=45.0,
        defocus_angstrom=35000.0,
        voltage_kv=300.0,
        cs_mm=2.7,
        amplitude_contrast=0.07,
        b_factor=150.0,
    )
    assert weight.shape == (16, 16, 9) and weight.dtype == np.float32
    assert weight[0, 0, 0] == pytest.approx(0.07, rel=1e-5)  # |CTF(0)| = A
    assert weight[3, 0, 1] == 0.0  # |kz| > |kx|: missing
    assert weight[2, 0, 3] > 0.0  # |kz| < |kx|: sampled
    assert weight[0, 5, 0] > 0.0  # kz = 0 plane is always sampled


def test_template_code_never_touches_the_generator_internals():
    """The inverse-crime rule: templates come from the clean primitives only."""
    forbidden = {"particles", "placement", "scene", "clutter", "generator", "imaging", "fourier"}
    package = Path(__file__).resolve().parents[2] / "topcup_bench" / "pickers"
    for module in ("template.py", "template_matching.py", "rotations.py", "conflicts.py"):
        tree = ast.parse((package / module).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = set(node.module.split("."))
                assert not parts & forbidden, (module, node.module)


def test_class_rotations_override_the_angular_set_per_class():
    from topcup_bench.errors import InputError
    from topcup_bench.pickers.template import TemplatePicker

    picker = TemplatePicker(n_rotations=12, class_rotations="beta-galactosidase:30/thyroglobulin:6")
    assert len(picker.rotations("beta-galactosidase")) == 30
    assert len(picker.rotations("thyroglobulin")) == 6
    assert len(picker.rotations("ribosome")) == 12
    assert len(picker.rotations("apo-ferritin")) == 1
    with pytest.raises(InputError, match="class_rotations"):
        TemplatePicker(class_rotations="beta-galactosidase=30")
