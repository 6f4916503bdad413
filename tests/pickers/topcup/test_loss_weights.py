"""Per-class loss weights: copick ``metadata.class_loss_weight`` → ParticleClass → the loss."""

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from topcup_bench.datasets import catalogue_from_copick_config  # noqa: E402
from topcup_bench.errors import CopickSourceError, InputError  # noqa: E402
from topcup_bench.pickers.topcup import train as train_module  # noqa: E402
from topcup_bench.pickers.topcup.loss import (  # noqa: E402
    catalogue_class_weights,
    class_weights,
    weights_tensor,
)
from topcup_bench.pickers.topcup.train import train_model  # noqa: E402
from topcup_bench.types import ClassCatalogue, ParticleClass  # noqa: E402

torch.set_num_threads(2)


def test_catalogue_weights_use_loss_weight_where_set_else_the_particle_weight():
    catalogue = ClassCatalogue(
        (
            ParticleClass("a", 60.0),
            ParticleClass("b", 90.0, loss_weight=4.0),
            ParticleClass("c", 120.0, loss_weight=0.0),
        )
    )
    weights = catalogue_class_weights(catalogue, 256.0)
    assert weights == {"a": 256.0, "b": 4.0, "c": 0.0}
    assert list(weights) == ["a", "b", "c"]  # channel order
    assert weights_tensor(list(weights.values())).tolist() == [256.0, 4.0, 0.0, 1.0]
    # without loss weights: exactly the recipe's tensor, as before
    plain = catalogue_class_weights(ClassCatalogue((ParticleClass("a", 60.0),)), 64.0)
    assert torch.equal(weights_tensor(list(plain.values())), class_weights(1, 64.0))


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_particle_class_refuses_a_bad_loss_weight(bad):
    with pytest.raises(InputError, match="'a'.*loss_weight must be a non-negative finite"):
        ParticleClass("a", 60.0, loss_weight=bad)


def _copick_config(tmp_path, objects):
    path = tmp_path / "config.json"
    config = {
        "config_type": "filesystem",
        "name": "test",
        "description": "loss weights",
        "version": "1.31.0",
        "pickable_objects": objects,
        "overlay_root": f"local://{tmp_path / 'overlay'}",
        "overlay_fs_args": {"auto_mkdir": True},
    }
    path.write_text(json.dumps(config))
    return path


def test_copick_metadata_class_loss_weight_becomes_loss_weight(tmp_path):
    config = _copick_config(
        tmp_path,
        [
            {"name": "ribosome", "is_particle": True, "label": 1, "radius": 150.0,
             "metadata": {"class_loss_weight": 128, "score_threshold": 0.25}},
            {"name": "apo-ferritin", "is_particle": True, "label": 2, "radius": 60.0},
        ],
    )  # fmt: skip
    catalogue = catalogue_from_copick_config(config)
    assert catalogue["ribosome"].loss_weight == 128.0
    assert catalogue["ribosome"].score_threshold == 0.25
    assert catalogue["apo-ferritin"].loss_weight is None
    assert catalogue_class_weights(catalogue, 256.0) == {"ribosome": 128.0, "apo-ferritin": 256.0}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-2, "'ribosome': metadata.class_loss_weight must be >= 0, found -2.0"),
        ("heavy", "'ribosome': metadata.class_loss_weight must be a finite number, found 'heavy'"),
        (True, "'ribosome': metadata.class_loss_weight must be a finite number, found True"),
    ],
)
def test_copick_bad_class_loss_weight_names_config_object_and_value(tmp_path, value, message):
    config = _copick_config(
        tmp_path,
        [{"name": "ribosome", "is_particle": True, "label": 1, "radius": 150.0,
          "metadata": {"class_loss_weight": value}}],
    )  # fmt: skip
    with pytest.raises(CopickSourceError, match=message) as caught:
        catalogue_from_copick_config(config)
    assert str(config) in str(caught.value)


class _ClassesView:
    """The dataset with another class catalogue (same tomograms and truth)."""

    def __init__(self, base, classes):
        self._base, self.classes = base, classes

    def __getattr__(self, name):
        return getattr(self._base, name)


def test_training_uses_and_records_the_class_loss_weights(tiny_phantom, monkeypatch):
    classes = [
        ParticleClass(c.name, c.radius_angstrom, c.weight, c.label, loss_weight=float(i))
        if i % 2 == 0
        else c
        for i, c in enumerate(tiny_phantom.classes)
    ]
    dataset = _ClassesView(tiny_phantom, ClassCatalogue(tuple(classes)))
    seen = []
    real = train_module.multilevel_loss

    def spy(outputs, masks, weights, level_weights):
        seen.append(weights.detach().cpu().tolist())
        return real(outputs, masks, weights, level_weights)

    monkeypatch.setattr(train_module, "multilevel_loss", spy)
    result = train_model(
        dataset, [tiny_phantom.splits["train"][0]], backbone="resnet10", steps=1, crop=32,
        batch_size=1, device="cpu", progress=False, particle_weight=64.0,
        model_kwargs=dict(decoder_channels=(16, 8, 8, 8, 8)),
    )  # fmt: skip
    expected = [0.0, 64.0, 2.0, 64.0, 4.0, 64.0]  # loss_weight i on even channels
    assert seen == [expected + [1.0]]
    assert result.config["class_loss_weights"] == dict(
        zip(tiny_phantom.classes.names, expected, strict=True)
    )
