"""Picker parameters are checked when the picker is created (exit 2 on the command line), and the
``external`` picker names its own parameters and checks the units of what it reads."""

from __future__ import annotations

import warnings

import pytest

from topcup_bench import create_picker
from topcup_bench.benchmark_config import load_config
from topcup_bench.cli import main
from topcup_bench.datasets import write_kaggle_csv
from topcup_bench.datasets.catalog import open_dataset
from topcup_bench.errors import InputError, SchemaError, UnitsWarning


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "-1"])
def test_oracle_jitter_must_be_finite(value):
    with pytest.raises(InputError, match=r"jitter_angstrom must be a finite number >= 0"):
        create_picker("oracle", {"jitter_angstrom": value})


def test_oracle_infinite_jitter_exits_2_before_any_work(tmp_path, capsys):
    out = tmp_path / "o"
    code = main(
        [
            "run",
            "--dataset",
            "phantom:tiny",
            "--pickers",
            "oracle:jitter_angstrom=inf",
            "--quiet",
            "--no-report",
            "--out",
            str(out),
        ]
    )
    assert code == 2
    assert "jitter_angstrom must be a finite number >= 0, found inf" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "-0.5"])
def test_external_pixel_size_is_checked_at_creation(value):
    with pytest.raises(InputError, match=r"^picker 'external': parameter 'pixel_size_angstrom'"):
        create_picker("external", {"source": "p.star", "pixel_size_angstrom": value})


def test_external_pixel_size_zero_means_from_the_file():
    assert create_picker("external", {"source": "p.star"}).pixel_size_angstrom == 0.0


def test_misspelt_pixel_size_suggests_pixel_size_angstrom():
    with pytest.raises(InputError, match=r"Did you mean 'pixel_size_angstrom'\?"):
        create_picker("external", {"source": "p.star", "pixel_size": "10"})
    with pytest.raises(InputError, match=r"Did you mean 'pixel_size_override'\?"):
        create_picker("external", {"source": "p.star", "pixel_size_overide": "true"})


def test_star_without_pixel_size_names_the_picker_parameter(tmp_path):
    path = tmp_path / "p.star"
    path.write_text(
        "data_particles\n\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n_rlnCoordinateZ #3\n"
        "_rlnTomoName #4\n_rlnParticleName #5\n1.0\t2.0\t3.0\tTS_0\tribosome\n",
        encoding="utf-8",
    )
    picker = create_picker("external", {"source": str(path)})
    with pytest.raises(SchemaError) as caught:
        picker.prepare(None)
    message = str(caught.value)
    assert f"external:source={path};pixel_size_angstrom=" in message
    assert "Pass --pixel-size" not in message


def test_toml_label_that_is_a_path_names_the_file_and_picker(tmp_path):
    path = tmp_path / "bench.toml"
    path.write_text('[[pickers]]\nname = "oracle"\nparams = { label = "../../x" }\n')
    with pytest.raises(InputError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: pickers[0].params.label: picker label")
    path.write_text('pickers = ["blob", "oracle:label=../x"]\n')
    with pytest.raises(InputError, match=r": pickers\[1\]\.label: picker label '\.\./x'"):
        load_config(path)


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("TOPCUP_BENCH_CACHE", str(tmp_path / "cache"))
    return open_dataset("phantom:tiny", progress=False)


def test_external_picks_in_voxels_warn_in_run(tmp_path, tiny):
    truth = tiny.truth()
    in_voxels = truth.assign(
        x=truth["x"] / tiny.voxel_size_angstrom,
        y=truth["y"] / tiny.voxel_size_angstrom,
        z=truth["z"] / tiny.voxel_size_angstrom,
    )
    write_kaggle_csv(in_voxels, tmp_path / "voxels.csv")
    picker = create_picker("external", {"source": str(tmp_path / "voxels.csv")})
    with pytest.warns(UnitsWarning, match="voxels.csv: coordinates look like voxel indices"):
        picker.prepare(tiny)
    write_kaggle_csv(truth, tmp_path / "angstrom.csv")
    picker = create_picker("external", {"source": str(tmp_path / "angstrom.csv")})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        picker.prepare(tiny)  # Å: no warning
