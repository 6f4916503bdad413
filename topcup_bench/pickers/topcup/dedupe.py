"""Cross-class duplicates: one pick per (experiment, x, y, z), as TopCUP's final table.

The official final table (topcup.md §8.1 step 8, ``get_final_submission``) keeps
``conf > threshold[class]``, concatenates the classes in the order of its
threshold mapping, which is the order of the pickable objects of the copick
config and therefore the channel order, sorts by experiment and drops the rows
repeated on (experiment, x, y, z), keeping the first.  With a sort that keeps
the order of equal keys (pandas ≥ 3, whose string columns sort stably) the row
kept is the one of the class with the lowest channel; with pandas 2 the sort
(``quicksort`` on an object column) is not stable, so for tables of more than a
few rows the surviving class is not defined.  We keep the lowest channel's row.

The official code drops duplicates after thresholding; our picks are candidates
(scores above ``min_score``) whose operating point is chosen later, so
:func:`drop_cross_class_duplicates` takes the thresholds of the picker's own
operating point: among the rows sharing a voxel, the kept row is the lowest
channel's among those above their class's threshold, or, when none is, the
lowest channel's.  At that operating point the result is exactly the official
one: thresholding our table gives the official final table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from topcup_bench.errors import InputError

__all__ = ["drop_cross_class_duplicates", "KEY_COLUMNS"]

#: Columns whose equal values make rows duplicates.
KEY_COLUMNS: tuple[str, ...] = ("experiment", "x", "y", "z")


def drop_cross_class_duplicates(
    picks: pd.DataFrame,
    channel_order: Sequence[str],
    thresholds: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Keep one row per (experiment, x, y, z): the lowest channel's above its threshold.

    Parameters
    ----------
    picks : pandas.DataFrame
        Picks table (``experiment, particle_type, x, y, z, score``; Å, x-y-z).
        Coordinates must be equal to the bit to count as the same place (picks
        of one voxel grid are).
    channel_order : sequence of str
        Class names in the network's channel order (the checkpoint's classes).
    thresholds : mapping of str to float, optional
        Operating point per class (keep ``score >``); classes not listed, and
        every class when omitted, count as above their threshold.

    Returns
    -------
    pandas.DataFrame
        ``picks`` without the dropped rows, in the original order (index reset).

    Raises
    ------
    InputError
        A ``particle_type`` that is not in ``channel_order``, or missing columns.

    Examples
    --------
    >>> table = pd.DataFrame({"experiment": ["TS"] * 3, "particle_type": ["b", "a", "a"],
    ...                       "x": [10.0, 10.0, 20.0], "y": [0.0] * 3, "z": [0.0] * 3,
    ...                       "score": [0.9, 0.1, 0.5]})
    >>> drop_cross_class_duplicates(table, ["a", "b"])["particle_type"].tolist()
    ['a', 'a']
    >>> drop_cross_class_duplicates(table, ["a", "b"], {"a": 0.2})["particle_type"].tolist()
    ['b', 'a']
    """
    missing = [c for c in (*KEY_COLUMNS, "particle_type", "score") if c not in picks.columns]
    if missing:
        raise InputError("dedupe_across_classes", f"picks table lacks columns {missing}")
    if len(picks) < 2:
        return picks.reset_index(drop=True)
    channel = {name: index for index, name in enumerate(channel_order)}
    unknown = sorted(set(picks["particle_type"]) - set(channel))
    if unknown:
        raise InputError(
            "dedupe_across_classes",
            f"particle_type {unknown} not among the channels {list(channel_order)}",
        )
    limits = dict(thresholds or {})
    types = picks["particle_type"].to_numpy()
    limit = np.array([float(limits.get(t, -np.inf)) for t in types])
    below = (picks["score"].to_numpy(dtype=float) <= limit).astype(int)
    ranking = pd.DataFrame(
        {
            "below": below,
            "channel": [channel[t] for t in types],
            "row": np.arange(len(picks)),
        }
    )
    ranked = pd.concat([picks[list(KEY_COLUMNS)].reset_index(drop=True), ranking], axis=1)
    ranked = ranked.sort_values(["below", "channel", "row"], kind="stable")
    kept = ranked.drop_duplicates(subset=list(KEY_COLUMNS), keep="first")["row"].to_numpy()
    return picks.iloc[np.sort(kept)].reset_index(drop=True)
