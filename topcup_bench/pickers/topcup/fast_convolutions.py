"""Channels-last oneDNN 3-D convolutions with eval batch norm and ReLU folded in, network untouched.

On the CPU, oneDNN convolves 3-D volumes fastest in the channels-last layout, with
weights reordered once to its own blocked layout ("prepacked") and the ReLU that
follows applied inside the convolution. In PyTorch's default path every
convolution reorders its input, output and weight, and a weight in the default
layout is even copied to channels-last on every call with a channels-last input.
In eval mode a batch norm that follows a convolution is an affine map per channel,
which folds into the convolution's weight and bias.

:class:`FastConvolutions` does all this while a network runs, as a
:class:`~torch.overrides.TorchFunctionMode`: it sees every ``conv3d``,
``batch_norm`` and ``relu`` call of the pass, runs each convolution on a
channels-last input with a folded, prepacked copy of its weight (made on first use
and kept while the object lives), returns the input of a folded batch norm
unchanged and skips a ReLU already applied. The network's modules and tensors are
not modified. Which batch norms and ReLUs to fold comes from
:func:`~topcup_bench.pickers.topcup.fold_plan.plan_folding`.

Prepacking and the fused ReLU use ``torch.ops.mkldnn._reorder_convolution_weight``
and ``torch.ops.mkldnn._convolution_pointwise``, the oneDNN operations that
``torch.compile`` uses on the CPU; where they are missing, or under autocast, the
convolutions run through ``torch.conv3d`` (channels-last, folded) and the ReLUs
run as usual.

The arithmetic is the network's; only the order of the sums differs, so outputs
differ from the default path by rounding (about 1e-7 relative per layer).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from topcup_bench.pickers.topcup.fold_plan import FoldEntry

__all__ = ["FastConvolutions", "channels_last_strides", "prepacking_available"]


def channels_last_strides(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` (N, C, D, H, W) with strides (C·D·H·W, 1, H·W·C, W·C, C), copied if needed.

    ``contiguous(memory_format=torch.channels_last_3d)`` leaves a tensor whose
    layout is ambiguous (one channel, or a single voxel) as it is, and PyTorch
    then treats it as channels-first; explicit strides remove the ambiguity.

    Examples
    --------
    >>> channels_last_strides(torch.zeros(2, 1, 4, 5, 6)).stride()
    (120, 1, 30, 6, 1)
    """
    if tensor.stride() == _strides(tensor.shape):
        return tensor
    return _empty_channels_last(tensor).copy_(tensor)


def prepacking_available() -> bool:
    """Whether this PyTorch has oneDNN's prepacked, fused 3-D convolution operations."""
    try:
        ops = torch.ops.mkldnn
        return (
            torch.backends.mkldnn.is_available()
            and hasattr(ops, "_convolution_pointwise")
            and hasattr(ops, "_reorder_convolution_weight")
        )
    except (AttributeError, RuntimeError):
        return False


class _Conv(NamedTuple):
    """How one convolution weight runs: its source, its copy, bias, batch norm, fused ReLU."""

    source: torch.Tensor
    weight: torch.Tensor  # channels-last (folded) copy, or the prepacked oneDNN tensor
    bias: torch.Tensor | None
    norm_mean: torch.Tensor | None  # running_mean of the folded batch norm
    relu: bool
    packed: bool


class FastConvolutions(TorchFunctionMode):
    """A mode that runs 3-D convolutions channels-last with eval batch norms (and ReLUs) folded.

    Parameters
    ----------
    module : nn.Module
        The network whose tensors ``plan`` names.
    plan : sequence of FoldEntry
        Batch norms to fold (:func:`~topcup_bench.pickers.topcup.fold_plan.plan_folding`);
        empty: channels-last only.
    prepack : bool, optional
        Prepack weights for oneDNN and fuse the planned ReLUs. Default: when
        :func:`prepacking_available`. A prepacking mode refuses to run under
        autocast (its fp32 weights are packed); make one with ``prepack=False``.

    Notes
    -----
    One object may be entered many times, one pass at a time (it is not
    thread-safe). Its weights are those of the network when a convolution first
    ran: make a new one after changing the weights.

    Examples
    --------
    >>> from topcup_bench.pickers.topcup.fold_plan import plan_folding
    >>> net = torch.nn.Sequential(torch.nn.Conv3d(1, 4, 3), torch.nn.BatchNorm3d(4)).eval()
    >>> plan = plan_folding(net, lambda n, x: n(x), (1, 1, 8, 8, 8))
    >>> x = torch.randn(1, 1, 8, 8, 8)
    >>> with FastConvolutions(net, plan) as fast:
    ...     y = net(x)
    >>> fast.n_folded, bool(torch.allclose(y, net(x), atol=1e-5))
    (1, True)
    """

    def __init__(
        self, module: nn.Module, plan: Sequence[FoldEntry] = (), *, prepack: bool | None = None
    ) -> None:
        super().__init__()
        self.prepack = prepacking_available() if prepack is None else bool(prepack)
        tensors = dict(module.named_parameters(remove_duplicate=False))
        tensors |= dict(module.named_buffers(remove_duplicate=False))
        self._convs: dict[int, _Conv] = {}  # id(conv weight) → how it runs
        self._norms: dict[int, torch.Tensor] = {}  # id(running_mean) → running_mean
        self._pending: dict[int, int] = {}  # id(folded conv output) → id(its running_mean)
        self._relu_done: set[int] = set()  # ids of outputs whose ReLU was fused
        with torch.no_grad():
            for entry in plan:
                found = [None if n is None else tensors[n] for n in entry[:6]]
                weight, bias = _fold(*found, entry.eps)
                source, mean = found[0], found[2]
                relu = entry.relu and self.prepack
                self._convs[id(source)] = _Conv(source, weight, bias, mean, relu, False)
                self._norms[id(mean)] = mean

    @property
    def n_folded(self) -> int:
        """Batch norms folded."""
        return len(self._norms)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.conv3d and len(args) >= 2 and not kwargs:
            return self._conv3d(*args)
        if func is F.relu and args and id(args[0]) in self._relu_done:
            self._relu_done.discard(id(args[0]))
            return args[0]  # fused into its convolution
        if func is F.batch_norm and len(args) > 1 and self._norms.get(id(args[1])) is args[1]:
            return self._skip_norm(args[0], args[1])
        return func(*args, **kwargs)

    def __exit__(self, exc_type, exc_value, traceback):
        left = bool(self._pending or self._relu_done)
        self._pending.clear()
        self._relu_done.clear()
        result = super().__exit__(exc_type, exc_value, traceback)
        if left and exc_type is None:
            raise RuntimeError(
                "folding: a folded batch norm or fused ReLU never came; the network's control "
                "flow differs from the plan's"
            )
        return result

    def _conv3d(self, x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        x = channels_last_strides(x)
        conv = self._convs.get(id(weight))
        if conv is None or conv.source is not weight:
            conv = _Conv(weight, channels_last_strides(weight.detach()), bias, None, False, False)
            self._convs[id(weight)] = conv
        geometry = [_triple(v) for v in (padding, stride, dilation)]
        if self.prepack and torch.is_autocast_enabled("cpu"):
            raise RuntimeError("a prepacking FastConvolutions cannot run under autocast")
        usable = self.prepack and x.device.type == "cpu" and x.dtype == torch.float32
        if usable and None not in geometry and isinstance(groups, int):
            if not conv.packed:
                packed = torch.ops.mkldnn._reorder_convolution_weight(
                    conv.weight, *geometry, groups, list(x.shape)
                )
                conv = conv._replace(weight=packed, packed=True)  # the dense copy is dropped
                self._convs[id(weight)] = conv
            attr = "relu" if conv.relu else "none"
            out = torch.ops.mkldnn._convolution_pointwise(
                x, conv.weight, conv.bias, *geometry, groups, attr, [], ""
            )
            if conv.relu:
                self._relu_done.add(id(out))
        else:
            if conv.packed:
                raise RuntimeError("a prepacked convolution met an input it cannot take")
            out = torch.conv3d(x, conv.weight, conv.bias, stride, padding, dilation, groups)
        if conv.norm_mean is not None:
            self._pending[id(out)] = id(conv.norm_mean)
        return out

    def _skip_norm(self, x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        if self._pending.pop(id(x), None) != id(mean):
            raise RuntimeError(
                "folding: a folded batch norm received an input that is not the output of its "
                "convolution; the network's control flow differs from the plan's"
            )
        return x


def _triple(value) -> list[int] | None:
    """``[v, v, v]`` for an int, the list for three ints, None otherwise (e.g. 'same')."""
    if isinstance(value, int):
        return [value] * 3
    if isinstance(value, (tuple, list)) and len(value) == 3:
        if all(isinstance(v, int) for v in value):
            return list(value)
    return None


def _fold(conv_weight, conv_bias, mean, var, weight, bias, eps):
    """Channels-last weight and bias of eval ``batch_norm(conv3d(x, conv_weight, conv_bias))``."""
    scale = torch.rsqrt(var.double() + eps)
    if weight is not None:
        scale = scale * weight.double()
    shift = -mean.double() * scale
    if bias is not None:
        shift = shift + bias.double()
    if conv_bias is not None:
        shift = shift + conv_bias.double() * scale
    out = _empty_channels_last(conv_weight)
    view = (-1,) + (1,) * (conv_weight.ndim - 1)
    torch.mul(conv_weight.detach(), scale.to(conv_weight.dtype).view(view), out=out)
    return out, shift.to(conv_weight.dtype)


def _strides(shape: Sequence[int]) -> tuple[int, ...]:
    _, c, d, h, w = shape
    return (c * d * h * w, 1, h * w * c, w * c, c)


def _empty_channels_last(like: torch.Tensor) -> torch.Tensor:
    return torch.empty_strided(
        like.shape, _strides(like.shape), dtype=like.dtype, device=like.device
    )
