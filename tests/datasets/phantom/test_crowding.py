"""The ``crowding`` knob: mg/mL ↔ crowders per 1000 slab voxels, the dataset option, its cache key.

Hand-computed values (protein at 1.35 g/cm³, so volume fraction = c / 1350 mg/mL):

* radii U(1, 2): mean volume π·(2⁴ − 1⁴) / (3·1) = 5π = 15.70796 voxels³;
* radii 3 (fixed): 4/3·π·27 = 36π = 113.0973 voxels³; 135 mg/mL is a 10 % volume fraction,
  so 100 / (36π) = 0.884194 crowders per 1000 voxels;
* radii U(1.8, 3) (every preset): π·(81 − 10.4976) / 3.6 = 61.52495 voxels³; 0.24 crowders per
  1000 voxels fill 1.47660 % = 19.934 mg/mL; 300 mg/mL (2/9 of the volume) is
  222.222 / 61.52495 = 3.611904 per 1000 voxels;
* tiny slab: 0.7 · 48 · 96 · 96 = 309,657.6 voxels, so 74 crowders at 0.24 and 1118 at 3.6119.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from topcup_bench.datasets.catalog import phantom_spec
from topcup_bench.datasets.phantom import clutter, generate_run, resolve_preset
from topcup_bench.datasets.phantom.crowding import (
    CROWDING_LEVELS,
    concentration_from_density,
    crowder_volume_fraction,
    density_from_concentration,
    max_concentration_mg_per_ml,
    mean_crowder_volume_voxels,
    with_crowding,
)
from topcup_bench.errors import InputError

PRESET_RADII = (1.8, 3.0)


def test_mean_crowder_volume():
    assert mean_crowder_volume_voxels((1.0, 2.0)) == pytest.approx(5 * math.pi)
    assert mean_crowder_volume_voxels((3.0, 3.0)) == pytest.approx(36 * math.pi)
    assert mean_crowder_volume_voxels(PRESET_RADII) == pytest.approx(61.52495, rel=1e-6)


def test_concentration_to_density():
    assert density_from_concentration(135.0, (3.0, 3.0)) == pytest.approx(0.884194, rel=1e-5)
    assert density_from_concentration(300.0, PRESET_RADII) == pytest.approx(3.611904, rel=1e-5)
    assert density_from_concentration(0.0, PRESET_RADII) == 0.0


def test_density_to_concentration():
    assert concentration_from_density(0.24, PRESET_RADII) == pytest.approx(19.934, rel=1e-4)
    assert concentration_from_density(0.884194, (3.0, 3.0)) == pytest.approx(135.0, rel=1e-5)
    assert crowder_volume_fraction(10.0, (1.0, 2.0)) == pytest.approx(0.05 * math.pi)


@pytest.mark.parametrize("mg_per_ml", [0.0, 19.934, 50.0, 300.0, 675.0])
def test_round_trip(mg_per_ml):
    density = density_from_concentration(mg_per_ml, PRESET_RADII)
    assert concentration_from_density(density, PRESET_RADII) == pytest.approx(mg_per_ml)


def test_limit_is_half_the_volume():
    assert max_concentration_mg_per_ml() == pytest.approx(675.0)
    density = density_from_concentration(675.0, PRESET_RADII)
    assert crowder_volume_fraction(density, PRESET_RADII) == pytest.approx(0.5)


def test_preset_reports_its_crowding():
    small = resolve_preset("small")
    assert small.crowding_mg_per_ml == pytest.approx(19.934, rel=1e-4)
    assert "0.24 crowders per 1000 slab voxels (≈ 20 mg/mL protein)" in small.describe()
    assert "≈ 33 mg/mL" in resolve_preset("small-hard").describe()
    assert "crowding_mg_per_ml" not in small.to_dict()  # derived: not part of any cache key


def test_with_crowding_levels():
    tiny = resolve_preset("tiny")
    assert with_crowding(tiny, "sample", source="s") is tiny
    assert with_crowding(tiny, " Sample ", source="s") is tiny
    cellular = with_crowding(tiny, "cellular", source="s")
    assert CROWDING_LEVELS["cellular"] == 300.0
    assert cellular.crowder_density == pytest.approx(3.611904, rel=1e-5)
    assert cellular.crowding_mg_per_ml == pytest.approx(300.0)
    assert with_crowding(tiny, "0", source="s").crowder_density == 0.0
    assert with_crowding(tiny, 135, source="s").crowding_mg_per_ml == pytest.approx(135.0)
    assert cellular.replace(crowder_density=tiny.crowder_density) == tiny  # nothing else moved


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("lots", r"option 'crowding' must be a concentration in mg/mL or one of .*'lots'"),
        ("celular", "Did you mean 'cellular'"),
        ("", "found ''"),
        ("-1", r"finite number of mg/mL ≥ 0, found '-1'"),
        ("nan", "finite number of mg/mL"),
        ("inf", "finite number of mg/mL"),
        ("700", r"option 'crowding'='700' mg/mL would fill more than 50% .* at most 675 mg/mL"),
    ],
)
def test_with_crowding_refuses(value, message):
    with pytest.raises(InputError, match=message) as info:
        with_crowding(resolve_preset("tiny"), value, source="phantom:tiny?crowding=x")
    assert "phantom:tiny?crowding=x" in str(info.value)


def test_preset_check_refuses_over_half_volume():
    # 10 per 1000 voxels × 61.525 voxels³ = 61.5 % of the slab = 831 mg/mL
    with pytest.raises(InputError, match=r"'crowder_density' must be at most 50% .*62% \(831"):
        resolve_preset("tiny").replace(crowder_density=10.0)
    # the limit counts the mean crowder volume: smaller crowders may be more numerous
    assert resolve_preset("tiny").replace(crowder_density=10.0, crowder_radius_voxels=(1, 1))


def test_dataset_option_sets_the_density():
    spec = phantom_spec("phantom:tiny?crowding=cellular&runs=3")
    assert spec.preset.crowder_density == pytest.approx(3.611904, rel=1e-5)
    assert spec.n_runs == 3
    default = phantom_spec("phantom:default?crowding=300")
    assert default.preset.crowding_mg_per_ml == pytest.approx(300.0)
    assert default.n_runs == 10 and default.n_test == 4  # the named dataset's split is kept


def test_cache_key_changes_with_crowding_only():
    tiny = phantom_spec("phantom:tiny").cache_key()
    assert phantom_spec("phantom:tiny?crowding=sample").cache_key() == tiny
    cellular = phantom_spec("phantom:tiny?crowding=cellular").cache_key()
    assert cellular != tiny
    assert phantom_spec("phantom:tiny?crowding=300").cache_key() == cellular
    assert phantom_spec("phantom:tiny?crowding=0").cache_key() not in (tiny, cellular)


def test_default_cache_key_is_pinned():
    # Options that restate the preset (crowding=sample) must not move phantom:default's cache
    # (or its content).  Update deliberately when the preset or the version changes; last
    # changed when the counts took the competition's density (was 0cd91fe09b2df1a2).
    assert phantom_spec("phantom:default").cache_key() == "4b5b1978c2382c0e"
    assert phantom_spec("phantom:default?crowding=sample").cache_key() == "4b5b1978c2382c0e"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("crowding=lots", "option 'crowding' must be a concentration"),
        ("crowding=1000", "at most 675 mg/mL"),
        ("crowdin=300", "unknown option 'crowdin'.*Did you mean 'crowding'"),
    ],
)
def test_dataset_option_errors(option, message):
    spec = f"phantom:tiny?{option}"
    with pytest.raises(InputError, match=message) as info:
        phantom_spec(spec)
    assert spec in str(info.value)


def test_cellular_tiny_phantom_has_15x_the_crowders():
    tiny = resolve_preset("tiny")
    sample = generate_run(tiny, 3).parameters["n_crowders"]
    cellular = generate_run(with_crowding(tiny, "cellular", source="t"), 3)
    assert sample == 74  # round(0.24 × 309,657.6 / 1000)
    assert cellular.parameters["n_crowders"] == 1118  # round(3.6119 × 309.6576): all placed
    assert len(cellular.picks) == sum(tiny.class_counts.values())  # particles unaffected


def _blobs(m, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(4, 20, size=(m, 3)), rng.uniform(1.8, 3.0, size=m)


def test_chunked_crowders_match_one_pass(monkeypatch):
    centres, radii = _blobs(7)
    whole = np.zeros((24, 24, 24), np.float32)
    clutter.render_crowders(whole, centres, radii, np.random.default_rng(1), lumpiness=0.0)
    sizes = []
    chunk_fn = clutter._render_crowder_chunk

    def spy(volume, c, r, rng, **kw):
        sizes.append(len(r))
        chunk_fn(volume, c, r, rng, **kw)

    monkeypatch.setattr(clutter, "_CHUNK_VOXELS", 3 * 9**3)  # 3 boxes of 9³ per chunk
    monkeypatch.setattr(clutter, "_render_crowder_chunk", spy)
    chunked = np.zeros_like(whole)
    clutter.render_crowders(chunked, centres, radii, np.random.default_rng(1), lumpiness=0.0)
    assert sizes == [2, 2, 3]  # ceil(7 / 3) = 3 chunks of nearly equal size
    np.testing.assert_array_equal(chunked, whole)
    assert whole.sum() > 0
