"""The ``topcup`` picker's operating point: checkpoint, then copick ``score_threshold``, then
``threshold``; official ``score_thresholds`` (> 0) and what the runner reports."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from topcup_bench.datasets.catalog import open_dataset  # noqa: E402
from topcup_bench.errors import InputError  # noqa: E402
from topcup_bench.pickers import create_picker  # noqa: E402
from topcup_bench.pickers.topcup.checkpoint import (  # noqa: E402
    KAGGLE_CLASSES,
    load_official_checkpoint,
    save_checkpoint,
)
from topcup_bench.pickers.topcup.model import build_model  # noqa: E402
from topcup_bench.runner import run_pickers  # noqa: E402
from topcup_bench.types import ClassCatalogue  # noqa: E402

torch.set_num_threads(2)
SMALL = {"decoder_channels": (16, 8, 8, 8, 8)}
PICKER = {
    "backbone": "resnet10", "decoder_channels": "16,8,8,8,8", "roi": "32", "tta": "false",
    "device": "cpu", "trusted": "true", "threshold": "0.22",
}  # fmt: skip
#: The TopCUP copick metadata thresholds (topcup.md §8.3), alphabetical class order,
#: with thyroglobulin 0 and virus-like-particle -1: "search" in the official code.
OFFICIAL = dict(zip(KAGGLE_CLASSES, (0.16, 0.25, 0.13, 0.19, 0.0, -1.0), strict=True))


def small_model(seed=0):
    torch.manual_seed(seed)
    return build_model("resnet10", n_classes=6, **SMALL)


def official_ckpt(path, thresholds, seed=0):
    """A TopCUP Lightning file: ``model.`` keys and SegNet hyper-parameters with NumPy."""
    model = small_model(seed)
    hyper = {
        "nclasses": 6,
        "lvl_weights": np.array([0, 0, 1, 1]),  # as the real files: needs weights_only=False
        "particle_ids": {name: i for i, name in enumerate(KAGGLE_CLASSES)},
        "particle_radius": dict.fromkeys(KAGGLE_CLASSES, 100.0),
        "particle_weights": dict.fromkeys(KAGGLE_CLASSES, 1.0),
        "class_loss_weights": {name: float(i + 1) for i, name in enumerate(KAGGLE_CLASSES)},
        "score_thresholds": dict(thresholds),
    }
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "hyper_parameters": hyper, "epoch": 9}, path)
    return path


def catalogue(score_thresholds):
    return ClassCatalogue(
        tuple(
            dataclasses.replace(c, score_threshold=score_thresholds.get(c.name))
            for c in ClassCatalogue.coerce(None)
        )
    )


def test_official_loader_keeps_thresholds_above_zero_and_loss_weights(tmp_path):
    path = official_ckpt(tmp_path / "topcup_phantom_6_tomograms.ckpt", OFFICIAL)
    with pytest.raises(InputError, match="topcup_phantom_6_tomograms.ckpt.*trusted=True"):
        load_official_checkpoint(path, backbone="resnet10", model_kwargs=SMALL)
    loaded = load_official_checkpoint(path, backbone="resnet10", model_kwargs=SMALL, trusted=True)
    meta = loaded.metadata
    assert meta["score_thresholds"] == OFFICIAL
    assert meta["thresholds"] == {
        "apo-ferritin": 0.16, "beta-amylase": 0.25, "beta-galactosidase": 0.13, "ribosome": 0.19,
    }  # fmt: skip
    assert meta["threshold_comparison"] == ">"
    assert meta["class_loss_weights"]["virus-like-particle"] == 6.0
    assert meta["particle_weights"] == dict.fromkeys(KAGGLE_CLASSES, 1.0)


def test_order_is_checkpoint_then_copick_then_parameter(tmp_path):
    path = official_ckpt(tmp_path / "a.ckpt", OFFICIAL)
    picker = create_picker("topcup", {**PICKER, "weights": str(path)})
    classes = catalogue({"thyroglobulin": 0.3, "ribosome": 0.9})  # ribosome: the checkpoint wins
    assert picker.thresholds(classes) == {
        "apo-ferritin": 0.16, "beta-amylase": 0.25, "beta-galactosidase": 0.13, "ribosome": 0.19,
        "thyroglobulin": 0.3, "virus-like-particle": 0.22,
    }  # fmt: skip
    assert picker.threshold_sources(classes) == {
        "apo-ferritin": "checkpoint", "beta-amylase": "checkpoint",
        "beta-galactosidase": "checkpoint", "ribosome": "checkpoint",
        "thyroglobulin": "copick", "virus-like-particle": "parameter",
    }  # fmt: skip


def test_median_over_the_members_that_have_a_threshold(tmp_path):
    files = [
        official_ckpt(tmp_path / "m0.ckpt", {"ribosome": 0.1, "apo-ferritin": 0.1}, seed=0),
        official_ckpt(tmp_path / "m1.ckpt", {"ribosome": 0.3, "apo-ferritin": 0.4}, seed=1),
        official_ckpt(tmp_path / "m2.ckpt", {"ribosome": 0.2, "apo-ferritin": 0.0}, seed=2),
    ]
    picker = create_picker("topcup", {**PICKER, "weights": ",".join(map(str, files))})
    got = picker.thresholds(catalogue({}))
    assert got["ribosome"] == pytest.approx(0.2)  # median of 0.1, 0.3, 0.2
    assert got["apo-ferritin"] == pytest.approx(0.25)  # median of 0.1, 0.4 (0: no threshold)
    assert got["thyroglobulin"] == 0.22
    assert picker.threshold_sources(catalogue({}))["apo-ferritin"] == "checkpoint"


def test_bad_threshold_values_name_the_file_and_field(tmp_path):
    path = official_ckpt(tmp_path / "bad.ckpt", {"ribosome": "high"})
    with pytest.raises(InputError, match=r"bad.ckpt.*\['score_thresholds'\]\['ribosome'\].*'high'"):
        load_official_checkpoint(path, backbone="resnet10", model_kwargs=SMALL, trusted=True)
    model = small_model()
    hyper = {"particle_ids": {n: i for i, n in enumerate(KAGGLE_CLASSES)}, "score_thresholds": 0.2}
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "hyper_parameters": hyper}, tmp_path / "flat.ckpt")
    with pytest.raises(
        InputError, match=r"flat.ckpt.*must map class names to numbers, found float"
    ):
        load_official_checkpoint(tmp_path / "flat.ckpt", backbone="resnet10", model_kwargs=SMALL)
    none = official_ckpt(tmp_path / "none.ckpt", {"ribosome": None, "apo-ferritin": 0.3})
    loaded = load_official_checkpoint(none, backbone="resnet10", model_kwargs=SMALL, trusted=True)
    assert loaded.metadata["thresholds"] == {"apo-ferritin": 0.3}


@pytest.fixture(scope="module")
def copick_with_thresholds(tiny_phantom, tmp_path_factory):
    """A copy of the tiny phantom's copick config whose objects carry ``score_threshold``."""
    config = json.loads(open(tiny_phantom.config_path, encoding="utf-8").read())
    values = {"ribosome": 0.31, "apo-ferritin": 0.07}
    for obj in config["pickable_objects"]:
        if obj["name"] in values:
            obj.setdefault("metadata", {})["score_threshold"] = values[obj["name"]]
    path = tmp_path_factory.mktemp("copick") / "copick_config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return open_dataset(str(path), progress=False)


def test_copick_score_threshold_is_used_and_reported_by_the_runner(copick_with_thresholds):
    dataset = copick_with_thresholds
    classes = dataset.classes
    assert classes["ribosome"].score_threshold == 0.31
    folder = Path(dataset.config_path).parent / "weights"
    folder.mkdir(exist_ok=True)
    save_checkpoint(
        folder / "ours.pt", small_model(), classes=list(classes.names),
        radii_angstrom={c.name: c.radius_angstrom for c in classes},
        voxel_size_angstrom=dataset.voxel_size_angstrom, thresholds={"beta-amylase": 0.44},
        overwrite=True,
    )  # fmt: skip
    picker = create_picker("topcup", {**PICKER, "weights": str(folder)})
    expected = {name: 0.22 for name in classes.names}
    expected.update({"ribosome": 0.31, "apo-ferritin": 0.07, "beta-amylase": 0.44})
    assert picker.thresholds(classes) == expected
    assert picker.threshold_sources(classes)["ribosome"] == "copick"
    assert picker.threshold_sources(classes)["beta-amylase"] == "checkpoint"
    assert picker.threshold_sources(classes)["thyroglobulin"] == "parameter"
    run = dataset.runs[-1]  # a plain copick project: no splits
    outcome = run_pickers([picker], dataset, [run], [], progress=False)[0]
    assert outcome.status == "ok", outcome.error
    assert outcome.thresholds == expected  # what a run scored at the picker's thresholds uses
