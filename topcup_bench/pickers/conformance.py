"""The checks behind :func:`topcup_bench.testing.check_picker`."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd

from topcup_bench.datasets.dataset import Dataset
from topcup_bench.errors import TopcupBenchError
from topcup_bench.pickers.protocol import Picker, TrainablePicker
from topcup_bench.types import PICKS_COLUMNS, SCORE_COLUMN, validate_picks_table

__all__ = ["run_conformance_checks", "ConformanceError"]


class ConformanceError(TopcupBenchError):
    """A picker broke the picker contract."""


def run_conformance_checks(picker: Picker, dataset: Dataset | None, *, runs=None) -> list[str]:
    """See :func:`topcup_bench.testing.check_picker`."""
    if dataset is None:
        from topcup_bench.datasets.catalog import open_dataset

        dataset = open_dataset("phantom:tiny", progress=False)
    passed = []
    name = picker.display_name
    card = picker.card()
    if not (card.name and card.version and card.description):
        raise ConformanceError(f"picker {name!r}: the card needs name, version and description")
    passed.append("card")
    runs = list(runs) if runs is not None else list(dataset.splits.get("test") or dataset.runs[-1:])
    picker.prepare(dataset)
    if isinstance(picker, TrainablePicker):
        train = [r for r in (dataset.splits.get("train") or dataset.runs) if r not in runs]
        picker.fit(dataset, train)
        if tuple(picker.trained_on) != tuple(train):
            raise ConformanceError(f"picker {name!r}: fit() must set trained_on to the runs given")
        passed.append("fit")
    for run in runs:
        tomogram = dataset.tomogram(run)
        first = _pick(picker, tomogram, dataset, run)
        passed += _check_table(first, name, tomogram, dataset)
        second = _pick(picker, tomogram, dataset, run)
        if not first.reset_index(drop=True).equals(second.reset_index(drop=True)):
            raise ConformanceError(
                f"picker {name!r}: two calls on run {run!r} gave different picks"
            )
        passed.append(f"deterministic on {run}")
    try:
        clone = pickle.loads(pickle.dumps(picker))
    except Exception as error:
        raise ConformanceError(f"picker {name!r} cannot be pickled: {error}") from error
    if clone.parameters() != picker.parameters():
        raise ConformanceError(f"picker {name!r}: parameters change when pickled")
    passed.append("picklable")
    return passed


def _pick(picker, tomogram, dataset, run) -> pd.DataFrame:
    table = picker.pick(tomogram, dataset.classes)
    if not isinstance(table, pd.DataFrame):
        raise ConformanceError(
            f"picker {picker.display_name!r}: pick() returned {type(table).__name__}, "
            "expected a pandas DataFrame"
        )
    return table


def _check_table(table, name, tomogram, dataset) -> list[str]:
    source = f"picker {name!r} on run {tomogram.run!r}"
    missing = [c for c in (*PICKS_COLUMNS, SCORE_COLUMN) if c not in table.columns]
    if missing:
        raise ConformanceError(f"{source}: missing columns {missing}")
    table = validate_picks_table(table, source=source, classes=dataset.classes, require_score=True)
    others = sorted(set(table["experiment"]) - {tomogram.run})
    if others:
        raise ConformanceError(f"{source}: experiment must be {tomogram.run!r}, found {others}")
    extent = np.array(tomogram.extent_angstrom_xyz)
    xyz = table[["x", "y", "z"]].to_numpy()
    outside = ~((xyz >= -0.5 * tomogram.voxel_size_angstrom) & (xyz <= extent)).all(axis=1)
    if outside.any():
        raise ConformanceError(
            f"{source}: {int(outside.sum())} picks outside the tomogram (x, y, z must be Å within "
            f"{tuple(extent)}; are they z-y-x or voxel indices?)"
        )
    if len(table) >= 3 and (xyz.max(axis=0) < extent / 4).all():
        raise ConformanceError(
            f"{source}: all coordinates lie below a quarter of the tomogram extent; "
            "they look like voxel indices, not Å"
        )
    return ["schema", "units and axes"]
