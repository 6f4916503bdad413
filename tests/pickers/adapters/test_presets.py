"""The tool presets of ``command`` run end to end on stand-ins that write the tools' real files.

Each stand-in in ``native_tools/`` is a small real program named like the
tool's entry point: it reads the MRC (or copick project) it is given, finds
the dark blobs and writes the tool's native output exactly where and how the
tool does (pytom's job JSON and STAR, DeepFinder's label map and object list,
TomoTwin's pickled embeddings, map, located list and ``.coords``, crYOLO's
``CBOX_3D``, TopCUP's CSV).  The tests put them on PATH with a ``#!`` line
naming this interpreter.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import sys
import warnings
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import mrcfile
import numpy as np
import pandas as pd
import pytest
import starfile

from topcup_bench.datasets.catalog import open_dataset
from topcup_bench.errors import InputError
from topcup_bench.pickers import create_picker
from topcup_bench.pickers.adapters.deepfinder import DeepFinderPicker, parse_labels
from topcup_bench.pickers.adapters.presets import (
    distribution_version,
    parse_class_paths,
    parse_gpu_ids,
    parse_numbers,
    script_interpreter,
)
from topcup_bench.pickers.adapters.tool_process import ToolError, ToolMissingError
from topcup_bench.pickers.adapters.topcup_cli import write_thresholded_config
from topcup_bench.testing import check_picker
from topcup_bench.types import ClassCatalogue, ParticleClass, Tomogram

NATIVE = Path(__file__).parent / "native_tools"
VOXEL = 10.0
#: Two dark blobs of the hand-made (32, 40, 48) tomogram, voxel (z, y, x), and in Å (x, y, z).
#: The x of the first (400 Å) lies beyond the z extent (320 Å): z-y-x output would leave the box.
BLOBS_ZYX = ((10, 22, 40), (20, 8, 12))
BLOBS_XYZ = {(400.0, 220.0, 100.0), (120.0, 80.0, 200.0)}
CLASSES = ClassCatalogue((ParticleClass("ribosome", 40.0), ParticleClass("apo-ferritin", 30.0)))


@pytest.fixture
def tools(tmp_path, monkeypatch):
    """The stand-ins, copied into a bin folder at the front of PATH with this interpreter."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for source in NATIVE.iterdir():
        if source.is_file():
            target = folder / source.name
            text = source.read_text(encoding="utf-8")
            if text.startswith("#!"):
                text = f"#!{sys.executable}\n" + text.split("\n", 1)[1]
            target.write_text(text, encoding="utf-8")
            target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("PATH", f"{folder}{':'}{__import__('os').environ['PATH']}")
    return folder


@pytest.fixture(scope="module")
def tiny_dataset():
    return open_dataset("phantom:tiny", progress=False)


def blob_tomogram(run: str = "TS_9") -> Tomogram:
    """(32, 40, 48) voxels of 10 Å, with two dark Gaussian blobs at BLOBS_ZYX."""
    grid = np.indices((32, 40, 48)).astype(np.float32)
    data = np.zeros((32, 40, 48), dtype=np.float32)
    for centre, sigma in zip(BLOBS_ZYX, (3.0, 1.5), strict=True):
        offsets = grid - np.asarray(centre, dtype=np.float32)[:, None, None, None]
        data -= np.exp(-(offsets**2).sum(axis=0) / (2 * sigma**2))
    return Tomogram(run, data, VOXEL)


def write_mrc(path: Path, data: np.ndarray, voxel: float = VOXEL) -> Path:
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(np.ascontiguousarray(data, dtype=np.float32))
        mrc.voxel_size = voxel
    return path


def xyz_set(picks: pd.DataFrame, particle_type: str) -> set[tuple[float, float, float]]:
    rows = picks.loc[picks["particle_type"] == particle_type, ["x", "y", "z"]].to_numpy()
    return {tuple(float(v) for v in row) for row in rows}


def kept_work(picker, run: str) -> Path:
    """The work folder that ``keep_work=True`` left, named in the run's log."""
    log = Path(picker.log_files([run])[run]).read_text(encoding="utf-8")
    return Path(re.search(r"work folder kept: (.+)", log).group(1).strip())


def matched(picks: pd.DataFrame, truth: pd.DataFrame, radius: float) -> int:
    """Truth particles (any class) with a pick (any class) closer than ``radius`` Å."""
    true_xyz = truth[["x", "y", "z"]].to_numpy()
    picked = picks[["x", "y", "z"]].to_numpy()
    if not len(picked):
        return 0
    distances = np.linalg.norm(true_xyz[:, None, :] - picked[None, :, :], axis=2)
    return int((distances.min(axis=1) < radius).sum())


# ------------------------------------------------------------------ pytom-match-pick
def pytom_params(tmp_path: Path, **extra) -> dict:
    box = np.zeros((9, 9, 9), dtype=np.float32)
    for name in CLASSES.names:
        write_mrc(tmp_path / f"{name}.mrc", box)
        write_mrc(tmp_path / f"{name}_mask.mrc", box + 1)
    params = {
        "templates": str(tmp_path / "{class}.mrc"),
        "masks": str(tmp_path / "{class}_mask.mrc"),
        "tilt_angles": "-60,60",
    }
    params.update(extra)
    return params


def test_pytom_reads_the_particles_star_of_each_class_in_angstrom_x_y_z(tools, tmp_path):
    picker = create_picker("pytom-match-pick", pytom_params(tmp_path, max_particles=2))
    picks = picker.pick(blob_tomogram(), CLASSES)
    assert xyz_set(picks, "ribosome") == BLOBS_XYZ
    assert xyz_set(picks, "apo-ferritin") == BLOBS_XYZ
    assert set(picks["experiment"]) == {"TS_9"}
    assert picks["score"].between(0.0, 0.41).all() and picks["score"].max() > 0.3


def test_pytom_on_the_phantom_returns_what_its_star_files_say(tools, tmp_path, tiny_dataset):
    run = tiny_dataset.splits["test"][0]
    big = ClassCatalogue((tiny_dataset.classes["ribosome"], tiny_dataset.classes["thyroglobulin"]))
    params = pytom_params(tmp_path, max_particles=6, keep_work=True, gpu_ids="0,1")
    params["templates"] = params["masks"] = ",".join(
        f"{name}:{tmp_path / 'ribosome.mrc'}" for name in tiny_dataset.classes.names
    )
    picker = create_picker("pytom-match-pick", params)
    picker.prepare(tiny_dataset)
    picks = picker.pick(tiny_dataset.tomogram(run), big)
    work = kept_work(picker, run)
    log = Path(picker.log_files([run])[run]).read_text(encoding="utf-8")
    assert "-a -60 60 -s 1 1 1 -g 0 1" in log and "-n 6 --particle-diameter 300 -c 0" in log
    for name in big.names:
        star = starfile.read(work / "output" / name / f"{run}_particles.star")
        assert list(star.columns)[:3] == ["rlnCoordinateX", "rlnCoordinateY", "rlnCoordinateZ"]
        assert set(star["rlnMicrographName"]) == {run} and len(star) == 6
        mine = picks[picks["particle_type"] == name]
        expected = star[["rlnCoordinateX", "rlnCoordinateY", "rlnCoordinateZ"]].to_numpy() * 10.0
        np.testing.assert_array_equal(mine[["x", "y", "z"]].to_numpy(), expected)
        np.testing.assert_allclose(mine["score"], star["rlnLCCmax"])
    truth = tiny_dataset.truth([run])
    assert matched(picks, truth[truth["particle_type"].isin(big.names)], 150.0) >= 1
    shutil.rmtree(work)


def test_pytom_leaves_the_cut_off_to_pytom_and_passes_its_options(tools, tmp_path):
    tilts = tmp_path / "tilts.rawtlt"
    tilts.write_text("\n".join(str(a) for a in range(-60, 61, 3)) + "\n", encoding="utf-8")
    params = pytom_params(
        tmp_path,
        tilt_angles=str(tilts),
        per_tilt_weighting=True,
        auto_cut_off=True,
        low_pass=35.0,
        defocus_um=3.0,
        random_phase_correction=True,
        rng_seed=7,
        volume_split="2,1,1",
        match_options="--log debug",
    )
    params["match_options"] = ""
    picker = create_picker("pytom-match-pick", params)
    picks = picker.pick(blob_tomogram(), CLASSES)
    assert xyz_set(picks, "ribosome") == BLOBS_XYZ  # above the stand-in's 3-sigma estimate
    log = Path(picker.log_files(["TS_9"])["TS_9"]).read_text(encoding="utf-8")
    assert f"-a {tilts} --low-pass 35 --defocus 3 --amplitude-contrast 0.07" in log
    assert "--spherical-aberration 2.7 --voltage 300 --per-tilt-weighting -r --rng-seed 7" in log
    assert "-s 2 1 1 -g 0" in log and " -c " not in log
    assert picker.preset_files() == {"tilt_angles": str(tilts)}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"tilt_angles": "60,-60"}, "-90 <= MIN < MAX <= 90"),
        ({"tilt_angles": "-60,60", "per_tilt_weighting": True}, "needs every tilt"),
        ({"tilt_angles": "-60,x"}, "2 numbers separated by commas"),
        ({"volume_split": "2,0,1"}, "3 whole numbers >= 1"),
        ({"low_pass": -1.0}, "'low_pass' must be >= 0"),
        ({"max_particles": 0}, "'max_particles' must be >= 1"),
        ({"random_phase_correction": True, "rng_seed": 0}, "'rng_seed' must be >= 1"),
        ({"gpu_ids": "0,a"}, "GPU indices like '0' or '0,1'"),
        ({"extract_options": "--note 'open"}, "cannot split"),
    ],
)
def test_pytom_refuses_bad_parameters_at_creation(tmp_path, params, message):
    with pytest.raises(InputError, match=re.escape(message)):
        create_picker("pytom-match-pick", pytom_params(tmp_path, **params))


# ------------------------------------------------------------------ DeepFinder
def deepfinder_weights(tmp_path: Path, radii: dict[int, float]) -> Path:
    """The stand-in's "network": the blob radius (voxels) of each label."""
    path = tmp_path / "net_weights.h5"
    path.write_text(json.dumps({"radii": {str(k): v for k, v in radii.items()}}), "utf-8")
    return path


def test_deepfinder_splits_the_object_list_by_label_into_classes(tools, tmp_path):
    weights = deepfinder_weights(tmp_path, {1: 4.0, 2: 2.0})
    picker = create_picker("deepfinder", {"weights": str(weights), "keep_work": True})
    picks = picker.pick(blob_tomogram(), CLASSES)
    assert xyz_set(picks, "ribosome") == {(400.0, 220.0, 100.0)}
    assert xyz_set(picks, "apo-ferritin") == {(120.0, 80.0, 200.0)}
    log = Path(picker.log_files(["TS_9"])["TS_9"]).read_text(encoding="utf-8")
    assert "-c 3 -p 160 -o" in log and "-r 4 -o" in log  # mean radius (4 + 3) / 2, rounded
    objects = ElementTree.parse(kept_work(picker, "TS_9") / "output" / "objects.xml").getroot()
    sizes = {int(o.get("class_label")): float(o.get("cluster_size")) for o in objects}
    assert picks.set_index("particle_type")["score"].to_dict() == {
        "ribosome": sizes[1],
        "apo-ferritin": sizes[2],
    }
    shutil.rmtree(kept_work(picker, "TS_9"))


def test_deepfinder_maps_the_network_labels_it_is_given(tools, tmp_path):
    weights = deepfinder_weights(tmp_path, {1: 4.0, 2: 2.0})
    picker = create_picker(
        "deepfinder", {"weights": str(weights), "labels": "2:ribosome", "cluster_radius": 2}
    )
    picks = picker.pick(blob_tomogram(), CLASSES)
    assert list(picks["particle_type"]) == ["ribosome"]  # label 1 is not scored: dropped
    assert xyz_set(picks, "ribosome") == {(120.0, 80.0, 200.0)}
    log = Path(picker.log_files(["TS_9"])["TS_9"]).read_text(encoding="utf-8")
    assert "-c 3 -p 160" in log and "-r 2 -o" in log


def test_deepfinder_labels_beyond_the_classes_fail_with_the_log(tools, tmp_path):
    weights = deepfinder_weights(tmp_path, {1: 4.0, 2: 2.0})
    picker = create_picker("deepfinder", {"weights": str(weights), "n_classes": 3})
    only = ClassCatalogue((ParticleClass("ribosome", 40.0),))
    with pytest.raises(ToolError, match=r"class_label 2 but the dataset has 1 classes.*log: "):
        picker.pick(blob_tomogram(), only)
    wrong = create_picker("deepfinder", {"weights": str(weights)})  # -c 2 for a 3-class net
    with pytest.raises(ToolError, match=r"segment exited with status 1: .*-c gave 2"):
        wrong.pick(blob_tomogram(), only)
    unknown = create_picker("deepfinder", {"weights": str(weights), "labels": "1:proteasome"})
    with pytest.raises(InputError, match=r"'labels' names class\(es\) \['proteasome'\]"):
        unknown.pick(blob_tomogram(), CLASSES)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"labels": "0:ribosome"}, "LABEL >= 1"),
        ({"labels": "1:ribosome,1:apo-ferritin"}, "label 1 given twice"),
        ({"labels": "ribosome"}, "expected 'LABEL:CLASS'"),
        ({"patch_size": 30}, "'patch_size' must be a multiple of 4"),
        ({"n_classes": -1}, "'n_classes' must be 0"),
        ({"cluster_radius": -2}, "'cluster_radius' must be 0"),
        ({"labels": "2:ribosome", "n_classes": 2}, "leaves no room for label 2"),
    ],
)
def test_deepfinder_refuses_bad_parameters_at_creation(params, message):
    with pytest.raises(InputError, match=re.escape(message)):
        create_picker("deepfinder", {"weights": "/models/net.h5", **params})


def test_parse_labels_reads_label_class_pairs():
    assert parse_labels("", "deepfinder") == {}
    assert parse_labels("3:ribosome, 1:apo-ferritin", "deepfinder") == {
        3: "ribosome",
        1: "apo-ferritin",
    }


def test_a_deepfinder_list_that_is_not_an_objlist_is_refused_by_the_importer(tmp_path):
    picker = DeepFinderPicker(weights=str(tmp_path / "w.h5"))
    listing = tmp_path / "objects.xml"
    listing.write_text("<particles><object class_label='1' x='1' y='1' z='1'/></particles>")
    with pytest.raises(InputError, match="root element is <particles>"):
        picker.read_tool_outputs([(listing, None)], blob_tomogram(), CLASSES)
    listing.write_text("<objlist/>")
    assert picker.read_tool_outputs([(listing, None)], blob_tomogram(), CLASSES).empty


# ------------------------------------------------------------------ TomoTwin
def tomotwin_references(tmp_path: Path) -> Path:
    """37³ references cut around the two blobs: ribosome = the big one, apo-ferritin = the small."""
    folder = tmp_path / "references"
    folder.mkdir()
    padded = np.pad(blob_tomogram().data, 18, mode="edge")
    for name, (z, y, x) in zip(CLASSES.names, BLOBS_ZYX, strict=True):
        write_mrc(folder / f"{name}.mrc", padded[z : z + 37, y : y + 37, x : x + 37])
    return folder


def test_tomotwin_reads_the_coords_of_each_reference(tools, tmp_path):
    model = tmp_path / "tomotwin_model.pth"
    model.write_bytes(b"weights")
    params = {"model": str(model), "references": str(tomotwin_references(tmp_path))}
    picker = create_picker("tomotwin", {**params, "boxsize": 20, "keep_work": True})
    picks = picker.pick(blob_tomogram(), CLASSES)
    assert xyz_set(picks, "ribosome") == {(400.0, 220.0, 100.0)}
    assert xyz_set(picks, "apo-ferritin") == {(120.0, 80.0, 200.0)}
    assert set(picks["score"]) == {1.0}  # .coords has no score
    coords = kept_work(picker, "TS_9") / "output" / "picks" / "ribosome.coords"
    assert coords.read_text(encoding="utf-8") == "40 22 10\n"
    log = Path(picker.log_files(["TS_9"])["TS_9"]).read_text(encoding="utf-8")
    assert "-b 64 -s 2 -o" in log and "-t 0.2 -b 20 -g 0.5" in log
    shutil.rmtree(kept_work(picker, "TS_9"))
    strict = create_picker("tomotwin", {**params, "boxsize": 20, "min_metric": 1.5})
    assert strict.pick(blob_tomogram(), CLASSES).empty  # similarity is at most 1


def test_tomotwin_checks_the_voxel_size_and_the_references(tools, tmp_path, tiny_dataset):
    model = tmp_path / "model.pth"
    model.write_bytes(b"weights")
    references = tomotwin_references(tmp_path)
    picker = create_picker("tomotwin", {"model": str(model), "references": str(references)})
    coarse = Tomogram("TS_9", blob_tomogram().data, 20.0)
    with pytest.raises(InputError, match="10 Å per voxel; this tomogram has 20 Å"):
        picker.pick(coarse, CLASSES)
    others = "['beta-amylase', 'beta-galactosidase', 'thyroglobulin', 'virus-like-particle']"
    with pytest.warns(UserWarning, match=re.escape(f"for {others}: they get no picks")):
        picker.prepare(tiny_dataset)  # references of ribosome and apo-ferritin only
    for name in CLASSES.names:
        (references / f"{name}.mrc").unlink()
    with pytest.raises(InputError, match="holds no <class>.mrc for the classes"):
        picker.prepare(tiny_dataset)
    with pytest.raises(InputError, match="is not a folder"):
        create_picker("tomotwin", {"model": str(model), "references": str(model)}).prepare(
            tiny_dataset
        )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"stride": 0}, "'stride' must be >= 1"),
        ({"min_metric": -0.5}, "'min_metric' must be >= 0"),
    ],
)
def test_tomotwin_refuses_bad_parameters_at_creation(params, message):
    with pytest.raises(InputError, match=re.escape(message)):
        create_picker("tomotwin", {"model": "/m.pth", "references": "/refs", **params})


# ------------------------------------------------------------------ crYOLO
def cryolo_params(tmp_path: Path, classes=CLASSES.names, **extra) -> dict:
    config = tmp_path / "config_cryolo.json"
    config.write_text(json.dumps({"model": {"architecture": "PhosaurusNet", "anchors": [8, 8]}}))
    weights = []
    for name in classes:
        (tmp_path / f"{name}.h5").write_bytes(b"model")
        weights.append(f"{name}:{tmp_path / f'{name}.h5'}")
    return {"weights": ",".join(weights), "config": str(config), **extra}


def test_cryolo_reads_cbox_3d_box_centres_of_each_class(tools, tmp_path):
    picker = create_picker("cryolo", cryolo_params(tmp_path, keep_work=True, threads=2))
    picks = picker.pick(blob_tomogram(), CLASSES)
    assert xyz_set(picks, "ribosome") == xyz_set(picks, "apo-ferritin") == BLOBS_XYZ
    output = kept_work(picker, "TS_9") / "output"
    boxes = starfile.read(output / "ribosome" / "CBOX_3D" / "TS_9.cbox")["cryolo"]
    assert sorted(boxes["CoordinateX"]) == [8.0, 36.0]  # corners: centre x - 8 / 2
    assert sorted(picks.loc[picks["particle_type"] == "ribosome", "score"]) == sorted(
        boxes["Confidence"]
    )
    assert (output / "ribosome" / "COORDS" / "TS_9.coords").is_file()
    assert list((output / "logs" / "cmdlogs").iterdir())  # crYOLO's logs/ in its current folder
    log = Path(picker.log_files(["TS_9"])["TS_9"]).read_text(encoding="utf-8")
    assert "--tomogram --write_empty -t 0.1 -g 0 -nc 2 -tsr -1 -tmem 0 -tmin 5" in log
    shutil.rmtree(output.parent)


def test_cryolo_picks_only_the_classes_it_has_models_for(tools, tmp_path):
    params = cryolo_params(tmp_path, classes=["apo-ferritin"], threshold=0.6)
    configs = f"apo-ferritin:{params['config']}"
    picker = create_picker("cryolo", {**params, "config": configs})
    picks = picker.pick(blob_tomogram(), CLASSES)
    assert xyz_set(picks, "apo-ferritin") == {(400.0, 220.0, 100.0)}  # the other is below 0.6
    assert set(picks["particle_type"]) == {"apo-ferritin"}
    strict = create_picker("cryolo", cryolo_params(tmp_path, threshold=1.0))
    assert strict.pick(blob_tomogram(), CLASSES).empty  # empty CBOX_3D files (--write_empty)
    other = create_picker("cryolo", cryolo_params(tmp_path, classes=["proteasome"]))
    with pytest.raises(InputError, match=r"'weights' names class\(es\) \['proteasome'\]"):
        other.pick(blob_tomogram(), CLASSES)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"weights": "/m/ribosome.h5"}, "expected 'class:path,class:path'"),
        ({"weights": "a:/m/a.h5,a:/m/b.h5"}, "class 'a' twice"),
        ({"config": "b:/m/config.json"}, "gives no configuration for ['a']"),
        ({"threshold": 1.5}, "'threshold' must be in [0, 1]"),
        ({"gpu": ""}, "GPU indices"),
    ],
)
def test_cryolo_refuses_bad_parameters_at_creation(params, message):
    base = {"weights": "a:/m/a.h5", "config": "/m/config.json"}
    with pytest.raises(InputError, match=re.escape(message)):
        create_picker("cryolo", {**base, **params})


# ------------------------------------------------------------------ TopCUP CLI
def test_topcup_cli_reads_the_csv_it_writes_through_copick(tools, tmp_path, tiny_dataset):
    weights = tmp_path / "checkpoints"
    weights.mkdir()
    (weights / "best_model.ckpt").write_bytes(b"checkpoint")
    picker = create_picker("topcup-cli", {"weights": str(weights), "keep_work": True})
    with pytest.raises(InputError, match="call prepare"):
        picker.pick(tiny_dataset.tomogram("TS_003"), tiny_dataset.classes)
    picker.prepare(tiny_dataset)
    assert picker.card().tool_version == "topcup, version 1.2.2"
    run = tiny_dataset.splits["test"][0]
    picks = picker.pick(tiny_dataset.tomogram(run), tiny_dataset.classes)
    output = kept_work(picker, run) / "output"
    table = pd.read_csv(output / "val_pred_df_seed.csv")
    assert list(table.columns) == ["x", "y", "z", "particle_type", "experiment", "conf"]
    assert len(picks) == len(table) > 0 and set(picks["experiment"]) == {run}
    merged = picks.merge(table, on=["particle_type", "x", "y", "z"])
    assert len(merged) == len(table) and (merged["score"] == merged["conf"]).all()
    log = Path(picker.log_files([run])[run]).read_text(encoding="utf-8")
    assert f"-ts {run} -p {weights} -pa '*.ckpt' --pixelsize 10 -tt denoised" in log
    truth = tiny_dataset.truth([run])
    assert matched(picks, truth, 100.0) >= 4
    shutil.rmtree(output.parent)


def test_topcup_cli_hands_topcup_a_config_with_thresholds(tmp_path):
    config = tmp_path / "copick_config.json"
    objects = [
        {"name": "ribosome", "radius": 150, "metadata": {"score_threshold": 0.4}},
        {"name": "apo-ferritin", "radius": 60},
    ]
    config.write_text(json.dumps({"config_type": "filesystem", "pickable_objects": objects}))
    every = json.loads(Path(write_thresholded_config(str(config), 0.0, keep_own=False)).read_text())
    assert [o["metadata"]["score_threshold"] for o in every["pickable_objects"]] == [0.0, 0.0]
    own = write_thresholded_config(str(config), 0.25, keep_own=True)
    assert own == write_thresholded_config(str(config), 0.25, keep_own=True)
    thresholds = [
        o["metadata"]["score_threshold"]
        for o in json.loads(Path(own).read_text())["pickable_objects"]
    ]
    assert thresholds == [0.4, 0.25]
    config.write_text("{not json")
    with pytest.raises(InputError, match="cannot read the copick config"):
        write_thresholded_config(str(config), 0.0, keep_own=False)


@pytest.mark.parametrize(
    ("params", "message"),
    [({"gpus": 0}, "'gpus' must be >= 1"), ({"pattern": " "}, "'pattern' is required")],
)
def test_topcup_cli_refuses_bad_parameters_at_creation(params, message):
    with pytest.raises(InputError, match=re.escape(message)):
        create_picker("topcup-cli", {"weights": "/models/topcup", **params})


def test_topcup_cli_passes_the_conformance_checks(tools, tmp_path):
    (tmp_path / "model.ckpt").write_bytes(b"checkpoint")
    picker = create_picker("topcup-cli", {"weights": str(tmp_path / "model.ckpt")})
    assert {"card", "picklable", "deterministic on TS_003"} <= set(check_picker(picker))


# ------------------------------------------------------------------ shared behaviour
REQUIRED = {
    "pytom-match-pick": {
        "templates": "/t/{class}.mrc",
        "masks": "/m/{class}.mrc",
        "tilt_angles": "-60,60",
    },
    "deepfinder": {"weights": "/w.h5"},
    "tomotwin": {"model": "/m.pth", "references": "/refs"},
    "cryolo": {"weights": "a:/w.h5", "config": "/c.json"},
    "topcup-cli": {"weights": "/ckpt"},
}


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_each_required_parameter_is_asked_for_at_creation(name):
    params = REQUIRED[name]
    for parameter in params:
        with pytest.raises(InputError, match=f"parameter '{parameter}' is required, e.g. "):
            create_picker(name, {**params, parameter: ""})
    assert create_picker(name, params).name == name


MISSING = {
    "pytom-match-pick": ("pytom_match_template.py", "pip install pytom-match-pick"),
    "deepfinder": ("segment", "bin/segment, bin/cluster) on PATH"),
    "tomotwin": ("tomotwin_embed.py", "pip install tomotwin-cryoet"),
    "cryolo": ("cryolo_predict.py", "pip install 'cryolo[c11]'"),
    "topcup-cli": ("topcup", "pip install topcup"),
}


@pytest.mark.parametrize("name", sorted(MISSING))
def test_a_missing_tool_is_one_line_naming_the_command_and_the_install(
    name, tmp_path, monkeypatch, tiny_dataset
):
    params = {
        "pytom-match-pick": pytom_params(tmp_path),
        "deepfinder": {"weights": str(deepfinder_weights(tmp_path, {1: 4.0}))},
        "tomotwin": {"model": str(tmp_path / "m.pth"), "references": str(tmp_path)},
        "cryolo": cryolo_params(tmp_path),
        "topcup-cli": {"weights": str(tmp_path)},
    }[name]
    (tmp_path / "m.pth").write_bytes(b"model")
    write_mrc(tmp_path / "ribosome.mrc", np.zeros((4, 4, 4)))
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", f"{empty}:/usr/bin:/bin")
    program, hint = MISSING[name]
    picker = create_picker(name, params)
    with pytest.raises(ToolMissingError) as raised:
        picker.prepare(tiny_dataset)
    message = str(raised.value)
    assert f"command {program!r} not found on PATH" in message and hint in message
    assert "\n" not in message
    assert picker.card().tool_version.startswith("unknown: ")


def test_a_missing_file_of_a_parameter_fails_prepare(tmp_path, tiny_dataset):
    picker = create_picker("deepfinder", {"weights": str(tmp_path / "nowhere.h5")})
    with pytest.raises(InputError, match=r"parameter 'weights': .*nowhere.h5 does not exist"):
        picker.prepare(tiny_dataset)


def test_the_cache_key_follows_the_preset_files(tmp_path, tiny_dataset):
    weights = deepfinder_weights(tmp_path, {1: 4.0})
    picker = create_picker("deepfinder", {"weights": str(weights)})
    run = tiny_dataset.splits["test"][0]
    before = picker.input_digest(tiny_dataset, run)
    assert picker.input_digest(tiny_dataset, run) == before
    weights.write_text(json.dumps({"radii": {"1": 5.0}}), "utf-8")
    assert picker.input_digest(tiny_dataset, run) != before


def test_the_tool_version_comes_from_the_tools_python_environment(tools, tmp_path, monkeypatch):
    site = tmp_path / "site"
    metadata = site / "pytom_match_pick-0.14.0.dist-info"
    metadata.mkdir(parents=True)
    (metadata / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: pytom-match-pick\nVersion: 0.14.0\n", encoding="utf-8"
    )
    monkeypatch.setenv("PYTHONPATH", str(site))
    picker = create_picker("pytom-match-pick", pytom_params(tmp_path))
    assert picker.card().tool_version == "pytom-match-pick 0.14.0"
    program = str(tools / "segment")
    assert distribution_version(program, "pytom-match-pick") == "pytom-match-pick 0.14.0"
    absent = distribution_version(program, "cryoet-deepfinder")
    assert absent == f"unknown: cryoet-deepfinder is not installed for {sys.executable}"
    assert distribution_version("no-such-tool", "x") == "unknown: no-such-tool not found"
    shell = tmp_path / "tool.sh"
    shell.write_text("#!/bin/sh\necho hi\n")
    assert distribution_version(str(shell), "x") == "unknown: tool.sh is not a Python script"
    fixed = create_picker("deepfinder", {"weights": "/w.h5", "version_command": "echo df 9"})
    assert fixed.tool_version == "df 9"


def test_script_interpreter_reads_the_first_line(tmp_path):
    script = tmp_path / "tool"
    for first, expected in (
        ("#!/opt/env/bin/python3.11", ["/opt/env/bin/python3.11"]),
        ("#!/usr/bin/env python", ["/usr/bin/env", "python"]),
        ("#!/bin/bash", None),
        ("import os", None),
        ("#!'unbalanced", None),
    ):
        script.write_text(first + "\n", encoding="utf-8")
        assert script_interpreter(str(script)) == expected
    assert script_interpreter(str(tmp_path / "absent")) is None


def test_the_parameter_parsers_name_the_parameter_and_the_value():
    assert parse_class_paths("a:/x.h5, b:/y.h5", "weights", "cryolo") == {
        "a": "/x.h5",
        "b": "/y.h5",
    }
    with pytest.raises(InputError, match=r"picker 'cryolo'.*'weights'.*found ':/x.h5'"):
        parse_class_paths(":/x.h5", "weights", "cryolo")
    assert parse_gpu_ids("1", "gpu", "p") == ["1"]
    with pytest.raises(InputError, match=r"'gpu' must list GPU indices.*found '-1'"):
        parse_gpu_ids("-1", "gpu", "p")
    assert parse_numbers("1, 2.5", "n", "p", 2) == [1.0, 2.5]
    with pytest.raises(InputError, match=r"'n' must be 2 numbers.*found 'nan,1'"):
        parse_numbers("nan,1", "n", "p", 2)


def test_the_presets_are_registered_with_their_cards():
    cards = {
        name: create_picker(name, REQUIRED[name]).card().to_dict() for name in sorted(REQUIRED)
    }
    licences = {name: card["licence"].split(" ")[0] for name, card in cards.items()}
    assert licences == {
        "cryolo": "crYOLO:",
        "deepfinder": "GPL-3.0",
        "pytom-match-pick": "GPL-2.0",
        "tomotwin": "MPL-2.0",
        "topcup-cli": "MIT",
    }
    assert all(card["citation"] and card["description"] for card in cards.values())
    assert cards["tomotwin"]["parameters"]["boxsize"] == 37


# ------------------------------------------------------------------ on the phantom
def native_xyz(name: str, output: Path, class_name: str, label: int) -> np.ndarray:
    """Box centres (voxels, x-y-z) that a stand-in wrote for one class, parsed independently."""
    if name == "deepfinder":
        objects = ElementTree.parse(output / "objects.xml").getroot()
        rows = [o for o in objects if o.get("class_label") == str(label)]
        return np.array([[float(o.get(a)) for a in "xyz"] for o in rows]).reshape(-1, 3)
    if name == "tomotwin":
        return np.loadtxt(output / "picks" / f"{class_name}.coords", ndmin=2)
    boxes = starfile.read(next((output / class_name / "CBOX_3D").glob("*.cbox")))["cryolo"]
    return np.column_stack(
        [
            boxes["CoordinateX"] + boxes["Width"] / 2,
            boxes["CoordinateY"] + boxes["Height"] / 2,
            boxes["CoordinateZ"],
        ]
    )


@pytest.mark.parametrize("name", ["deepfinder", "tomotwin", "cryolo"])
def test_on_the_phantom_the_picks_are_the_native_files_in_angstrom(
    name, tools, tmp_path, tiny_dataset
):
    run = tiny_dataset.splits["test"][0]
    tomogram = tiny_dataset.tomogram(run)
    truth = tiny_dataset.truth([run])
    classes = ClassCatalogue(
        (tiny_dataset.classes["apo-ferritin"], tiny_dataset.classes["ribosome"])
    )
    if name == "deepfinder":
        weights = deepfinder_weights(tmp_path, {1: 6.0, 2: 15.0})
        params = {"weights": str(weights), "labels": "1:apo-ferritin,2:ribosome"}
    elif name == "tomotwin":
        (tmp_path / "model.pth").write_bytes(b"model")
        folder = tmp_path / "references"
        folder.mkdir()
        padded = np.pad(tomogram.data, 18, mode="edge")
        for class_name in classes.names:
            x, y, z = truth.loc[truth["particle_type"] == class_name, ["x", "y", "z"]].iloc[0]
            i, j, k = (int(round(v / VOXEL)) for v in (z, y, x))
            write_mrc(folder / f"{class_name}.mrc", padded[i : i + 37, j : j + 37, k : k + 37])
        params = {
            "model": str(tmp_path / "model.pth"),
            "references": str(folder),
            "stride": 4,
            "global_min": 0.3,
        }
    else:
        params = cryolo_params(tmp_path, classes=classes.names, threshold=0.4)
    picker = create_picker(name, {**params, "keep_work": True})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "picker 'tomotwin': no reference", UserWarning)
        picker.prepare(tiny_dataset)
    picks = picker.pick(tomogram, classes)
    output = kept_work(picker, run) / "output"
    assert len(picks) and set(picks["experiment"]) == {run}
    for label, class_name in enumerate(classes.names, start=1):
        mine = picks.loc[picks["particle_type"] == class_name, ["x", "y", "z"]].to_numpy()
        written = native_xyz(name, output, class_name, label) * VOXEL
        np.testing.assert_allclose(
            mine[np.lexsort(mine.T)], written[np.lexsort(written.T)], rtol=0, atol=1e-9
        )
    shutil.rmtree(output.parent)
