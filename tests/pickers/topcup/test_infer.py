"""Sliding-window heatmaps, flip TTA, model averaging and max-pool NMS."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

import torch.nn.functional as F  # noqa: E402

from topcup_bench.errors import InputError  # noqa: E402
from topcup_bench.pickers.topcup.infer import (  # noqa: E402
    cube_max_filter,
    default_device,
    extract_picks,
    predict_heatmaps,
    window_padding,
)
from topcup_bench.pickers.topcup.model import build_model  # noqa: E402
from topcup_bench.pickers.topcup.targets import network_to_zyx, zyx_to_network  # noqa: E402

torch.set_num_threads(2)


class SmallConvNet(torch.nn.Module):
    """Two 3x3x3 convolutions then 2x average pooling (a fast stand-in for the network)."""

    def __init__(self, n_classes=2):
        super().__init__()
        self.n_classes = n_classes
        self.body = torch.nn.Sequential(
            torch.nn.Conv3d(1, 4, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.Conv3d(4, n_classes + 1, 3, padding=1),
        )

    def forward(self, x):
        return [F.avg_pool3d(self.body(x), 2)]


class PointwiseNet(torch.nn.Module):
    """1x1x1 convolution then 2x average pooling: flip- and shift-equivariant on even grids."""

    def __init__(self, n_classes=2, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.n_classes = n_classes
        self.conv = torch.nn.Conv3d(1, n_classes + 1, 1)

    def forward(self, x):
        return [F.avg_pool3d(self.conv(x), 2)]


def whole_volume_reference(model, volume_zyx):
    """Softmax of the upsampled last-level logits of one forward on the whole volume."""
    x = zyx_to_network(torch.as_tensor(volume_zyx)[None, None]).contiguous()
    with torch.no_grad():
        logits = model(x)[-1]
    full = F.interpolate(logits, size=x.shape[2:], mode="trilinear", align_corners=False)
    return network_to_zyx(torch.softmax(full, 1)[:, :-1])[0].numpy()


def test_extract_picks_recovers_anisotropic_peaks_in_angstrom():
    heat = np.zeros((2, 40, 50, 60), dtype=np.float32)
    heat[0, 10, 20, 30] = 0.9
    heat[0, 10, 20, 32] = 0.5  # within r = int(0.5 * 60 / 10) = 3: suppressed
    heat[0, 10, 20, 36] = 0.4  # 4 voxels from the suppressed 0.5 (max-pool NMS is not greedy)
    heat[0, 30, 40, 50] = 0.2  # below the class threshold
    heat[1, 5, 6, 7] = 0.6
    picks = extract_picks(
        heat, ["apo-ferritin", "ribosome"], {"apo-ferritin": 60.0, "ribosome": 150.0}, 10.0,
        thresholds={"apo-ferritin": 0.2}, run="TS_1",
    )  # fmt: skip
    assert list(picks.columns) == ["experiment", "particle_type", "x", "y", "z", "score"]
    rows = [tuple(r) for r in picks[["particle_type", "x", "y", "z"]].itertuples(index=False)]
    assert rows == [
        ("apo-ferritin", 300.0, 200.0, 100.0),
        ("apo-ferritin", 360.0, 200.0, 100.0),
        ("ribosome", 70.0, 60.0, 50.0),
    ]
    np.testing.assert_allclose(picks["score"], [0.9, 0.4, 0.6], rtol=1e-6)
    assert (picks["experiment"] == "TS_1").all()


def test_extract_picks_radius_in_channel_order_and_empty_result():
    heat = np.zeros((1, 8, 8, 8), dtype=np.float32)
    assert extract_picks(heat, ["a"], [60.0], 10.0).empty
    heat[0, 1, 2, 3] = 0.7
    picks = extract_picks(heat, ["a"], [60.0], 10.0, thresholds={"a": 0.7})
    assert picks.empty  # strict comparison: score > threshold
    with pytest.raises(InputError, match="shape"):
        extract_picks(heat, ["a", "b"], [60.0, 70.0], 10.0)
    with pytest.raises(InputError, match="unknown classes"):
        extract_picks(heat, ["a"], [60.0], 10.0, thresholds={"b": 0.1})
    with pytest.raises(InputError, match="lacks classes"):
        extract_picks(heat, ["a"], {"b": 60.0}, 10.0)


def test_flip_tta_is_invertible_for_an_equivariant_model():
    model = PointwiseNet()
    volume = np.random.default_rng(0).normal(size=(64, 64, 64)).astype(np.float32)
    kwargs = {"roi": 32, "overlap": 0.5, "device": "cpu"}
    plain = predict_heatmaps(model, volume, tta_flips=False, **kwargs)
    tta = predict_heatmaps(model, volume, tta_flips=True, **kwargs)
    np.testing.assert_allclose(tta, plain, atol=1e-6)


def test_sliding_window_equals_whole_volume_forward_single_window():
    torch.manual_seed(0)
    model = build_model("resnet10", n_classes=2, decoder_channels=(16, 8, 8, 8, 8)).eval()
    volume = np.random.default_rng(1).normal(size=(32, 32, 32)).astype(np.float32)
    got = predict_heatmaps(model, volume, roi=32, tta_flips=False, normalize=False, device="cpu")
    np.testing.assert_allclose(got, whole_volume_reference(model, volume), atol=1e-5)


def test_sliding_window_equals_whole_volume_forward_many_windows():
    model = PointwiseNet()
    volume = np.random.default_rng(2).normal(size=(48, 64, 80)).astype(np.float32)
    got = predict_heatmaps(
        model, volume, roi=32, overlap=0.5, tta_flips=False, normalize=False, device="cpu"
    )
    assert got.shape == (2, 48, 64, 80)
    np.testing.assert_allclose(got, whole_volume_reference(model, volume), atol=1e-5)


def test_models_are_averaged_in_logit_space():
    a, b = PointwiseNet(seed=1), PointwiseNet(seed=2)
    mean = PointwiseNet()
    with torch.no_grad():
        for p_mean, p_a, p_b in zip(mean.parameters(), a.parameters(), b.parameters(), strict=True):
            p_mean.copy_((p_a + p_b) / 2)
    volume = np.random.default_rng(3).normal(size=(32, 32, 64)).astype(np.float32)
    kwargs = {"roi": 32, "tta_flips": False, "device": "cpu"}
    np.testing.assert_allclose(
        predict_heatmaps([a, b], volume, **kwargs), predict_heatmaps(mean, volume, **kwargs),
        atol=1e-6,
    )  # fmt: skip


def test_deterministic_under_a_seed_and_batch_equals_single():
    def run(volume):
        torch.manual_seed(7)
        model = SmallConvNet()
        return predict_heatmaps(model, volume, roi=32, overlap=0.25, device="cpu")

    rng = np.random.default_rng(4)
    first, second = (rng.normal(size=(32, 40, 36)).astype(np.float32) for _ in range(2))
    single = run(first)
    np.testing.assert_array_equal(single, run(first))
    batch = run(np.stack([first, second]))
    assert batch.shape == (2, 2, 32, 40, 36)
    np.testing.assert_allclose(batch[0], single, atol=1e-6)
    np.testing.assert_allclose(batch[1], run(second), atol=1e-6)


def test_volume_smaller_than_a_window_is_padded():
    volume = np.random.default_rng(5).normal(size=(20, 30, 31)).astype(np.float32)
    out = predict_heatmaps(PointwiseNet(), volume, roi=32, device="cpu")
    assert out.shape == (2, 20, 30, 31) and np.isfinite(out).all()


def test_end_to_end_axis_order_bright_voxel_to_angstrom():
    model = PointwiseNet(n_classes=1)
    with torch.no_grad():
        model.conv.weight.copy_(torch.tensor([1.0, 0.0]).view(2, 1, 1, 1, 1))
        model.conv.bias.zero_()
    volume = np.zeros((32, 48, 64), dtype=np.float32)
    volume[10, 20, 30] = 1.0  # (z, y, x): x = 300 Å, y = 200 Å, z = 100 Å
    heat = predict_heatmaps(model, volume, roi=32, normalize=False, device="cpu")
    assert np.unravel_index(heat[0].argmax(), heat[0].shape) == (10, 20, 30)
    picks = extract_picks(heat, ["a"], [60.0], 10.0, run="TS")
    best = picks.iloc[0]
    assert best.x in (300.0, 310.0) and best.y in (200.0, 210.0) and best.z in (100.0, 110.0)


def test_bad_arguments_are_rejected():
    volume = np.zeros((32, 32, 32), dtype=np.float32)
    with pytest.raises(InputError, match="multiple of 32"):
        predict_heatmaps(PointwiseNet(), volume, roi=40)
    with pytest.raises(InputError, match="overlap"):
        predict_heatmaps(PointwiseNet(), volume, roi=32, overlap=1.0)
    with pytest.raises(InputError, match="volume"):
        predict_heatmaps(PointwiseNet(), np.zeros((4, 4)), roi=32)
    with pytest.raises(InputError, match="at least one model"):
        predict_heatmaps([], volume)
    with pytest.raises(InputError, match="same number of classes"):
        predict_heatmaps([PointwiseNet(1), PointwiseNet(2)], volume, roi=32)


def test_default_device_is_cuda_only_when_available():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert default_device().type == expected
    assert default_device("cpu").type == "cpu"


@pytest.mark.parametrize("r", [1, 3, 7])
def test_separable_cube_max_equals_max_pool3d(r):
    torch.manual_seed(r)
    heat = torch.rand(1, 1, 9, 17, 23)
    expected = F.max_pool3d(heat, 2 * r + 1, stride=1, padding=r)
    assert torch.equal(cube_max_filter(heat, r), expected)


def official_half_resolution_canvas(model, x, roi, overlap):
    """TopCUP's own sliding window (topcup.md §8.1 step 2): half-res canvas, uniform mean."""
    from monai.data.utils import dense_patch_slices

    shape = tuple(x.shape[2:])
    interval = (int(roi * (1 - overlap)),) * 3
    canvas = torch.zeros(1, model.n_classes + 1, *(s // 2 for s in shape))
    count = torch.zeros_like(canvas)
    for window in dense_patch_slices(shape, (roi,) * 3, interval):
        half = (slice(None), slice(None)) + tuple(
            slice(int(s.start * 0.5), int(s.stop * 0.5)) for s in window
        )
        canvas[half] += model(x[(slice(None), slice(None)) + window])[-1]
        count[half] += 1
    return canvas / count


@pytest.mark.parametrize("shape_zyx", [(40, 64, 70), (50, 34, 76)])
def test_sliding_window_matches_official_canvas_arithmetic(shape_zyx):
    # Even sizes (the full-size 630 x 630 x 184 is even); odd axes are padded by one voxel
    # here, so that half resolution is exact, where the official canvas has s // 2 planes.
    torch.manual_seed(0)
    model = SmallConvNet()
    volume = np.random.default_rng(6).normal(size=shape_zyx).astype(np.float32)
    x = zyx_to_network(torch.as_tensor(volume)[None, None]).contiguous()
    with torch.no_grad():
        logits = official_half_resolution_canvas(model, x, 32, 0.21)  # interval 25: odd starts
    full = F.interpolate(logits, size=x.shape[2:], mode="trilinear", align_corners=False)
    expected = network_to_zyx(torch.softmax(full, 1)[:, :-1])[0].numpy()
    got = predict_heatmaps(
        model, volume, roi=32, overlap=0.21, tta_flips=False, normalize=False, device="cpu"
    )
    np.testing.assert_allclose(got, expected, atol=1e-6)


@pytest.mark.parametrize("shape", [(1, 7, 5, 6, 7), (2, 3, 37, 4, 5), (1, 4, 16, 16, 1)])
@pytest.mark.parametrize("slab", [1, 3, 32])
def test_slab_upsampling_equals_whole_volume_upsampling(shape, slab):
    from topcup_bench.pickers.topcup.infer import upsample_softmax

    half = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    whole = F.interpolate(half, scale_factor=2, mode="trilinear", align_corners=False)
    expected = torch.softmax(whole, dim=1)[:, :-1]
    got = upsample_softmax(half, slab)
    assert got.shape == expected.shape and got.device.type == "cpu"
    torch.testing.assert_close(got, expected, atol=2e-7, rtol=0)


def test_odd_sizes_are_padded_to_even_and_cropped_back():
    model = PointwiseNet()
    volume = np.random.default_rng(3).normal(size=(33, 47, 50)).astype(np.float32)
    got = predict_heatmaps(
        model, volume, roi=32, overlap=0.5, tta_flips=False, normalize=False, device="cpu"
    )
    assert got.shape == (2, 33, 47, 50)
    padded = np.pad(volume, ((0, 1), (0, 1), (0, 0)))  # odd z and y get one zero plane
    expected = whole_volume_reference(model, padded)[:, :33, :47, :50]
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize(
    ("side", "roi", "before", "after"),
    [(50, 96, 22, 24), (46, 96, 24, 26), (54, 96, 20, 22), (92, 96, 2, 2), (48, 96, 24, 24),
     (45, 96, 24, 27), (96, 96, 0, 0), (160, 96, 0, 0), (161, 96, 0, 1), (18, 32, 6, 8)],
)  # fmt: skip
def test_window_padding_puts_an_even_number_of_voxels_before(side, roi, before, after):
    assert window_padding([side], roi) == ([before], [after])


def test_short_sides_two_mod_four_are_not_shifted():
    # Sides 18, 22, 26 under a 32 window: MONAI alone would pad 7, 5, 3 voxels before them
    # (odd), and its rounded half-resolution crop shifted the heatmap by one voxel. The oracle
    # embeds the volume in a zero cube at even offsets 6, 4, 2, runs one window, crops the
    # half-resolution logits at 3, 2, 1 and upsamples.
    model = SmallConvNet()
    volume = np.random.default_rng(8).normal(size=(18, 22, 26)).astype(np.float32)
    cube = np.zeros((32, 32, 32), np.float32)
    cube[6:24, 4:26, 2:28] = volume
    x = zyx_to_network(torch.as_tensor(cube)[None, None]).contiguous()
    with torch.no_grad():
        half = network_to_zyx(model(x)[-1])[:, :, 3:12, 2:13, 1:14]
    full = F.interpolate(half, size=volume.shape, mode="trilinear", align_corners=False)
    expected = torch.softmax(full, 1)[0, :-1].numpy()
    got = predict_heatmaps(model, volume, roi=32, tta_flips=False, normalize=False, device="cpu")
    assert got.shape == (2, 18, 22, 26)
    np.testing.assert_allclose(got, expected, atol=1e-6)


class OutOfMemoryAboveOne(torch.nn.Module):
    """Raises CUDA out-of-memory for batches of more than one window."""

    def __init__(self):
        super().__init__()
        self.inner = PointwiseNet()
        self.n_classes = self.inner.n_classes
        self.batch_sizes = []

    def forward(self, x):
        self.batch_sizes.append(x.shape[0])
        if x.shape[0] > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return self.inner(x)


def test_out_of_memory_retries_with_fewer_windows_then_explains():
    from topcup_bench.errors import TopcupBenchWarning

    volume = np.random.default_rng(4).normal(size=(64, 64, 64)).astype(np.float32)
    model = OutOfMemoryAboveOne()
    kwargs = dict(roi=32, overlap=0.5, tta_flips=False, device="cpu")
    with pytest.warns(TopcupBenchWarning, match="retrying with") as record:
        got = predict_heatmaps(model, volume, sw_batch_size=4, **kwargs)
    assert [str(w.message) for w in record] == [
        f"out of GPU memory; retrying with {n} window(s) per batch" for n in (2, 1)
    ]
    assert 4 in model.batch_sizes and 2 in model.batch_sizes and model.batch_sizes[-1] == 1
    expected = predict_heatmaps(model.inner, volume, sw_batch_size=1, **kwargs)
    np.testing.assert_allclose(got, expected, atol=1e-6)

    class AlwaysOutOfMemory(OutOfMemoryAboveOne):
        def forward(self, x):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

    with pytest.raises(InputError, match="out of GPU memory with one 32\\^3 window"):
        predict_heatmaps(AlwaysOutOfMemory(), volume, sw_batch_size=1, **kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_request_without_cuda_is_a_clear_error():
    with pytest.raises(InputError, match="no CUDA device"):
        default_device("cuda")
    with pytest.raises(InputError, match="unknown device"):
        default_device("gpu0")
    assert default_device("auto").type == "cpu"
