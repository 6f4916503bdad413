"""The ``command`` picker's failure paths: each one clear line naming the log, the others run."""

from __future__ import annotations

import types
from pathlib import Path

import mrcfile
import numpy as np
import pandas as pd
import pytest

from topcup_bench.errors import InputError, UnitsWarning
from topcup_bench.pickers import create_picker
from topcup_bench.pickers.adapters.command import CommandPicker, TrainableCommandPicker
from topcup_bench.pickers.adapters.command_inputs import copick_config
from topcup_bench.pickers.adapters.command_output import check_inside_box, read_outputs
from topcup_bench.pickers.adapters.tool_process import ToolError, ToolMissingError
from topcup_bench.runner import run_pickers

from .test_command import CLASSES, blob_tomogram, make_picker, tiny


def _log_of(error: Exception) -> Path:
    path = Path(str(error).rsplit("log: ", 1)[1])
    assert path.is_file()
    return path


def test_a_missing_tool_fails_only_its_picker_with_one_line(tmp_path):
    from topcup_bench.datasets.catalog import open_dataset

    dataset = open_dataset("phantom:tiny", progress=False)
    test, train = list(dataset.splits["test"]), list(dataset.splits["train"])
    missing = create_picker(
        "command", {"command": "no-such-picker-tool {tomogram} {output}", "label": "ghost"}
    )
    oracle, ghost = run_pickers(
        [create_picker("oracle"), missing], dataset, test, train, cache_root=None, progress=False
    )
    assert oracle.status == "ok" and len(oracle.picks) > 0
    assert ghost.status == "failed" and "\n" not in ghost.error
    assert "picker 'ghost': command 'no-such-picker-tool' not found on PATH" in ghost.error
    assert "install the tool and put it on PATH" in ghost.error


def test_a_missing_interpreter_names_the_python_parameter(tmp_path):
    picker = make_picker(python=str(tmp_path / "no-python"))
    with pytest.raises(ToolMissingError, match=r"parameter 'python' = '.*no-python' is not an"):
        picker.pick(blob_tomogram(), CLASSES)


def test_a_crash_names_the_exit_status_the_tool_message_and_the_log():
    picker = make_picker(command=tiny("--mode crash"))
    with pytest.raises(ToolError, match=r"exited with status 3: .*simulated crash") as caught:
        picker.pick(blob_tomogram(), CLASSES)
    assert "simulated crash" in _log_of(caught.value).read_text(encoding="utf-8")


def test_a_timeout_kills_the_tool_and_names_the_log():
    picker = make_picker(command=tiny("--mode sleep --sleep 60"), timeout_s=1)
    with pytest.raises(
        ToolError, match=r"python timed out after 1 s \(timeout_s, all steps"
    ) as caught:
        picker.pick(blob_tomogram(), CLASSES)
    assert "[topcup-bench] killed after the" in _log_of(caught.value).read_text(encoding="utf-8")


def test_writing_nothing_names_the_expected_output_and_the_log():
    picker = make_picker(command=tiny("--mode nothing"))
    with pytest.raises(ToolError, match=r"wrote no output matching 'picks.star'") as caught:
        picker.pick(blob_tomogram(), CLASSES)
    assert "found nothing worth writing" in _log_of(caught.value).read_text(encoding="utf-8")


def test_writing_nothing_without_a_pattern_names_the_format():
    picker = make_picker(command=tiny("--mode nothing"), output="", format="star")
    with pytest.raises(ToolError, match=r"wrote no output matching 'any star file'"):
        picker.pick(blob_tomogram(), CLASSES)


def test_writing_outside_the_output_folder_is_refused():
    picker = make_picker(command=tiny("--mode outside"))
    with pytest.raises(ToolError, match=r"wrote outside its output folder: .*/picks\.star; log"):
        picker.pick(blob_tomogram(), CLASSES)


def test_an_output_linking_outside_the_output_folder_is_refused():
    picker = make_picker(command=tiny("--mode symlink"))
    with pytest.raises(ToolError, match=r"wrote outside its output folder: .*output/picks\.star"):
        picker.pick(blob_tomogram(), CLASSES)


def test_z_y_x_output_lands_outside_the_tomogram_and_is_refused():
    picker = make_picker(command=tiny("--mode zyx"))
    with pytest.raises(
        ToolError, match=r"2 of 2 picks lie outside the tomogram.*x, y, z order"
    ) as caught:
        picker.pick(blob_tomogram(), CLASSES)
    assert "tiny_picker" in _log_of(caught.value).read_text(encoding="utf-8")


def test_voxel_coordinates_where_angstrom_are_expected_warn():
    picker = make_picker(
        command=tiny("--mode voxels-csv", out="{output}/picks.csv"), output="picks.csv"
    )
    with pytest.warns(UnitsWarning, match=r"picks\.csv: coordinates look like voxel indices"):
        picks = picker.pick(blob_tomogram(), CLASSES)
    assert picks[["x", "y", "z"]].to_numpy().tolist() == [[40.0, 22.0, 10.0]] * 2


def test_an_unreadable_output_names_the_file_and_the_log():
    picker = make_picker(command=tiny("--mode garbage"))
    with pytest.raises(ToolError, match=r"cannot read its output: .*picks\.star.*; log: "):
        picker.pick(blob_tomogram(), CLASSES)


def test_a_class_without_a_template_is_refused_before_running(tmp_path):
    template = tmp_path / "ribosome.mrc"
    template.write_bytes(b"x")
    picker = make_picker(
        command=tiny("--class {class} --template {template}", out="{output}/{class}.star"),
        output="{class}.star",
        templates=f"ribosome:{template}",
    )
    with pytest.raises(InputError, match=r"class\(es\) \['apo-ferritin'\] have no template"):
        picker.pick(blob_tomogram(), CLASSES)
    assert picker.log_files(["TS_9"]) == {}  # nothing ran
    template.unlink()
    with pytest.raises(
        InputError, match=r"template of class 'ribosome' not found: .*ribosome\.mrc"
    ):
        picker.pick(blob_tomogram(), CLASSES.__class__((CLASSES["ribosome"],)))


def test_a_template_pattern_without_files_names_the_pattern(tmp_path):
    picker = make_picker(
        command=tiny("--template {template}"), templates=str(tmp_path / "{class}.mrc")
    )
    with pytest.raises(InputError, match=r"have no template .*no file '.*\{class\}\.mrc'"):
        picker.pick(blob_tomogram(), CLASSES)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"command": ""}, "parameter 'command' is required"),
        ({"command": "tool {tomgram}"}, r"unknown placeholder \{tomgram\}.*'tomogram'"),
        ({"command": "tool {model}"}, r"placeholder \{model\} cannot be used here"),
        ({"command": "tool {train_star}"}, r"placeholder \{train_star\} cannot be used here"),
        ({"input": "copick"}, r"placeholder \{tomogram\} cannot be used here"),
        ({"output": "../picks.star"}, "must be a path inside the output folder"),
        ({"output": "/tmp/picks.star"}, "must be a path inside the output folder"),
        ({"format": "probability"}, "parameter 'output' must use {class}"),
        ({"format": "xml"}, "parameter 'format' must be one of"),
        ({"input": "zarr"}, "parameter 'input' must be one of"),
        ({"timeout_s": 0}, "parameter 'timeout_s' must be a positive number"),
        ({"threads": 0}, "parameter 'threads' must be an integer >= 1"),
        ({"seg_method": "blobs"}, "parameter 'seg_method' must be one of"),
        ({"seg_threshold": "nan"}, "parameter 'seg_threshold' must be a finite number"),
        ({"command": "tool {template}"}, "uses {template} but parameter 'templates' is empty"),
        ({"command": "tool {mask}", "masks": "ribosome"}, "expected 'class:path,class:path'"),
        ({"version_command": "tool {tomogram}"}, r"\{tomogram\} cannot be used here"),
        ({"train_command": "train {output}"}, r"\{output\} cannot be used here"),
    ],
)
def test_bad_parameters_are_refused_at_creation(params, message):
    with pytest.raises(InputError, match=message):
        make_picker(**params)


def test_a_trainable_picker_needs_a_train_command():
    with pytest.raises(InputError, match="'train_command' is required for a trainable picker"):
        TrainableCommandPicker(command=tiny())
    with pytest.raises(InputError, match="fit needs parameter 'train_command'"):
        CommandPicker(command=tiny()).fit(None, [])


def test_a_failing_train_command_names_the_fit_log(tmp_path):
    from topcup_bench.datasets.catalog import open_dataset

    dataset = open_dataset("phantom:tiny", progress=False)
    picker = make_picker(train_command="{python} -c 'import sys; sys.exit(7)' {model}")
    with pytest.raises(ToolError, match=r"exited with status 7.*fit\.log"):
        picker.fit(dataset, list(dataset.splits["train"])[:1])
    assert "fit" in picker.log_files([])


def test_copick_input_needs_a_copick_dataset():
    with pytest.raises(InputError, match="dataset 'folder'.*not a copick project"):
        copick_config(types.SimpleNamespace(name="folder"), "input=copick")


def _write_map(path: Path, data: np.ndarray) -> Path:
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(data)
    return path


def _read(found, fmt="probability"):
    return read_outputs(
        found,
        fmt=fmt,
        tomogram=blob_tomogram(),
        classes=CLASSES,
        seg_method="nms",
        seg_threshold=0.5,
        picker="mine",
    )


def test_a_map_of_another_shape_is_refused(tmp_path):
    path = _write_map(tmp_path / "ribosome.mrc", np.zeros((48, 40, 32), dtype=np.float32))
    with pytest.raises(
        ToolError, match=r"map shape \(z, y, x\) \(48, 40, 32\) differs .*\(32, 40, 48\)"
    ):
        _read([(path, "ribosome")])


def test_a_probability_map_needs_its_class_and_a_map_must_be_an_mrc(tmp_path):
    path = _write_map(tmp_path / "map.mrc", np.zeros((32, 40, 48), dtype=np.float32))
    with pytest.raises(InputError, match="a probability map needs its class"):
        _read([(path, None)])
    garbage = tmp_path / "garbage.mrc"
    garbage.write_bytes(b"not an MRC file at all")
    with pytest.raises(InputError, match=r"garbage\.mrc: cannot read the MRC map"):
        _read([(garbage, "ribosome")])


def test_an_empty_output_file_means_no_picks(tmp_path):
    empty = tmp_path / "picks.star"
    empty.write_bytes(b"")
    table = _read([(empty, None)], fmt="star")
    assert table.empty and list(table.columns)[-1] == "score"


def test_picks_inside_the_box_or_of_other_runs_pass_the_box_check():
    tomogram = blob_tomogram()  # extent 480 × 400 × 320 Å
    inside = pd.DataFrame(
        {
            "experiment": ["TS_9", "TS_9", "other"],
            "x": [0.0, 480.0 + 34.0, 9999.0],  # within 5 % + one voxel (34 Å)
            "y": [0.0, 400.0, 9999.0],
            "z": [-26.0, 320.0, 9999.0],
        }
    )
    check_inside_box(inside, tomogram, source="t")
    with pytest.raises(ToolError, match=r"t: 1 of 1 picks lie outside the tomogram"):
        check_inside_box(inside.assign(experiment="TS_9").iloc[2:], tomogram, source="t")


def test_a_run_out_of_time_before_a_step_names_the_step():
    picker = make_picker(timeout_s=1e-9)
    with pytest.raises(ToolError, match=r"timed out after 1e-09 s \(timeout_s\) before python"):
        picker.pick(blob_tomogram(), CLASSES)
