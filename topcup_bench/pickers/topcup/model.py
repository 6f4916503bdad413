"""The TopCUP network: MONAI FlexibleUNet encoder and decoder with four segmentation heads.

Layout (topcup.md §2): ``encoder`` (any MONAI FlexibleUNet backbone, 3-D, one input
channel, random init), ``decoder`` (MONAI ``UNetDecoder``, channels 256-128-64-32-16,
nearest upsampling, batch norm eps 1e-3) and ``segmentation_heads`` (one MONAI
``SegmentationHead`` on each of the first four decoder stages, ``n_classes + 1``
channels, background last). The module names are those of the bare official
model, so an official state dict loads after its ``model.`` / ``backbone.`` prefix
is stripped (:mod:`topcup_bench.pickers.topcup.checkpoint`).

Axis order: the network sees volumes in (X, Y, Z) order, like the official weights;
see :func:`topcup_bench.pickers.topcup.targets.zyx_to_network`.
"""

from __future__ import annotations

import torch
from monai.networks.nets.flexible_unet import FLEXUNET_BACKBONE, FlexibleUNet, SegmentationHead
from torch import nn

from topcup_bench.errors import InputError

__all__ = ["TopCUPNet", "build_model", "DECODER_CHANNELS", "N_HEADS", "STRIDES", "SIZE_MULTIPLE"]

#: Decoder stage widths (topcup.md §2).
DECODER_CHANNELS: tuple[int, ...] = (256, 128, 64, 32, 16)
#: Number of decoder stages with a segmentation head.
N_HEADS = 4
#: Stride of each head's output relative to the input (coarse to fine).
STRIDES: tuple[int, ...] = (16, 8, 4, 2)
#: Input sizes must be multiples of this (the encoder's total stride; topcup.md §12.12).
SIZE_MULTIPLE = 32


class TopCUPNet(FlexibleUNet):
    """FlexibleUNet returning the logits of the first four decoder stages.

    Use :func:`build_model` to create one. The stock single ``segmentation_head``
    of FlexibleUNet is replaced by ``segmentation_heads`` (a ``ModuleList``).

    Attributes
    ----------
    n_classes : int
        Particle classes; each head has ``n_classes + 1`` channels, background last.
    backbone_name : str
        MONAI FlexibleUNet backbone name.
    model_kwargs : dict
        Other FlexibleUNet arguments given at construction (saved in checkpoints).
    """

    def __init__(self, backbone: str = "resnet34", n_classes: int = 6, **kwargs) -> None:
        super().__init__(
            in_channels=1,
            out_channels=n_classes + 1,
            backbone=backbone,
            pretrained=False,
            spatial_dims=3,
            **kwargs,
        )
        channels = kwargs.get("decoder_channels", DECODER_CHANNELS)
        del self.segmentation_head
        self.segmentation_heads = nn.ModuleList(
            SegmentationHead(
                spatial_dims=3,
                in_channels=channels[i],
                out_channels=n_classes + 1,
                kernel_size=3,
                act=None,
            )
            for i in range(N_HEADS)
        )
        self.n_classes = n_classes
        self.backbone_name = backbone
        self.model_kwargs = dict(kwargs)

    def forward(self, inputs: torch.Tensor) -> list[torch.Tensor]:  # type: ignore[override]
        """Logits of the four heads.

        Parameters
        ----------
        inputs : torch.Tensor, shape (B, 1, X, Y, Z)
            Normalised volume in network (X, Y, Z) order; every spatial size a
            multiple of 32.

        Returns
        -------
        list of 4 torch.Tensor
            Shapes (B, n_classes + 1, X/s, Y/s, Z/s) for strides s = 16, 8, 4, 2;
            only the last (half resolution) is used at inference.

        Raises
        ------
        InputError
            A spatial size that is not a multiple of 32 (the decoder concat would fail).
        """
        _check_input(inputs)
        features = self.encoder(inputs)
        skips = features[:-1][::-1]
        x = features[1:][::-1][0]
        outputs = []
        for i, block in enumerate(self.decoder.blocks):
            x = block(x, skips[i] if i < self.skip_connect else None)
            if i < N_HEADS:
                outputs.append(self.segmentation_heads[i](x))
        return outputs

    def half_resolution_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits of the last head (stride 2) only: ``forward(inputs)[-1]`` without the rest.

        Inference uses only this head. The fifth decoder block (full resolution,
        about 40 % of a forward pass of the resnet34 network on a 96³ window) and
        heads 0-2 are skipped; the operations that remain are those of
        :meth:`forward`, in the same order, so the result is bit-identical.

        Parameters
        ----------
        inputs : torch.Tensor, shape (B, 1, X, Y, Z)
            As for :meth:`forward`.

        Returns
        -------
        torch.Tensor, shape (B, n_classes + 1, X/2, Y/2, Z/2)

        Raises
        ------
        InputError
            A spatial size that is not a multiple of 32.
        """
        _check_input(inputs)
        features = self.encoder(inputs)
        skips = features[:-1][::-1]
        x = features[1:][::-1][0]
        for i in range(N_HEADS):
            x = self.decoder.blocks[i](x, skips[i] if i < self.skip_connect else None)
        return self.segmentation_heads[N_HEADS - 1](x)


def _check_input(inputs: torch.Tensor) -> None:
    shape = tuple(inputs.shape[2:])
    if inputs.ndim != 5 or any(s % SIZE_MULTIPLE for s in shape):
        raise InputError(
            "TopCUP network input",
            f"expected shape (B, 1, X, Y, Z) with X, Y, Z multiples of {SIZE_MULTIPLE}, "
            f"found {tuple(inputs.shape)}; pad the volume or use a window size that is "
            f"a multiple of {SIZE_MULTIPLE}",
        )


def build_model(backbone: str = "resnet34", n_classes: int = 6, **kwargs) -> TopCUPNet:
    """Build the TopCUP network with random weights (no pretrained encoder).

    Parameters
    ----------
    backbone : str
        Any MONAI FlexibleUNet backbone (``"resnet34"``, ``"efficientnet-b3"``, ...).
    n_classes : int
        Particle classes (6 for the CZII competition); heads have ``n_classes + 1``
        channels with background last.
    **kwargs
        Other FlexibleUNet arguments (``decoder_channels``, ``norm``, ``act``,
        ``dropout``, ``is_pad``, ...); the defaults are those of the official model.

    Returns
    -------
    TopCUPNet
        In training mode; ``forward`` maps (B, 1, X, Y, Z) to four logit maps.

    Raises
    ------
    InputError
        Unknown backbone or a class count below 1.

    Examples
    --------
    >>> net = build_model("resnet10", n_classes=2, decoder_channels=(16, 8, 8, 8, 8))
    >>> [m[0].out_channels for m in net.segmentation_heads]
    [3, 3, 3, 3]
    """
    known = list(FLEXUNET_BACKBONE.register_dict)
    if backbone not in known:
        raise InputError("TopCUP model", f"unknown backbone {backbone!r}; known: {known}")
    if int(n_classes) < 1:
        raise InputError("TopCUP model", f"n_classes must be >= 1, got {n_classes!r}")
    return TopCUPNet(backbone=backbone, n_classes=int(n_classes), **kwargs)
