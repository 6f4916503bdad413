"""Fast CPU inference: stride-2 head only, channels-last convolutions, folded batch norms."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from torch import nn  # noqa: E402

from topcup_bench.errors import InputError, TopcupBenchWarning  # noqa: E402
from topcup_bench.pickers.topcup import inference_model  # noqa: E402
from topcup_bench.pickers.topcup.fast_convolutions import (  # noqa: E402
    FastConvolutions,
    channels_last_strides,
)
from topcup_bench.pickers.topcup.fold_plan import FoldEntry, plan_folding  # noqa: E402
from topcup_bench.pickers.topcup.infer import extract_picks, predict_heatmaps  # noqa: E402
from topcup_bench.pickers.topcup.inference_model import (  # noqa: E402
    clear_inference_cache,
    window_predictor,
)
from topcup_bench.pickers.topcup.model import build_model  # noqa: E402

torch.set_num_threads(2)
CPU = torch.device("cpu")
CHANNELS_LAST = torch.channels_last_3d


def tiny_net(n_classes=2, seed=0):
    """resnet10 with a narrow decoder and batch-norm statistics far from the identity."""
    torch.manual_seed(seed)
    net = build_model("resnet10", n_classes=n_classes, decoder_channels=(16, 8, 8, 8, 8))
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.BatchNorm3d):
                shape = module.running_mean.shape
                module.running_mean.copy_(torch.rand(shape, generator=generator) - 0.5)
                module.running_var.copy_(torch.rand(shape, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(shape, generator=generator) + 0.5)
                module.bias.copy_(torch.rand(shape, generator=generator) - 0.5)
    return net.eval()


class ConvNorm(nn.Module):
    """conv (1 -> 2 channels, 1x1x1) then batch norm, with hand-set numbers."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(1, 2, 1, bias=False)
        self.norm = nn.BatchNorm3d(2, eps=1.0)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([2.0, 3.0]).view(2, 1, 1, 1, 1))
            self.norm.running_mean.copy_(torch.tensor([1.0, -1.0]))
            self.norm.running_var.copy_(torch.tensor([3.0, 8.0]))  # + eps: sqrt = 2, 3
            self.norm.weight.copy_(torch.tensor([2.0, 3.0]))
            self.norm.bias.copy_(torch.tensor([0.5, -1.0]))
        self.eval()

    def forward(self, x):
        return self.norm(self.conv(x))


def test_half_resolution_logits_is_the_last_head_bit_for_bit():
    net = tiny_net()
    x = torch.randn(2, 1, 64, 32, 96, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        assert torch.equal(net.half_resolution_logits(x), net(x)[-1])
    with pytest.raises(InputError, match="multiples of 32"):
        net.half_resolution_logits(torch.zeros(1, 1, 40, 32, 32))


def test_folding_plan_and_folded_numbers_by_hand():
    net = ConvNorm()
    plan = plan_folding(net, lambda n, x: n(x), (1, 1, 4, 4, 4))
    assert plan == (
        FoldEntry("conv.weight", None, "norm.running_mean", "norm.running_var", "norm.weight",
                  "norm.bias", 1.0),
    )  # fmt: skip
    mode = FastConvolutions(net, plan)
    assert mode.n_folded == 1
    x = torch.ones(1, 1, 2, 2, 2)
    with torch.inference_mode(), mode:
        folded = net(x)
    # channel 0: (2 - 1) / 2 * 2 + 0.5 = 1.5; channel 1: (3 + 1) / 3 * 3 - 1 = 3
    assert torch.equal(folded[0, :, 0, 0, 0], torch.tensor([1.5, 3.0]))
    assert torch.equal(net(x)[0, :, 0, 0, 0], torch.tensor([1.5, 3.0]))
    assert net.conv.weight.flatten().tolist() == [2.0, 3.0]  # the network is untouched


class ReadTwice(nn.Module):
    """A convolution output read by its batch norm and by an addition: not foldable."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(1, 2, 1)
        self.norm = nn.BatchNorm3d(2)
        self.eval()

    def forward(self, x):
        y = self.conv(x)
        return self.norm(y) + y


class SharedConv(nn.Module):
    """One convolution used twice, each time followed by its own batch norm: not foldable."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(1, 1, 1)
        self.first, self.second = nn.BatchNorm3d(1), nn.BatchNorm3d(1)
        self.eval()

    def forward(self, x):
        return self.second(self.conv(self.first(self.conv(x))))


@pytest.mark.parametrize("module", [ReadTwice, SharedConv])
def test_batch_norms_that_cannot_be_folded_are_left_alone(module):
    net = module()
    with torch.no_grad():
        for norm in (m for m in net.modules() if isinstance(m, nn.BatchNorm3d)):
            norm.running_mean.fill_(0.3)
            norm.running_var.fill_(2.0)
    assert plan_folding(net, lambda n, x: n(x), (1, 1, 4, 4, 4)) == ()
    x = torch.randn(1, 1, 4, 4, 4, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode(), FastConvolutions(net, ()):
        got = net(x)
    torch.testing.assert_close(got, net(x))


def test_training_mode_batch_norm_is_not_folded():
    net = ConvNorm().train()
    assert plan_folding(net, lambda n, x: n(x), (2, 1, 4, 4, 4)) == ()


def test_folded_batch_norm_fed_by_another_tensor_is_an_error():
    net = ConvNorm()
    plan = plan_folding(net, lambda n, x: n(x), (1, 1, 2, 2, 2))
    with FastConvolutions(net, plan), pytest.raises(RuntimeError, match="control flow"):
        net.norm(torch.zeros(1, 2, 2, 2, 2))


def test_channels_last_strides_including_ambiguous_layouts():
    one_channel = torch.arange(24.0).view(1, 1, 2, 3, 4)
    out = channels_last_strides(one_channel)
    assert out.stride() == (24, 1, 12, 4, 1) and torch.equal(out, one_channel)
    wide = torch.randn(2, 3, 4, 5, 6).contiguous(memory_format=CHANNELS_LAST)
    assert channels_last_strides(wide) is wide


def test_fast_convolutions_run_channels_last_and_leave_the_network_alone():
    net = tiny_net()
    before = {n: (t.data_ptr(), t.stride(), t.clone()) for n, t in net.state_dict().items()}
    layouts = []
    for module in net.modules():
        if isinstance(module, nn.Conv3d):
            module.register_forward_hook(
                lambda m, i, o: layouts.append(o.is_contiguous(memory_format=CHANNELS_LAST))
            )
    plan = plan_folding(net, lambda n, x: n.half_resolution_logits(x), (1, 1, 32, 32, 32))
    assert len(plan) == sum(isinstance(m, nn.BatchNorm3d) for m in net.modules()) - 2
    x = torch.randn(2, 1, 64, 64, 32, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        expected = net(x)[-1]
        layouts.clear()
        with FastConvolutions(net, plan):
            got = net.half_resolution_logits(x)
    assert layouts and all(layouts)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    for name, tensor in net.state_dict().items():
        ptr, stride, values = before[name]
        assert tensor.data_ptr() == ptr and tensor.stride() == stride
        assert torch.equal(tensor, values)


def test_window_predictor_paths_and_precision_checks(monkeypatch):
    net = tiny_net()
    x = torch.randn(3, 1, 32, 64, 32, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        expected = net(x)[-1]
        fast = window_predictor(net, CPU)(x)
        plain = window_predictor(net, CPU, fast_convolutions=False)(x)
    assert fast.is_contiguous() and fast.dtype == torch.float32
    torch.testing.assert_close(fast, expected, atol=1e-5, rtol=1e-5)
    assert torch.equal(plain, expected)  # stride-2 head alone: bit-identical
    with pytest.raises(InputError, match="precision"):
        window_predictor(net, CPU, precision="fp16")
    monkeypatch.setattr(inference_model, "native_bf16", lambda device: False)
    with pytest.warns(TopcupBenchWarning, match="500 times slower"):
        predictor = window_predictor(net, CPU, precision="bf16")
    small = x[:1, :, :32, :32, :32]
    with torch.inference_mode():
        low, high = predictor(small), net(small)[-1]
    assert low.dtype == torch.float32
    assert 0 < (low - high).abs().max() < 0.05 * high.abs().max()  # bf16 rounding, not garbage


class NotOnMeta(nn.Module):
    """Reads a value in its forward pass, which a meta tensor cannot give."""

    def __init__(self):
        super().__init__()
        self.n_classes = 1
        self.conv = nn.Conv3d(1, 2, 3, padding=1)
        self.norm = nn.BatchNorm3d(2)
        self.eval()

    def forward(self, x):
        y = self.norm(self.conv(x))
        return [nn.functional.avg_pool3d(y * (1.0 + 0.0 * float(x.sum())), 2)]


def test_network_that_cannot_run_on_meta_gets_channels_last_without_folding():
    net = NotOnMeta()
    x = torch.randn(2, 1, 32, 32, 32, generator=torch.Generator().manual_seed(12))
    with torch.inference_mode():
        got = window_predictor(net, CPU, fast_convolutions=True)(x)
        expected = net(x)[-1]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert inference_model._MODES[net][1] == ()  # nothing folded


def test_bf16_needs_fp32_reference_and_a_known_precision():
    volume = np.zeros((32, 32, 32), dtype=np.float32)
    with pytest.raises(InputError, match="fp32 only"):
        predict_heatmaps(tiny_net(), volume, roi=32, precision="bf16", reference=True)
    with pytest.raises(InputError, match="expected one of"):
        predict_heatmaps(tiny_net(), volume, roi=32, precision="float16")


@pytest.mark.parametrize(
    ("shape_zyx", "tta"), [((33, 47, 50), True), ((20, 30, 31), False), ((40, 64, 70), True)]
)
def test_fast_equals_reference_on_odd_and_small_volumes(shape_zyx, tta):
    net = tiny_net(seed=4)
    volume = np.random.default_rng(7).normal(size=shape_zyx).astype(np.float32)
    kwargs = dict(roi=32, overlap=0.21, tta_flips=tta, device="cpu")
    fast = predict_heatmaps(net, volume, **kwargs)
    reference = predict_heatmaps(net, volume, reference=True, **kwargs)
    assert fast.shape == reference.shape == (2, *shape_zyx)
    np.testing.assert_allclose(fast, reference, atol=1e-5, rtol=0)


def test_ensemble_with_tta_equals_reference_and_batch_of_tomograms():
    nets = [tiny_net(seed=5), tiny_net(seed=6)]
    rng = np.random.default_rng(8)
    volumes = rng.normal(size=(2, 32, 64, 48)).astype(np.float32)
    kwargs = dict(roi=32, overlap=0.5, device="cpu")
    fast = predict_heatmaps(nets, volumes, **kwargs)
    reference = predict_heatmaps(nets, volumes, reference=True, **kwargs)
    assert fast.shape == (2, 2, 32, 64, 48)
    np.testing.assert_allclose(fast, reference, atol=1e-5, rtol=0)


class CountingNet(nn.Module):
    """Records the window batch sizes it sees; half-resolution output by 2x average pooling."""

    def __init__(self):
        super().__init__()
        self.n_classes = 1
        self.conv = nn.Conv3d(1, 2, 1)
        self.batches = []

    def forward(self, x):
        self.batches.append(x.shape[0])
        return [nn.functional.avg_pool3d(self.conv(x), 2)]


def test_both_flip_views_share_window_batches_of_four_on_cpu():
    net = CountingNet()
    volume = np.zeros((32, 64, 64), dtype=np.float32)  # 2 x 2 x 1 windows of 32 (overlap 0)
    predict_heatmaps(net, volume, roi=32, overlap=0.0, tta_flips=True, device="cpu")
    assert net.batches == [4, 4]  # 8 windows: 4 plain + 4 flipped, four per pass
    net.batches.clear()
    predict_heatmaps(net, volume, roi=32, overlap=0.0, device="cpu", reference=True)
    assert net.batches == [4, 4]  # the reference: one view per sliding window


def test_cached_copies_follow_weight_changes():
    clear_inference_cache()
    net = tiny_net(seed=9)
    volume = np.random.default_rng(10).normal(size=(32, 32, 64)).astype(np.float32)
    kwargs = dict(roi=32, tta_flips=False, device="cpu")
    first = predict_heatmaps(net, volume, **kwargs)
    mode = inference_model._MODES[net][2]
    np.testing.assert_array_equal(predict_heatmaps(net, volume, **kwargs), first)
    assert inference_model._MODES[net][2] is mode  # reused: weights unchanged
    with torch.no_grad():
        net.encoder.bn1.running_var.mul_(4.0)  # in place: only the version counter changes
    changed = predict_heatmaps(net, volume, **kwargs)
    assert inference_model._MODES[net][2] is not mode
    np.testing.assert_allclose(
        changed, predict_heatmaps(net, volume, reference=True, **kwargs), atol=1e-5, rtol=0
    )
    assert np.abs(changed - first).max() > 1e-3
    clear_inference_cache()
    assert len(inference_model._MODES) == 0


def test_picks_identical_to_reference_on_a_phantom_tomogram(tiny_phantom):
    tomogram = tiny_phantom.tomogram(tiny_phantom.runs[-1])
    names = list(tiny_phantom.classes.names)
    radii = {c.name: c.radius_angstrom for c in tiny_phantom.classes}
    net = tiny_net(n_classes=len(names), seed=11)
    kwargs = dict(roi=32, overlap=0.21, tta_flips=True, device="cpu")
    fast = predict_heatmaps(net, tomogram.data, **kwargs)
    reference = predict_heatmaps(net, tomogram.data, reference=True, **kwargs)
    np.testing.assert_allclose(fast, reference, atol=1e-5, rtol=0)
    floors = dict.fromkeys(names, 0.05)  # the picker's default min_score
    args = (names, radii, tomogram.voxel_size_angstrom, floors)
    got = extract_picks(fast, *args, run=tomogram.run, device="cpu")
    expected = extract_picks(reference, *args, run=tomogram.run, device="cpu")
    assert len(expected) > 10
    # The same picks but for near-ties: the random network's probabilities span 0.12-0.17,
    # so neighbouring voxels tie to 1e-7 and max-pool NMS may keep either (about one pick
    # in 2,400 on this tomogram); the order of equal-looking scores may differ too.
    n_differing = _differing_picks_are_near_ties(
        got, expected, reference, names, [radii[n] for n in names], tomogram.voxel_size_angstrom
    )
    assert n_differing <= 0.002 * len(expected)
    columns = ["particle_type", "x", "y", "z"]
    both = _by_place(got).merge(_by_place(expected), on=columns, suffixes=("_fast", "_ref"))
    assert len(both) >= len(expected) - n_differing
    np.testing.assert_allclose(both["score_fast"], both["score_ref"], atol=1e-5, rtol=0)


def _by_place(table):
    return table.sort_values(["particle_type", "z", "y", "x"]).reset_index(drop=True)


def _differing_picks_are_near_ties(got, expected, reference_map, names, radii, voxel_size):
    """Every pick found by only one path sits where the reference map ties to 1e-6.

    Max-pool NMS keeps a voxel that equals the maximum of its cube; where two voxels of
    one cube differ by less than the paths' rounding difference, either may win.
    Returns the number of differing picks.
    """
    from topcup_bench.pickers.topcup.infer import nms_radius_voxels

    def places(table):
        return set(map(tuple, table[["particle_type", "x", "y", "z"]].values.tolist()))

    differing = places(got) ^ places(expected)
    for name, x, y, z in differing:
        channel = names.index(name)
        r = nms_radius_voxels(radii[channel], voxel_size)
        zi, yi, xi = (round(v / voxel_size) for v in (z, y, x))
        cube = reference_map[channel][
            max(0, zi - r) : zi + r + 1, max(0, yi - r) : yi + r + 1, max(0, xi - r) : xi + r + 1
        ]
        assert cube.max() - reference_map[channel, zi, yi, xi] < 1e-6, (name, x, y, z)
        top_two = np.sort(cube, axis=None)[-2:]
        assert top_two[1] - top_two[0] < 1e-6, (name, x, y, z)
    return len(differing)


@pytest.mark.slow
def test_resnet34_on_a_default_phantom_tomogram_fast_equals_reference(tmp_path, monkeypatch):
    # The published network (random weights, batch-norm statistics away from identity) on a
    # phantom:default tomogram (92 x 160 x 160), 96^3 windows, flip TTA, 4 windows per pass.
    monkeypatch.setenv("TOPCUP_BENCH_CACHE", str(tmp_path))
    from topcup_bench.datasets.catalog import open_dataset

    dataset = open_dataset("phantom:default?runs=2&test=1", progress=False)
    tomogram = dataset.tomogram(dataset.runs[-1])
    names = list(dataset.classes.names)
    radii = [c.radius_angstrom for c in dataset.classes]
    torch.manual_seed(0)
    net = build_model("resnet34", n_classes=len(names)).eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.BatchNorm3d):
                shape = module.running_mean.shape
                module.running_mean.copy_(torch.rand(shape, generator=generator) * 0.2 - 0.1)
                module.running_var.copy_(torch.rand(shape, generator=generator) + 0.5)
    fast = predict_heatmaps(net, tomogram.data, device="cpu")
    reference = predict_heatmaps(net, tomogram.data, device="cpu", reference=True)
    np.testing.assert_allclose(fast, reference, atol=1e-5, rtol=0)
    voxel = tomogram.voxel_size_angstrom
    floors = dict.fromkeys(names, 0.05)
    got = extract_picks(fast, names, radii, voxel, floors, device="cpu")
    expected = extract_picks(reference, names, radii, voxel, floors, device="cpu")
    assert len(expected) > 100
    n_differing = _differing_picks_are_near_ties(got, expected, reference, names, radii, voxel)
    assert n_differing <= len(expected) // 1000
