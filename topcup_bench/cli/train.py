"""``topcup-bench train``: train one TopCUP network with validation and checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import click

from topcup_bench.errors import InputError

#: Steps between resume points (train.DEFAULT_CHECKPOINT_EVERY; kept here so that
#: ``--help`` does not import PyTorch).
DEFAULT_CHECKPOINT_EVERY = 50

__all__ = ["train_command"]

_RECIPES = ("quick", "standard", "kaggle", "topcup", "full")


def _runs(text: str | None) -> list[str] | None:
    return None if text is None else [r.strip() for r in text.split(",") if r.strip()]


@click.command("train")
@click.option(
    "--dataset",
    "dataset_spec",
    default="phantom:default",
    show_default=True,
    help="phantom:default, phantom:PRESET?..., a copick config or kaggle:DIR.",
)
@click.option(
    "--train-runs",
    help="Comma-separated runs to train on [default: the train split, less the validation runs].",
)
@click.option(
    "--val-runs",
    help="Comma-separated validation runs, disjoint from the training "
    "runs [default: the last train-split run; 'none' for no validation].",
)
@click.option(
    "--backbone",
    default="resnet34",
    show_default=True,
    help="FlexibleUNet encoder: resnet34, efficientnet-b3, resnet18, ...",
)
@click.option(
    "--recipe",
    type=click.Choice(_RECIPES),
    default="quick",
    show_default=True,
    help="quick/standard: CPU budgets; kaggle: original Kaggle recipe; "
    "topcup (= full): the published TopCUP recipe.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder: config.json, log.csv, metrics.json, model.pt (the validated "
    "weights only) and, while training, last.pt (the resume point).",
)
@click.option("--epochs", type=click.IntRange(min=1), help="Override the recipe's epochs.")
@click.option("--steps-per-epoch", type=click.IntRange(min=1), help="Override the epoch length.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    help="Items per step; an item is 2 crops of one tomogram in the quick and standard "
    "recipes, 4 in the others [default: the recipe's: 1 for quick and standard, 8 for "
    "kaggle, 16 for topcup].",
)
@click.option(
    "--accumulate",
    type=click.IntRange(min=1),
    help="Split every batch into this many micro-batches (less memory, same batch).",
)
@click.option("--lr", type=float, help="Override the learning rate.")
@click.option(
    "--crop",
    type=click.IntRange(min=32),
    help="Crop edge in voxels (multiple of 32) [default: the recipe's: 64 for quick and "
    "standard, 96 for kaggle and topcup].",
)
@click.option(
    "--amp",
    type=click.Choice(["auto", "bf16", "off"]),
    help="bf16 autocast: auto = on CUDA only [default: the recipe's: bf16 for kaggle, auto "
    "for the others].",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1, ...")
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="DataLoader worker processes for crops.",
)
@click.option(
    "--validate-weights",
    type=click.Choice(["ema", "raw"]),
    default="ema",
    show_default=True,
    help="Weights validated and kept as model.pt.",
)
@click.option(
    "--init-weights",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Start from this checkpoint (ours, a TopCUP .ckpt or a Kaggle .pth) instead of "
    "random weights: encoder and decoder are copied, output channels are mapped by class "
    "name; classes it lacks start fresh, classes the dataset lacks are dropped.",
)
@click.option(
    "--trusted",
    is_flag=True,
    help="Allow --init-weights files that need full unpickling (official TopCUP .ckpt); "
    "only for files from a trusted source.",
)
@click.option(
    "--checkpoint-every",
    type=click.IntRange(min=0),
    default=DEFAULT_CHECKPOINT_EVERY,
    show_default=True,
    help="Save the resume point last.pt every N steps (and at every epoch end); "
    "0: at epoch ends only.",
)
@click.option(
    "--keep-training-state",
    is_flag=True,
    help="Keep last.pt (raw and EMA weights and optimiser state, about 4x model.pt) after "
    "a successful end, to extend the run later with --resume; by default only model.pt, "
    "config.json, log.csv and metrics.json stay.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the run in --out from its last.pt (an interrupted run, or a finished one "
    "trained with --keep-training-state).",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace a previous training run in --out (a folder holding anything else is refused).",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train_command(dataset_spec, train_runs, val_runs, backbone, recipe, out_dir, epochs,
                  steps_per_epoch, batch_size, accumulate, lr, crop, amp, seed, device, workers,
                  validate_weights, init_weights, trusted, checkpoint_every, keep_training_state,
                  resume, overwrite, quiet) -> None:  # fmt: skip
    """Train a TopCUP network and keep the best validated checkpoint.

    The checkpoint (OUT/model.pt) holds the validated weights (EMA or raw), the
    classes in channel order, radii, per-class thresholds found on the validation
    runs, voxel size, axis order, backbone, recipe (with the per-class loss
    weights, copick metadata.class_loss_weight, and the initial weights),
    split and versions; use it with the picker as 'topcup:weights=OUT/model.pt'.
    """
    try:
        from topcup_bench.pickers.topcup.run_folder import check_out_dir
        from topcup_bench.pickers.topcup.train import train_model
    except ImportError as error:
        raise InputError("train", f"needs PyTorch and MONAI: pip install 'topcup-bench[topcup]' "
                         f"({error})") from None  # fmt: skip
    from topcup_bench.datasets.catalog import open_dataset

    check_out_dir(out_dir)  # a foreign --out is refused before any work
    if resume and (out_dir / "model.pt").is_file() and not (out_dir / "last.pt").is_file():
        raise InputError(
            "--resume",
            f"{out_dir} holds a finished run (model.pt) whose training state was not kept "
            "(train with --keep-training-state to extend a run later); use --overwrite to "
            "train it again",
        )

    dataset = open_dataset(dataset_spec)
    train, val = _choose_runs(dataset, _runs(train_runs), _runs(val_runs))
    click.echo(
        f"training {backbone} ({recipe}) on {len(train)} run(s) of {dataset.name}: "
        f"{', '.join(train)}; validating on {', '.join(val) or 'nothing'}",
        err=True,
    )
    result = train_model(
        dataset, train, val_runs=val, backbone=backbone, recipe=recipe, seed=seed,
        device=device, out_dir=out_dir, resume=resume, overwrite=overwrite,
        validate_weights=validate_weights, workers=workers, progress=not quiet,
        init_weights=init_weights, trusted=trusted, checkpoint_every=checkpoint_every,
        keep_training_state=keep_training_state, epochs=epochs,
        steps_per_epoch=steps_per_epoch, batch_size=batch_size, accumulate=accumulate, lr=lr,
        crop=crop, amp=amp,
    )  # fmt: skip
    summary = {
        "checkpoint": str(result.checkpoint),
        "init_weights": result.config.get("init_weights"),
        "steps": len(result.losses),
        "final_train_loss": result.history[-1]["train_loss"] if result.history else None,
        "best_epoch": result.best_epoch,
        "best_validation": result.best.to_dict() if result.best else None,
    }
    click.echo(json.dumps(summary, indent=2))


def _choose_runs(dataset, train: list[str] | None, val: list[str] | None):
    known = set(dataset.runs)
    for label, runs in (("--train-runs", train), ("--val-runs", val)):
        unknown = [r for r in runs or [] if r not in known and not (label == "--val-runs"
                                                                   and r == "none")]  # fmt: skip
        if unknown:
            raise InputError(label, f"unknown runs {unknown}; the dataset has {sorted(known)}")
    pool = list(dataset.split("train")) if "train" in dataset.splits else list(dataset.runs)
    if val == ["none"]:
        val = []
    elif val is None:
        val = [r for r in pool if r not in (train or [])][-1:] if len(pool) > 1 else []
    if train is None:
        train = [r for r in pool if r not in val]
    return train, val
