"""Training disk use and resume points: model.pt holds one set of weights, last.pt is written
every ``checkpoint_every`` steps, a run resumed mid-epoch equals an uninterrupted one."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from topcup_bench.errors import InputError  # noqa: E402
from topcup_bench.pickers.topcup import train as train_module  # noqa: E402
from topcup_bench.pickers.topcup.checkpoint import (  # noqa: E402
    load_any_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from topcup_bench.pickers.topcup.crops import CropSampler  # noqa: E402
from topcup_bench.pickers.topcup.loader import training_batches  # noqa: E402
from topcup_bench.pickers.topcup.run_folder import (  # noqa: E402
    RunState,
    check_out_dir,
    finish_run,
)
from topcup_bench.pickers.topcup.train import train_model  # noqa: E402

torch.set_num_threads(2)

TINY = dict(
    backbone="resnet10", crop=32, batch_size=1, device="cpu", progress=False,
    model_kwargs=dict(decoder_channels=(16, 8, 8, 8, 8)),
)  # fmt: skip


def _equal_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


def _payload(path):
    return torch.load(path, map_location="cpu", weights_only=True)


# ----------------------------------------------------------------------------- loader


def _sampler():
    rng = np.random.default_rng(2)
    volume = rng.normal(size=(40, 40, 40)).astype(np.float32)
    points = (np.array([[200.0, 210.0, 190.0]]), np.array([0]))
    return CropSampler({"a": volume, "b": volume[::-1].copy()}, {"a": points, "b": points}, 1,
                       10.0, crop=32, crops_per_item=1)  # fmt: skip


@pytest.mark.parametrize("workers", [0, 1])
def test_first_batch_skips_batches_without_changing_the_rest(workers):
    kw = dict(seed=3, epoch=1, items_per_epoch=6, batch_size=2, workers=workers)
    full = list(training_batches(_sampler(), **kw))
    tail = list(training_batches(_sampler(), first_batch=2, **kw))
    assert len(full) == 3 and len(tail) == 1
    np.testing.assert_array_equal(tail[0].images, full[2].images)
    np.testing.assert_array_equal(tail[0].masks, full[2].masks)
    assert list(training_batches(_sampler(), first_batch=3, **kw)) == []
    with pytest.raises(InputError, match="first_batch 4 is past"):
        list(training_batches(_sampler(), first_batch=4, **kw))
    with pytest.raises(InputError, match="first_batch must be >= 0"):
        list(training_batches(_sampler(), first_batch=-1, **kw))


# ----------------------------------------------------------------------------- resume


def test_run_resumed_mid_epoch_equals_the_uninterrupted_run(tiny_phantom, tmp_path, monkeypatch):
    runs = list(tiny_phantom.splits["train"][:1])
    kwargs = dict(epochs=1, steps_per_epoch=6, seed=2, mixup=True, checkpoint_every=2, **TINY)
    straight = train_model(tiny_phantom, runs, out_dir=tmp_path / "a", **kwargs)

    real_save = train_module.save_resume_point
    saved_at = []

    def save_then_stop(path, model, ema, dataset, cfg, state, optimizer):
        real_save(path, model, ema, dataset, cfg, state, optimizer)
        saved_at.append(state.step)
        if state.step == 4:
            raise KeyboardInterrupt  # killed right after the step-4 resume point

    monkeypatch.setattr(train_module, "save_resume_point", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train_model(tiny_phantom, runs, out_dir=tmp_path / "b", **kwargs)
    monkeypatch.undo()
    assert saved_at == [2, 4]
    out = tmp_path / "b"
    assert (out / "last.pt").is_file() and not (out / "model.pt").exists()
    state = _payload(out / "last.pt")["training_state"]
    assert (state["epoch"], state["step"], len(state["losses"])) == (0, 4, 4)
    assert len((out / "log.csv").read_text().splitlines()) == 1 + 4  # flushed with the point

    bars = []
    real_tqdm = train_module.tqdm

    def record_bar(*args, **kw):
        bars.append(kw)
        return real_tqdm(*args, **kw)

    monkeypatch.setattr(train_module, "tqdm", record_bar)
    taken = []
    real_step = train_module.optimisation_step

    def count_step(*args, **kw):
        taken.append(1)
        return real_step(*args, **kw)

    monkeypatch.setattr(train_module, "optimisation_step", count_step)
    resumed = train_model(
        tiny_phantom, runs, out_dir=out, resume=True, progress_label="topcup member 2/3 (1 run)",
        **kwargs,
    )  # fmt: skip
    assert len(taken) == 2  # steps 4 and 5 only: resumed, not restarted
    assert resumed.losses == straight.losses and len(resumed.losses) == 6
    assert _equal_weights(resumed.model, straight.model)
    assert _equal_weights(resumed.ema_model, straight.ema_model)
    # the bar starts at step 4 of 6: tqdm's rate only counts the steps taken since then
    assert [(b["desc"], b["initial"], b["total"]) for b in bars] == [
        ("topcup member 2/3 (1 run)", 4, 6)
    ]
    rows = (out / "log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1", "2", "3", "4", "5"]
    assert not (out / "last.pt").exists()  # removed at the successful end
    assert _equal_weights(load_checkpoint(out / "model.pt").inference_model, straight.ema_model)


def test_resume_points_every_n_steps_and_at_epoch_ends(tiny_phantom, tmp_path, monkeypatch):
    runs = list(tiny_phantom.splits["train"][:1])
    steps = []
    monkeypatch.setattr(train_module, "optimisation_step", lambda *a, **k: 1.0)  # no training
    monkeypatch.setattr(
        train_module, "save_resume_point", lambda *a: steps.append(a[5].step)
    )  # counted, not written
    plan = [  # (checkpoint_every, keep_training_state) -> steps with a resume point
        (2, True, [2, 3, 4, 6]),
        (2, False, [2, 3, 4]),  # no resume point after the last epoch: it would be removed
        (0, True, [3, 6]),
        (4, True, [3, 4, 6]),
        (3, True, [3, 6]),  # an epoch end is written once
    ]
    for index, (every, keep, expected) in enumerate(plan):
        steps.clear()
        train_model(
            tiny_phantom, runs, out_dir=tmp_path / f"r{index}", epochs=2, steps_per_epoch=3,
            checkpoint_every=every, keep_training_state=keep, **TINY,
        )  # fmt: skip
        assert steps == expected, (every, keep)
    for bad in (-1, 1.5, True, "10"):
        with pytest.raises(InputError, match="checkpoint_every must be an integer >= 0"):
            train_model(tiny_phantom, runs, steps=1, checkpoint_every=bad, **TINY)


# ----------------------------------------------------------------------------- files


def test_model_pt_holds_only_the_validated_weights(tiny_phantom, tmp_path):
    train_runs, val_runs = list(tiny_phantom.splits["train"][:1]), [tiny_phantom.splits["train"][1]]
    result = train_model(
        tiny_phantom, train_runs, val_runs=val_runs, steps=2, seed=1, out_dir=tmp_path / "ema",
        keep_training_state=True, **TINY,
    )  # fmt: skip
    out = tmp_path / "ema"
    assert sorted(p.name for p in out.iterdir()) == [
        "config.json", "last.pt", "log.csv", "metrics.json", "model.pt",
    ]  # fmt: skip
    model_pt, last_pt = _payload(out / "model.pt"), _payload(out / "last.pt")
    # model.pt: the EMA weights once, no optimiser state; last.pt: raw + EMA + optimiser
    assert model_pt["ema_state_dict"] is None and "training_state" not in model_pt
    assert model_pt["metadata"]["validated_weights"] == "ema"
    assert last_pt["ema_state_dict"] is not None and "optimizer" in last_pt["training_state"]
    for loader in (load_checkpoint, load_any_checkpoint):
        loaded = loader(out / "model.pt")
        assert loaded.ema_model is None
        assert _equal_weights(loaded.inference_model, result.ema_model)
    assert loaded.metadata["thresholds"] == result.best.thresholds
    # the resume point is about 4 sets of weights (raw, EMA, Adam's two moments), the result 1
    ratio = (out / "last.pt").stat().st_size / (out / "model.pt").stat().st_size
    assert 3.9 < ratio < 4.1

    raw = train_model(
        tiny_phantom, train_runs, steps=1, seed=1, out_dir=tmp_path / "raw",
        validate_weights="raw", **TINY,
    )  # fmt: skip
    loaded = load_checkpoint(tmp_path / "raw" / "model.pt")
    assert loaded.metadata["validated_weights"] == "raw" and loaded.ema_model is None
    assert _equal_weights(loaded.inference_model, raw.model)
    assert not _equal_weights(loaded.inference_model, raw.ema_model)
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == [
        "config.json", "log.csv", "metrics.json", "model.pt",
    ]  # fmt: skip


# ----------------------------------------------------------------------------- old folders


def _save_legacy_best(path, raw, ema, classes, thresholds):
    """What earlier versions wrote as best.pt: raw and EMA weights, EMA validated."""
    save_checkpoint(
        path, raw, ema_model=ema, classes=classes, radii_angstrom=dict.fromkeys(classes, 60.0),
        voxel_size_angstrom=10.0, thresholds=thresholds, validated_weights="ema",
        validation_metric={"score": 0.5, "epoch": 0},
    )  # fmt: skip


def test_an_earlier_versions_folder_is_recognised_resumed_and_converted(
    tiny_phantom, tmp_path, monkeypatch
):
    runs = list(tiny_phantom.splits["train"][:1])
    kwargs = dict(epochs=2, steps_per_epoch=2, seed=4, checkpoint_every=0, **TINY)
    straight = train_model(tiny_phantom, runs, **kwargs)

    def stop(record):
        raise KeyboardInterrupt  # after the epoch-0 resume point

    monkeypatch.setattr(train_module, "_epoch_summary", stop)
    out = tmp_path / "old"
    with pytest.raises(KeyboardInterrupt):
        train_model(tiny_phantom, runs, out_dir=out, **kwargs)
    monkeypatch.undo()
    # make last.pt look like an earlier version's: no new configuration or state keys
    payload = _payload(out / "last.pt")
    for key in ("class_loss_weights", "init_weights"):
        del payload["metadata"]["recipe"][key]
    for key in ("torch_rng", "epoch_seconds"):
        del payload["training_state"][key]
    torch.save(payload, out / "last.pt")
    check_out_dir(out)  # accepted
    resumed = train_model(tiny_phantom, runs, out_dir=out, resume=True, **kwargs)
    assert resumed.losses == straight.losses
    assert _equal_weights(resumed.ema_model, straight.ema_model)

    # a folder holding only an earlier version's best.pt is a training run, not foreign
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    names = list(tiny_phantom.classes.names)
    _save_legacy_best(
        legacy / "best.pt", straight.model, straight.ema_model, names, {names[0]: 0.3}
    )
    check_out_dir(legacy)
    # finishing such a run: best.pt becomes model.pt with only the validated (EMA) weights
    state = RunState(best={"score": 0.5}, best_epoch=0)
    final = finish_run(legacy, None, None, tiny_phantom, {}, state, keep_training_state=False)
    assert sorted(p.name for p in legacy.iterdir()) == ["model.pt"]
    loaded = load_checkpoint(final)
    assert loaded.ema_model is None and loaded.metadata["validated_weights"] == "ema"
    assert loaded.metadata["thresholds"] == {names[0]: 0.3}
    assert _equal_weights(loaded.inference_model, straight.ema_model)
