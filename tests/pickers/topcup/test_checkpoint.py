"""Our checkpoint format and the official TopCUP / Kaggle loaders."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from topcup_bench.errors import InputError, OutputExistsError  # noqa: E402
from topcup_bench.pickers.topcup.checkpoint import (  # noqa: E402
    KAGGLE_CLASSES,
    load_checkpoint,
    load_official_checkpoint,
    save_checkpoint,
)
from topcup_bench.pickers.topcup.model import build_model  # noqa: E402
from topcup_bench.pickers.topcup.state_dicts import load_state_dict_checked, strip_prefix  # noqa: E402

torch.set_num_threads(2)
SMALL = {"decoder_channels": (16, 8, 8, 8, 8)}
CLASSES = ["ribosome", "apo-ferritin"]
RADII = {"ribosome": 150.0, "apo-ferritin": 60.0}


def small_model(n_classes=2, seed=0):
    torch.manual_seed(seed)
    return build_model("resnet10", n_classes=n_classes, **SMALL)


def assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=0)


def test_round_trip_keeps_weights_and_metadata(tmp_path):
    model, ema = small_model(seed=0), small_model(seed=1)
    path = save_checkpoint(
        tmp_path / "m.pt", model, classes=CLASSES, radii_angstrom=RADII, voxel_size_angstrom=10.0,
        thresholds={"ribosome": 0.19}, recipe={"lr": 1e-4, "epochs": 2},
        split={"train": ["TS_1"], "val": ["TS_2"]}, validation_metric={"score": 0.5},
        ema_model=ema, validated_weights="ema",
    )  # fmt: skip
    payload = torch.load(path, weights_only=True)  # plain types only
    assert payload["format"] == "topcup-bench-checkpoint"
    loaded = load_checkpoint(path)
    assert_same_weights(loaded.model, model)
    assert_same_weights(loaded.ema_model, ema)
    assert not loaded.model.training
    meta = loaded.metadata
    assert meta["classes"] == CLASSES and meta["background_channel"] == 2
    assert meta["thresholds"] == {"ribosome": 0.19} and meta["threshold_comparison"] == ">"
    assert meta["radii_angstrom"] == RADII and meta["voxel_size_angstrom"] == 10.0
    assert meta["axis_order"] == "xyz" and meta["backbone"] == "resnet10"
    assert meta["split"] == {"train": ["TS_1"], "val": ["TS_2"]}
    assert meta["validated_weights"] == "ema" and meta["recipe"]["epochs"] == 2
    assert set(meta["versions"]) == {"torch", "monai", "topcup_bench"}


def test_save_refuses_overwrite_and_bad_metadata(tmp_path):
    model = small_model()
    kwargs = {"classes": CLASSES, "radii_angstrom": RADII, "voxel_size_angstrom": 10.0}
    save_checkpoint(tmp_path / "m.pt", model, **kwargs)
    with pytest.raises(OutputExistsError):
        save_checkpoint(tmp_path / "m.pt", model, **kwargs)
    save_checkpoint(tmp_path / "m.pt", model, overwrite=True, **kwargs)
    with pytest.raises(InputError, match="unique names"):
        save_checkpoint(tmp_path / "x.pt", model, **{**kwargs, "classes": ["ribosome"]})
    with pytest.raises(InputError, match="unknown classes"):
        save_checkpoint(tmp_path / "x.pt", model, thresholds={"ribosom": 0.1}, **kwargs)
    with pytest.raises(InputError, match="lacks classes"):
        save_checkpoint(tmp_path / "x.pt", model, **{**kwargs, "radii_angstrom": {}})


def test_load_checkpoint_rejects_other_files(tmp_path):
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="other.pt.*not a topcup-bench-checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(InputError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def lightning_file(path, model, particle_ids, with_numpy=False):
    hyper = {"particle_ids": particle_ids, "particle_radius": {k: 100.0 for k in particle_ids}}
    if with_numpy:
        import numpy as np

        hyper["lvl_weights"] = np.array([0, 0, 1, 1])
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "hyper_parameters": hyper, "epoch": 3}, path)
    return path


def test_official_topcup_ckpt_loads_with_classes_from_particle_ids(tmp_path):
    model = small_model(n_classes=6)
    ids = {name: i for i, name in enumerate(reversed(KAGGLE_CLASSES))}
    path = lightning_file(tmp_path / "best.ckpt", model, ids)
    loaded = load_official_checkpoint(path, backbone="resnet10", model_kwargs=SMALL)
    assert_same_weights(loaded.model, model)
    assert loaded.metadata["classes"] == list(reversed(KAGGLE_CLASSES))
    assert loaded.metadata["source_format"] == "topcup-ckpt"


def test_official_ckpt_with_numpy_needs_trusted(tmp_path):
    model = small_model(n_classes=6)
    path = lightning_file(tmp_path / "np.ckpt", model, {"a": 0}, with_numpy=True)
    with pytest.raises(InputError, match="np.ckpt.*trusted=True"):
        load_official_checkpoint(path, backbone="resnet10", model_kwargs=SMALL)
    loaded = load_official_checkpoint(
        path, backbone="resnet10", model_kwargs=SMALL, classes=KAGGLE_CLASSES, trusted=True
    )
    assert_same_weights(loaded.model, model)


def test_kaggle_pth_loads_with_alphabetical_classes(tmp_path):
    model = small_model(n_classes=6)
    state = {f"backbone.{k}": v for k, v in model.state_dict().items()}
    torch.save({"model": state}, tmp_path / "checkpoint_last_seed1.pth")
    loaded = load_official_checkpoint(
        tmp_path / "checkpoint_last_seed1.pth", backbone="resnet10", model_kwargs=SMALL
    )
    assert_same_weights(loaded.model, model)
    assert loaded.metadata["classes"] == list(KAGGLE_CLASSES)
    assert loaded.metadata["source_format"] == "kaggle-pth"


def test_wrong_class_count_names_file_key_and_shapes(tmp_path):
    model = small_model(n_classes=5)
    state = {f"backbone.{k}": v for k, v in model.state_dict().items()}
    torch.save({"model": state}, tmp_path / "five.pth")
    with pytest.raises(InputError) as info:
        load_official_checkpoint(tmp_path / "five.pth", backbone="resnet10", model_kwargs=SMALL)
    message = str(info.value)
    assert "five.pth" in message and "segmentation_heads.0.0.weight" in message
    assert "(6, 16, 3, 3, 3)" in message and "(7, 16, 3, 3, 3)" in message


def test_wrong_architecture_and_prefix_and_layout(tmp_path):
    model = small_model(n_classes=6)
    torch.save(
        {"model": {f"backbone.{k}": v for k, v in model.state_dict().items()}}, tmp_path / "r.pth"
    )
    with pytest.raises(InputError, match="r.pth.*missing key"):
        load_official_checkpoint(tmp_path / "r.pth", backbone="resnet18", model_kwargs=SMALL)
    torch.save({"model": {"encoder.conv1.weight": torch.zeros(1)}}, tmp_path / "p.pth")
    with pytest.raises(InputError, match="p.pth.*prefix 'backbone.'"):
        load_official_checkpoint(tmp_path / "p.pth")
    torch.save({"weights": {}}, tmp_path / "l.pth")
    with pytest.raises(InputError, match="l.pth.*expected a dict"):
        load_official_checkpoint(tmp_path / "l.pth")


def test_full_size_resnet34_official_layout_loads_in_memory():
    model = build_model("resnet34")
    official = {f"model.{k}": v for k, v in model.state_dict().items()}
    fresh = build_model("resnet34")
    load_state_dict_checked(fresh, strip_prefix(official, "model.", "best.ckpt"), "best.ckpt")
    assert_same_weights(fresh, model)
