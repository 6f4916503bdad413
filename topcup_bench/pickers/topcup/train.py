"""TopCUP training core: Adam, LR schedule, EMA, weighted multi-level cross-entropy.

One function, :func:`train_model`, runs a fixed number of optimisation steps on
random crops (:class:`~topcup_bench.pickers.topcup.crops.CropSampler`) and returns
the raw and the EMA model with the per-step losses. Hyper-parameters come from a
named recipe (:data:`RECIPES`); every explicitly given argument wins over the
recipe (topcup.md §12.9) and the effective configuration is returned.

Determinism: the network is initialised under ``torch.manual_seed(seed)`` and the
crop stream is seeded with ``seed``, so two CPU runs with the same arguments give
identical losses. The device is a parameter (CUDA when available by default,
never hard-coded, §12.7); bf16 autocast is used only on CUDA, the loss is fp32.
The EMA copy lives on the training device (§12.1) and is updated every step.
"""

from __future__ import annotations

import copy
import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from topcup_bench.errors import InputError
from topcup_bench.pickers.topcup.crops import CropSampler
from topcup_bench.pickers.topcup.infer import default_device
from topcup_bench.pickers.topcup.loss import TOPCUP_LEVEL_WEIGHTS, class_weights, multilevel_loss
from topcup_bench.pickers.topcup.model import TopCUPNet, build_model

__all__ = ["RECIPES", "TrainResult", "train_model", "lr_factor", "update_ema"]

#: Named training budgets. ``full`` is the published TopCUP recipe (topcup.md §6.1:
#: 6 tomograms × 1112 items / 16 = 417 steps per epoch, 100 epochs, Adam 1e-4,
#: StepLR 20 epochs × 0.5, EMA 0.999); ``quick`` fits a CPU test.
RECIPES: dict[str, dict[str, Any]] = {
    "quick": dict(
        steps=150, batch_size=1, crop=64, lr=1e-3, schedule="cosine", ema_decay=0.99,
        particle_weight=256.0, level_weights=TOPCUP_LEVEL_WEIGHTS, crops_per_item=4,
    ),
    "standard": dict(
        steps=4000, batch_size=4, crop=96, lr=1e-3, schedule="cosine", ema_decay=0.999,
        particle_weight=256.0, level_weights=TOPCUP_LEVEL_WEIGHTS, crops_per_item=4,
    ),
    "full": dict(
        steps=41_700, batch_size=16, crop=96, lr=1e-4, schedule="step",
        step_size=20 * 417, gamma=0.5, ema_decay=0.999,
        particle_weight=256.0, level_weights=TOPCUP_LEVEL_WEIGHTS, crops_per_item=4,
    ),
}  # fmt: skip


@dataclass
class TrainResult:
    """Outcome of :func:`train_model`.

    Attributes
    ----------
    model : TopCUPNet
        Raw weights after the last step (eval mode).
    ema_model : TopCUPNet or None
        EMA weights (eval mode), None when ``ema_decay`` is 0.
    losses : list of float
        Training loss of every step.
    lrs : list of float
        Learning rate used at every step.
    config : dict
        Effective configuration (recipe merged with explicit arguments).
    """

    model: TopCUPNet
    ema_model: TopCUPNet | None
    losses: list[float] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def inference_model(self) -> TopCUPNet:
        """The EMA model when there is one, else the raw model."""
        return self.ema_model if self.ema_model is not None else self.model


def lr_factor(step: int, total: int, schedule: str, step_size: int = 1, gamma: float = 0.5):
    """Multiplier of the base learning rate at ``step`` (0-based).

    ``"cosine"``: ``0.5 (1 + cos(π step / total))``, per step, to 0 without warm-up;
    ``"step"``: ``gamma ** (step // step_size)``; ``"constant"``: 1.

    Examples
    --------
    >>> lr_factor(0, 10, "cosine"), lr_factor(5, 10, "cosine"), lr_factor(25, 0, "step", 10)
    (1.0, 0.5, 0.25)
    """
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * step / max(total, 1)))
    if schedule == "step":
        return float(gamma) ** (step // max(int(step_size), 1))
    if schedule == "constant":
        return 1.0
    raise InputError("train", f"unknown schedule {schedule!r}; use cosine, step or constant")


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


def train_model(
    dataset,
    train_runs,
    *,
    backbone: str = "resnet34",
    recipe: str = "quick",
    steps: int | None = None,
    batch_size: int | None = None,
    crop: int | None = None,
    lr: float | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    ema_decay: float | None = None,
    schedule: str | None = None,
    particle_weight: float | None = None,
    level_weights=None,
    model_kwargs: dict[str, Any] | None = None,
    log_path: str | Path | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train a TopCUP network on random crops of ``train_runs``.

    Parameters
    ----------
    dataset : topcup_bench.datasets.dataset.Dataset
        Source of tomograms and truth; channel ``i`` = ``dataset.classes.names[i]``.
    train_runs : sequence of str
        Training tomograms (each loaded and normalised once).
    backbone : str
        MONAI FlexibleUNet backbone.
    recipe : {"quick", "standard", "full"}
        Named budget (:data:`RECIPES`) supplying every argument left as None.
    steps, batch_size, crop, lr, ema_decay, schedule, particle_weight, level_weights
        Override the recipe: optimisation steps, items per batch (4 crops each),
        crop edge (multiple of 32), Adam learning rate, EMA decay (0 disables it;
        the effective decay is ``min(decay, (1 + t) / (10 + t))`` at step ``t``),
        ``"cosine"`` / ``"step"`` / ``"constant"``, class weight of every particle
        class (background 1) and per-level loss weights (strides 16, 8, 4, 2).
    seed : int
        Seeds the network initialisation and the crop stream.
    device : str or torch.device, optional
        Default: CUDA when available, else CPU.
    model_kwargs : dict, optional
        Extra :func:`~topcup_bench.pickers.topcup.model.build_model` arguments
        (e.g. smaller ``decoder_channels`` for tests).
    log_path : str or Path, optional
        CSV file receiving ``step, loss, lr`` rows.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    TrainResult

    Raises
    ------
    InputError
        Unknown recipe, no training runs or bad hyper-parameters.
    """
    if recipe not in RECIPES:
        raise InputError("train", f"unknown recipe {recipe!r}; known: {list(RECIPES)}")
    given = dict(
        steps=steps, batch_size=batch_size, crop=crop, lr=lr, ema_decay=ema_decay,
        schedule=schedule, particle_weight=particle_weight, level_weights=level_weights,
    )  # fmt: skip
    cfg = {**RECIPES[recipe], **{k: v for k, v in given.items() if v is not None}}
    cfg.update(recipe=recipe, backbone=backbone, seed=int(seed), train_runs=list(train_runs))
    if not cfg["train_runs"]:
        raise InputError("train", "at least one training run is required")
    if int(cfg["steps"]) < 1 or not float(cfg["lr"]) > 0 or not 0 <= cfg["ema_decay"] < 1:
        raise InputError("train", f"need steps >= 1, lr > 0 and 0 <= ema_decay < 1: {cfg}")
    dev = default_device(device)
    cfg["device"] = str(dev)

    sampler = CropSampler.from_dataset(
        dataset, cfg["train_runs"], crop=int(cfg["crop"]), crops_per_item=cfg["crops_per_item"]
    )
    torch.manual_seed(int(seed))
    model = build_model(backbone, len(dataset.classes), **(model_kwargs or {})).to(dev)
    model.train()
    ema = copy.deepcopy(model).requires_grad_(False) if cfg["ema_decay"] > 0 else None
    optimizer = torch.optim.Adam(model.parameters(), lr=float(cfg["lr"]), weight_decay=0.0)
    weights = class_weights(len(dataset.classes), cfg["particle_weight"]).to(dev)
    total = int(cfg["steps"])

    log_file = writer = None
    if log_path is not None:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        log_file = open(log_path, "w", newline="")  # noqa: SIM115
        writer = csv.writer(log_file)
        writer.writerow(["step", "loss", "lr"])
    losses, lrs = [], []
    stream = sampler.batches(int(seed), int(cfg["batch_size"]))
    bar = tqdm(range(total), desc="train", disable=not progress, leave=False)
    try:
        for step in bar:
            factor = lr_factor(
                step, total, cfg["schedule"], cfg.get("step_size", 1), cfg.get("gamma", 0.5)
            )
            current_lr = float(cfg["lr"]) * factor
            for group in optimizer.param_groups:
                group["lr"] = current_lr
            batch = next(stream)
            images = torch.from_numpy(batch.images).to(dev)
            masks = torch.from_numpy(batch.masks).to(dev)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
                outputs = model(images)
            loss = multilevel_loss(outputs, masks, weights, cfg["level_weights"])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if ema is not None:
                update_ema(ema, model, min(cfg["ema_decay"], (1 + step) / (10 + step)))
            value = float(loss.detach())
            losses.append(value)
            lrs.append(current_lr)
            if writer is not None:
                writer.writerow([step, f"{value:.6g}", f"{current_lr:.6g}"])
            bar.set_postfix(loss=f"{value:.4g}", lr=f"{current_lr:.2g}")
    finally:
        bar.close()
        if log_file is not None:
            log_file.close()
    model.eval()
    if ema is not None:
        ema.eval()
    cfg["level_weights"] = [float(w) for w in cfg["level_weights"]]
    return TrainResult(model=model, ema_model=ema, losses=losses, lrs=lrs, config=cfg)
