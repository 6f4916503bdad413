"""Which eval batch norms (and the ReLUs after them) fold into the convolutions before them.

:func:`plan_folding` runs the network's forward pass once on a weightless twin on
the ``meta`` device (no arithmetic, no memory) under a
:class:`~torch.overrides.TorchFunctionMode` that records every call, and returns
one :class:`FoldEntry` per batch norm that

- receives the output of a 3-D convolution that nothing else reads,
- runs in eval mode with running statistics,
- belongs to a convolution whose weight is used once per pass.

``relu`` is set when the batch norm's output goes straight to a ReLU (through
no-op eval dropouts only) and nothing else reads it. The entries name tensors by
their names in the network (``module.named_parameters`` / ``named_buffers``), so a
plan holds for every network of the same architecture.
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

__all__ = ["FoldEntry", "plan_folding"]

_DROPOUTS = (F.dropout, F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout)


class FoldEntry(NamedTuple):
    """One batch norm folded into the convolution before it (tensor names in the network)."""

    conv_weight: str
    conv_bias: str | None
    running_mean: str
    running_var: str
    weight: str | None
    bias: str | None
    eps: float
    relu: bool = False


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

    Raises
    ------
    Exception
        Whatever the forward pass raises on ``meta`` (an operation without a meta
        kernel, a value read with ``.item()``, ...).

    Examples
    --------
    >>> net = nn.Sequential(nn.Conv3d(1, 4, 3), nn.BatchNorm3d(4), nn.ReLU()).eval()
    >>> [(e.conv_weight, e.running_mean, e.relu) for e in plan_folding(
    ...     net, lambda n, x: n(x), (1, 1, 8, 8, 8))]
    [('0.weight', '1.running_mean', True)]
    """
    twin = _meta_twin(module)
    names = {id(t): n for n, t in twin.named_parameters(remove_duplicate=False)}
    names |= {id(t): n for n, t in twin.named_buffers(remove_duplicate=False)}
    recorder = _Recorder()
    with torch.inference_mode(), recorder:
        call(twin, torch.zeros(tuple(probe_shape), device="meta"))
    plan = []
    for out_id, (mean, var, weight, bias, eps, norm_out) in recorder.norm_of.items():
        conv_weight, conv_bias = recorder.conv_of[out_id]
        single = (
            recorder.reads[out_id] == 1
            and recorder.weight_uses[id(conv_weight)] == 1
            and recorder.norm_uses[id(mean)] == 1
        )
        tensors = (conv_weight, conv_bias, mean, var, weight, bias)
        if single and all(t is None or id(t) in names for t in tensors):
            relu = recorder.reads[norm_out] == 1 and norm_out in recorder.relu_inputs
            named = (None if t is None else names[id(t)] for t in tensors)
            plan.append(FoldEntry(*named, eps, relu))
    return tuple(plan)


def _meta_twin(module: nn.Module) -> nn.Module:
    """A copy of ``module`` whose parameters and buffers live on ``meta`` (no data copied)."""
    memo: dict[int, object] = {}
    for p in module.parameters():
        memo[id(p)] = nn.Parameter(torch.empty_like(p, device="meta"), p.requires_grad)
    for b in module.buffers():
        memo[id(b)] = torch.empty_like(b, device="meta")
    return copy.deepcopy(module, memo)


class _Recorder(TorchFunctionMode):
    """Record which convolution feeds which eval batch norm, and who reads their outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_of: dict[int, tuple[torch.Tensor, torch.Tensor | None]] = {}
        self.norm_of: dict[int, tuple] = {}
        self.reads: Counter[int] = Counter()  # per tracked output: calls that read its values
        self.relu_inputs: set[int] = set()
        self.weight_uses: Counter[int] = Counter()
        self.norm_uses: Counter[int] = Counter()
        self._tracked: set[int] = set()
        self._alive: list[torch.Tensor] = []  # keeps ids unique during the pass

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        if not _has_tensor(result):
            return result  # metadata queries (dim, shape, ...) do not read values
        if func in _DROPOUTS and args and result is args[0]:
            return result  # eval dropout: the same tensor, nothing read
        for tensor in _tensors(args, kwargs):
            if id(tensor) in self._tracked:
                self.reads[id(tensor)] += 1
                if func is F.relu and tensor is args[0]:
                    self.relu_inputs.add(id(tensor))
        if func is torch.conv3d and len(args) >= 2 and isinstance(result, torch.Tensor):
            bias = args[2] if len(args) > 2 else kwargs.get("bias")
            self.weight_uses[id(args[1])] += 1
            self.conv_of[id(result)] = (args[1], bias)
            self._track(result)
        elif func is F.batch_norm and isinstance(result, torch.Tensor):
            self._record_norm(args, kwargs, result)
        return result

    def _track(self, tensor: torch.Tensor) -> None:
        self._tracked.add(id(tensor))
        self._alive.append(tensor)

    def _record_norm(self, args: tuple, kwargs: dict, result: torch.Tensor) -> None:
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
        entry = (mean, var, values.get("weight"), values.get("bias"), float(eps), id(result))
        self.norm_of[id(x)] = entry
        self._track(result)


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
