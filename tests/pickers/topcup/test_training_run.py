"""Training runs: recipes, gradient accumulation, validation, checkpoints and resume."""

import json
import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from topcup_bench.errors import InputError, OutputExistsError  # noqa: E402
from topcup_bench.pickers.topcup import train as train_module  # noqa: E402
from topcup_bench.pickers.topcup.checkpoint import load_checkpoint  # noqa: E402
from topcup_bench.pickers.topcup.recipes import nested_subsets, resolve_config  # noqa: E402
from topcup_bench.pickers.topcup.train import optimisation_step, train_model  # noqa: E402

torch.set_num_threads(2)

SMALL = dict(decoder_channels=(32, 16, 16, 8, 8))
TINY_RUN = dict(
    backbone="resnet10", crop=32, batch_size=1, device="cpu", progress=False, model_kwargs=SMALL
)


@pytest.fixture(scope="module")
def dataset(tiny_phantom):
    return tiny_phantom


# ----------------------------------------------------------------------------- recipes


def test_recipes_resolve_epoch_length_aliases_and_overrides():
    topcup = resolve_config("full", {}, n_train_runs=6)
    # published: 6 tomograms x 1112 items / 16 = 417 steps per epoch, 100 epochs
    assert topcup["recipe"] == "topcup" and topcup["steps_per_epoch"] == 417
    assert topcup["total_steps"] == 41_700 and topcup["lr"] == 1e-4
    assert topcup["schedule"] == "step" and topcup["level_weights"] == [0.0, 0.0, 1.0, 1.0]
    kaggle = resolve_config("kaggle", {}, n_train_runs=7)
    assert kaggle["steps_per_epoch"] == 7 * 1112 // 8 == 973 and kaggle["label_radius"] == 0
    assert kaggle["level_weights"] == [0.0, 0.0, 0.0, 1.0] and kaggle["ema_decay"] == 0
    quick = resolve_config("quick", {"steps": 7, "lr": 0.5, "crop": None}, n_train_runs=1)
    assert (quick["epochs"], quick["steps_per_epoch"], quick["total_steps"]) == (1, 7, 7)
    assert quick["lr"] == 0.5 and quick["crop"] == 64
    with pytest.raises(InputError, match="unknown recipe 'huge'"):
        resolve_config("huge", {}, 1)
    with pytest.raises(InputError, match="unknown training options \\['learning_rate'\\]"):
        resolve_config("quick", {"learning_rate": 1}, 1)
    with pytest.raises(InputError, match="16 crops .* accumulate = 3"):
        resolve_config("quick", {"batch_size": 4, "crops_per_item": 4, "accumulate": 3}, 1)
    assert resolve_config("quick", {"accumulate": 2}, 1)["accumulate"] == 2  # 1 item x 2 crops


def test_nested_subsets_halve_like_the_published_6_12_24():
    runs = [f"r{i}" for i in range(24)]
    assert [len(s) for s in nested_subsets(runs, 3)] == [6, 12, 24]
    assert nested_subsets(["a", "b"], 3) == [["a"], ["a"], ["a", "b"]]
    assert nested_subsets(["a"], 1) == [["a"]]


# ----------------------------------------------------------------------------- accumulation


class FourLevelNet(torch.nn.Module):
    """No batch statistics: accumulated gradients must equal the whole-batch gradient."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv3d(1, 2, 3, padding=1)  # 1 class + background

    def forward(self, x):
        y = self.conv(x)
        return [torch.nn.functional.avg_pool3d(y, k) for k in (16, 8, 4, 2)]


def test_gradient_accumulation_equals_the_whole_batch_step():
    from topcup_bench.pickers.topcup.loss import class_weights, multilevel_loss

    generator = torch.Generator().manual_seed(1)
    images = torch.randn(4, 1, 16, 16, 16, generator=generator)
    masks = torch.zeros(4, 1, 16, 16, 16)  # particle channels only; background is derived
    masks[:2, 0, 4:8, 4:8, 4:8] = 1.0
    weights = class_weights(1, 64.0)

    def loss_fn(outputs, target):
        return multilevel_loss(outputs, target, weights, (0.0, 1.0, 1.0, 1.0))

    results = []
    for accumulate in (1, 2, 4):
        model = FourLevelNet()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        loss = optimisation_step(model, optimizer, images, masks, loss_fn, accumulate=accumulate)
        results.append((loss, [p.detach().clone() for p in model.parameters()]))
    for loss, params in results[1:]:
        assert loss == pytest.approx(results[0][0], rel=1e-6)
        for a, b in zip(params, results[0][1], strict=True):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    with pytest.raises(InputError, match="cannot be split into 3"):
        optimisation_step(model, optimizer, images, masks, loss_fn, accumulate=3)


# ----------------------------------------------------------------------------- runs


def test_run_with_validation_writes_checkpoints_logs_and_metrics(dataset, tmp_path):
    train_runs, val_runs = list(dataset.splits["train"][:1]), list(dataset.splits["train"][1:])
    result = train_model(
        dataset, train_runs, val_runs=val_runs, epochs=2, steps_per_epoch=2, seed=3,
        out_dir=tmp_path / "run", **TINY_RUN,
    )  # fmt: skip
    out = tmp_path / "run"
    # each set of weights once: no best.pt copy, and the resume point is gone at the end
    assert {p.name for p in out.iterdir()} == {
        "config.json", "log.csv", "metrics.json", "model.pt",
    }  # fmt: skip
    rows = (out / "log.csv").read_text().splitlines()
    assert rows[0] == "step,epoch,loss,lr" and len(rows) == 5
    assert [r.split(",")[1] for r in rows[1:]] == ["0", "0", "1", "1"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [0, 1]
    scores = [e["validation"]["score"] for e in metrics["epochs"]]
    assert all(0 <= s <= 1 for s in scores)
    assert metrics["best_epoch"] == scores.index(max(scores)) == result.best_epoch
    assert result.best.score == max(scores) and result.best.runs == val_runs
    config = json.loads((out / "config.json").read_text())
    assert config["recipe"] == "quick" and config["val_runs"] == val_runs
    loaded = load_checkpoint(out / "model.pt")
    meta = loaded.metadata
    assert meta["split"] == {"train": train_runs, "val": val_runs}
    # model.pt holds only the validated (EMA) weights, as its plain state_dict
    assert meta["validated_weights"] == "ema" and loaded.ema_model is None
    assert meta["thresholds"] == result.best.thresholds
    assert meta["validation_metric"]["score"] == result.best.score
    assert meta["validation_metric"]["epoch"] == result.best_epoch
    assert meta["voxel_size_angstrom"] == dataset.voxel_size_angstrom
    assert meta["recipe"]["class_loss_weights"] == dict.fromkeys(dataset.classes.names, 256.0)
    assert loaded.inference_model is loaded.model
    # a second run into the same folder must be asked for
    with pytest.raises(OutputExistsError, match="resume"):
        train_model(dataset, train_runs, epochs=1, steps_per_epoch=1, out_dir=out, **TINY_RUN)


def test_validation_runs_must_not_overlap_training_runs(dataset):
    runs = list(dataset.splits["train"])
    with pytest.raises(InputError, match="also training runs"):
        train_model(dataset, runs, val_runs=runs[:1], steps=1, **TINY_RUN)


def test_resumed_run_equals_an_uninterrupted_run(dataset, tmp_path, monkeypatch):
    runs = list(dataset.splits["train"][:1])
    kwargs = dict(epochs=2, steps_per_epoch=2, seed=4, **TINY_RUN)
    straight = train_model(dataset, runs, out_dir=tmp_path / "a", **kwargs)

    calls = []

    def stop_after_first_epoch(record):
        calls.append(record["epoch"])
        raise KeyboardInterrupt  # after last.pt of epoch 0 was written

    monkeypatch.setattr(train_module, "_epoch_summary", stop_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        train_model(dataset, runs, out_dir=tmp_path / "b", **kwargs)
    monkeypatch.undo()
    assert calls == [0] and (tmp_path / "b" / "last.pt").is_file()
    assert not (tmp_path / "b" / "model.pt").exists()
    with pytest.raises(InputError, match="different configuration .*lr"):
        train_model(dataset, runs, out_dir=tmp_path / "b", resume=True, lr=0.5, **kwargs)
    resumed = train_model(dataset, runs, out_dir=tmp_path / "b", resume=True, **kwargs)
    assert resumed.losses == straight.losses and len(resumed.losses) == 4
    for a, b in zip(
        resumed.ema_model.state_dict().values(), straight.ema_model.state_dict().values(),
        strict=True,
    ):  # fmt: skip
        assert torch.equal(a, b)
    rows = (tmp_path / "b" / "log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1", "2", "3"]


def test_mixup_tilt_and_accumulation_run_and_stay_finite(dataset):
    runs = list(dataset.splits["train"][:1])
    result = train_model(
        dataset, runs, steps=2, mixup=True, tilt=True, accumulate=2, crops_per_item=4,
        validate_weights="raw", **TINY_RUN,
    )  # fmt: skip
    assert len(result.losses) == 2 and all(math.isfinite(v) for v in result.losses)
    assert result.config["mixup"] and result.config["accumulate"] == 2
    assert result.best is None and result.checkpoint is None
