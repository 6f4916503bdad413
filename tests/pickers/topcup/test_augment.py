"""Tilt augmentation of the crop sampler (topcup.md §4 step 4) and batch mixup."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
monai = pytest.importorskip("monai")

from topcup_bench.errors import InputError  # noqa: E402
from topcup_bench.pickers.topcup.augment import mix_pairs, mixup  # noqa: E402
from topcup_bench.pickers.topcup.crops import CropSampler, tilt_crop  # noqa: E402

# ----------------------------------------------------------------------------- tilt


def test_monai_x_angle_tilts_within_spatial_axes_1_and_2():
    image = np.zeros((1, 9, 9, 9), np.float32)
    image[0, 4, :, 4] = 1.0  # a line along Y (spatial axis 1)
    mask = np.zeros((1, 9, 9, 9), np.float32)
    mask[0, 2, 4, :] = 1.0  # a line along Z (spatial axis 2), at X = 2
    out_image, out_mask = tilt_crop(image, mask, np.pi / 2)
    on = np.argwhere(out_image[0] > 0.5)
    assert set(on[:, 0]) == {4} and set(on[:, 1]) == {4} and len(on) == 9  # now along Z
    on = np.argwhere(out_mask[0] > 0.5)
    assert set(on[:, 0]) == {2} and set(on[:, 2]) == {4} and len(on) == 9  # now along Y, same X


def test_tilt_leaves_x_alone_and_zero_angle_is_identity():
    rng = np.random.default_rng(0)
    profile = rng.normal(size=16).astype(np.float32)
    image = np.broadcast_to(profile[:, None, None], (1, 16, 16, 16)).copy()  # varies along X only
    mask = rng.random((3, 16, 16, 16)).astype(np.float32)
    tilted, _ = tilt_crop(image, mask, 0.6)
    np.testing.assert_allclose(tilted, image, atol=1e-5)  # reflection padding: nothing from outside
    same_image, same_mask = tilt_crop(image, mask, 0.0)
    np.testing.assert_allclose(same_image, image, atol=1e-5)
    np.testing.assert_allclose(same_mask, mask, atol=1e-5)
    with pytest.raises(InputError):
        tilt_crop(image, mask[:, :8], 0.1)


def _sampler(**kwargs):
    rng = np.random.default_rng(1)
    volume = rng.normal(size=(40, 70, 80)).astype(np.float32)  # (z, y, x)
    centre_xyz = np.array([33, 41, 17])
    volume[centre_xyz[2], centre_xyz[1], centre_xyz[0]] = 1000.0
    points = (centre_xyz[None] * 10.0 + 5.0, np.array([1]))
    return CropSampler({"r": volume}, {"r": points}, 2, 10.0, crop=32, **kwargs)


def test_tilted_crops_stay_aligned_and_masks_in_unit_interval():
    sampler = _sampler(tilt_p=1.0)
    rng = np.random.default_rng(0)
    seen = fractional = 0
    for _ in range(60):
        image, mask, _origin = sampler.sample_crop("r", rng)
        assert image.dtype == np.float32 and mask.dtype == np.float32
        assert image.shape == (1, 32, 32, 32) and mask.shape == (2, 32, 32, 32)
        assert mask.min() >= 0.0 and mask.max() <= 1.0 and mask[0].sum() == 0
        fractional += int(np.any((mask > 0) & (mask < 1)))  # bilinear, not nearest
        if image.max() < 100 or mask[1].sum() < 5:  # planted voxel (or most of its ball) outside
            continue
        peak = np.array(np.unravel_index(np.argmax(image[0]), image[0].shape))
        weights = mask[1] / mask[1].sum()
        centroid = np.array([(weights * g).sum() for g in np.indices(weights.shape)])
        assert np.linalg.norm(peak - centroid) < 1.5
        seen += 1
    assert seen >= 3 and fractional >= 20


def test_tilt_draws_come_from_the_numpy_generator():
    def crops(sampler, seed):
        rng = np.random.default_rng(seed)
        return [sampler.sample_crop("r", rng) for _ in range(6)]

    on, off, never = _sampler(), _sampler(tilt=False), _sampler(tilt_p=0.0)
    monai.utils.set_determinism(seed=1)
    a = crops(on, 5)
    monai.utils.set_determinism(seed=2)
    b = crops(on, 5)
    monai.utils.set_determinism(seed=None)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x[0], y[0])
        np.testing.assert_array_equal(x[1], y[1])
    # the same numbers are drawn whether or not the tilt is enabled
    for x, y in zip(crops(off, 5), crops(never, 5), strict=True):
        np.testing.assert_array_equal(x[0], y[0])
        assert x[2] == y[2]
    # with p = 0.5 some of 6 crops are tilted (given this seed) and the origins are unchanged
    c, d = crops(on, 5), crops(off, 5)
    assert [x[2] for x in c] == [y[2] for y in d]
    assert any(not np.array_equal(x[0], y[0]) for x, y in zip(c, d, strict=True))


def test_bad_tilt_settings_rejected():
    with pytest.raises(InputError):
        _sampler(tilt_p=1.5)
    with pytest.raises(InputError):
        _sampler(tilt_range=-0.1)


# ----------------------------------------------------------------------------- mixup


def _batch(n=2, c=3, s=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, s, s, s, generator=g), torch.rand(n, c, s, s, s, generator=g)


def test_mix_pairs_hand_checked():
    images = torch.stack([torch.full((1, 2, 2, 2), 2.0), torch.full((1, 2, 2, 2), -6.0)])
    masks = torch.zeros(2, 2, 2, 2, 2)
    masks[0, 0] = 1.0
    masks[1, 1] = 1.0
    out_images, out_masks = mix_pairs(
        images, masks, torch.tensor([0.25, 0.5]), torch.tensor([1, 0])
    )
    assert torch.all(out_images[0] == 0.25 * 2 + 0.75 * -6)  # -4
    assert torch.all(out_images[1] == 0.5 * -6 + 0.5 * 2)  # -2
    assert torch.all(out_masks[0, 0] == 0.25) and torch.all(out_masks[0, 1] == 0.75)
    assert torch.all(out_masks[1, 0] == 0.5) and torch.all(out_masks[1, 1] == 0.5)


def test_mix_pairs_identity_cases():
    images, masks = _batch(n=3)
    same = mix_pairs(images, masks, torch.ones(3), torch.tensor([2, 0, 1]))  # λ = 1
    assert torch.equal(same[0], images) and torch.equal(same[1], masks)
    same = mix_pairs(images, masks, torch.tensor([0.1, 0.7, 0.3]), torch.arange(3))  # self-partner
    torch.testing.assert_close(same[0], images)
    torch.testing.assert_close(same[1], masks)
    swapped = mix_pairs(images, masks, torch.zeros(3), torch.tensor([2, 0, 1]))  # λ = 0
    assert torch.equal(swapped[0], images[[2, 0, 1]])


def test_mixup_is_seeded_and_matches_its_draws():
    images, masks = _batch(n=5)
    out = mixup(images, masks, torch.Generator().manual_seed(7))
    again = mixup(images, masks, torch.Generator().manual_seed(7))
    other = mixup(images, masks, torch.Generator().manual_seed(8))
    assert torch.equal(out[0], again[0]) and torch.equal(out[1], again[1])
    assert not torch.equal(out[0], other[0])
    g = torch.Generator().manual_seed(7)
    lam, perm = torch.rand(5, generator=g), torch.randperm(5, generator=g)
    expected = mix_pairs(images, masks, lam, perm)
    assert torch.equal(out[0], expected[0]) and torch.equal(out[1], expected[1])
    assert out[0].shape == images.shape and out[1].shape == masks.shape
    assert out[1].dtype == torch.float32
    assert float(out[1].min()) >= 0.0 and float(out[1].max()) <= 1.0
    # hand check of one sample from its draws
    i = 1
    torch.testing.assert_close(out[0][i], lam[i] * images[i] + (1 - lam[i]) * images[perm[i]])


def test_mixup_rejects_bad_input():
    images, masks = _batch(n=2)
    g = torch.Generator().manual_seed(0)
    with pytest.raises(InputError):
        mixup(images, masks[:1], g)
    with pytest.raises(InputError):
        mix_pairs(images, masks, torch.tensor([0.5]), torch.tensor([1, 0]))
    with pytest.raises(InputError):
        mix_pairs(images, masks, torch.tensor([1.5, 0.5]), torch.tensor([1, 0]))
