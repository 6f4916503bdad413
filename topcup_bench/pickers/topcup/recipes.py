"""Named training recipes and the effective configuration of a training run.

``kaggle`` and ``topcup`` are the two published recipes (topcup.md §6.1); ``full``
is another name for ``topcup``, the budget of the released ensemble. ``quick``
and ``standard`` are CPU budgets chosen here: ``quick`` trains one ensemble
member in about 2.5 minutes on 2 cores (100 steps of 2 crops of 64³; the default
``topcup-bench run``), ``standard`` in about 7 minutes (3 epochs of 100 steps, with
the tilt). They use 64³ crops, a higher
learning rate and no mixup, which learn fastest in few steps.

Epoch length is either ``steps_per_epoch`` or, as published, ``items_per_run``
items (one item = ``crops_per_item`` crops of one tomogram) per training
tomogram divided by ``batch_size``. Every explicitly given option wins over the
recipe (topcup.md §12.9) and the effective configuration is recorded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from topcup_bench.errors import InputError
from topcup_bench.pickers.topcup.loss import KAGGLE_LEVEL_WEIGHTS, TOPCUP_LEVEL_WEIGHTS

__all__ = ["RECIPES", "RECIPE_ALIASES", "resolve_config", "lr_factor", "nested_subsets"]

_COMMON: dict[str, Any] = dict(
    crop=96, crops_per_item=4, particle_weight=256.0, level_weights=TOPCUP_LEVEL_WEIGHTS,
    label_radius=2, flips=True, rot90=True, tilt=True, mixup=True, ema_decay=0.999,
    ema_start_epoch=0, schedule="cosine", step_size_epochs=1, gamma=0.5, accumulate=1,
    amp="auto", steps_per_epoch=None, items_per_run=1112, validate_every=1,
)  # fmt: skip

#: Named recipes; keys not given fall back to the common defaults above.
RECIPES: dict[str, dict[str, Any]] = {
    "quick": {
        **_COMMON, "epochs": 1, "steps_per_epoch": 100, "batch_size": 1, "crops_per_item": 2,
        "crop": 64, "lr": 1e-3, "ema_decay": 0.99, "mixup": False, "tilt": False,
    },
    "standard": {
        **_COMMON, "epochs": 3, "steps_per_epoch": 100, "batch_size": 1, "crops_per_item": 2,
        "crop": 64, "lr": 1e-3, "ema_decay": 0.995, "mixup": False,
    },
    # Original Kaggle cfg_resnet34: single-voxel labels, last level only, bf16, no EMA.
    "kaggle": {
        **_COMMON, "epochs": 10, "batch_size": 8, "lr": 1e-3, "label_radius": 0,
        "level_weights": KAGGLE_LEVEL_WEIGHTS, "ema_decay": 0.0, "amp": "bf16",
    },
    # TopCUP README: 100 epochs, 16 items × 4 crops, Adam 1e-4, StepLR(20 epochs, 0.5), EMA 0.999
    # from epoch 5 (here really used and saved).
    "topcup": {
        **_COMMON, "epochs": 100, "batch_size": 16, "lr": 1e-4, "schedule": "step",
        "step_size_epochs": 20, "gamma": 0.5, "ema_start_epoch": 5,
    },
}  # fmt: skip
RECIPE_ALIASES = {"full": "topcup"}


def resolve_config(recipe: str, overrides: Mapping[str, Any], n_train_runs: int) -> dict[str, Any]:
    """Merge a recipe with explicit options and derive the epoch length.

    Parameters
    ----------
    recipe : str
        A key of :data:`RECIPES` or an alias (``full``).
    overrides : mapping
        Options given explicitly; ``None`` values are ignored. ``steps`` (total
        steps) is shorthand for one epoch of that many steps.
    n_train_runs : int
        Training tomograms (for ``items_per_run`` epochs).

    Returns
    -------
    dict
        Effective configuration with ``recipe`` (canonical name),
        ``steps_per_epoch`` and ``total_steps`` filled in.

    Raises
    ------
    InputError
        Unknown recipe or option, or inconsistent values.
    """
    name = RECIPE_ALIASES.get(recipe, recipe)
    if name not in RECIPES:
        known = sorted([*RECIPES, *RECIPE_ALIASES])
        raise InputError("--recipe", f"unknown recipe {recipe!r}; known: {known}")
    given = {k: v for k, v in overrides.items() if v is not None}
    steps = given.pop("steps", None)
    unknown = sorted(set(given) - set(RECIPES[name]))
    if unknown:
        raise InputError("train", f"unknown training options {unknown}")
    cfg = {**RECIPES[name], **given, "recipe": name}
    if steps is not None:
        cfg.update(epochs=1, steps_per_epoch=int(steps))
    if cfg["steps_per_epoch"] is None:
        items = int(cfg["items_per_run"]) * n_train_runs
        cfg["steps_per_epoch"] = max(1, items // int(cfg["batch_size"]))
    cfg["level_weights"] = [float(w) for w in cfg["level_weights"]]
    _check(cfg)
    cfg["total_steps"] = int(cfg["epochs"]) * int(cfg["steps_per_epoch"])
    return cfg


def _check(cfg: dict[str, Any]) -> None:
    problems = []
    for key in ("epochs", "steps_per_epoch", "batch_size", "accumulate", "crops_per_item"):
        if int(cfg[key]) < 1:
            problems.append(f"{key} must be >= 1, got {cfg[key]}")
    crops = int(cfg["batch_size"]) * int(cfg["crops_per_item"])
    if crops % max(int(cfg["accumulate"]), 1):
        problems.append(
            f"the {crops} crops of a batch (batch_size x crops_per_item) cannot be split into "
            f"accumulate = {cfg['accumulate']} equal micro-batches"
        )
    if not float(cfg["lr"]) > 0:
        problems.append(f"lr must be > 0, got {cfg['lr']}")
    if not 0 <= float(cfg["ema_decay"]) < 1:
        problems.append(f"ema_decay must lie in [0, 1), got {cfg['ema_decay']}")
    if cfg["amp"] not in ("auto", "bf16", "off"):
        problems.append(f"amp must be auto, bf16 or off, got {cfg['amp']!r}")
    if cfg["schedule"] not in ("cosine", "step", "constant"):
        problems.append(f"unknown schedule {cfg['schedule']!r}; use cosine, step or constant")
    if len(cfg["level_weights"]) != 4 or sum(cfg["level_weights"]) <= 0:
        problems.append(
            f"level_weights must be 4 values with a positive sum: {cfg['level_weights']}"
        )
    if problems:
        raise InputError("train", "; ".join(problems))


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


def nested_subsets(runs: Sequence[str], members: int) -> list[list[str]]:
    """Training runs of each ensemble member: nested prefixes halving in size.

    The published ensemble trained on 6, 12 and 24 tomograms; member ``i`` of
    ``members`` gets the first ``max(1, round(n / 2**(members - 1 - i)))`` runs.

    Examples
    --------
    >>> nested_subsets(["a", "b", "c", "d"], 3)
    [['a'], ['a', 'b'], ['a', 'b', 'c', 'd']]
    """
    runs = list(runs)
    if members < 1 or not runs:
        raise InputError("topcup", f"need >= 1 member and >= 1 run, got {members} and {runs}")
    sizes = [max(1, round(len(runs) / 2 ** (members - 1 - i))) for i in range(members)]
    return [runs[:size] for size in sizes]
