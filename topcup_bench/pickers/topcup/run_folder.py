"""The output folder of a training run: step log, per-epoch state, checkpoints and resume.

Used by :func:`topcup_bench.pickers.topcup.train.train_model`; see its module
docstring for the folder layout (config.json, log.csv, metrics.json, last.pt,
best.pt, model.pt).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from topcup_bench.datasets.atomic import atomic_output
from topcup_bench.errors import InputError, OutputExistsError
from topcup_bench.pickers.topcup.checkpoint import save_checkpoint
from topcup_bench.pickers.topcup.state_dicts import load_state_dict_checked, torch_load

#: Configuration keys that may differ between a run and its resumption.
_RESUME_FREE = {"device", "workers"}


@dataclass
class RunState:
    epoch: int = 0
    step: int = 0
    losses: list[float] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None
    best_epoch: int | None = None

    def record(self, loss: float, lr: float) -> None:
        self.losses.append(loss)
        self.lrs.append(lr)
        self.step += 1

    def metrics(self) -> dict[str, Any]:
        return {
            "epochs": self.history,
            "best_epoch": self.best_epoch,
            "best_validation": self.best,
            "steps": self.step,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch, "step": self.step, "losses": self.losses, "lrs": self.lrs,
            "history_json": json.dumps(self.history), "best_json": json.dumps(self.best),
            "best_epoch": self.best_epoch,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunState:
        return cls(
            epoch=int(data["epoch"]), step=int(data["step"]), losses=list(data["losses"]),
            lrs=list(data["lrs"]), history=json.loads(data["history_json"]),
            best=json.loads(data["best_json"]), best_epoch=data["best_epoch"],
        )  # fmt: skip


class StepLog:
    """Append-only CSV of steps; on resume rows after the restored step are dropped."""

    def __init__(self, path: str | Path | None, restored_step: int) -> None:
        self.file = self.writer = None
        if path is None:
            return
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        kept = []
        if restored_step and path.is_file():
            with open(path, newline="") as handle:
                kept = [row for row in csv.reader(handle)][1 : restored_step + 1]
        self.file = open(path, "w", newline="")  # noqa: SIM115
        self.writer = csv.writer(self.file)
        self.writer.writerow(["step", "epoch", "loss", "lr"])
        self.writer.writerows(kept)

    def write(self, step: int, epoch: int, loss: float, lr: float) -> None:
        if self.writer is not None:
            self.writer.writerow([step, epoch, f"{loss:.6g}", f"{lr:.6g}"])

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


#: Files a training run writes into its output folder.
RUN_FILES = ("config.json", "log.csv", "metrics.json", "last.pt", "best.pt", "model.pt")


def check_out_dir(out_dir, flag: str = "--out") -> None:
    """Refuse an ``out_dir`` that is a file or holds something other than a training run.

    A missing or empty folder, or one holding a training run (``config.json``,
    ``last.pt`` or ``model.pt``), is accepted; anything else (a benchmark
    output folder, a user's files) is refused even with ``--overwrite``,
    before any work.

    Raises
    ------
    InputError
        ``out_dir`` (or a parent) is a file.
    OutputExistsError
        ``out_dir`` holds files and is not a training-run folder.
    """
    out = Path(out_dir).resolve()
    for path in (out, *out.parents):
        if path.exists() and not path.is_dir():
            raise InputError(flag, f"{path} is a file, not a folder")
        if path.is_dir():
            break
    if not out.is_dir():
        return
    entries = sorted(p.name for p in out.iterdir())
    ours = any((out / name).is_file() for name in ("config.json", "last.pt", "model.pt"))
    if entries and (not ours or ".topcup-bench-manifest.json" in entries):
        more = f" ... ({len(entries)} entries)" if len(entries) > 5 else ""
        raise OutputExistsError(
            f"{out}: holds files that are not a training run of 'topcup-bench train' "
            f"({', '.join(entries[:5])}{more}); move them away or choose another {flag}"
        )


def prepare_out_dir(out_dir, resume: bool, overwrite: bool) -> Path | None:
    if out_dir is None:
        return None
    check_out_dir(out_dir)
    out = Path(out_dir)
    previous = [n for n in ("last.pt", "model.pt", "config.json") if (out / n).exists()]
    if previous and not (resume or overwrite):
        raise OutputExistsError(
            f"{out} already holds a training run ({', '.join(previous)}); "
            "pass --resume to continue it or --overwrite to replace it"
        )
    if overwrite and not resume:
        for name in ("last.pt", "best.pt", "model.pt", "metrics.json", "log.csv"):
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _checkpoint_metadata(dataset, cfg: dict[str, Any], state: RunState) -> dict[str, Any]:
    best = state.best or {}
    return dict(
        classes=cfg["classes"],
        radii_angstrom={c.name: c.radius_angstrom for c in dataset.classes},
        voxel_size_angstrom=dataset.voxel_size_angstrom,
        thresholds=best.get("thresholds"),
        recipe={k: v for k, v in cfg.items() if k not in ("train_runs", "val_runs", "classes")},
        split={"train": cfg["train_runs"], "val": cfg["val_runs"]},
        validation_metric=(
            {"score": best["score"], **{f"fbeta/{k}": v for k, v in best["fbeta"].items()},
             "epoch": state.best_epoch}
            if best else None
        ),
        validated_weights=cfg["validate_weights"],
    )  # fmt: skip


def save_run_checkpoint(path, model, ema, dataset, cfg, state, *, optimizer=None) -> None:
    training_state = None
    if optimizer is not None:
        training_state = {**state.to_dict(), "optimizer": optimizer.state_dict()}
    save_checkpoint(
        path, model, ema_model=ema, training_state=training_state, overwrite=True,
        **_checkpoint_metadata(dataset, cfg, state),
    )  # fmt: skip


def restore_run(path: Path, cfg, model, ema, optimizer, device) -> RunState:
    payload = torch_load(path, weights_only=True)
    saved = payload["metadata"]["recipe"]
    current = {k: v for k, v in cfg.items() if k not in ("train_runs", "val_runs", "classes")}
    differ = sorted(
        k
        for k in set(saved) | set(current)
        if k not in _RESUME_FREE and _jsonable(saved.get(k)) != _jsonable(current.get(k))
    )
    split = payload["metadata"]["split"]
    if split != {"train": cfg["train_runs"], "val": cfg["val_runs"]}:
        differ.append("train_runs/val_runs")
    if payload["metadata"]["classes"] != cfg["classes"]:
        differ.append("classes")
    if differ:
        detail = ", ".join(f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in differ[:6])
        raise InputError(str(path), f"cannot resume with a different configuration ({detail})")
    load_state_dict_checked(model, payload["state_dict"], str(path))
    if ema is not None and payload.get("ema_state_dict") is not None:
        load_state_dict_checked(ema, payload["ema_state_dict"], str(path) + " (EMA)")
    optimizer.load_state_dict(payload["training_state"]["optimizer"])
    model.to(device)
    return RunState.from_dict(payload["training_state"])


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def finish_run(out: Path, model, ema, dataset, cfg, state, keep_training_state: bool) -> Path:
    final = out / "model.pt"
    if (out / "best.pt").is_file() and state.best is not None:
        with atomic_output(final, overwrite=True) as temporary:
            temporary.write_bytes((out / "best.pt").read_bytes())
    else:
        save_run_checkpoint(final, model, ema, dataset, cfg, state)
    if not keep_training_state:
        (out / "last.pt").unlink(missing_ok=True)
    return final


def write_json(path: Path, data: Any) -> None:
    with atomic_output(path, overwrite=True) as temporary:
        temporary.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
