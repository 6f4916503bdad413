"""The TopCUP network: parameter counts, module names and output shapes."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from topcup_bench.errors import InputError  # noqa: E402
from topcup_bench.pickers.topcup.model import STRIDES, build_model  # noqa: E402

torch.set_num_threads(2)


def n_parameters(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("backbone", "expected"), [("efficientnet-b3", 19_265_836), ("resnet34", 70_661_724)]
)
def test_parameter_counts_match_official(backbone, expected):
    assert n_parameters(build_model(backbone, n_classes=6)) == expected


def test_module_names_are_the_bare_official_layout():
    keys = list(build_model("resnet34").state_dict())
    assert "encoder.conv1.weight" in keys
    assert "decoder.blocks.0.convs.conv_0.conv.weight" in keys
    heads = [k for k in keys if k.startswith("segmentation_heads.")]
    assert heads == [f"segmentation_heads.{i}.0.{p}" for i in range(4) for p in ("weight", "bias")]
    assert not any(k.startswith("segmentation_head.") for k in keys)


def test_heads_have_background_last_channel_count_and_official_norm():
    model = build_model("efficientnet-b3", n_classes=6)
    assert [h[0].out_channels for h in model.segmentation_heads] == [7, 7, 7, 7]
    assert [h[0].in_channels for h in model.segmentation_heads] == [256, 128, 64, 32]
    norm = model.decoder.blocks[0].convs.conv_0.adn.N
    assert (norm.eps, norm.momentum) == (1e-3, 0.1)


def test_output_shapes_at_every_level_for_a_96_cube():
    torch.manual_seed(0)
    model = build_model("resnet10", n_classes=6, decoder_channels=(16, 8, 8, 8, 8)).eval()
    with torch.no_grad():
        outputs = model(torch.randn(1, 1, 96, 96, 96))
    assert [tuple(o.shape) for o in outputs] == [(1, 7, 96 // s, 96 // s, 96 // s) for s in STRIDES]


def test_anisotropic_input_keeps_axis_order():
    model = build_model("resnet10", n_classes=2, decoder_channels=(16, 8, 8, 8, 8)).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 1, 64, 32, 96))[-1]
    assert tuple(out.shape) == (1, 3, 32, 16, 48)


def test_size_not_multiple_of_32_is_rejected():
    model = build_model("resnet10", n_classes=2, decoder_channels=(16, 8, 8, 8, 8))
    with pytest.raises(InputError, match="multiples of 32"):
        model(torch.zeros(1, 1, 100, 96, 96))


def test_bad_backbone_and_class_count():
    with pytest.raises(InputError, match="unknown backbone"):
        build_model("resnet35")
    with pytest.raises(InputError, match="n_classes"):
        build_model("resnet10", n_classes=0)
