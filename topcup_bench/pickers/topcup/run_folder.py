"""The output folder of a training run: step log, resumable state, the result and resume.

Used by :func:`topcup_bench.pickers.topcup.train.train_model`; see its module
docstring for the folder layout (config.json, log.csv, metrics.json, last.pt,
model.pt). Each set of weights is written once:

* ``model.pt`` (:func:`save_result`) holds only the weights predictions use, the
  validated ones (``metadata["validated_weights"]``: the EMA or the raw weights)
  under ``state_dict``, with ``ema_state_dict`` None, so
  :attr:`~topcup_bench.pickers.topcup.state_dicts.LoadedCheckpoint.inference_model`
  returns them;
* ``last.pt`` (:func:`save_resume_point`) holds raw and EMA weights, the optimiser
  state and the step count, the only file with the optimiser state.

Folders of earlier versions (with ``best.pt``, a copy of the best validated raw
and EMA weights) are still recognised and resumed; :func:`finish_run` turns
their ``best.pt`` into ``model.pt``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from topcup_bench.datasets.atomic import atomic_output
from topcup_bench.errors import InputError, OutputExistsError
from topcup_bench.pickers.topcup.checkpoint import load_checkpoint, save_checkpoint
from topcup_bench.pickers.topcup.state_dicts import load_state_dict_checked, torch_load

#: Configuration keys that may differ between a run and its resumption.
_RESUME_FREE = {"device", "workers"}
#: Configuration keys that are no training hyper-parameters (compared separately).
_NOT_RECIPE = ("train_runs", "val_runs", "classes")


@dataclass
class RunState:
    epoch: int = 0
    step: int = 0
    losses: list[float] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None
    best_epoch: int | None = None
    #: Seconds spent in the current epoch before a mid-epoch resume point.
    epoch_seconds: float = 0.0

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
            "best_epoch": self.best_epoch, "epoch_seconds": float(self.epoch_seconds),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunState:
        return cls(
            epoch=int(data["epoch"]), step=int(data["step"]), losses=list(data["losses"]),
            lrs=list(data["lrs"]), history=json.loads(data["history_json"]),
            best=json.loads(data["best_json"]), best_epoch=data["best_epoch"],
            epoch_seconds=float(data.get("epoch_seconds", 0.0)),
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

    def flush(self) -> None:
        """Push the rows written so far to the file (before a resume point is saved)."""
        if self.file is not None:
            self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


#: Files a training run writes into its output folder.
RUN_FILES = ("config.json", "log.csv", "metrics.json", "last.pt", "model.pt")
#: Files that earlier versions wrote there too (recognised, resumed, replaced).
LEGACY_RUN_FILES = ("best.pt",)


def check_out_dir(out_dir, flag: str = "--out") -> None:
    """Refuse an ``out_dir`` that is a file or holds something other than a training run.

    A missing or empty folder, or one holding a training run (``config.json``,
    ``last.pt``, ``model.pt`` or an earlier version's ``best.pt``), is accepted;
    anything else (a benchmark output folder, a user's files) is refused even
    with ``--overwrite``, before any work.

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
    ours = any((out / name).is_file() for name in ("config.json", "last.pt", "model.pt", "best.pt"))
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
    previous = [n for n in ("last.pt", "model.pt", "best.pt", "config.json") if (out / n).exists()]
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
        recipe={k: v for k, v in cfg.items() if k not in _NOT_RECIPE},
        split={"train": cfg["train_runs"], "val": cfg["val_runs"]},
        validation_metric=(
            {"score": best["score"], **{f"fbeta/{k}": v for k, v in best["fbeta"].items()},
             "epoch": state.best_epoch}
            if best else None
        ),
        validated_weights=cfg["validate_weights"],
    )  # fmt: skip


def save_resume_point(path, model, ema, dataset, cfg, state, optimizer) -> None:
    """Write the resumable checkpoint (``last.pt``) atomically.

    Raw and EMA weights, the optimiser state, :class:`RunState` and the global
    torch CPU generator's state (``training_state["torch_rng"]``); a crash while
    writing leaves the previous file.
    """
    training_state = {
        **state.to_dict(),
        "optimizer": optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
    }
    save_checkpoint(
        path, model, ema_model=ema, training_state=training_state, overwrite=True,
        **_checkpoint_metadata(dataset, cfg, state),
    )  # fmt: skip


def save_result(path, model, ema, dataset, cfg, state) -> None:
    """Write ``model.pt`` atomically: only the validated weights, with the run's metadata.

    The EMA weights when ``cfg["validate_weights"] == "ema"`` (and there is an
    EMA), else the raw weights, under ``state_dict``; ``metadata["validated_weights"]``
    says which.
    """
    chosen = ema if cfg["validate_weights"] == "ema" and ema is not None else model
    save_checkpoint(
        path, chosen, ema_model=None, overwrite=True, **_checkpoint_metadata(dataset, cfg, state)
    )


def resume_view(cfg: dict[str, Any], classes: list[str] | None = None) -> dict[str, Any]:
    """The configuration keys a resumed run must share with the saved one.

    Leaves out :data:`_RESUME_FREE` keys, the runs and classes (compared on their
    own) and the path of ``init_weights`` (its SHA-256 identifies it). A
    configuration saved by an earlier version lacks ``class_loss_weights`` and
    ``init_weights``: they get the values that version used (``particle_weight``
    for every class, no initial weights).
    """
    view = {k: v for k, v in cfg.items() if k not in _RESUME_FREE and k not in _NOT_RECIPE}
    if "class_loss_weights" not in view and classes is not None and "particle_weight" in view:
        view["class_loss_weights"] = dict.fromkeys(classes, float(view["particle_weight"]))
    init = view.setdefault("init_weights", None)
    if isinstance(init, dict):
        view["init_weights"] = {k: v for k, v in init.items() if k != "path"}
    return _jsonable(view)


def restore_run(path: Path, cfg, model, ema, optimizer, device) -> tuple[RunState, Any]:
    """Load ``last.pt`` into ``model``, ``ema`` and ``optimizer`` after checking the configuration.

    Returns
    -------
    state : RunState
    torch_rng : torch.Tensor or None
        The global torch generator's state when the file was written (None in
        files of earlier versions).

    Raises
    ------
    InputError
        A configuration, split or class list that differs from the saved one
        (the message names the first differing keys and both values).
    """
    payload = torch_load(path, weights_only=True)
    metadata = payload["metadata"]
    saved = resume_view(metadata["recipe"], metadata["classes"])
    current = resume_view(cfg, cfg["classes"])
    differ = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
    split = metadata["split"]
    if split != {"train": cfg["train_runs"], "val": cfg["val_runs"]}:
        differ.append("train_runs/val_runs")
    if metadata["classes"] != cfg["classes"]:
        differ.append("classes")
    if differ:
        detail = ", ".join(f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in differ[:6])
        raise InputError(str(path), f"cannot resume with a different configuration ({detail})")
    load_state_dict_checked(model, payload["state_dict"], str(path))
    if ema is not None and payload.get("ema_state_dict") is not None:
        load_state_dict_checked(ema, payload["ema_state_dict"], str(path) + " (EMA)")
    training_state = payload["training_state"]
    optimizer.load_state_dict(training_state["optimizer"])
    model.to(device)
    return RunState.from_dict(training_state), training_state.get("torch_rng")


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def finish_run(out: Path, model, ema, dataset, cfg, state, keep_training_state: bool) -> Path:
    """Make sure ``model.pt`` holds the result; drop ``last.pt`` unless it is to be kept.

    With validation ``model.pt`` was written when the score last improved; an
    earlier version's ``best.pt`` (a resumed old folder whose best epoch came
    before the resumption) is converted into ``model.pt`` and removed. Without
    validation (or without a ``model.pt``) the final weights are written.
    """
    final = out / "model.pt"
    legacy = out / "best.pt"
    if legacy.is_file() and state.best is not None:
        old = load_checkpoint(legacy)
        meta = old.metadata
        save_checkpoint(
            final, old.inference_model, classes=meta["classes"],
            radii_angstrom=meta["radii_angstrom"], voxel_size_angstrom=meta["voxel_size_angstrom"],
            thresholds=meta.get("thresholds"), recipe=meta.get("recipe"), split=meta.get("split"),
            validation_metric=meta.get("validation_metric"),
            validated_weights=meta.get("validated_weights", "raw"), overwrite=True,
        )  # fmt: skip
    elif state.best is None or not final.is_file():
        save_result(final, model, ema, dataset, cfg, state)
    legacy.unlink(missing_ok=True)
    if not keep_training_state:
        (out / "last.pt").unlink(missing_ok=True)
    return final


def write_json(path: Path, data: Any) -> None:
    with atomic_output(path, overwrite=True) as temporary:
        temporary.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
