"""The ``topcup`` picker's ``pretrain`` and ``init_weights`` options."""

import json

import pytest

from topcup_bench.errors import InputError
from topcup_bench.pickers import create_picker
from topcup_bench.pickers.topcup.transfer import file_sha256

TINY_NET = {"backbone": "resnet10", "decoder_channels": "16,8,8,8,8", "tta": False}
#: A pretraining set that is not the benchmark: another seed of the same preset.
OTHER_SET = "phantom:tiny-easy?runs=2&test=1&seed=11"


def _member_config(folder, index=0):
    return json.loads((folder / f"member{index}" / "config.json").read_text())


def test_init_weights_and_pretrain_are_exclusive(tmp_path):
    start = tmp_path / "start.pt"
    start.write_bytes(b"x")
    with pytest.raises(InputError, match="not both"):
        create_picker("topcup", {"init_weights": str(start), "pretrain": OTHER_SET})


def test_weights_cannot_be_combined_with_a_training_start(tmp_path):
    start = tmp_path / "start.pt"
    start.write_bytes(b"x")
    with pytest.raises(InputError, match="trains nothing"):
        create_picker("topcup", {"weights": str(start), "init_weights": str(start)})
    with pytest.raises(InputError, match="trains nothing"):
        create_picker("topcup", {"weights": str(start), "pretrain": OTHER_SET})


def test_missing_init_weights_file_is_named(tmp_path):
    missing = tmp_path / "nope.pt"
    with pytest.raises(InputError, match="nope.pt.*not found"):
        create_picker("topcup", {"init_weights": str(missing)})


def test_pretrain_steps_default_to_one_members_budget():
    assert create_picker("topcup", {"pretrain": OTHER_SET})._pretrain_steps() == 100  # quick
    standard = create_picker("topcup", {"budget": "standard", "pretrain": OTHER_SET})
    assert standard._pretrain_steps() == 300  # 3 epochs of 100 steps
    assert create_picker("topcup", {"pretrain": OTHER_SET, "steps": 7})._pretrain_steps() == 7
    given = create_picker("topcup", {"pretrain": OTHER_SET, "steps": 7, "pretrain_steps": 5})
    assert given._pretrain_steps() == 5


def test_full_budget_needs_explicit_pretrain_steps():
    picker = create_picker("topcup", {"budget": "full", "pretrain": OTHER_SET})
    with pytest.raises(InputError, match="pretrain_steps"):
        picker._pretrain_steps()


def test_pretraining_on_the_benchmark_itself_is_refused(tiny_phantom):
    picker = create_picker("topcup", {**TINY_NET, "steps": 1, "pretrain": tiny_phantom.spec})
    with pytest.raises(InputError, match="same tomogram as the benchmark"):
        picker.fit(tiny_phantom, tiny_phantom.split("train")[:1])


def test_unknown_pretraining_dataset_names_the_parameter(tiny_phantom):
    picker = create_picker("topcup", {**TINY_NET, "steps": 1, "pretrain": "phantom:nosuch"})
    with pytest.raises(InputError, match="pretrain='phantom:nosuch'"):
        picker.fit(tiny_phantom, tiny_phantom.split("train")[:1])


def test_members_start_from_the_pretrained_network_and_are_cached(tiny_phantom, monkeypatch):
    params = {**TINY_NET, "members": 1, "steps": 1, "pretrain": OTHER_SET, "pretrain_steps": 1}
    picker = create_picker("topcup", params)
    runs = tiny_phantom.split("train")[:1]
    picker.fit(tiny_phantom, runs)
    folder = picker.cache_folder(tiny_phantom, runs)
    start = folder / "pretrain.pt"
    assert start.is_file()
    config = _member_config(folder)
    assert config["init_weights"]["sha256"] == file_sha256(start)
    assert config["total_steps"] == 1
    pretrain_config = json.loads((folder / "pretrain" / "config.json").read_text())
    assert pretrain_config["seed"] == 1  # seed + members
    assert len(pretrain_config["train_runs"]) == 2  # every run of the pretraining set
    # a plain picker with the same options trains elsewhere (the start is part of the key)
    plain = create_picker("topcup", {**TINY_NET, "members": 1, "steps": 1})
    assert plain.cache_folder(tiny_phantom, runs) != folder

    def no_training(*args, **kwargs):
        raise AssertionError("trained again instead of using the cache")

    monkeypatch.setattr("topcup_bench.pickers.topcup.train.train_model", no_training)
    again = create_picker("topcup", params)
    again.fit(tiny_phantom, runs)
    assert len(again._models) == 1


def test_init_weights_start_every_member(tiny_phantom, tmp_path):
    from topcup_bench.pickers.topcup.checkpoint import save_checkpoint
    from topcup_bench.pickers.topcup.model import build_model

    classes = tiny_phantom.classes
    start = save_checkpoint(
        tmp_path / "start.pt",
        build_model("resnet10", len(classes), decoder_channels=(16, 8, 8, 8, 8)),
        classes=classes.names,
        radii_angstrom={c.name: c.radius_angstrom for c in classes},
        voxel_size_angstrom=tiny_phantom.voxel_size_angstrom,
    )
    params = {**TINY_NET, "members": 2, "steps": 1, "init_weights": str(start)}
    picker = create_picker("topcup", params)
    runs = tiny_phantom.split("train")[:2]
    picker.fit(tiny_phantom, runs)
    folder = picker.cache_folder(tiny_phantom, runs)
    for index in range(2):
        init = _member_config(folder, index)["init_weights"]
        assert init["sha256"] == file_sha256(start)
        assert sorted(init["mapped"]) == sorted(classes.names)
        assert init["new"] == [] and init["dropped"] == []
