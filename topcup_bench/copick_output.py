"""``run --write-copick``: where each picker's picks go in the copick project, checked up front.

Each picker's picks are written as copick user :func:`~topcup_bench.pickers.labels.copick_user_id`
of its label (``_`` becomes ``-``), session :data:`SESSION`.  Everything that
could refuse the write is checked by :func:`check_write_copick` before any
picker runs: the dataset is a copick project; no picker would write under the
dataset's ground-truth user and session; no two pickers share a user id; and,
unless ``overwrite``, no picks of those users and session exist in the scored
runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from topcup_bench.datasets import apply_name_map, write_copick_picks
from topcup_bench.datasets.copick_project import get_copick_run, open_copick_root
from topcup_bench.datasets.dataset import CopickDataset, Dataset
from topcup_bench.errors import InputError, OutputExistsError
from topcup_bench.pickers.labels import copick_user_id

__all__ = ["SESSION", "check_write_copick", "write_outcome_to_copick"]

#: Copick session id of the picks ``--write-copick`` writes.
SESSION = "0"
_SHOWN = 5


def check_write_copick(
    dataset: Dataset, labels: Sequence[str], runs: Sequence[str], overwrite: bool
) -> None:
    """Raise when ``--write-copick`` could not, or must not, write the pickers' picks.

    Parameters
    ----------
    dataset : Dataset
        The dataset of the run.
    labels : sequence of str
        The pickers' leaderboard names.
    runs : sequence of str
        The scored runs (the picks written).
    overwrite : bool
        Allow replacing existing picks of the pickers' users (session ``0``).

    Raises
    ------
    InputError
        The dataset is not a copick project, a picker's user id is the ground
        truth's (with its session), or two pickers map to one user id.
    OutputExistsError
        Picks of a picker's user and session exist and ``overwrite`` is False.
    """
    if not isinstance(dataset, CopickDataset):
        raise InputError(
            "--write-copick",
            f"the dataset {getattr(dataset, 'spec', dataset.name)!r} is not a copick project; "
            "drop --write-copick (picks are in OUT/picks/ anyway)",
        )
    users: dict[str, str] = {}
    for label in labels:
        user = copick_user_id(label)
        if user in users:
            raise InputError(
                "--write-copick",
                f"pickers {users[user]!r} and {label!r} would both be copick user {user!r}; "
                "give one a different label",
            )
        users[user] = label
        truth_session = dataset.truth_session
        if user == dataset.truth_user and truth_session in (None, SESSION):
            raise InputError(
                "--write-copick",
                f"picker {label!r} would write as copick user {user!r}, session {SESSION!r}: "
                "the ground truth of the dataset; give it another label",
            )
    if not overwrite:
        _refuse_existing(dataset, users, runs)


def write_outcome_to_copick(outcome: Any, dataset: CopickDataset, overwrite: bool) -> None:
    """Write one picker's picks into the dataset's copick project (checked before).

    A dataset read through a name map (a ``portal:`` dataset) gets its picks
    under the project's own object names (``ribosome`` → ``cytosolic-ribosome``).
    """
    picks = outcome.picks
    inverse: dict[str, str] = {}
    for object_name, class_name in getattr(dataset, "name_map", {}).items():
        inverse.setdefault(class_name, object_name)
    if inverse:
        picks = apply_name_map(picks, inverse, source=dataset.config_path)
    write_copick_picks(
        picks,
        dataset.config_path,
        user_id=copick_user_id(outcome.card.name),
        session_id=SESSION,
        overwrite=overwrite,
    )


def _refuse_existing(dataset: CopickDataset, users: dict[str, str], runs: Sequence[str]) -> None:
    root = open_copick_root(dataset.config_path)
    found = []
    for run in runs:
        copick_run = get_copick_run(root, run, dataset.config_path)
        for user in users:
            picks = copick_run.get_picks(user_id=user, session_id=SESSION)
            found += [f"{run}/{p.user_id}_{p.session_id}_{p.pickable_object_name}" for p in picks]
    if found:
        shown = found[:_SHOWN]
        if len(found) > _SHOWN:
            shown.append(f"... ({len(found)} picks files)")
        raise OutputExistsError(
            f"{dataset.config_path}: --write-copick would replace existing picks {shown}; "
            "pass --overwrite to replace them, or give the pickers other labels"
        )
