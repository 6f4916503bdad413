"""The registered ``topcup`` picker: training through fit, the cache, weights=, class mapping."""

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from topcup_bench.errors import InputError  # noqa: E402
from topcup_bench.pickers import DEFAULT_PICKERS, create_picker, split_picker_list  # noqa: E402
from topcup_bench.pickers.topcup import picker as picker_module  # noqa: E402
from topcup_bench.pickers.topcup import train as train_module  # noqa: E402
from topcup_bench.types import ClassCatalogue, Tomogram  # noqa: E402

torch.set_num_threads(2)

TINY = {
    "backbone": "resnet10", "decoder_channels": "32,16,16,8,8", "steps": "2", "members": "2",
    "roi": "32", "tta": "false", "device": "cpu",
}  # fmt: skip


@pytest.fixture(scope="module")
def dataset(tiny_phantom):
    return tiny_phantom


@pytest.fixture(scope="module")
def fitted(dataset):
    picker = create_picker("topcup", TINY)
    picker.fit(dataset, list(dataset.splits["train"]))
    return picker


def test_topcup_is_registered_and_in_the_default_run():
    assert "topcup" in DEFAULT_PICKERS
    picker = create_picker("topcup", {"weights": "a.pt,b.pt", "budget": "standard"})
    assert picker.weights == "a.pt,b.pt" and picker.card().trainable
    assert split_picker_list("topcup:weights=a.pt,b.pt;decoder_channels=32,16,8,8,8,blob") == [
        "topcup:weights=a.pt,b.pt;decoder_channels=32,16,8,8,8",
        "blob",
    ]
    with pytest.raises(InputError, match="budget must be one of"):
        create_picker("topcup", {"budget": "huge"})
    with pytest.raises(InputError, match="roi must be a multiple of 32"):
        create_picker("topcup", {"roi": "48"})
    with pytest.raises(InputError, match="decoder_channels must be integers"):
        create_picker("topcup", {"decoder_channels": "a,b"})


def test_fit_trains_members_on_nested_subsets_and_picks(dataset, fitted):
    runs = list(dataset.splits["train"])
    assert fitted.trained_on == tuple(runs) and len(fitted._models) == 2
    assert [m["split"]["train"] for m in fitted._metadata] == [runs[:1], runs]
    tomogram = dataset.tomogram(dataset.splits["test"][0])
    picks = fitted.pick(tomogram, dataset.classes)
    assert list(picks.columns) == ["experiment", "particle_type", "x", "y", "z", "score"]
    assert (picks["experiment"] == tomogram.run).all()
    assert picks["particle_type"].isin(dataset.classes.names).all()
    assert (picks["score"] > fitted.min_score).all() and (picks["score"] <= 1).all()
    extent = np.array(tomogram.shape_zyx[::-1]) * tomogram.voxel_size_angstrom
    xyz = picks[["x", "y", "z"]].to_numpy()
    assert ((xyz >= 0) & (xyz < extent)).all()
    # no validated thresholds were recorded: the picker's own threshold applies
    assert fitted.thresholds(dataset.classes) == dict.fromkeys(dataset.classes.names, 0.2)


def test_second_fit_loads_the_cached_ensemble(dataset, fitted, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("the cached ensemble should have been used")

    monkeypatch.setattr(train_module, "train_model", no_training)
    again = create_picker("topcup", TINY)
    again.fit(dataset, list(dataset.splits["train"]))
    for a, b in zip(again._models, fitted._models, strict=True):
        for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
            assert torch.equal(x, y)
    other_seed = create_picker("topcup", {**TINY, "seed": "1"})
    runs = list(dataset.splits["train"])
    assert other_seed.cache_folder(dataset, runs) != again.cache_folder(dataset, runs)
    with pytest.raises(AssertionError, match="cached ensemble"):
        other_seed.fit(dataset, list(dataset.splits["train"]))


def test_members_are_keyed_by_the_training_runs_only(dataset):
    from topcup_bench.datasets.catalog import open_dataset

    # one more run, and another test split: the same tomograms TS_000 and TS_001 to train on
    larger = open_dataset("phantom:tiny-easy?runs=4&test=2", progress=False)
    runs = list(dataset.splits["train"])
    assert runs == ["TS_000", "TS_001"] and larger.run_digest("TS_001") == dataset.run_digest(
        "TS_001"
    )
    assert larger.identity()["digest"] != dataset.identity()["digest"]
    picker = create_picker("topcup", TINY)
    assert picker.cache_folder(larger, runs) == picker.cache_folder(dataset, runs)
    # another training run (other content), or fewer runs: other members
    assert picker.cache_folder(larger, ["TS_000", "TS_002"]) != picker.cache_folder(dataset, runs)
    assert picker.cache_folder(dataset, runs[:1]) != picker.cache_folder(dataset, runs)


def test_weights_parameter_loads_trained_checkpoints(dataset, tmp_path):
    runs = list(dataset.splits["train"])
    result = train_model_tiny(dataset, runs[:1], val_runs=runs[1:], out_dir=tmp_path / "t")
    picker = create_picker(
        "topcup", {**TINY, "weights": f"{result.checkpoint},{result.checkpoint}"}
    )
    picker.fit(dataset, ["ignored"])
    assert len(picker._models) == 2 and picker.trained_on == tuple(runs[:1])
    # own thresholds: the validated ones stored in the checkpoint
    assert picker.thresholds(dataset.classes) == {
        n: result.best.thresholds.get(n, 0.2) for n in dataset.classes.names
    }
    picks = picker.pick(dataset.tomogram(dataset.splits["test"][0]), dataset.classes)
    assert len(picks) > 0


def train_model_tiny(dataset, runs, **kwargs):
    return train_module.train_model(
        dataset, runs, backbone="resnet10", steps=2, crop=32, batch_size=1, device="cpu",
        progress=False, model_kwargs={"decoder_channels": (32, 16, 16, 8, 8)}, **kwargs,
    )  # fmt: skip


def test_channels_map_by_name_and_bad_inputs_are_clear(dataset, fitted):
    tomogram = dataset.tomogram(dataset.splits["test"][0])
    fewer = ClassCatalogue([c for c in dataset.classes if c.name != "ribosome"])
    with pytest.raises(InputError, match=r"checkpoint classes \['ribosome'\] are not in"):
        fitted.pick(tomogram, fewer)
    # a reordered catalogue gives the same picks: channels follow names, not order
    reordered = ClassCatalogue(list(dataset.classes)[::-1])
    a = fitted.pick(tomogram, dataset.classes).sort_values(["particle_type", "x", "y", "z"])
    b = fitted.pick(tomogram, reordered).sort_values(["particle_type", "x", "y", "z"])
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    coarse = dataclasses.replace(tomogram, voxel_size_angstrom=tomogram.voxel_size_angstrom * 1.5)
    with pytest.raises(InputError, match="far from the checkpoint's"):
        fitted.pick(coarse, dataset.classes)
    with pytest.raises(InputError, match="call fit first"):
        create_picker("topcup", TINY).pick(tomogram, dataset.classes)
    with pytest.raises(InputError, match="checkpoint file not found"):
        create_picker("topcup", {**TINY, "weights": "/nonexistent/model.pt"}).fit(dataset, [])
    assert isinstance(tomogram, Tomogram)


def test_picker_is_picklable_with_its_networks(fitted):
    import pickle

    clone = pickle.loads(pickle.dumps(fitted))
    assert len(clone._models) == len(fitted._models)
    assert picker_module.TopCUPPicker.name == "topcup"
