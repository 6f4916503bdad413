"""``dedupe_across_classes``: one pick per voxel across classes, as TopCUP's final table."""

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from topcup_bench.errors import InputError  # noqa: E402
from topcup_bench.pick_cache import PickCache  # noqa: E402
from topcup_bench.pickers import create_picker  # noqa: E402
from topcup_bench.pickers.topcup import infer  # noqa: E402
from topcup_bench.pickers.topcup.dedupe import drop_cross_class_duplicates  # noqa: E402
from topcup_bench.pickers.topcup.infer import extract_picks  # noqa: E402
from topcup_bench.types import ClassCatalogue, ParticleClass, Tomogram  # noqa: E402

CHANNELS = ["a", "b", "c"]
#: radius 30 Å at 10 Å/voxel: NMS radius int(0.5 · 30 / 10) = 1 voxel
CLASSES = ClassCatalogue(tuple(ParticleClass(name, 30.0) for name in CHANNELS))


def maps():
    """Channel a and b peak at voxel (z, y, x) = (4, 5, 6); b and c at (9, 9, 9)."""
    probabilities = np.zeros((3, 12, 12, 12), np.float32)
    probabilities[0, 4, 5, 6] = 0.3
    probabilities[1, 4, 5, 6] = 0.8
    probabilities[1, 9, 9, 9] = 0.6
    probabilities[2, 9, 9, 9] = 0.1
    return probabilities


def candidates():
    picks = extract_picks(maps(), CHANNELS, dict.fromkeys(CHANNELS, 30.0), 10.0, run="TS_1")
    return picks.sort_values(["particle_type", "x"]).reset_index(drop=True)


def rows(table):
    """(class, x, y, z, score) of each row, sorted."""
    return sorted(
        (t, x, y, z, round(s, 6))
        for t, x, y, z, s in table[["particle_type", "x", "y", "z", "score"]].itertuples(False)
    )


def official(picks, thresholds):
    """TopCUP's get_final_submission: threshold, classes in channel order, sort, keep first."""
    kept = [
        picks[(picks["particle_type"] == name) & (picks["score"] > thresholds[name])]
        for name in CHANNELS
    ]
    table = pd.concat(kept).sort_values(by="experiment", kind="stable")
    return table.drop_duplicates(subset=["experiment", "x", "y", "z"])


def above(picks, thresholds):
    limit = picks["particle_type"].map(thresholds)
    return picks[picks["score"] > limit]


def test_hand_made_maps_give_cross_class_duplicates():
    assert rows(candidates()) == [
        ("a", 60.0, 50.0, 40.0, 0.3),
        ("b", 60.0, 50.0, 40.0, 0.8),
        ("b", 90.0, 90.0, 90.0, 0.6),
        ("c", 90.0, 90.0, 90.0, 0.1),
    ]


def test_without_thresholds_the_lowest_channel_wins():
    kept = drop_cross_class_duplicates(candidates(), CHANNELS)
    assert rows(kept) == [("a", 60.0, 50.0, 40.0, 0.3), ("b", 90.0, 90.0, 90.0, 0.6)]
    # the channel order decides, not the order of the rows or of the class names
    reordered = candidates().iloc[::-1]
    assert rows(drop_cross_class_duplicates(reordered, ["c", "b", "a"])) == [
        ("b", 60.0, 50.0, 40.0, 0.8),
        ("c", 90.0, 90.0, 90.0, 0.1),
    ]


def test_a_pick_below_its_threshold_does_not_suppress_one_above():
    kept = drop_cross_class_duplicates(candidates(), CHANNELS, {"a": 0.5, "b": 0.2, "c": 0.05})
    assert rows(kept) == [("b", 60.0, 50.0, 40.0, 0.8), ("b", 90.0, 90.0, 90.0, 0.6)]
    # none above: the lowest channel's row stays (a threshold drops it later)
    kept = drop_cross_class_duplicates(candidates(), CHANNELS, {"a": 0.9, "b": 0.9, "c": 0.9})
    assert rows(kept) == [("a", 60.0, 50.0, 40.0, 0.3), ("b", 90.0, 90.0, 90.0, 0.6)]


@pytest.mark.parametrize(
    "thresholds",
    [
        {"a": 0.0, "b": 0.0, "c": 0.0},
        {"a": 0.5, "b": 0.2, "c": 0.05},
        {"a": 0.2, "b": 0.7, "c": 0.05},
        {"a": 0.2, "b": 0.9, "c": 0.05},
        {"a": 0.9, "b": 0.9, "c": 0.9},
    ],
)
def test_at_the_picker_thresholds_the_result_is_the_official_table(thresholds):
    ours = above(drop_cross_class_duplicates(candidates(), CHANNELS, thresholds), thresholds)
    assert rows(ours) == rows(official(candidates(), thresholds))


def test_bad_tables_are_refused():
    with pytest.raises(InputError, match=r"particle_type \['c'\] not among the channels"):
        drop_cross_class_duplicates(candidates(), ["a", "b"])
    with pytest.raises(InputError, match=r"lacks columns \['score'\]"):
        drop_cross_class_duplicates(candidates().drop(columns="score"), CHANNELS)
    empty = candidates().iloc[:0]
    assert len(drop_cross_class_duplicates(empty, CHANNELS)) == 0


def picker_with_maps(monkeypatch, **params):
    """A ``topcup`` picker whose network output is :func:`maps` (a checkpoint threshold for a)."""
    monkeypatch.setattr(infer, "predict_heatmaps", lambda *args, **kwargs: maps())
    picker = create_picker("topcup", {"device": "cpu", "threshold": 0.2, **params})
    picker._models = [torch.nn.Identity()]
    picker._metadata = [
        {"classes": CHANNELS, "voxel_size_angstrom": 10.0, "thresholds": {"a": 0.5}}
    ]
    return picker


def test_picker_option_drops_duplicates_at_its_operating_point(monkeypatch):
    tomogram = Tomogram("TS_1", np.zeros((12, 12, 12), np.float32), 10.0)
    plain = picker_with_maps(monkeypatch).pick(tomogram, CLASSES)
    assert rows(plain) == rows(candidates())
    deduped = picker_with_maps(monkeypatch, dedupe_across_classes=True)
    assert deduped.threshold_sources(CLASSES) == {
        "a": "checkpoint", "b": "parameter", "c": "parameter",
    }  # fmt: skip
    assert rows(deduped.pick(tomogram, CLASSES)) == [
        ("b", 60.0, 50.0, 40.0, 0.8),  # a (0.3) is below its checkpoint threshold 0.5
        ("b", 90.0, 90.0, 90.0, 0.6),
    ]
    with pytest.raises(InputError, match="dedupe_across_classes"):
        create_picker("topcup", {"dedupe_across_classes": "maybe"})


def test_the_option_is_part_of_the_picks_cache_key(tiny_phantom, tmp_path):
    run, train = tiny_phantom.splits["test"][0], list(tiny_phantom.splits["train"])
    cache = PickCache(tmp_path)
    keys = {
        value: cache.key(
            create_picker("topcup", {"dedupe_across_classes": value}), tiny_phantom, run, train
        )
        for value in (False, True)
    }
    assert keys[False] != keys[True]
    same = cache.key(create_picker("topcup", {}), tiny_phantom, run, train)
    assert same == keys[False]  # the default is off
