"""Official checkpoint layouts: wrapper prefixes, folders and glob patterns of ensembles."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from topcup_bench.errors import InputError  # noqa: E402
from topcup_bench.pickers import create_picker  # noqa: E402
from topcup_bench.pickers.topcup.checkpoint import (  # noqa: E402
    KAGGLE_CLASSES,
    load_any_checkpoint,
    load_official_checkpoint,
    resolve_checkpoint_paths,
    save_checkpoint,
)
from topcup_bench.pickers.topcup.model import build_model  # noqa: E402
from topcup_bench.pickers.topcup.state_dicts import strip_prefix, strip_wrappers  # noqa: E402

torch.set_num_threads(2)
SMALL = {"decoder_channels": (16, 8, 8, 8, 8)}
PICKER = {"backbone": "resnet10", "decoder_channels": "16,8,8,8,8", "roi": "32", "tta": "false"}
PICKER_CPU = {**PICKER, "device": "cpu"}


def small_model(seed=0, n_classes=6):
    torch.manual_seed(seed)
    return build_model("resnet10", n_classes=n_classes, **SMALL).eval()


def forward(model):
    generator = torch.Generator().manual_seed(7)
    x = torch.randn((1, 1, 32, 32, 32), generator=generator)
    with torch.no_grad():
        return model(x)[-1]


def kaggle_file(path, model, prefix="backbone."):
    torch.save({"model": {prefix + k: v for k, v in model.state_dict().items()}}, path)
    return path


def topcup_file(path, model, prefix="model."):
    ids = {name: i for i, name in enumerate(KAGGLE_CLASSES)}
    state = {prefix + k: v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "hyper_parameters": {"particle_ids": ids}}, path)
    return path


def test_strip_wrappers_removes_leading_prefixes_in_any_order():
    assert strip_wrappers("module._orig_mod.encoder.w") == "encoder.w"
    assert strip_wrappers("_orig_mod.module.encoder.w") == "encoder.w"
    assert strip_wrappers("encoder.module.w") == "encoder.module.w"
    weights = {"_orig_mod.model.module.encoder.w": 1, "module.model.decoder.w": 2}
    assert strip_prefix(weights, "model.", "f.ckpt") == {"encoder.w": 1, "decoder.w": 2}


@pytest.mark.parametrize(
    "prefix",
    [
        "module.backbone.",
        "backbone.module.",
        "_orig_mod.backbone.",
        "backbone._orig_mod.",
        "module._orig_mod.backbone.",
        "_orig_mod.backbone.module.",
    ],
)
def test_wrapped_kaggle_pth_gives_the_plain_file_outputs(tmp_path, prefix):
    model = small_model()
    plain = load_official_checkpoint(
        kaggle_file(tmp_path / "plain.pth", model), backbone="resnet10", model_kwargs=SMALL
    )
    wrapped = load_official_checkpoint(
        kaggle_file(tmp_path / "wrapped.pth", model, prefix), backbone="resnet10",
        model_kwargs=SMALL,
    )  # fmt: skip
    assert torch.equal(forward(wrapped.model), forward(plain.model))
    assert torch.equal(forward(wrapped.model), forward(model))
    assert wrapped.metadata["classes"] == list(KAGGLE_CLASSES)


@pytest.mark.parametrize(
    "prefix", ["module.model.", "model.module.", "_orig_mod.model.", "model._orig_mod.module."]
)
def test_wrapped_topcup_ckpt_gives_the_plain_file_outputs(tmp_path, prefix):
    model = small_model(seed=3)
    plain = load_official_checkpoint(
        topcup_file(tmp_path / "plain.ckpt", model), backbone="resnet10", model_kwargs=SMALL
    )
    wrapped = load_official_checkpoint(
        topcup_file(tmp_path / "w.ckpt", model, prefix), backbone="resnet10", model_kwargs=SMALL
    )
    assert torch.equal(forward(wrapped.model), forward(plain.model))
    assert torch.equal(forward(wrapped.model), forward(model))
    assert wrapped.metadata["source_format"] == "topcup-ckpt"


def test_our_format_with_compiled_key_names_loads(tmp_path):
    model = small_model(seed=4, n_classes=2)
    path = save_checkpoint(
        tmp_path / "m.pt", model, classes=["a", "b"], radii_angstrom={"a": 60.0, "b": 90.0},
        voxel_size_angstrom=10.0,
    )  # fmt: skip
    payload = torch.load(path, weights_only=True)
    payload["state_dict"] = {"_orig_mod." + k: v for k, v in payload["state_dict"].items()}
    torch.save(payload, tmp_path / "compiled.pt")
    loaded = load_any_checkpoint(tmp_path / "compiled.pt")
    assert torch.equal(forward(loaded.model), forward(model))


def test_keys_equal_once_stripped_are_refused(tmp_path):
    model = small_model()
    state = {"backbone." + k: v for k, v in model.state_dict().items()}
    state["module.backbone.encoder.conv1.weight"] = state["backbone.encoder.conv1.weight"]
    torch.save({"model": state}, tmp_path / "twice.pth")
    with pytest.raises(InputError, match=r"twice.pth.*same weight 'encoder.conv1.weight'"):
        load_official_checkpoint(tmp_path / "twice.pth", backbone="resnet10", model_kwargs=SMALL)


# ---------------------------------------------------------------- folders and patterns
def test_resolve_folders_patterns_and_files_in_order(tmp_path):
    folder = tmp_path / "ens"
    folder.mkdir()
    for name in ("b.ckpt", "a.pth", "c.pt", "notes.txt", "d.CKPT"):
        (folder / name).write_bytes(b"x")
    (folder / "sub.pt").mkdir()  # a folder named like a checkpoint is not one
    other = tmp_path / "other"
    other.mkdir()
    for name in ("z2.ckpt", "z1.ckpt", "z.pt"):
        (other / name).write_bytes(b"x")
    assert resolve_checkpoint_paths(str(folder)) == [
        folder / n for n in ("a.pth", "b.ckpt", "c.pt", "d.CKPT")
    ]
    spec = f"{other}/*.ckpt, {folder / 'c.pt'},{folder}"
    assert resolve_checkpoint_paths(spec) == [
        other / "z1.ckpt", other / "z2.ckpt", folder / "c.pt",
        *(folder / n for n in ("a.pth", "b.ckpt", "c.pt", "d.CKPT")),
    ]  # fmt: skip
    assert resolve_checkpoint_paths("") == [] and resolve_checkpoint_paths(" , ") == []
    assert resolve_checkpoint_paths([str(other / "z.pt")]) == [other / "z.pt"]
    missing = tmp_path / "missing.pt"  # a plain name is kept: loading reports it
    assert resolve_checkpoint_paths(str(missing)) == [missing]


def test_resolve_refuses_empty_folders_and_patterns_without_match(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.md").write_text("no weights here")
    with pytest.raises(InputError, match=r"empty.*holds no checkpoint file"):
        resolve_checkpoint_paths(f"{tmp_path / 'a.pt'},{empty}")
    with pytest.raises(InputError, match=r"nothing\*\.ckpt.*no checkpoint file matches"):
        resolve_checkpoint_paths(str(tmp_path / "nothing*.ckpt"))


@pytest.fixture(scope="module")
def ensemble_folder(tmp_path_factory, tiny_phantom):
    folder = tmp_path_factory.mktemp("ensemble")
    classes = list(tiny_phantom.classes.names)
    radii = {c.name: c.radius_angstrom for c in tiny_phantom.classes}
    for seed, name in ((1, "m1.pt"), (2, "m0.pt")):
        save_checkpoint(
            folder / name, small_model(seed=seed), classes=classes, radii_angstrom=radii,
            voxel_size_angstrom=tiny_phantom.voxel_size_angstrom,
        )  # fmt: skip
    return folder


def test_weights_folder_equals_the_explicit_sorted_list(tiny_phantom, ensemble_folder):
    run = tiny_phantom.splits["test"][0]
    listed = create_picker(
        "topcup", {**PICKER_CPU, "weights": f"{ensemble_folder}/m0.pt,{ensemble_folder}/m1.pt"}
    )
    by_folder = create_picker("topcup", {**PICKER_CPU, "weights": str(ensemble_folder)})
    by_glob = create_picker("topcup", {**PICKER_CPU, "weights": f"{ensemble_folder}/m*.pt"})
    reversed_list = create_picker(
        "topcup", {**PICKER_CPU, "weights": f"{ensemble_folder}/m1.pt,{ensemble_folder}/m0.pt"}
    )
    digests = [p.input_digest(tiny_phantom, run) for p in (listed, by_folder, by_glob)]
    assert digests[0] == digests[1] == digests[2]
    assert reversed_list.input_digest(tiny_phantom, run) != digests[0]  # member order counts
    tomogram = tiny_phantom.tomogram(run)
    tables = []
    for picker in (listed, by_folder, by_glob):
        picker.fit(tiny_phantom, [])
        assert len(picker._models) == 2
        tables.append(picker.pick(tomogram, tiny_phantom.classes))
    assert len(tables[0]) > 0
    for table in tables[1:]:
        assert table.equals(tables[0])


def test_adding_a_file_to_the_folder_changes_the_cache_key(tiny_phantom, tmp_path):
    classes = list(tiny_phantom.classes.names)
    radii = {c.name: c.radius_angstrom for c in tiny_phantom.classes}
    run = tiny_phantom.splits["test"][0]
    kwargs = {"classes": classes, "radii_angstrom": radii, "voxel_size_angstrom": 10.0}
    save_checkpoint(tmp_path / "a.pt", small_model(seed=5), **kwargs)
    picker = create_picker("topcup", {**PICKER_CPU, "weights": str(tmp_path)})
    before = picker.input_digest(tiny_phantom, run)
    save_checkpoint(tmp_path / "b.pt", small_model(seed=6), **kwargs)
    assert picker.input_digest(tiny_phantom, run) != before
    (tmp_path / "a.pt").unlink()
    (tmp_path / "b.pt").unlink()
    with pytest.raises(InputError, match="holds no checkpoint file"):
        picker.input_digest(tiny_phantom, run)
    with pytest.raises(InputError, match="holds no checkpoint file"):
        picker.fit(tiny_phantom, [])
