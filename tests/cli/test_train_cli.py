"""``topcup-bench train``: a one-step run, its outputs, and the refusals."""

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("monai")

from topcup_bench.cli import main  # noqa: E402

DATASET = "phantom:tiny-easy?runs=3&test=1"
FAST = ["--backbone", "resnet10", "--epochs", "1", "--steps-per-epoch", "1", "--crop", "32",
        "--device", "cpu", "--quiet"]  # fmt: skip


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("TOPCUP_BENCH_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def test_train_writes_a_validated_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    status = main(
        ["train", "--dataset", DATASET, "--out", str(out), *FAST, "--keep-training-state"]
    )
    captured = capsys.readouterr()
    assert status == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["checkpoint"] == str(out / "model.pt") and summary["steps"] == 1
    # default split: train on the train split less its last run, validate on that run
    assert summary["best_validation"]["runs"] == ["TS_001"]
    assert "validating on TS_001" in captured.err
    config = json.loads((out / "config.json").read_text())
    assert config["train_runs"] == ["TS_000"] and config["backbone"] == "resnet10"
    assert (out / "last.pt").is_file() and not (out / "best.pt").exists()
    # a second run into the same folder is refused (exit 2), --resume continues the finished run
    assert main(["train", "--dataset", DATASET, "--out", str(out), *FAST]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["train", "--dataset", DATASET, "--out", str(out), "--resume", *FAST]) == 0
    capsys.readouterr()
    # without --keep-training-state the resume point is gone: nothing left to resume
    assert sorted(p.name for p in out.iterdir()) == [
        "config.json", "log.csv", "metrics.json", "model.pt",
    ]  # fmt: skip
    assert main(["train", "--dataset", DATASET, "--out", str(out), "--resume", *FAST]) == 2
    err = capsys.readouterr().err
    assert "finished run" in err and "--keep-training-state" in err and str(out) in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--train-runs", "TS_000", "--val-runs", "TS_000"], "also training runs"),
        (["--train-runs", "TS_999"], "unknown runs ['TS_999']"),
        (["--device", "cuda:7"], "cuda"),
    ],
)
def test_bad_requests_exit_2_with_a_message(tmp_path, capsys, extra, message):
    import torch

    if "cuda:7" in extra and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    args = ["train", "--dataset", DATASET, "--out", str(tmp_path / "x"), *FAST, *extra]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x" / "model.pt").exists()


def test_a_foreign_out_is_refused_before_any_work_even_with_overwrite(
    tmp_path, capsys, monkeypatch
):
    import topcup_bench.datasets.catalog as catalog

    opened = []
    monkeypatch.setattr(catalog, "open_dataset", lambda *a, **k: opened.append(a))
    out = tmp_path / "ud"
    (out / "picks").mkdir(parents=True)
    (out / "results.json").write_text("{}")
    (out / "notes.txt").write_text("mine")
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    for extra in ([], ["--overwrite"], ["--resume"]):
        assert main(["train", "--dataset", DATASET, "--out", str(out), *FAST, *extra]) == 2
        err = capsys.readouterr().err
        assert "not a training run" in err and "notes.txt" in err and "--out" in err
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before
    assert (out / "notes.txt").read_text() == "mine" and opened == []
    (tmp_path / "file").write_text("x")
    assert main(["train", "--dataset", DATASET, "--out", str(tmp_path / "file" / "x"), *FAST]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
