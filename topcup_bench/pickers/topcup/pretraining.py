"""Pretraining for the ``topcup`` picker: one network on another dataset, the start of every member.

TopCUP's published ensemble was pretrained on simulated tomograms and then trained on
experimental ones (6, 12 and 24 tomograms). ``topcup:pretrain=SPEC`` does the same with any
dataset we open (a cleaner phantom flavour stands in for the simulated set): one network is
trained on every run of ``SPEC`` for ``pretrain_steps`` steps with the picker's budget recipe,
and each ensemble member then starts from it (:mod:`~topcup_bench.pickers.topcup.transfer`:
classes mapped by name, heads of classes the pretraining set lacks initialised afresh).

The pretraining set must not hold any tomogram of the benchmark dataset (checked by content:
a pretraining run whose tomogram digest equals one of the benchmark's runs is refused), or the
leaderboard would score the picker on data it has seen.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from topcup_bench.errors import InputError

__all__ = ["PretrainPlan", "open_pretraining_dataset", "pretrained_start"]


@dataclass(frozen=True)
class PretrainPlan:
    """What a pretraining run is, as far as its result depends on it.

    Attributes
    ----------
    spec : str
        Dataset specification (``phantom:small-easy?runs=8&seed=1000``, a copick config, ...).
    steps : int
        Optimisation steps of the pretraining run.
    seed : int
        Seed of the pretraining network (initialisation and crop stream).
    """

    spec: str
    steps: int
    seed: int


def open_pretraining_dataset(spec: str, benchmark, *, label: str = "pretrain"):
    """Open the pretraining dataset and check that it shares no tomogram with ``benchmark``.

    Parameters
    ----------
    spec : str
        Dataset specification of the pretraining set.
    benchmark : Dataset
        The dataset the picker is trained and scored on.
    label : str
        Parameter name for messages.

    Returns
    -------
    Dataset

    Raises
    ------
    InputError
        The spec cannot be opened, no class of the pretraining set is a class of the benchmark,
        or a pretraining tomogram is one of the benchmark's (same content digest).
    """
    from topcup_bench.datasets.catalog import open_dataset

    try:
        dataset = open_dataset(spec, progress=False)
    except InputError as error:
        raise InputError("topcup", f"parameter {label}={spec!r}: {error}") from None
    shared = sorted(set(dataset.classes.names) & set(benchmark.classes.names))
    if not shared:
        raise InputError(
            "topcup",
            f"parameter {label}={spec!r}: its classes {list(dataset.classes.names)} share no "
            f"name with the benchmark's {list(benchmark.classes.names)}",
        )
    theirs = {benchmark.run_digest(run): run for run in benchmark.runs}
    for run in dataset.runs:
        seen = theirs.get(dataset.run_digest(run))
        if seen is not None:
            raise InputError(
                "topcup",
                f"parameter {label}={spec!r}: its run {run!r} holds the same tomogram as the "
                f"benchmark's run {seen!r}; pretraining on benchmark data would score the picker "
                "on tomograms it has seen. Use another dataset (another seed or preset).",
            )
    return dataset


def pretrained_start(
    plan: PretrainPlan,
    benchmark,
    folder: Path,
    *,
    backbone: str,
    recipe: str,
    model_kwargs: dict[str, Any],
    device: str | None,
    progress_label: str = "topcup pretraining",
) -> Path:
    """Train (or find in ``folder``) the pretrained network and return its checkpoint.

    Parameters
    ----------
    plan : PretrainPlan
    benchmark : Dataset
        The picker's dataset (checked for overlap with the pretraining set).
    folder : pathlib.Path
        The picker's cache folder; the result is ``folder/pretrain.pt``, the run's files live
        in ``folder/pretrain/`` while it trains (an interrupted run resumes).
    backbone, recipe : str
        As for the members.
    model_kwargs : dict
        Extra network arguments (decoder widths).
    device : str or None
        None: CUDA when available.
    progress_label : str
        Progress-bar description.

    Returns
    -------
    pathlib.Path
        ``folder/pretrain.pt`` (one of our checkpoints: load it with ``load_checkpoint``).
    """
    from topcup_bench.pickers.topcup.train import train_model

    final = folder / "pretrain.pt"
    if final.is_file():
        return final
    dataset = open_pretraining_dataset(plan.spec, benchmark)
    runs: Sequence[str] = list(dataset.runs)
    result = train_model(
        dataset, runs, backbone=backbone, recipe=recipe, seed=plan.seed, device=device,
        out_dir=folder / "pretrain", resume=True, keep_training_state=False,
        model_kwargs=model_kwargs, steps=plan.steps, progress=None,
        progress_label=f"{progress_label} ({len(runs)} runs of {plan.spec})",
    )  # fmt: skip
    if result.checkpoint is None or not Path(result.checkpoint).is_file():
        raise InputError("topcup", f"pretraining on {plan.spec!r} wrote no checkpoint")
    os.replace(result.checkpoint, final)
    return final
