"""Window predictors: one batch of windows → half-resolution logits, as fast as the device allows.

:func:`window_predictor` turns a network into the function that the sliding window
calls on each batch of windows. For a :class:`~topcup_bench.pickers.topcup.model.TopCUPNet`
it runs :meth:`~topcup_bench.pickers.topcup.model.TopCUPNet.half_resolution_logits`
(the stride-2 head only; bit-identical to ``forward(windows)[-1]``) and, on the
CPU, under :class:`~topcup_bench.pickers.topcup.fast_convolutions.FastConvolutions`:
3-D convolutions in the channels-last layout with eval batch norms folded into
them and, in fp32, oneDNN-prepacked weights with the following ReLUs fused (same
arithmetic, other rounding: logits differ by ~1e-6). Any other module (the small
stand-ins of the tests) is called as ``model(windows)[-1]``.

The network is not modified. The folded weight copies (the size of the network's
weights, 283 MB for resnet34) are kept per network, until it is garbage-collected
or :func:`clear_inference_cache` is called, and rebuilt when its weights change (a
parameter replaced or modified in place) or the precision changes, so that an
ensemble applied to many tomograms makes them once.

Precision: ``"fp32"``, or ``"bf16"`` (autocast to bfloat16 on the device; logits
come back as float32). CPUs without native bfloat16 convolutions (no AVX-512 BF16
or AMX, e.g. an AVX2-only CPU) run bfloat16 3-D convolutions on a slow generic
path, 50 to 500 times slower than fp32: a warning says so.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable

import torch
from torch import nn

from topcup_bench.errors import InputError, TopcupBenchWarning
from topcup_bench.pickers.topcup.fast_convolutions import FastConvolutions, prepacking_available
from topcup_bench.pickers.topcup.fold_plan import FoldEntry, plan_folding
from topcup_bench.pickers.topcup.model import SIZE_MULTIPLE, TopCUPNet

__all__ = [
    "PRECISIONS",
    "window_predictor",
    "native_bf16",
    "check_precision",
    "clear_inference_cache",
]

#: Accepted values of ``precision``.
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")

Predictor = Callable[[torch.Tensor], torch.Tensor]


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`.

    Raises
    ------
    InputError
        Any other value.
    """
    if precision not in PRECISIONS:
        raise InputError("precision", f"expected one of {list(PRECISIONS)}, got {precision!r}")
    return precision


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` convolves bfloat16 natively (CUDA, or a CPU that oneDNN supports)."""
    if device.type == "cuda":
        return True
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return device.type == "cpu" and check is not None and bool(check())
    except RuntimeError:
        return False


def window_predictor(
    model: nn.Module,
    device: torch.device,
    *,
    precision: str = "fp32",
    fast_convolutions: bool | None = None,
) -> Predictor:
    """The function that maps a batch of windows to half-resolution logits.

    Parameters
    ----------
    model : nn.Module
        A :class:`TopCUPNet` (fast path), or any module whose output's last element
        is the half-resolution logits; already on ``device`` and in eval mode.
    device : torch.device
        Where the windows are computed.
    precision : {"fp32", "bf16"}
        Arithmetic of the forward pass; the logits are returned as float32.
    fast_convolutions : bool, optional
        Run under :class:`FastConvolutions` (channels-last, batch norms folded; in
        fp32 also prepacked weights and fused ReLUs).
        Default: on the CPU for a :class:`TopCUPNet`, where it was measured
        (docs/performance.md); off elsewhere.

    Returns
    -------
    callable
        ``predictor(windows)`` with windows of shape (N, 1, X, Y, Z), returning a
        contiguous float32 tensor of shape (N, n_classes + 1, X/2, Y/2, Z/2).

    Raises
    ------
    InputError
        An unknown ``precision``.

    Warns
    -----
    TopcupBenchWarning
        ``precision="bf16"`` on a CPU without native bfloat16 convolutions.
    """
    check_precision(precision)
    if precision == "bf16" and not native_bf16(device):
        warnings.warn(
            "precision='bf16' on a CPU without native bfloat16 convolutions (AVX-512 BF16 or "
            "AMX): PyTorch falls back to a generic path 50 to 500 times slower than fp32; "
            "use precision='fp32' on this machine",
            TopcupBenchWarning,
            stacklevel=4,
        )
    topcup = isinstance(model, TopCUPNet)
    if fast_convolutions is None:
        fast_convolutions = topcup and device.type == "cpu"
    if topcup:
        forward: Predictor = model.half_resolution_logits
    else:
        forward = lambda windows: model(windows)[-1]  # noqa: E731
    if fast_convolutions:
        plan = _topcup_plan(model) if topcup else _generic_plan(model)
        prepack = precision == "fp32" and prepacking_available()
        forward = _fast_convolutions_call(model, forward, plan, prepack)
    if precision == "bf16":
        forward = _autocast_call(forward, device)
    return lambda windows: forward(windows).float().contiguous()


def _fast_convolutions_call(
    model: nn.Module, forward: Predictor, plan: tuple[FoldEntry, ...], prepack: bool
) -> Predictor:
    """``forward`` under :class:`FastConvolutions` (channels-last, ``plan`` folded)."""
    mode = _cached_mode(model, plan, prepack)

    def call(windows: torch.Tensor) -> torch.Tensor:
        with mode:
            return forward(windows)

    return call


def _cached_mode(model: nn.Module, plan: tuple[FoldEntry, ...], prepack: bool) -> FastConvolutions:
    """The model's :class:`FastConvolutions`, rebuilt when its tensors changed since last time."""
    signature = (model.training, prepack) + tuple(
        (id(t), t.data_ptr(), t._version) for t in (*model.parameters(), *model.buffers())
    )
    held = _MODES.get(model)
    if held is None or held[0] != signature or held[1] is not plan:
        held = (signature, plan, FastConvolutions(model, plan, prepack=prepack))
        _MODES[model] = held
    return held[2]


def clear_inference_cache() -> None:
    """Drop the folded channels-last weight copies kept for the networks used so far.

    :func:`window_predictor` keeps, for each network it has run (until the network
    is garbage-collected or its weights change), the copies that
    :class:`FastConvolutions` made, so that the next tomogram does not pay for them
    again; they take as much memory as the network's weights (283 MB for resnet34).
    """
    _MODES.clear()


#: Per network: (signature of its tensors, plan, mode); dropped with the network.
_MODES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _topcup_plan(model: TopCUPNet) -> tuple[FoldEntry, ...]:
    """The folding plan of a TopCUPNet's stride-2 pass; the same for every network of its kind."""
    kwargs = repr(sorted(model.model_kwargs.items()))
    key = (type(model), model.backbone_name, model.n_classes, kwargs, model.training)
    if key not in _PLANS:
        _PLANS[key] = _plan(model, lambda net, x: net.half_resolution_logits(x))
    return _PLANS[key]


def _generic_plan(model: nn.Module) -> tuple[FoldEntry, ...]:
    return _plan(model, lambda net, x: net(x)[-1])


def _plan(model: nn.Module, call) -> tuple[FoldEntry, ...]:
    """:func:`plan_folding` on a 32³ probe; empty (channels-last only) if the pass fails on meta."""
    try:
        return plan_folding(model, call, (1, 1) + (SIZE_MULTIPLE,) * 3)
    except Exception:  # an operation without a meta kernel: fold nothing, stay correct
        return ()


#: Folding plans of TopCUPNet kinds (backbone, classes, constructor arguments), learnt once.
_PLANS: dict[tuple, tuple[FoldEntry, ...]] = {}


def _autocast_call(forward: Predictor, device: torch.device) -> Predictor:
    def call(windows: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            return forward(windows)

    return call
