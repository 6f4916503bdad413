"""``topcup-bench train``: train one TopCUP network with validation and checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import click

from topcup_bench.errors import InputError

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
    help="Output folder: config.json, log.csv, metrics.json, last.pt, best.pt, model.pt.",
)
@click.option("--epochs", type=click.IntRange(min=1), help="Override the recipe's epochs.")
@click.option("--steps-per-epoch", type=click.IntRange(min=1), help="Override the epoch length.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Items (of 4 crops) per step.")
@click.option(
    "--accumulate",
    type=click.IntRange(min=1),
    help="Split every batch into this many micro-batches (less memory, same batch).",
)
@click.option("--lr", type=float, help="Override the learning rate.")
@click.option("--crop", type=click.IntRange(min=32), help="Crop edge (multiple of 32).")
@click.option(
    "--amp", type=click.Choice(["auto", "bf16", "off"]), help="bf16 autocast: auto = on CUDA only."
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
@click.option("--resume", is_flag=True, help="Continue the run in --out from last.pt.")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace a previous training run in --out (a folder holding anything else is refused).",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train_command(dataset_spec, train_runs, val_runs, backbone, recipe, out_dir, epochs,
                  steps_per_epoch, batch_size, accumulate, lr, crop, amp, seed, device, workers,
                  validate_weights, resume, overwrite, quiet) -> None:  # fmt: skip
    """Train a TopCUP network and keep the best validated checkpoint.

    The checkpoint (OUT/model.pt) holds the weights (raw and EMA), the classes
    in channel order, radii, per-class thresholds found on the validation runs,
    voxel size, axis order, backbone, recipe, split and versions; use it with
    the picker as ``topcup:weights=OUT/model.pt``.
    """
    try:
        from topcup_bench.pickers.topcup.run_folder import check_out_dir
        from topcup_bench.pickers.topcup.train import train_model
    except ImportError as error:
        raise InputError("train", f"needs PyTorch and MONAI: pip install 'topcup-bench[topcup]' "
                         f"({error})") from None  # fmt: skip
    from topcup_bench.datasets.catalog import open_dataset

    check_out_dir(out_dir)  # a foreign --out is refused before any work

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
        epochs=epochs, steps_per_epoch=steps_per_epoch, batch_size=batch_size,
        accumulate=accumulate, lr=lr, crop=crop, amp=amp,
    )  # fmt: skip
    summary = {
        "checkpoint": str(result.checkpoint),
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
