"""The ``command`` picker running a real tiny command-line picker (tools/tiny_picker.py)."""

from __future__ import annotations

import pickle
import re
import shutil
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

from topcup_bench.datasets.catalog import open_dataset
from topcup_bench.pick_cache import PickCache
from topcup_bench.pickers import TrainablePicker, create_picker
from topcup_bench.pickers.adapters.command import CommandPicker, TrainableCommandPicker
from topcup_bench.runner import run_pickers
from topcup_bench.testing import check_picker
from topcup_bench.types import ClassCatalogue, ParticleClass, Tomogram

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TOOLS = Path(__file__).parent / "tools"
TOOL = TOOLS / "tiny_picker.py"
TRAIN_TOOL = TOOLS / "tiny_train.py"
VERSION = f"{{python}} {TOOL} --version"
CLASSES = ClassCatalogue((ParticleClass("ribosome", 40.0), ParticleClass("apo-ferritin", 30.0)))
#: The dark blob of the hand-made tomogram: voxel (z, y, x) = (10, 22, 40) → Å (400, 220, 100);
#: its x (400 Å) is beyond the z extent (320 Å), so z-y-x output lands outside the box.
BLOB_ZYX = (10, 22, 40)
BLOB_XYZ_ANGSTROM = [400.0, 220.0, 100.0]


def tiny(extra: str = "", out: str = "{output}/picks.star", tool: Path = TOOL) -> str:
    """Command template running the tiny picker."""
    return (
        f"{{python}} {tool} {{tomogram}} {{classes}} {out} --protein-dark {{protein_dark}} {extra}"
    )


def make_picker(**params):
    params.setdefault("command", tiny())
    params.setdefault("output", "picks.star")
    params.setdefault("version_command", VERSION)
    return create_picker("command", params)


def blob_tomogram(run: str = "TS_9") -> Tomogram:
    """A (32, 40, 48) volume, 10 Å voxels, with one dark Gaussian blob at BLOB_ZYX."""
    grid = np.indices((32, 40, 48)).astype(np.float32)
    offsets = grid - np.asarray(BLOB_ZYX, dtype=np.float32)[:, None, None, None]
    data = -np.exp(-(offsets**2).sum(axis=0) / (2 * 2.0**2))
    return Tomogram(run, data.astype(np.float32), 10.0)


@pytest.fixture(scope="module")
def tiny_dataset():
    return open_dataset("phantom:tiny", progress=False)


def _matched(picks, truth, particle_type, radius):
    true_xyz = truth.loc[truth["particle_type"] == particle_type, ["x", "y", "z"]].to_numpy()
    picked = picks.loc[picks["particle_type"] == particle_type, ["x", "y", "z"]].to_numpy()
    if not len(true_xyz) or not len(picked):
        return 0
    distances = np.linalg.norm(true_xyz[:, None, :] - picked[None, :, :], axis=2)
    return int((distances.min(axis=1) < radius).sum())


def test_a_hand_made_blob_comes_back_in_angstrom_x_y_z():
    picker = make_picker()
    assert type(picker) is CommandPicker and not isinstance(picker, TrainablePicker)
    picks = picker.pick(blob_tomogram(), CLASSES)
    assert picks["particle_type"].tolist() == ["ribosome", "apo-ferritin"]
    assert set(picks["experiment"]) == {"TS_9"}
    assert picks[["x", "y", "z"]].to_numpy().tolist() == [BLOB_XYZ_ANGSTROM] * 2
    assert (picks["score"] > 0).all()  # rlnLCCmax, the tool's z-score
    assert picker.card().tool_version == "tiny-picker 0.1"
    logs = picker.log_files(["TS_9", "TS_other"])
    assert list(logs) == ["TS_9"]
    text = Path(logs["TS_9"]).read_text(encoding="utf-8")
    assert f"{TOOL} " in text and "wrote 2 picks" in text


def test_the_log_path_is_deterministic_and_keyed_by_the_parameters(tmp_path):
    first, same, other = make_picker(), make_picker(), make_picker(label="tiny")
    assert first._log_path("fit").parent == same._log_path("fit").parent
    assert other._log_path("fit").parent.parent.name == "tiny"
    assert first._log_path("fit").parent != make_picker(threads=2)._log_path("fit").parent


def test_work_folders_are_removed_unless_kept():
    picker = make_picker()
    picker.pick(blob_tomogram(), CLASSES)
    log = Path(picker.log_files(["TS_9"])["TS_9"]).read_text(encoding="utf-8")
    assert "work folder kept" not in log
    kept = make_picker(keep_work=True)
    kept.pick(blob_tomogram(), CLASSES)
    line = Path(kept.log_files(["TS_9"])["TS_9"]).read_text(encoding="utf-8").splitlines()[-1]
    work = Path(line.split("work folder kept: ")[1])
    assert (work / "TS_9.mrc").is_file() and (work / "classes.json").is_file()
    assert (work / "output" / "picks.star").is_file()
    shutil.rmtree(work)


def test_phantom_tiny_through_the_runner_with_logs_and_cache(tiny_dataset, tmp_path):
    dataset = tiny_dataset
    test, train = list(dataset.splits["test"]), list(dataset.splits["train"])
    picker = make_picker()
    oracle = create_picker("oracle")
    first = run_pickers(
        [oracle, picker], dataset, test, train, cache_root=tmp_path / "cache", progress=False
    )
    assert [o.status for o in first] == ["ok", "ok"], [o.error for o in first]
    outcome = first[1]
    assert outcome.card.tool_version == "tiny-picker 0.1"
    assert sorted(outcome.logs) == sorted(test) and all(
        Path(p).is_file() for p in outcome.logs.values()
    )
    picks, truth = outcome.picks, dataset.truth(test)
    assert set(picks["experiment"]) == set(test)
    assert picks[["x", "y", "z"]].max().max() > 200.0  # Å, not voxels (the box is 960 Å)
    big = sum(
        _matched(picks, truth, name, dataset.classes[name].radius_angstrom)
        for name in ("ribosome", "virus-like-particle")
    )
    assert big >= 1
    again = run_pickers(
        [picker], dataset, test, train, cache_root=tmp_path / "cache", progress=False
    )
    assert again[0].cached_runs == test
    assert again[0].picks.equals(outcome.picks)


def test_the_cache_key_follows_the_command_the_tool_version_and_the_script(tiny_dataset, tmp_path):
    cache = PickCache(tmp_path / "cache")
    run = tiny_dataset.splits["test"][0]
    version_file = tmp_path / "version.txt"
    version_file.write_text("1.0\n", encoding="utf-8")
    version = f'{{python}} -c "print(open({str(version_file)!r}).read())"'
    script = tmp_path / "copy_of_tiny_picker.py"
    shutil.copy(TOOL, script)

    def key(extra=""):
        picker = make_picker(version_command=version, command=tiny(extra, tool=script))
        return cache.key(picker, tiny_dataset, run, []), picker

    base, picker = key()
    assert picker.tool_version == "1.0"
    assert key()[0] == base
    assert key("--max-peaks 5")[0] != base
    version_file.write_text("2.0\n", encoding="utf-8")
    changed, picker = key()
    assert picker.tool_version == "2.0" and changed != base
    script.write_text(TOOL.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert key()[0] != changed


def test_per_class_steps_run_once_per_class_into_per_class_files():
    picker = make_picker(
        command=tiny("--class {class}", out="{output}/{class}.star"), output="{class}.star"
    )
    picks = picker.pick(blob_tomogram(), CLASSES)
    assert sorted(picks["particle_type"]) == ["apo-ferritin", "ribosome"]
    assert picks[["x", "y", "z"]].to_numpy().tolist() == [BLOB_XYZ_ANGSTROM] * 2
    log = Path(picker.log_files(["TS_9"])["TS_9"]).read_text(encoding="utf-8")
    assert log.count("$ ") == 2 and "--class ribosome" in log and "--class apo-ferritin" in log


def test_templates_from_a_class_pattern_reach_the_tool(tmp_path):
    for name in CLASSES.names:
        (tmp_path / f"{name}.mrc").write_bytes(b"template")
    picker = make_picker(
        command=tiny("--class {class} --template {template}", out="{output}/{class}.star"),
        output="{class}.star",
        templates=str(tmp_path / "{class}.mrc"),
    )
    picks = picker.pick(blob_tomogram(), CLASSES)
    assert len(picks) == 2
    log = Path(picker.log_files(["TS_9"])["TS_9"]).read_text(encoding="utf-8")
    assert f"template {tmp_path / 'ribosome.mrc'}" in log


def test_another_interpreter_given_by_path_runs_the_tool(tmp_path):
    marker = tmp_path / "marker.txt"
    wrapper = tmp_path / "other-python"
    wrapper.write_text(
        f'#!/bin/sh\necho "$@" >> {marker}\nexec {sys.executable} "$@"\n', encoding="utf-8"
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    picker = make_picker(python=str(wrapper))
    assert picker.tool_version == "tiny-picker 0.1"
    picks = picker.pick(blob_tomogram(), CLASSES)
    assert len(picks) == 2
    calls = marker.read_text(encoding="utf-8").splitlines()
    assert len(calls) == 2 and calls[0].endswith("--version") and "TS_9.mrc" in calls[1]


def test_probability_maps_become_picks_through_seg2picks():
    picker = make_picker(
        command=tiny("--mode probability", out="{output}"),
        output="{class}.mrc",
        format="probability",
        seg_threshold=0.5,
    )
    picks = picker.pick(blob_tomogram(), CLASSES)
    assert sorted(picks["particle_type"]) == ["apo-ferritin", "ribosome"]
    assert picks[["x", "y", "z"]].to_numpy().tolist() == [BLOB_XYZ_ANGSTROM] * 2
    assert picks["score"].to_numpy() == pytest.approx([0.9, 0.9])  # the maps' peak value


def test_a_label_map_becomes_picks_through_seg2picks():
    one = ClassCatalogue((ParticleClass("ribosome", 40.0),))
    picker = make_picker(
        command=tiny("--mode segmentation", out="{output}"),
        output="labels.mrc",
        format="segmentation",
    )
    picks = picker.pick(blob_tomogram(), one)
    assert picks["particle_type"].tolist() == ["ribosome"]
    assert picks[["x", "y", "z"]].to_numpy().tolist() == [BLOB_XYZ_ANGSTROM]
    assert picks["score"].tolist() == [33.0]  # a ball of radius 2 voxels: 33 voxels


def test_copick_input_hands_the_tool_the_project_and_run(tiny_dataset):
    run = tiny_dataset.splits["test"][0]
    via_mrc = make_picker(command=tiny("--max-peaks 3"))
    via_copick = make_picker(
        input="copick",
        command=(
            f"{{python}} {TOOL} {{copick_config}} {{classes}} {{output}}/picks.star "
            "--copick-run {run} --max-peaks 3"
        ),
    )
    with pytest.raises(Exception, match="call prepare"):
        via_copick.pick(tiny_dataset.tomogram(run), tiny_dataset.classes)
    via_copick.prepare(tiny_dataset)
    tomogram = tiny_dataset.tomogram(run)
    big = ClassCatalogue((tiny_dataset.classes["ribosome"],))
    from_copick = via_copick.pick(tomogram, big)
    from_mrc = via_mrc.pick(tomogram, big)
    assert len(from_copick) == 3 and from_copick.equals(from_mrc)


def test_a_train_command_makes_the_picker_trainable(tiny_dataset, tmp_path):
    params = {
        "command": tiny("--model {model}"),
        "output": "picks.star",
        "train_command": (
            f"{{python}} {TRAIN_TOOL} {{train_star}} {{train_csv}} {{train_tomograms}} "
            "{train_runs} {model}"
        ),
    }
    picker = create_picker("command", params)
    assert isinstance(picker, TrainablePicker) and type(picker) is TrainableCommandPicker
    assert picker.card().trainable
    clone = pickle.loads(pickle.dumps(picker))
    assert type(clone) is TrainableCommandPicker and clone.parameters() == picker.parameters()
    with pytest.raises(Exception, match=r"call fit\(dataset, runs\) first"):
        picker.pick(blob_tomogram(), CLASSES)
    test, train = list(tiny_dataset.splits["test"]), list(tiny_dataset.splits["train"])
    [outcome] = run_pickers([picker], tiny_dataset, test, train, cache_root=None, progress=False)
    assert outcome.status == "ok", outcome.error
    assert outcome.card.trained_on == tuple(train)
    assert "fit" in outcome.logs and "18 picks in 3 runs" in Path(outcome.logs["fit"]).read_text()
    model = picker._model_folder() / "model.json"
    assert '"max_peaks": 6' in model.read_text(encoding="utf-8")
    # the model's max_peaks (6 per run) bounds the picks per class
    assert outcome.picks.groupby(["experiment", "particle_type"]).size().max() <= 6


class EchoPreset(CommandPicker):
    """A preset: the tiny picker as defaults."""

    name = "echo-preset"
    default_command = tiny()
    default_output = "picks.star"
    default_version_command = VERSION


class TrainedPreset(CommandPicker):
    """A preset with a default train command."""

    name = "trained-preset"
    default_command = tiny("--model {model}")
    default_output = "picks.star"
    default_train_command = (
        f"{{python}} {TRAIN_TOOL} {{train_star}} {{train_csv}} {{train_tomograms}} "
        "{train_runs} {model}"
    )


def test_presets_with_a_default_train_command_are_trainable_and_pickle():
    plain, trained = EchoPreset(), TrainedPreset()
    assert not isinstance(plain, TrainablePicker) and plain.tool_version == "tiny-picker 0.1"
    assert plain.pick(blob_tomogram(), CLASSES)["x"].tolist() == [400.0, 400.0]
    assert isinstance(trained, TrainablePicker) and isinstance(trained, TrainedPreset)
    assert type(trained).__name__ == "TrainableTrainedPreset"
    clone = pickle.loads(pickle.dumps(trained))
    assert type(clone) is type(trained) and clone.parameters() == trained.parameters()
    assert type(pickle.loads(pickle.dumps(plain))) is EchoPreset
    assert isinstance(EchoPreset(train_command="t {model}"), TrainablePicker)


def test_the_command_picker_passes_the_conformance_checks(tiny_dataset):
    picker = make_picker(command=tiny("--max-peaks 3"))
    passed = check_picker(picker, tiny_dataset, runs=tiny_dataset.splits["test"][:1])
    assert "picklable" in passed and any(p.startswith("deterministic") for p in passed)


def test_threads_reach_the_tool_environment(tmp_path):
    out = "{output}/env.csv"
    script = tmp_path / "env_tool.py"
    script.write_text(
        "import os, sys\n"
        "open(sys.argv[1], 'w').write('experiment,particle_type,x,y,z,score\\n'"
        " f\"TS_9,ribosome,{float(os.environ['OMP_NUM_THREADS']) * 100},220,100,1\\n\")\n",
        encoding="utf-8",
    )
    picker = make_picker(command=f"{{python}} {script} {out}", output="env.csv", threads=3)
    picks = picker.pick(blob_tomogram(), CLASSES)
    assert picks[["x", "y", "z"]].to_numpy().tolist() == [[300.0, 220.0, 100.0]]


def test_a_native_format_without_run_class_or_pixel_size_is_read_with_the_run_context(tmp_path):
    script = tmp_path / "coords_tool.py"
    script.write_text(  # TomoTwin-style .coords: x y z in pixels, nothing else
        "import sys\nopen(sys.argv[1], 'w').write('40 22 10\\n')\n", encoding="utf-8"
    )
    picker = make_picker(
        command=f"{{python}} {script} {{output}}/{{class}}.coords", output="", format="coords"
    )
    with pytest.raises(Exception, match="does not name the particle type"):
        picker.pick(blob_tomogram(), CLASSES)
    per_class = make_picker(
        command=f"{{python}} {script} {{output}}/{{class}}.coords",
        output="{class}.coords",
        format="coords",
    )
    picks = per_class.pick(blob_tomogram(), CLASSES)
    assert picks["particle_type"].tolist() == ["ribosome", "apo-ferritin"]
    assert set(picks["experiment"]) == {"TS_9"}
    assert picks[["x", "y", "z"]].to_numpy().tolist() == [BLOB_XYZ_ANGSTROM] * 2
    assert picks["score"].tolist() == [1.0, 1.0]  # no confidence in the file


def test_the_documented_toml_wraps_a_tool_in_three_lines(tiny_dataset):
    doc = Path(__file__).resolve().parents[3] / "docs" / "adding_a_picker.md"
    section = doc.read_text(encoding="utf-8").split("## 5. Wrapping a command-line tool")[1]
    blocks = re.findall(r"```toml\n(.*?)```", section, re.S)
    assert len(blocks) == 2 and len(blocks[0].strip().splitlines()) == 3
    pickers = [tomllib.loads(block)["pickers"][0] for block in blocks]
    plain, trained = (create_picker(entry["name"], entry["params"]) for entry in pickers)
    assert plain.display_name == "mytool" and not isinstance(plain, TrainablePicker)
    assert isinstance(trained, TrainablePicker)
    with pytest.raises(Exception, match="command 'mytool' not found on PATH"):
        plain.prepare(tiny_dataset)


def test_a_program_given_as_a_link_to_python_keeps_its_environment():
    python = sys.executable  # a virtual environment's bin/python is a link to the base python
    picker = make_picker(command=f"{python} {TOOL} {{tomogram}} {{classes}} {{output}}/picks.star")
    assert picker._executables(strict=True)[python] == python  # the link itself, not its target
    assert len(picker.pick(blob_tomogram(), CLASSES)) == 2  # mrcfile and scipy found
