"""Channels-last 3-D convolutions with eval batch norm folded in, without touching the network.

On the CPU, oneDNN convolves 3-D volumes fastest in the channels-last layout; in
PyTorch's default layout every convolution reorders its input and output, and a
weight in the default layout is copied to channels-last by every call. In eval
mode a batch norm that directly follows a convolution is an affine map per
channel, which can be folded into the convolution's weight and bias, saving one
pass over every activation.

:class:`FastConvolutions` does both while a network runs, as a
:class:`~torch.overrides.TorchFunctionMode`: it sees every ``conv3d`` and
``batch_norm`` call, runs each convolution on a channels-last input with a
channels-last (and, where folded, rescaled) copy of its weight, made once and kept
while the object lives, and returns the input of a folded batch norm unchanged.
The network's modules and tensors are not modified.

Which batch norms to fold (:func:`plan_folding`) is learnt from one forward pass of
a weightless twin of the network on the ``meta`` device (no arithmetic): a batch
norm is folded when its input is the output of a convolution that nothing else
reads, in eval mode with running statistics.

The arithmetic is the network's; only the order of the sums differs, so outputs
differ from the default path by rounding (about 1e-7 relative per layer).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

__all__ = ["FastConvolutions", "FoldEntry", "plan_folding", "channels_last_strides"]


class FoldEntry(NamedTuple):
    """One batch norm folded into the convolution before it (tensor names in the network)."""

    conv_weight: str
    conv_bias: str | None
    running_mean: str
    running_var: str
    weight: str | None
    bias: str | None
    eps: float


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


def _strides(shape: Sequence[int]) -> tuple[int, ...]:
    _, c, d, h, w = shape
    return (c * d * h * w, 1, h * w * c, w * c, c)


def _empty_channels_last(like: torch.Tensor) -> torch.Tensor:
    return torch.empty_strided(
        like.shape, _strides(like.shape), dtype=like.dtype, device=like.device
    )


def plan_folding(
    module: nn.Module,
    call: Callable[[nn.Module, torch.Tensor], object],
    probe_shape: Sequence[int],
) -> tuple[FoldEntry, ...]:
    """The batch norms of ``module`` that can be folded, from a forward pass on ``meta``.

    Parameters
    ----------
    module : nn.Module
        The network, in the mode (eval) in which it will run.
    call : callable
        ``call(network, inputs)`` runs the forward pass to be accelerated, e.g.
        ``lambda net, x: net.half_resolution_logits(x)``.
    probe_shape : sequence of int
        A valid input shape, e.g. (1, 1, 32, 32, 32); nothing of that size is allocated.

    Returns
    -------
    tuple of FoldEntry
        In the order of the forward pass.
    """
    twin = _meta_twin(module)
    names = {id(t): n for n, t in twin.named_parameters(remove_duplicate=False)}
    names |= {id(t): n for n, t in twin.named_buffers(remove_duplicate=False)}
    recorder = _Recorder()
    with torch.inference_mode(), recorder:
        call(twin, torch.zeros(tuple(probe_shape), device="meta"))
    plan = []
    for out_id, (mean, var, weight, bias, eps) in recorder.norm_of.items():
        conv_weight, conv_bias = recorder.conv_of[out_id]
        single = (
            recorder.reads[out_id] == 1
            and recorder.weight_uses[id(conv_weight)] == 1
            and recorder.norm_uses[id(mean)] == 1
        )
        tensors = (conv_weight, conv_bias, mean, var, weight, bias)
        if single and all(t is None or id(t) in names for t in tensors):
            plan.append(FoldEntry(*(None if t is None else names[id(t)] for t in tensors), eps))
    return tuple(plan)


class FastConvolutions(TorchFunctionMode):
    """A mode that runs 3-D convolutions channels-last with their eval batch norms folded in.

    Parameters
    ----------
    module : nn.Module
        The network whose tensors ``plan`` names.
    plan : sequence of FoldEntry
        Batch norms to fold (:func:`plan_folding`); empty: channels-last only.
    channels_last : bool
        Give convolution inputs and weights channels-last strides.

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Conv3d(1, 4, 3), torch.nn.BatchNorm3d(4)).eval()
    >>> plan = plan_folding(net, lambda n, x: n(x), (1, 1, 8, 8, 8))
    >>> [entry.running_mean for entry in plan]
    ['1.running_mean']
    >>> x = torch.randn(1, 1, 8, 8, 8)
    >>> with FastConvolutions(net, plan):
    ...     y = net(x)
    >>> bool(torch.allclose(y, net(x), atol=1e-5))
    True
    """

    def __init__(
        self, module: nn.Module, plan: Sequence[FoldEntry] = (), *, channels_last: bool = True
    ) -> None:
        super().__init__()
        self.channels_last = channels_last
        tensors = dict(module.named_parameters(remove_duplicate=False))
        tensors |= dict(module.named_buffers(remove_duplicate=False))
        self._weights: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # weight → its copy
        # conv weight → (weight, folded weight, folded bias, running_mean of the folded BN)
        self._folded: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] = {}
        self._norms: dict[int, torch.Tensor] = {}  # id(running_mean) → running_mean
        self._pending: dict[int, int] = {}  # id(output of a folded conv) → id(its running_mean)
        with torch.no_grad():
            for entry in plan:
                found = [None if n is None else tensors[n] for n in entry[:6]]
                conv_weight, mean = found[0], found[2]
                new_weight, new_bias = _fold(*found, entry.eps, channels_last)
                self._folded[id(conv_weight)] = (conv_weight, new_weight, new_bias, mean)
                self._norms[id(mean)] = mean

    @property
    def n_folded(self) -> int:
        """Batch norms folded."""
        return len(self._norms)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.conv3d and len(args) >= 2 and not kwargs:
            return self._conv3d(args)
        if func is F.batch_norm and self._norms:
            mean = args[1] if len(args) > 1 else kwargs.get("running_mean")
            if mean is not None and self._norms.get(id(mean)) is mean:
                return self._skip_norm(args[0] if args else kwargs["input"], mean)
        return func(*args, **kwargs)

    def _conv3d(self, args: tuple) -> torch.Tensor:
        x, weight, *rest = args
        if self.channels_last:
            x = channels_last_strides(x)
        folded = self._folded.get(id(weight))
        if folded is not None and folded[0] is weight:
            out = torch.conv3d(x, folded[1], folded[2], *rest[1:])
            self._pending[id(out)] = id(folded[3])
            return out
        if self.channels_last:
            held = self._weights.get(id(weight))
            if held is None or held[0] is not weight:
                held = (weight, channels_last_strides(weight.detach()))
                self._weights[id(weight)] = held
            weight = held[1]
        return torch.conv3d(x, weight, *rest)

    def _skip_norm(self, x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        if self._pending.pop(id(x), None) != id(mean):
            raise RuntimeError(
                "batch-norm folding: a folded batch norm received an input that is not the "
                "output of its convolution; the network's control flow differs from the plan's"
            )
        return x


def _fold(conv_weight, conv_bias, mean, var, weight, bias, eps, channels_last):
    """Weight and bias of ``batch_norm(conv3d(x, conv_weight, conv_bias))`` in eval mode."""
    scale = torch.rsqrt(var.double() + eps)
    if weight is not None:
        scale = scale * weight.double()
    shift = -mean.double() * scale
    if bias is not None:
        shift = shift + bias.double()
    if conv_bias is not None:
        shift = shift + conv_bias.double() * scale
    out = _empty_channels_last(conv_weight) if channels_last else torch.empty_like(conv_weight)
    view = (-1,) + (1,) * (conv_weight.ndim - 1)
    torch.mul(conv_weight, scale.to(conv_weight.dtype).view(view), out=out)
    return out, shift.to(conv_weight.dtype)


def _meta_twin(module: nn.Module) -> nn.Module:
    """A copy of ``module`` whose parameters and buffers live on ``meta`` (no data copied)."""
    memo: dict[int, object] = {}
    for p in module.parameters():
        memo[id(p)] = nn.Parameter(torch.empty_like(p, device="meta"), p.requires_grad)
    for b in module.buffers():
        memo[id(b)] = torch.empty_like(b, device="meta")
    return copy.deepcopy(module, memo)


class _Recorder(TorchFunctionMode):
    """Record which convolution feeds which eval batch norm, and who else reads the outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_of: dict[int, tuple[torch.Tensor, torch.Tensor | None]] = {}
        self.norm_of: dict[int, tuple] = {}
        self.reads: Counter[int] = Counter()
        self.weight_uses: Counter[int] = Counter()
        self.norm_uses: Counter[int] = Counter()
        self._alive: list[torch.Tensor] = []  # keeps ids unique during the pass

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        if not _has_tensor(result):
            return result  # metadata queries (dim, shape, ...) do not read values
        for tensor in _tensors(args, kwargs):
            if id(tensor) in self.conv_of:
                self.reads[id(tensor)] += 1
        if func is torch.conv3d and len(args) >= 2 and isinstance(result, torch.Tensor):
            weight = args[1]
            bias = args[2] if len(args) > 2 else kwargs.get("bias")
            self.weight_uses[id(weight)] += 1
            self.conv_of[id(result)] = (weight, bias)
            self._alive.append(result)
        elif func is F.batch_norm:
            self._record_norm(args, kwargs)
        return result

    def _record_norm(self, args: tuple, kwargs: dict) -> None:
        names = ("input", "running_mean", "running_var", "weight", "bias", "training")
        values = dict(zip(names, args, strict=False)) | kwargs
        mean, var = values.get("running_mean"), values.get("running_var")
        if mean is None or var is None:
            return
        self.norm_uses[id(mean)] += 1
        x = values.get("input")
        if values.get("training", False) or x is None or id(x) not in self.conv_of:
            return
        eps = args[7] if len(args) > 7 else kwargs.get("eps", 1e-5)
        self.norm_of[id(x)] = (mean, var, values.get("weight"), values.get("bias"), float(eps))


def _has_tensor(value) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    return isinstance(value, (list, tuple)) and any(isinstance(v, torch.Tensor) for v in value)


def _tensors(args: tuple, kwargs: dict):
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor):
            yield value
        elif isinstance(value, (list, tuple)):
            yield from (v for v in value if isinstance(v, torch.Tensor))
