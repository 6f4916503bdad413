"""TopCUP training: epochs of seeded crops, Adam, LR schedule, EMA, validation, checkpoints.

:func:`train_model` trains one network on random crops of the training runs
(:mod:`~topcup_bench.pickers.topcup.loader`), with the weighted multi-level
cross-entropy (:mod:`~topcup_bench.pickers.topcup.loss`; a class's weight is its
``loss_weight``, copick ``metadata.class_loss_weight``, where set, else the
recipe's ``particle_weight``; background 1). Hyper-parameters come from a named
recipe (:mod:`~topcup_bench.pickers.topcup.recipes`); explicit options win and
the effective configuration is returned and saved (§12.9), with
``class_loss_weights`` and ``init_weights``.

After every ``validate_every`` epochs the EMA (or raw, ``validate_weights``)
weights are scored on the validation runs with the competition metric at
per-class best thresholds (:mod:`~topcup_bench.pickers.topcup.validation`).
With ``out_dir`` the run writes, atomically (a crash while writing leaves the
previous file), each set of weights once::

    config.json    effective configuration
    log.csv        step, epoch, loss, lr of every optimisation step
    metrics.json   per-epoch training loss, validation results, best epoch
    last.pt        resume point: raw + EMA weights, optimiser state, step count;
                   every ``checkpoint_every`` steps and at every epoch end;
                   removed at a successful end unless ``keep_training_state``
    model.pt       the result: only the validated weights (EMA or raw, as
                   metadata ``validated_weights`` says); with validation runs
                   written whenever the score improves (the best epoch), else
                   at the end (the last epoch)

``resume=True`` continues from ``last.pt`` (also within an epoch) after checking
that the configuration is the same. Determinism: the network is initialised
from ``seed`` (or from ``init_weights``, :mod:`~topcup_bench.pickers.topcup.transfer`);
crops, augmentation and mixup of epoch ``e`` / step ``t`` are seeded from
``(seed, e)`` / ``(seed, t)``; a run resumed after step ``k`` skips the first
items of the epoch without computing them, so it equals an uninterrupted run,
and two CPU runs with the same arguments give identical weights. bf16 autocast
is used on CUDA (``amp="auto"``) or when asked (``amp="bf16"``); the loss is fp32.
"""

from __future__ import annotations

import copy
import numbers
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from topcup_bench.errors import InputError
from topcup_bench.pickers.topcup.augment import mixup
from topcup_bench.pickers.topcup.crops import CropSampler
from topcup_bench.pickers.topcup.infer import default_device
from topcup_bench.pickers.topcup.loader import training_batches
from topcup_bench.pickers.topcup.loss import (
    catalogue_class_weights,
    multilevel_loss,
    weights_tensor,
)
from topcup_bench.pickers.topcup.model import TopCUPNet, build_model
from topcup_bench.pickers.topcup.recipes import RECIPES, lr_factor, resolve_config
from topcup_bench.pickers.topcup.run_folder import (
    RunState,
    StepLog,
    finish_run,
    prepare_out_dir,
    restore_run,
    save_result,
    save_resume_point,
    write_json,
)
from topcup_bench.pickers.topcup.state_dicts import LoadedCheckpoint
from topcup_bench.pickers.topcup.transfer import TransferReport, initialise_from
from topcup_bench.pickers.topcup.validation import (
    ValidationResult,
    check_disjoint_runs,
    validate_models,
)

__all__ = [
    "RECIPES",
    "DEFAULT_CHECKPOINT_EVERY",
    "TrainResult",
    "train_model",
    "lr_factor",
    "update_ema",
    "optimisation_step",
]

#: Steps between two resume points (``last.pt``) within an epoch.
DEFAULT_CHECKPOINT_EVERY = 50


@dataclass
class TrainResult:
    """Outcome of :func:`train_model`.

    Attributes
    ----------
    model : TopCUPNet
        Raw weights after the last epoch (eval mode).
    ema_model : TopCUPNet or None
        EMA weights after the last epoch (eval mode), None when ``ema_decay`` is 0.
    losses, lrs : list of float
        Training loss and learning rate of every step (resumed runs included).
    config : dict
        Effective configuration (recipe merged with explicit options).
    history : list of dict
        Per epoch: ``epoch``, ``train_loss`` (mean), ``seconds``, ``validation``.
    best : ValidationResult or None
        Best validation result, when validation runs were given.
    best_epoch : int or None
        Epoch (0-based) of ``best``.
    checkpoint : pathlib.Path or None
        ``out_dir/model.pt`` when an output folder was given.
    transfer : TransferReport or None
        What ``init_weights`` gave (mapped, new and dropped classes).
    """

    model: TopCUPNet
    ema_model: TopCUPNet | None
    losses: list[float] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    best: ValidationResult | None = None
    best_epoch: int | None = None
    checkpoint: Path | None = None
    transfer: TransferReport | None = None

    @property
    def inference_model(self) -> TopCUPNet:
        """The EMA model when there is one, else the raw model."""
        return self.ema_model if self.ema_model is not None else self.model


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """``ema ← decay · ema + (1 − decay) · model`` for every float parameter and buffer.

    Integer buffers (batch-norm counters) are copied.
    """
    ema_state = ema.state_dict()
    for name, value in model.state_dict().items():
        target = ema_state[name]
        if target.dtype.is_floating_point:
            target.mul_(decay).add_(value.detach(), alpha=1.0 - decay)
        else:
            target.copy_(value)


def optimisation_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    masks: torch.Tensor,
    loss_fn,
    *,
    accumulate: int = 1,
    autocast: bool = False,
) -> float:
    """One optimizer step on a batch, in ``accumulate`` micro-batches.

    Each micro-batch's loss is weighted by its share of the batch, so for a
    model without batch statistics the gradient equals the whole-batch gradient;
    only one micro-batch's activations are in memory at a time.

    Parameters
    ----------
    model, optimizer
    images : torch.Tensor, shape (N, 1, S, S, S)
    masks : torch.Tensor, shape (N, C, S, S, S)
        On any device; each micro-batch is moved to the model's device.
    loss_fn : callable
        ``loss_fn(outputs, masks) -> scalar tensor``.
    accumulate : int
        Micro-batches (divides N).
    autocast : bool
        bf16 autocast for the forward pass.

    Returns
    -------
    float
        The batch loss (weighted mean of the micro-batch losses).
    """
    device = next(model.parameters()).device
    n = images.shape[0]
    if n % accumulate:
        raise InputError("train", f"{n} crops cannot be split into {accumulate} micro-batches")
    optimizer.zero_grad(set_to_none=True)
    total = 0.0
    for part_images, part_masks in zip(
        images.chunk(accumulate), masks.chunk(accumulate), strict=True
    ):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            outputs = model(part_images.to(device))
        loss = loss_fn(outputs, part_masks.to(device)) * (part_images.shape[0] / n)
        loss.backward()
        total += float(loss.detach())
    optimizer.step()
    return total


def _derived_seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def train_model(
    dataset,
    train_runs: Sequence[str],
    *,
    val_runs: Sequence[str] = (),
    backbone: str = "resnet34",
    recipe: str = "quick",
    seed: int = 0,
    device: str | torch.device | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    validate_weights: str = "ema",
    workers: int = 0,
    model_kwargs: dict[str, Any] | None = None,
    log_path: str | Path | None = None,
    keep_training_state: bool = False,
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    progress: bool | None = True,
    progress_label: str | None = None,
    init_weights: str | Path | LoadedCheckpoint | None = None,
    trusted: bool = False,
    **options: Any,
) -> TrainResult:
    """Train a TopCUP network on random crops of ``train_runs``.

    Parameters
    ----------
    dataset : topcup_bench.datasets.dataset.Dataset
        Source of tomograms and truth; channel ``i`` = ``dataset.classes.names[i]``;
        a class's ``loss_weight`` (when set) is its weight in the loss.
    train_runs : sequence of str
        Training tomograms (each loaded and normalised once).
    val_runs : sequence of str
        Validation tomograms, disjoint from ``train_runs``; empty: no validation.
    backbone : str
        MONAI FlexibleUNet backbone (``resnet34``, ``efficientnet-b3``, ...).
    recipe : str
        ``quick``, ``standard``, ``kaggle``, ``topcup`` (alias ``full``).
    seed : int
        Seeds the initialisation, the crop stream and mixup.
    device : str or torch.device, optional
        Default: CUDA when available, else CPU.
    out_dir : str or Path, optional
        Folder for logs and checkpoints (see the module docstring).
    resume : bool
        Continue from ``out_dir/last.pt`` (a fresh start when there is none).
    overwrite : bool
        Allow an ``out_dir`` that already holds a run (when not resuming).
    validate_weights : {"ema", "raw"}
        Weights that are validated and become ``model.pt`` (EMA needs ``ema_decay > 0``).
    workers : int
        DataLoader worker processes for crops (0: in this process).
    model_kwargs : dict, optional
        Extra :func:`~topcup_bench.pickers.topcup.model.build_model` arguments.
    log_path : str or Path, optional
        Step log CSV (default ``out_dir/log.csv``).
    keep_training_state : bool
        Keep ``last.pt`` (raw and EMA weights and optimiser state, for extending
        the run) after a successful end; by default it is removed and only
        ``model.pt`` and the logs stay.
    checkpoint_every : int
        Write the resume point ``last.pt`` every this many steps (and at every
        epoch end); 0: only at epoch ends.
    progress : bool or None
        Show a tqdm progress bar over the steps (None: only when stderr is a terminal).
    progress_label : str, optional
        The bar's description (default ``"train"``), e.g. ``"topcup member 2/3 (4 runs)"``.
    init_weights : str, Path or LoadedCheckpoint, optional
        Start from these weights instead of a random initialisation: any
        checkpoint :func:`~topcup_bench.pickers.topcup.checkpoint.load_any_checkpoint`
        reads. Encoder and decoder are copied, head rows are mapped by class name;
        classes the checkpoint lacks start from the seeded random rows, classes
        the dataset lacks are dropped (:mod:`~topcup_bench.pickers.topcup.transfer`).
        The EMA starts from these weights. Recorded in the configuration
        (``init_weights``: path, SHA-256, mapped, new, dropped).
    trusted : bool
        Allow ``weights_only=False`` loading of ``init_weights`` (official TopCUP
        ``.ckpt`` files need it); only for files from a trusted source.
    **options
        Recipe overrides: ``steps`` (one epoch of that many steps), ``epochs``,
        ``steps_per_epoch``, ``batch_size`` (items of ``crops_per_item`` crops),
        ``accumulate`` (micro-batches per step), ``crop``, ``lr``, ``schedule``,
        ``ema_decay``, ``particle_weight``, ``level_weights``, ``label_radius``,
        ``mixup``, ``tilt``, ``amp`` (``auto``/``bf16``/``off``), ``validate_every``, ...

    Returns
    -------
    TrainResult

    Raises
    ------
    InputError
        Unknown recipe or option, no training runs, overlapping train/validation
        runs, a CUDA request without CUDA, a negative ``checkpoint_every``,
        ``init_weights`` that cannot be read or whose backbone differs, or a
        resume with another configuration (initial weights included).
    OutputExistsError
        ``out_dir`` holds a previous run and neither ``resume`` nor ``overwrite``.
    """
    train_runs, val_runs = list(train_runs), list(val_runs)
    if not train_runs:
        raise InputError("train", "at least one training run is required")
    check_disjoint_runs(train_runs, val_runs)
    cfg = resolve_config(recipe, options, len(train_runs))
    if validate_weights not in ("ema", "raw"):
        raise InputError("train", f"validate_weights must be 'ema' or 'raw': {validate_weights!r}")
    if validate_weights == "ema" and cfg["ema_decay"] == 0:
        validate_weights = "raw"
    integral = isinstance(checkpoint_every, numbers.Integral)
    if not integral or isinstance(checkpoint_every, bool) or checkpoint_every < 0:
        raise InputError(
            "train", f"checkpoint_every must be an integer >= 0 (0: epoch ends only), "
            f"got {checkpoint_every!r}"
        )  # fmt: skip
    checkpoint_every = int(checkpoint_every)
    dev = default_device(device)
    names = list(dataset.classes.names)
    loss_weights = catalogue_class_weights(dataset.classes, cfg["particle_weight"])
    cfg.update(
        backbone=backbone, seed=int(seed), train_runs=train_runs, val_runs=val_runs,
        classes=names, validate_weights=validate_weights, device=str(dev), workers=int(workers),
        model_kwargs=dict(model_kwargs or {}), class_loss_weights=loss_weights,
    )  # fmt: skip
    torch.manual_seed(int(seed))
    model = build_model(backbone, len(names), **cfg["model_kwargs"])
    transfer = None
    if init_weights is not None:
        transfer = initialise_from(model, init_weights, names, trusted=trusted)
    cfg["init_weights"] = transfer.to_config() if transfer is not None else None
    model = model.to(dev)
    out = prepare_out_dir(out_dir, resume, overwrite)

    sampler = CropSampler.from_dataset(
        dataset, train_runs, crop=int(cfg["crop"]), crops_per_item=int(cfg["crops_per_item"]),
        radius=int(cfg["label_radius"]), flips=cfg["flips"], rot90=cfg["rot90"], tilt=cfg["tilt"],
    )  # fmt: skip
    ema = copy.deepcopy(model).requires_grad_(False) if cfg["ema_decay"] > 0 else None
    optimizer = torch.optim.Adam(model.parameters(), lr=float(cfg["lr"]), weight_decay=0.0)
    state, rng_state = RunState(), None
    if out is not None and resume and (out / "last.pt").is_file():
        state, rng_state = restore_run(out / "last.pt", cfg, model, ema, optimizer, dev)
    if out is not None:
        write_json(out / "config.json", cfg)

    weights = weights_tensor(list(loss_weights.values())).to(dev)

    def loss_fn(outputs, masks):
        return multilevel_loss(outputs, masks, weights, cfg["level_weights"])

    autocast = cfg["amp"] == "bf16" or (cfg["amp"] == "auto" and dev.type == "cuda")
    log = StepLog(log_path or (out / "log.csv" if out is not None else None), state.step)
    total, per_epoch = int(cfg["total_steps"]), int(cfg["steps_per_epoch"])
    disable = None if progress is None else not progress  # None: only on a terminal
    # tqdm's rate counts only the steps taken since the bar was made (n - initial), so a
    # resumed run's earlier steps do not inflate it
    bar = tqdm(
        total=total, initial=state.step, desc=progress_label or "train", unit="step",
        disable=disable, leave=False,
    )  # fmt: skip
    try:
        for epoch in range(state.epoch, int(cfg["epochs"])):
            done = state.step - epoch * per_epoch  # steps of this epoch before a resume
            start = time.perf_counter() - (state.epoch_seconds if done else 0.0)
            first = epoch * per_epoch
            torch.manual_seed(_derived_seed(seed, epoch))
            if done and rng_state is not None:
                torch.set_rng_state(rng_state)
            model.train()
            batches = training_batches(
                sampler, seed=int(seed), epoch=epoch, batch_size=int(cfg["batch_size"]),
                items_per_epoch=per_epoch * int(cfg["batch_size"]), workers=int(workers),
                first_batch=done,
            )  # fmt: skip
            for batch in batches:
                step = state.step
                lr = float(cfg["lr"]) * lr_factor(
                    step, total, cfg["schedule"],
                    int(cfg["step_size_epochs"]) * per_epoch, cfg["gamma"],
                )  # fmt: skip
                for group in optimizer.param_groups:
                    group["lr"] = lr
                images, masks = torch.from_numpy(batch.images), torch.from_numpy(batch.masks)
                if cfg["mixup"]:
                    generator = torch.Generator().manual_seed(_derived_seed(seed, step, 1))
                    images, masks = mixup(images, masks, generator)
                value = optimisation_step(
                    model, optimizer, images, masks, loss_fn,
                    accumulate=int(cfg["accumulate"]), autocast=autocast,
                )  # fmt: skip
                if ema is not None:
                    decay = (
                        min(cfg["ema_decay"], (1 + step) / (10 + step))
                        if epoch >= int(cfg["ema_start_epoch"])
                        else 0.0
                    )
                    update_ema(ema, model, decay)
                state.record(value, lr)
                log.write(step, epoch, value, lr)
                bar.update(1)
                bar.set_postfix(epoch=epoch, loss=f"{value:.4g}", lr=f"{lr:.2g}")
                within = state.step - first
                if (
                    out is not None and checkpoint_every and within < per_epoch
                    and state.step % checkpoint_every == 0
                ):  # fmt: skip
                    state.epoch_seconds = time.perf_counter() - start
                    log.flush()
                    save_resume_point(out / "last.pt", model, ema, dataset, cfg, state, optimizer)
            model.eval()
            record = {
                "epoch": epoch,
                "train_loss": float(np.mean(state.losses[first:]))
                if state.losses[first:]
                else None,
                "seconds": time.perf_counter() - start,
                "validation": None,
            }
            last_epoch = epoch + 1 == int(cfg["epochs"])
            if val_runs and ((epoch + 1) % int(cfg["validate_every"]) == 0 or last_epoch):
                chosen = ema if validate_weights == "ema" else model
                result = validate_models(chosen.eval(), dataset, val_runs, device=dev)
                record["validation"] = result.to_dict()
                if state.best is None or result.score > state.best["score"]:
                    state.best, state.best_epoch = result.to_dict(), epoch
                    if out is not None:  # the best weights go straight into the result
                        save_result(out / "model.pt", model, ema, dataset, cfg, state)
                        (out / "best.pt").unlink(missing_ok=True)  # an earlier version's copy
            state.history.append(record)
            state.epoch, state.epoch_seconds = epoch + 1, 0.0
            if out is not None:
                log.flush()
                # after the last epoch a resume point is only written to be kept
                if not last_epoch or keep_training_state:
                    save_resume_point(out / "last.pt", model, ema, dataset, cfg, state, optimizer)
                write_json(out / "metrics.json", state.metrics())
            bar.set_postfix_str(_epoch_summary(record))
            bar.unpause()  # validation and saving are not steps: keep them out of the step rate
    finally:
        bar.close()
        log.close()
    model.eval()
    if ema is not None:
        ema.eval()
    checkpoint = None
    if out is not None:
        checkpoint = finish_run(out, model, ema, dataset, cfg, state, keep_training_state)
    best = ValidationResult(**state.best) if state.best else None
    return TrainResult(
        model=model, ema_model=ema, losses=state.losses, lrs=state.lrs, config=cfg,
        history=state.history, best=best, best_epoch=state.best_epoch, checkpoint=checkpoint,
        transfer=transfer,
    )  # fmt: skip


def _epoch_summary(record: dict[str, Any]) -> str:
    text = f"epoch {record['epoch']}: loss {record['train_loss']:.4g}"
    if record["validation"]:
        text += f", val F-beta {record['validation']['score']:.3f}"
    return text
