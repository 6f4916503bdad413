"""seg2picks: maps with known centres come back as picks at those centres (Å, x-y-z)."""

from __future__ import annotations

import numpy as np
import pytest

from topcup_bench.errors import InputError
from topcup_bench.pickers.seg2picks import picks_from_maps, split_label_map
from topcup_bench.types import ClassCatalogue, ParticleClass

VOXEL = 10.0
CLASSES = ClassCatalogue((ParticleClass("ribosome", 40.0), ParticleClass("apo-ferritin", 30.0)))
SHAPE = (30, 40, 50)  # z, y, x


def _ball(centre_zyx, radius, shape=SHAPE):
    grid = np.indices(shape)
    offsets = grid - np.asarray(centre_zyx)[:, None, None, None]
    return (offsets**2).sum(axis=0) <= radius**2


def _gaussian(centre_zyx, sigma, peak, shape=SHAPE):
    grid = np.indices(shape).astype(np.float64)
    offsets = grid - np.asarray(centre_zyx, dtype=np.float64)[:, None, None, None]
    return peak * np.exp(-(offsets**2).sum(axis=0) / (2 * sigma**2))


def _xyz(table):
    return table[["x", "y", "z"]].to_numpy().tolist()


def test_label_mask_gives_component_centroids_scored_by_size():
    mask = np.zeros(SHAPE, dtype=np.uint8)
    mask |= _ball((8, 10, 12), 3)  # 123 voxels
    mask |= _ball((20, 30, 40), 2)  # 33 voxels
    mask[0, 0, 0] = 1  # one stray voxel: below 5 % of the ribosome's sphere (4/3 π 4³ = 268)
    table = picks_from_maps(
        {"ribosome": mask}, run="TS_1", voxel_size_angstrom=VOXEL, classes=CLASSES
    )
    assert table.columns.tolist() == ["experiment", "particle_type", "x", "y", "z", "score"]
    # the bigger component first; centres are (x, y, z) = index × 10 Å
    assert _xyz(table) == [[120.0, 100.0, 80.0], [400.0, 300.0, 200.0]]
    assert table["score"].tolist() == [123.0, 33.0]
    assert set(table["experiment"]) == {"TS_1"} and set(table["particle_type"]) == {"ribosome"}


def test_probability_map_gives_nms_peaks_with_map_values():
    probability = np.maximum(_gaussian((5, 6, 7), 2.0, 0.9), _gaussian((22, 25, 35), 2.0, 0.7))
    probability += _gaussian((22, 25, 44), 1.0, 0.3)  # below the threshold
    table = picks_from_maps(
        {"apo-ferritin": probability.astype(np.float32)},
        run="TS_2",
        voxel_size_angstrom=VOXEL,
        classes=CLASSES,
        threshold=0.5,
    )
    assert _xyz(table) == [[70.0, 60.0, 50.0], [350.0, 250.0, 220.0]]
    assert table["score"].to_numpy() == pytest.approx([0.9, 0.7], abs=1e-6)


def test_max_peaks_keeps_the_best():
    mask = _ball((8, 10, 12), 3) | _ball((20, 30, 40), 2)
    table = picks_from_maps(
        {"ribosome": mask}, run="r", voxel_size_angstrom=VOXEL, classes=CLASSES, max_peaks=1
    )
    assert _xyz(table) == [[120.0, 100.0, 80.0]]


def test_empty_maps_give_an_empty_table_with_the_columns():
    table = picks_from_maps(
        {"ribosome": np.zeros(SHAPE, dtype=np.uint8)},
        run="r",
        voxel_size_angstrom=VOXEL,
        classes=CLASSES,
    )
    assert table.empty and "score" in table.columns
    assert picks_from_maps({}, run="r", voxel_size_angstrom=VOXEL, classes=CLASSES).empty


def test_copick_utils_method_finds_the_same_centres():
    pytest.importorskip("copick_utils")
    mask = (_ball((8, 10, 12), 4) | _ball((20, 28, 38), 4)).astype(np.uint8)
    table = picks_from_maps(
        {"ribosome": mask},
        run="TS_1",
        voxel_size_angstrom=VOXEL,
        classes=CLASSES,
        method="copick-utils",
    )
    found = sorted(map(tuple, np.round(table[["x", "y", "z"]].to_numpy(), 6)))
    assert found == [(120.0, 100.0, 80.0), (380.0, 280.0, 200.0)]
    assert table["score"].tolist() == [257.0, 257.0]  # both components: 257 voxels


def test_copick_utils_method_on_a_probability_map_scores_by_the_peak_value():
    pytest.importorskip("copick_utils")
    probability = _gaussian((15, 20, 25), 3.0, 0.8).astype(np.float32)
    table = picks_from_maps(
        {"ribosome": probability},
        run="TS_1",
        voxel_size_angstrom=VOXEL,
        classes=CLASSES,
        method="copick-utils",
        threshold=0.1,
        min_size_fraction=0.0,
    )
    assert _xyz(table) == [[250.0, 200.0, 150.0]]
    assert table["score"].to_numpy() == pytest.approx([0.8])


def test_split_label_map_uses_one_based_class_order():
    labels = np.zeros((2, 2, 2), dtype=np.int16)
    labels[0, 0, 0], labels[1, 1, 1] = 1, 2
    masks = split_label_map(labels, CLASSES)
    assert list(masks) == ["ribosome", "apo-ferritin"]
    assert np.argwhere(masks["ribosome"]).tolist() == [[0, 0, 0]]
    assert np.argwhere(masks["apo-ferritin"]).tolist() == [[1, 1, 1]]


def test_split_label_map_refuses_labels_without_a_class():
    with pytest.raises(InputError, match=r"labels \[3\] name no class.*'ribosome'"):
        split_label_map(np.array([[[0, 3]]]), CLASSES, source="out/labels.mrc")


def test_split_label_map_refuses_fractional_labels():
    with pytest.raises(InputError, match="out/labels.mrc: .*whole-number labels"):
        split_label_map(np.array([[[0.5, 1.0]]]), CLASSES, source="out/labels.mrc")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"method": "watershed"}, "unknown method 'watershed'"),
        ({"kind": "label"}, "unknown kind 'label'.*Did you mean 'labels'"),
        ({"threshold": float("nan")}, "threshold must be a finite number"),
        ({"voxel_size_angstrom": 0.0}, "voxel size must be a positive number"),
        ({"min_size_fraction": -1.0}, "min_size_fraction must be a number >= 0"),
    ],
)
def test_bad_options_are_refused(options, message):
    arguments = {"run": "r", "voxel_size_angstrom": VOXEL, "classes": CLASSES, **options}
    with pytest.raises(InputError, match=message):
        picks_from_maps({"ribosome": np.zeros(SHAPE)}, **arguments)


def test_unknown_class_and_wrong_dimensions_are_refused():
    with pytest.raises(InputError, match="maps.mrc: map of unknown class 'ribosom'.*'ribosome'"):
        picks_from_maps(
            {"ribosom": np.zeros(SHAPE)},
            run="r",
            voxel_size_angstrom=VOXEL,
            classes=CLASSES,
            source="maps.mrc",
        )
    with pytest.raises(InputError, match=r"must be 3-D \(z, y, x\), found shape \(4, 4\)"):
        picks_from_maps(
            {"ribosome": np.zeros((4, 4))}, run="r", voxel_size_angstrom=VOXEL, classes=CLASSES
        )


def test_copick_utils_missing_is_one_clear_line(monkeypatch):
    import builtins

    from topcup_bench.pickers.adapters.tool_process import ToolMissingError

    real_import = builtins.__import__

    def refuse(name, *args, **kwargs):
        if name.startswith("copick_utils"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)
    with pytest.raises(ToolMissingError, match=r"pip install 'topcup-bench\[seg2picks\]'"):
        picks_from_maps(
            {"ribosome": _ball((8, 10, 12), 3)},
            run="r",
            voxel_size_angstrom=VOXEL,
            classes=CLASSES,
            method="copick-utils",
        )
