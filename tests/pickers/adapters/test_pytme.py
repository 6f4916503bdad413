"""The ``pytme`` adapter: axes and units through the real pyTME, the runner, errors, parameters.

The tests that run pyTME itself are skipped where ``pytme`` is not installed
(the ``pytme`` extra); the rest use stand-in programs or no program at all.
"""

from __future__ import annotations

import pickle
import shutil
import stat
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from topcup_bench.datasets.catalog import open_dataset
from topcup_bench.datasets.dataset import CopickDataset
from topcup_bench.datasets.phantom import clean_primitive
from topcup_bench.errors import InputError, SchemaError
from topcup_bench.pickers import PICKERS, create_picker
from topcup_bench.pickers.adapters.pytme import INSTALL_HINT, PytmePicker
from topcup_bench.pickers.adapters.pytme_output import read_orientations
from topcup_bench.pickers.adapters.tool_process import ToolError, ToolMissingError
from topcup_bench.runner import run_pickers
from topcup_bench.types import COMPETITION_CLASSES, ClassCatalogue, ParticleClass, Tomogram


def _pytme_installed() -> bool:
    return shutil.which("pytme") is not None or (Path(sys.executable).parent / "pytme").is_file()


needs_pytme = pytest.mark.skipif(not _pytme_installed(), reason="pyTME (extra 'pytme') missing")


def _classes(*names: str) -> ClassCatalogue:
    return ClassCatalogue(tuple(COMPETITION_CLASSES[name] for name in names))


def _stand_in(folder: Path, body: str) -> str:
    """An executable shell script standing in for ``pytme``."""
    path = folder / "pytme"
    path.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


# -- axes and units, through the real tool ---------------------------------------------------
#: A hand-made volume: (z, y, x) = (40, 52, 64) voxels of 7.5 Å, one apo-ferritin centred at
#: voxel (z, y, x) = (14, 29, 37), i.e. (x, y, z) = (277.5, 217.5, 105.0) Å.
_SHAPE_ZYX = (40, 52, 64)
_CENTRE_ZYX = (14, 29, 37)
_VOXEL = 7.5
_EXPECTED_XYZ = (277.5, 217.5, 105.0)


@pytest.fixture(scope="module")
def blob_tomogram():
    data = np.random.default_rng(7).normal(0.0, 0.2, _SHAPE_ZYX).astype(np.float32)
    density = clean_primitive("apo-ferritin", _VOXEL)
    n = density.shape[0]
    z, y, x = (c - n // 2 for c in _CENTRE_ZYX)
    data[z : z + n, y : y + n, x : x + n] -= density  # protein dark
    return Tomogram("TS_axes", data, _VOXEL)


@pytest.fixture(scope="module")
def blob_picked(blob_tomogram):
    """The default picker and its picks of the hand-made volume."""
    picker = PytmePicker()
    return picker, picker.pick(blob_tomogram, _classes("apo-ferritin"))


@needs_pytme
def test_hand_made_blob_comes_back_at_its_angstrom_position(blob_tomogram, blob_picked):
    picker, picks = blob_picked
    assert list(picks.columns) == ["experiment", "particle_type", "x", "y", "z", "score"]
    assert (picks["experiment"] == "TS_axes").all()
    assert (picks["particle_type"] == "apo-ferritin").all()
    for axis, extent in zip("xyz", blob_tomogram.extent_angstrom_xyz, strict=True):
        assert picks[axis].between(0, extent - _VOXEL).all(), axis  # no unfilled slots
    best = picks.loc[picks["score"].idxmax()]
    np.testing.assert_allclose(best[["x", "y", "z"]].to_numpy(float), _EXPECTED_XYZ)
    assert 0.5 < best["score"] <= 1.0 + 1e-5
    runner_up = picks["score"].nlargest(2).iloc[-1]
    assert best["score"] - runner_up > 0.2  # the blob stands out; the rest is noise
    log = Path(picker.log_files(["TS_axes", "TS_other"])["TS_axes"]).read_text()
    assert "[1 rotations]" in log  # an isotropic shell: the identity alone
    assert log.count("$ ") == 2  # one match, one postprocess (the log restarts per pick)


@needs_pytme
def test_protein_dark_flag_reaches_pytme(blob_tomogram):
    picks = PytmePicker(protein_dark=False).pick(blob_tomogram, _classes("apo-ferritin"))
    # Matched as bright protein, the dark blob anti-correlates (about -0.9 at its centre):
    distance = np.linalg.norm(picks[["x", "y", "z"]].to_numpy(float) - _EXPECTED_XYZ, axis=1)
    assert (picks.loc[distance < _VOXEL, "score"] < 0).all()
    assert picks["score"].max() < 0.5  # against about 0.89 with protein_dark=True


# -- phantom:tiny end to end, through the runner ---------------------------------------------
@pytest.fixture(scope="module")
def tiny_two_classes():
    tiny = open_dataset("phantom:tiny", progress=False)
    classes = ClassCatalogue(
        tuple(c for c in tiny.classes if c.name in ("ribosome", "virus-like-particle"))
    )
    return CopickDataset(
        tiny.config_path, tomo_type="denoised", classes=classes, splits=tiny.splits, name="two"
    )


@needs_pytme
def test_runner_finds_ribosomes_and_vlps_on_tiny(tiny_two_classes, tmp_path):
    dataset = tiny_two_classes
    run = dataset.splits["test"][-1]
    picker = create_picker("pytme")
    (outcome,) = run_pickers(
        [picker], dataset, [run], [], cache_root=tmp_path / "cache", progress=False
    )
    assert outcome.status == "ok", outcome.error
    assert outcome.card.tool_version.startswith("pytme ")
    assert outcome.card.licence == "GPL-2.0 (called as a separate program)"
    assert "SoftwareX 25:101636" in outcome.card.citation
    assert outcome.pick_seconds[run] > 0
    truth = dataset.truth([run])
    ranks_of = {}
    for particle_class in dataset.classes:
        expected = truth.loc[truth["particle_type"] == particle_class.name, ["x", "y", "z"]]
        ours = outcome.picks[outcome.picks["particle_type"] == particle_class.name]
        ours = ours.sort_values("score", ascending=False)
        assert len(expected) >= 1 and (ours["score"] > 0).any()
        xyz = ours[["x", "y", "z"]].to_numpy(float)
        ranks = []
        for point in expected.to_numpy(float):
            within = np.flatnonzero(
                np.linalg.norm(xyz - point, axis=1) < 0.5 * particle_class.radius_angstrom
            )
            assert len(within), (particle_class.name, point)
            ranks.append(int(within[0]))
        assert 0 in ranks, (particle_class.name, ranks)  # the best pick is a true particle
        ranks_of[particle_class.name] = sorted(ranks)
    vlp = ranks_of["virus-like-particle"]
    assert vlp == list(range(len(vlp)))  # every VLP ranks above every false candidate
    log = Path(outcome.logs[run]).read_text()
    assert "[24 rotations]" in log  # ribosome at the default 60°: template's 24 rotations
    assert "[1 rotations]" in log  # the virus-like particle: a shell


@needs_pytme
def test_repeat_picks_agree_up_to_fft_rounding(blob_tomogram, blob_picked):
    """pyFFTW times FFT algorithms to choose one (FFTW_MEASURE): scores may differ by ~1e-7."""
    picker, picks = blob_picked
    first = picks.sort_values(["x", "y", "z"], ignore_index=True)
    clone = pickle.loads(pickle.dumps(picker))  # as the process executor sends it
    assert clone.parameters() == picker.parameters()
    second = clone.pick(blob_tomogram, _classes("apo-ferritin"))
    second = second.sort_values(["x", "y", "z"], ignore_index=True)
    pd.testing.assert_frame_equal(first, second, check_exact=False, atol=1e-5, rtol=0)


@needs_pytme
def test_input_digest_follows_data_and_tool_version(tiny_two_classes):
    dataset = tiny_two_classes
    first, second = dataset.splits["test"][:2]
    picker = PytmePicker()
    digest = picker.input_digest(dataset, first)
    assert digest == picker.input_digest(dataset, first)
    assert digest != picker.input_digest(dataset, second)
    assert digest != dataset.run_digest(first)
    picker._tool_version = "pytme 9.9"
    assert picker.input_digest(dataset, first) != digest


# -- a missing or failing tool ----------------------------------------------------------------
def test_missing_tool_fails_that_picker_only(tiny_two_classes, tmp_path, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(sys, "executable", str(empty / "python"))
    picker = create_picker("pytme")
    assert picker.tool_version == "unknown: pytme not found"
    run = tiny_two_classes.splits["test"][0]
    failed, blob = run_pickers(
        [picker, create_picker("blob")],
        tiny_two_classes,
        [run],
        [],
        cache_root=tmp_path / "cache",
        progress=False,
    )
    assert failed.status == "failed"
    assert "\n" not in failed.error
    assert "'pytme'" in failed.error and "not found on PATH" in failed.error
    assert INSTALL_HINT in failed.error
    assert blob.status == "ok" and len(blob.picks) > 0


def test_executable_that_is_not_a_file(tmp_path):
    picker = PytmePicker(executable=str(tmp_path / "nowhere" / "pytme"))
    with pytest.raises(ToolMissingError, match="is not an executable file"):
        picker.prepare(None)


def test_failing_tool_names_status_output_and_log(blob_tomogram, tmp_path):
    program = _stand_in(tmp_path, 'echo "pyTME says no" >&2; exit 3')
    picker = PytmePicker(executable=program)
    with pytest.raises(ToolError, match=r"status 3: pyTME says no; log: .*TS_axes\.log"):
        picker.pick(blob_tomogram, _classes("apo-ferritin"))


def test_tool_writing_nothing(blob_tomogram, tmp_path):
    picker = PytmePicker(executable=_stand_in(tmp_path, "exit 0"))
    with pytest.raises(ToolError, match=r"wrote no class0\.tsv for class 'apo-ferritin'"):
        picker.pick(blob_tomogram, _classes("apo-ferritin"))


def test_tool_timeout(blob_tomogram, tmp_path):
    picker = PytmePicker(executable=_stand_in(tmp_path, "sleep 20"), timeout_s=0.5)
    with pytest.raises(ToolError, match="timed out after 0.5 s"):
        picker.pick(blob_tomogram, _classes("apo-ferritin"))


def test_tool_version_from_the_program(tmp_path):
    picker = PytmePicker(executable=_stand_in(tmp_path, 'echo "pytme 1.2.3"'))
    assert picker.tool_version == "pytme 1.2.3"
    assert picker.card().tool_version == "pytme 1.2.3"


# -- what is handed to pyTME -------------------------------------------------------------------
def test_match_arguments_mirror_template_options(tmp_path):
    picker = PytmePicker(defocus_um=2.5, wedge_half_angle_deg=60, cs_mm=2.7)
    args = picker.match_arguments("t.mrc", "a.mrc", "m.mrc", "o.pickle", "ribosome", tmp_path)

    def value(flag):
        return args[args.index(flag) + 1]

    assert value("--angular-sampling") == "60"
    assert value("--tilt-angles") == "60,60" and value("--wedge-axes") == "2,0"
    assert value("--defocus") == "25000"  # Å
    assert float(value("--spherical-aberration")) == 2.7e7  # Å
    assert value("--acceleration-voltage") == "300"
    assert value("--amplitude-contrast") == "0.07"
    assert value("--ctf-correction") == "phase-flip" and value("--score") == "FLCSphericalMask"
    assert "--invert-target-contrast" in args
    shell = PytmePicker(protein_dark=False).match_arguments(
        "t.mrc", "a.mrc", "m.mrc", "o.pickle", "apo-ferritin", tmp_path
    )
    assert shell[shell.index("--angular-sampling") + 1] == "180"
    assert "--invert-target-contrast" not in shell


@pytest.mark.parametrize(("radius_voxels", "expected"), [(15.0, "9"), (1.0, "1"), (6.0, "4")])
def test_peak_distance_from_nms_fraction(radius_voxels, expected):
    args = PytmePicker().postprocess_arguments("s.pickle", "out", radius_voxels)
    assert args[args.index("--min-distance") + 1] == expected
    assert args[args.index("--num-peaks") + 1] == "500"
    assert "--min-score=-1e+09" in args


def test_registered_and_built_from_strings():
    assert PICKERS.get("pytme") is PytmePicker
    picker = create_picker("pytme", {"angular_sampling_deg": "45", "threads": "2"})
    assert picker.angular_sampling_deg == 45.0 and picker.threads == 2


# -- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("angular_sampling_deg", 0.0),
        ("angular_sampling_deg", 181.0),
        ("angular_sampling_deg", float("nan")),
        ("wedge_half_angle_deg", 95.0),
        ("mask_radius_factor", -1.0),
        ("nms_fraction", 0.0),
        ("defocus_um", float("inf")),
        ("voltage_kv", 0.0),
        ("timeout_s", 0.0),
        ("cs_mm", -0.1),
        ("amplitude_contrast", 1.0),
        ("max_candidates", 0),
        ("max_candidates", 2.5),
        ("threads", True),
        ("executable", 3),
    ],
)
def test_invalid_parameters(key, value):
    with pytest.raises(InputError, match=key):
        PytmePicker(**{key: value})


def test_invalid_parameter_from_the_command_line():
    with pytest.raises(InputError, match="angular_sampling_deg"):
        create_picker("pytme", {"angular_sampling_deg": "200"})


def test_unknown_class_and_non_finite_tomogram(blob_tomogram):
    picker = PytmePicker(executable="/nonexistent/pytme")
    unknown = ClassCatalogue((ParticleClass("ribosom", 150.0),))
    with pytest.raises(InputError, match="no clean template for class 'ribosom'"):
        picker.pick(blob_tomogram, unknown)
    data = blob_tomogram.data.copy()
    data[0, 0, 0] = np.nan
    with pytest.raises(InputError, match="TS_axes.*non-finite"):
        picker.pick(Tomogram("TS_axes", data, _VOXEL), _classes("apo-ferritin"))


# -- the orientations table -----------------------------------------------------------------
def _tsv(tmp_path, text):
    path = tmp_path / "orientations.tsv"
    path.write_text(text, encoding="utf-8")
    return path


def test_orientations_are_x_y_z_voxels(tmp_path):
    path = _tsv(
        tmp_path,
        "x\ty\tz\teuler_x\teuler_y\teuler_z\tscore\tdetail\n"
        "33.0\t20.0\t12.0\t0\t0\t0\t0.84\t0\n"
        "1\t2\t3\t0\t90\t0\t-0.1\t0\n"
        "-1\t-1\t-1\t0\t0\t0\t-1\t-1\n",  # an unfilled slot of pyTME's peak list
    )
    picks = read_orientations(path, run="TS_1", particle_type="ribosome", voxel_size_angstrom=10)
    expected = pd.DataFrame(
        {
            "experiment": ["TS_1", "TS_1"],
            "particle_type": ["ribosome", "ribosome"],
            "x": [330.0, 10.0],
            "y": [200.0, 20.0],
            "z": [120.0, 30.0],
            "score": [0.84, -0.1],
        }
    )
    pd.testing.assert_frame_equal(picks, expected)


def test_orientations_with_a_header_only(tmp_path):
    path = _tsv(tmp_path, "x\ty\tz\teuler_x\teuler_y\teuler_z\tscore\tdetail\n")
    picks = read_orientations(path, run="TS_1", particle_type="ribosome", voxel_size_angstrom=10)
    assert picks.empty and list(picks.columns)[-1] == "score"


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("x\ty\tz\n1\t2\t3\n", SchemaError, r"missing column\(s\) \['score'\]"),
        ("", SchemaError, "empty file"),
        ("x\ty\tz\tscore\n1\tabc\t3\t0.5\n", SchemaError, "column 'y', row 1: .*'abc'"),
        ("x\ty\tz\tscore\n1\t2\t3\t0.5\n1\t2\t3\tnan\n", InputError, "column 'score', row 2"),
    ],
)
def test_bad_orientations(tmp_path, text, error, message):
    path = _tsv(tmp_path, text)
    with pytest.raises(error, match=message) as raised:
        read_orientations(path, run="TS_1", particle_type="ribosome", voxel_size_angstrom=10)
    assert str(path) in str(raised.value)


def test_unreadable_orientations(tmp_path):
    with pytest.raises(InputError, match="cannot read pyTME orientations"):
        read_orientations(tmp_path, run="TS_1", particle_type="ribosome", voxel_size_angstrom=10)
