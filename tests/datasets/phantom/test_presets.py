"""Preset names, resolution, validation of overrides and serialisation."""

from __future__ import annotations

import dataclasses
import json

import pytest

from topcup_bench.datasets.phantom import PhantomPreset, list_presets, resolve_preset
from topcup_bench.datasets.phantom.presets import COMPETITION_TRAINING_COUNTS, REFERENCE_COUNTS
from topcup_bench.errors import InputError


def test_bare_size_is_kaggle_like():
    assert resolve_preset("small") == resolve_preset("small-kaggle-like")
    assert resolve_preset("small").name == "small-kaggle-like"
    assert resolve_preset("SMALL").shape_zyx == (92, 160, 160)


def test_difficulties_order_noise_and_crowders():
    easy, like, hard = (resolve_preset(f"small-{d}") for d in ("easy", "kaggle-like", "hard"))
    assert easy.noise_sigma < like.noise_sigma < hard.noise_sigma
    assert easy.crowder_density < like.crowder_density < hard.crowder_density
    assert easy.shape_zyx == hard.shape_zyx and easy.counts == hard.counts


def test_sizes_and_counts():
    tiny = resolve_preset("tiny-easy")
    assert all(n <= m for n, m in zip(tiny.shape_zyx, (64, 96, 96), strict=True))
    assert all(n >= 1 for n in tiny.class_counts.values())
    assert set(tiny.class_counts) == set(REFERENCE_COUNTS)
    assert resolve_preset("full").shape_zyx == (184, 630, 630)


#: Hand-computed: the competition's 375/87/112/331/251/113 particles over 7 tomograms of
#: 184 x 630 x 630, times each size's volume fraction, rounded, at least 1 (apo-ferritin,
#: beta-amylase, beta-galactosidase, ribosome, thyroglobulin, VLP).
EXPECTED_COUNTS = {
    "full": (54, 12, 16, 47, 36, 16),  # 53.6, 12.4, 16.0, 47.3, 35.9, 16.1
    "quarter": (13, 3, 4, 12, 9, 4),  # x 1/4
    "small": (2, 1, 1, 2, 1, 1),  # x 0.0323: 1.73, 0.40, 0.52, 1.53, 1.16, 0.52
    "tiny": (1, 1, 1, 1, 1, 1),  # x 0.0061: all below 0.5
}


@pytest.mark.parametrize("size", list(EXPECTED_COUNTS))
def test_counts_follow_the_competition_density(size):
    for difficulty in ("easy", "kaggle-like", "hard"):
        counts = resolve_preset(f"{size}-{difficulty}").class_counts
        assert tuple(counts) == tuple(REFERENCE_COUNTS)
        assert tuple(counts.values()) == EXPECTED_COUNTS[size]


def test_the_full_preset_has_the_competition_density():
    full = resolve_preset("full").class_counts
    per_tomogram = {k: n / 7 for k, n in COMPETITION_TRAINING_COUNTS.items()}
    assert sum(COMPETITION_TRAINING_COUNTS.values()) == 1269  # 181 per tomogram
    for name, n in full.items():
        assert abs(n - per_tomogram[name]) <= 0.5


def test_list_presets_all_resolve():
    names = list_presets()
    assert len(names) == 12 and "small-kaggle-like" in names and "tiny-hard" in names
    for name in names:
        assert resolve_preset(name).name == name


@pytest.mark.parametrize(
    ("name", "hint"), [("smal", "Did you mean 'small'"), ("small-hrad", "'small-hard'")]
)
def test_unknown_name_suggests(name, hint):
    with pytest.raises(InputError, match=hint) as info:
        resolve_preset(name)
    assert "tiny-easy" in str(info.value)  # lists the valid names


def test_catalogue_and_wavelength():
    preset = resolve_preset("tiny")
    assert preset.catalogue["ribosome"].radius_angstrom == 150.0
    assert preset.catalogue.names[0] == "apo-ferritin"
    assert preset.wavelength_angstrom == pytest.approx(0.019687, abs=2e-6)
    assert preset.extent_angstrom_xyz == (960.0, 960.0, 480.0)


def test_replace_and_to_dict_round_trip():
    preset = resolve_preset("tiny").replace(noise_sigma=2, slab=[0.2, 0.8], counts={"ribosome": 3})
    assert preset.noise_sigma == 2.0 and preset.slab == (0.2, 0.8)
    assert preset.class_counts == {"ribosome": 3}
    record = json.loads(json.dumps(preset.to_dict()))
    record.pop("wavelength_angstrom")
    assert PhantomPreset(**record) == preset
    with pytest.raises(dataclasses.FrozenInstanceError):
        preset.noise_sigma = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slab", (0.9, 0.1)),
        ("slab", (-0.1, 0.5)),
        ("shape_zyx", (0, 96, 96)),
        ("shape_zyx", (48, 96)),
        ("voxel_size_angstrom", -10.0),
        ("noise_sigma", float("nan")),
        ("lumpiness", -0.5),
        ("size_jitter", 0.6),
        ("denoise_factor", 0.0),
        ("amplitude_contrast", 1.0),
        ("wedge_half_angle_deg", 0.0),
        ("crowder_radius_voxels", (3.0, 1.8)),
        ("vesicle_count_range", (2, 1)),
        ("defocus_range_um", (0.0, 5.0)),
        ("protein_dark", "yes"),
        ("flavours", ("denoised", "isonet")),
        ("flavours", ()),
        ("counts", {"ribosme": 2}),
        ("counts", {"ribosome": -1}),
        ("counts", {}),
    ],
)
def test_invalid_override_names_field(field, value):
    with pytest.raises(InputError, match=f"'{field}'"):
        resolve_preset("tiny").replace(**{field: value})


def test_unknown_override_suggests():
    with pytest.raises(InputError, match="Did you mean 'noise_sigma'"):
        resolve_preset("tiny").replace(noise_sigm=1.0)


def test_class_contrast_scales_only_that_class_and_is_validated():
    import numpy as np

    from topcup_bench.datasets.phantom import generate_run
    from topcup_bench.errors import InputError

    base = resolve_preset("tiny").replace(noise_sigma=0.0, class_contrast={})
    brighter = base.replace(class_contrast={"ribosome": 2.0})
    assert brighter.to_dict()["class_contrast"] == {"ribosome": 2.0}
    a = generate_run(base, 3).volumes["denoised"]
    b = generate_run(brighter, 3).volumes["denoised"]
    assert not np.array_equal(a, b)
    assert generate_run(base, 3).picks.equals(generate_run(brighter, 3).picks)
    with pytest.raises(InputError, match="class_contrast.*ribosom"):
        base.replace(class_contrast={"ribosom": 2.0})
    with pytest.raises(InputError, match="class_contrast.*> 0"):
        base.replace(class_contrast={"ribosome": 0.0})
