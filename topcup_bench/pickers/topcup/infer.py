"""Inference: sliding-window heatmaps with flip TTA and model averaging, then max-pool NMS.

Pipeline (topcup.md §8.1, with the fixes of §12): z-score the whole tomogram,
transpose (z, y, x) → network (X, Y, Z), MONAI ``sliding_window_inference`` with
96³ windows and overlap 0.21 (interval 75) on the half-resolution logits of the
last head (uniform averaging of logits), optional all-axes flip TTA, mean over
models, trilinear upsampling to full size, softmax, background dropped, back to
(z, y, x). Peaks: per class a max-pool of radius ``int(0.5 · R / voxel_size)``
voxels at full resolution; picks are converted to Å through
:func:`topcup_bench.datasets.units.voxel_peaks_to_picks`.

The device is a parameter (CUDA when available by default, never hard-coded);
every element of a batch is predicted (§12.5, §12.7).

Speed (docs/performance.md): a :class:`~topcup_bench.pickers.topcup.model.TopCUPNet`
computes only its stride-2 head (the fifth decoder block and heads 0-2 are
skipped; bit-identical); on the CPU its 3-D convolutions run channels-last with
the eval batch norms folded in (:mod:`~topcup_bench.pickers.topcup.fast_convolutions`;
the same arithmetic summed in another order: probabilities differ by ~1e-7), four
windows per forward pass; the flipped view is stacked with the plain one so that
both share the window batches. MONAI's ``sliding_window_inference`` still places
and averages the windows. ``reference=True`` runs the unoptimised path (every
head, default layout, one view at a time), the oracle of the tests.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from monai.inferers import sliding_window_inference

from topcup_bench.datasets.units import voxel_peaks_to_picks
from topcup_bench.errors import InputError, TopcupBenchWarning
from topcup_bench.pickers.topcup.inference_model import check_precision, window_predictor
from topcup_bench.pickers.topcup.model import SIZE_MULTIPLE
from topcup_bench.pickers.topcup.targets import network_to_zyx, zyx_to_network
from topcup_bench.types import empty_picks_table

#: Default windows per forward pass on the CPU and on a GPU (``sw_batch_size=None``).
CPU_WINDOW_BATCH = 4
GPU_WINDOW_BATCH = 2

__all__ = [
    "CPU_WINDOW_BATCH",
    "GPU_WINDOW_BATCH",
    "default_device",
    "predict_heatmaps",
    "extract_picks",
    "nms_radius_voxels",
    "cube_max_filter",
    "upsample_softmax",
    "window_padding",
]


def default_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given (``"auto"`` = not given), else CUDA when available, else CPU.

    Raises
    ------
    InputError
        A CUDA device was asked for on a machine without CUDA, or the name is unknown.
    """
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise InputError("device", f"unknown device {device!r}: {error}") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise InputError(
            "device",
            f"{device!r} was requested but PyTorch sees no CUDA device; use 'cpu' or 'auto'",
        )
    return chosen


@torch.inference_mode()
def predict_heatmaps(
    models: torch.nn.Module | Sequence[torch.nn.Module],
    volume_zyx: np.ndarray | torch.Tensor,
    *,
    roi: int = 96,
    overlap: float = 0.21,
    tta_flips: bool = True,
    device: str | torch.device | None = None,
    sw_batch_size: int | None = None,
    normalize: bool = True,
    precision: str = "fp32",
    reference: bool = False,
) -> np.ndarray:
    """Per-class probability maps of one tomogram or a batch of equally sized tomograms.

    Parameters
    ----------
    models : TopCUPNet or sequence of TopCUPNet
        Networks with the same classes; they are put in eval mode and moved to ``device``.
    volume_zyx : array, shape (Z, Y, X) or (B, Z, Y, X)
        Tomogram(s) indexed (z, y, x). Sizes below ``roi`` are zero-padded (after
        normalisation) and the output is cropped back.
    roi : int
        Window edge in voxels, a multiple of 32.
    overlap : float
        Window overlap fraction in [0, 1); the interval is ``int(roi · (1 - overlap))``.
    tta_flips : bool
        Also predict the volume flipped along all three axes, flip back and average logits.
    device : str or torch.device, optional
        Default: CUDA when available, else CPU.
    sw_batch_size : int, optional
        Windows per forward pass (windows of the plain and the flipped view are
        batched together). Default: 4 on the CPU (fewer, larger passes are faster
        there; with the resnet34 network at ``roi`` 96 they take 0.26 GB more than
        2), 2 on a GPU.
    normalize : bool
        z-score each tomogram with its own mean and population standard deviation.
    precision : {"fp32", "bf16"}
        Arithmetic of the network: ``"bf16"`` autocasts the forward passes to
        bfloat16 (opt-in; picks differ slightly from fp32, docs/performance.md;
        slow on CPUs without native bfloat16, which get a warning). Logits are
        averaged, upsampled and normalised in float32 either way.
    reference : bool
        Run the unoptimised path: ``model(windows)[-1]`` (every head), the default
        memory layout, one view per sliding window (fp32 only).

    Returns
    -------
    numpy.ndarray of float32, shape (n_classes, Z, Y, X) or (B, n_classes, Z, Y, X)
        Softmax probabilities (over classes + background) of the particle classes,
        in the input's (z, y, x) order; background dropped.

    Raises
    ------
    InputError
        No models, a bad volume shape, a window that is not a multiple of 32, a bad
        overlap, models with different class counts, an unknown ``precision``, or
        ``reference=True`` with ``precision="bf16"``.

    Warns
    -----
    TopcupBenchWarning
        ``precision="bf16"`` on a CPU without native bfloat16 convolutions.
    """
    model_list = [models] if isinstance(models, torch.nn.Module) else list(models)
    if not model_list:
        raise InputError("predict_heatmaps", "at least one model is required")
    if len({m.n_classes for m in model_list}) != 1:
        raise InputError("predict_heatmaps", "all models must have the same number of classes")
    if roi <= 0 or roi % SIZE_MULTIPLE:
        raise InputError(
            "predict_heatmaps", f"roi must be a multiple of {SIZE_MULTIPLE}, got {roi}"
        )
    if not 0 <= overlap < 1:
        raise InputError("predict_heatmaps", f"overlap must lie in [0, 1), got {overlap}")
    check_precision(precision)
    if reference and precision != "fp32":
        raise InputError("predict_heatmaps", "reference=True runs in fp32 only")
    volume = torch.as_tensor(np.asarray(volume_zyx), dtype=torch.float32)
    batched = volume.ndim == 4
    if volume.ndim not in (3, 4) or min(volume.shape[-3:]) < 1:
        raise InputError(
            "predict_heatmaps", f"expected a (Z, Y, X) or (B, Z, Y, X) volume, found {volume.shape}"
        )
    device = default_device(device)
    if sw_batch_size is None:
        sw_batch_size = CPU_WINDOW_BATCH if device.type == "cpu" else GPU_WINDOW_BATCH
    volume = volume.reshape(-1, 1, *volume.shape[-3:]).to(device)
    if normalize:
        mean = volume.mean(dim=(1, 2, 3, 4), keepdim=True)
        std = volume.std(dim=(1, 2, 3, 4), keepdim=True, unbiased=False)
        volume = (volume - mean) / std.clamp_min(1e-8)
    net_in = zyx_to_network(volume).contiguous()  # (B, 1, X, Y, Z)
    shape = tuple(net_in.shape[2:])
    before, after = window_padding(shape, roi)
    if any(before) or any(after):
        net_in = F.pad(net_in, (before[2], after[2], before[1], after[1], before[0], after[0]))
    if reference:
        total, count = _reference_logits(
            model_list, net_in, device, roi, overlap, tta_flips, sw_batch_size
        )
    else:
        total, count = _fast_logits(
            model_list, net_in, device, roi, overlap, tta_flips, sw_batch_size, precision
        )
    start = [b // 2 for b in before]
    stop = [b + (n + n % 2) // 2 for b, n in zip(start, shape, strict=True)]
    half = (total / count)[..., start[0] : stop[0], start[1] : stop[1], start[2] : stop[2]]
    probabilities = upsample_softmax(half)[..., : shape[0], : shape[1], : shape[2]]
    out = network_to_zyx(probabilities).contiguous().numpy()
    return out if batched else out[0]


def window_padding(shape: Sequence[int], roi: int) -> tuple[list[int], list[int]]:
    """Zero padding before and after each axis so that half resolution stays exact.

    An odd side gets one voxel at its end. A side still shorter than ``roi`` is
    padded up to ``roi`` about evenly on both sides (as MONAI's sliding window
    would), but with an even number of voxels before it, so that the
    half-resolution logits start on a whole voxel and crop back exactly. (MONAI's
    own padding puts ``(roi - side) // 2`` before; when that is odd, e.g. sides
    46, 50, 54 at ``roi`` 96, its rounded crop at half resolution shifted the
    heatmap by one voxel and, for sides 2 mod 8, dropped two planes.) For every
    side where MONAI's padding was already even, this is exactly MONAI's padding.

    Parameters
    ----------
    shape : sequence of int
        Spatial sides of the volume, voxels.
    roi : int
        Window edge, voxels (a multiple of 32).

    Returns
    -------
    before, after : list of int
        Voxels of zeros to add before and after each axis.
    """
    before, after = [], []
    for side in shape:
        even = side + side % 2
        extra = max(0, roi - even)
        first = (extra // 2) - (extra // 2) % 2
        before.append(first)
        after.append(even - side + extra - first)
    return before, after


def _fast_logits(models, net_in, device, roi, overlap, tta_flips, sw_batch_size, precision):
    """Sum over models and views of half-resolution logits, both views in one sliding window."""
    n = net_in.shape[0]
    views = torch.cat([net_in, net_in.flip(2, 3, 4)]) if tta_flips else net_in
    total = None
    for model in models:
        model.to(device).eval()
        predictor = window_predictor(model, device, precision=precision)
        logits = _window_logits(predictor, views, roi, overlap, sw_batch_size)
        plain = logits[:n]
        total = plain if total is None else total + plain  # the reference's order of sums
        if tta_flips:
            total = total + logits[n:].flip(2, 3, 4)
    return total, len(models) * (2 if tta_flips else 1)


def _reference_logits(models, net_in, device, roi, overlap, tta_flips, sw_batch_size):
    """Sum over models and views of half-resolution logits, the unoptimised way."""
    views = [(net_in, False)] + ([(net_in.flip(2, 3, 4), True)] if tta_flips else [])
    total, count = None, 0
    for model in models:
        model.to(device).eval()
        for view, flipped in views:
            logits = _window_logits(lambda w, m=model: m(w)[-1], view, roi, overlap, sw_batch_size)
            if flipped:
                logits = logits.flip(2, 3, 4)
            total = logits if total is None else total + logits
            count += 1
    return total, count


def _window_logits(predictor, view: torch.Tensor, roi: int, overlap: float, sw_batch_size: int):
    """Sliding-window half-resolution logits; on CUDA out-of-memory halve the window batch."""
    size = max(1, int(sw_batch_size))
    while True:
        try:
            return torch.as_tensor(
                sliding_window_inference(
                    view,
                    roi_size=(roi, roi, roi),
                    sw_batch_size=size,
                    predictor=predictor,
                    overlap=overlap,
                    mode="constant",
                    padding_mode="constant",
                    cval=0.0,
                )
            )
        except torch.cuda.OutOfMemoryError:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            if size == 1:
                raise InputError(
                    "predict_heatmaps",
                    f"out of GPU memory with one {roi}^3 window per batch; use a smaller roi "
                    "(a multiple of 32) or device='cpu'",
                ) from None
            size //= 2
            warnings.warn(
                f"out of GPU memory; retrying with {size} window(s) per batch",
                TopcupBenchWarning,
                stacklevel=3,
            )


def upsample_softmax(half_logits: torch.Tensor, slab: int = 32) -> torch.Tensor:
    """Trilinear ×2 upsampling, softmax over channels, background dropped; slab by slab.

    Equal to ``softmax(interpolate(half_logits, scale_factor=2, mode="trilinear",
    align_corners=False))[:, :-1]`` but computed on slabs of ``slab`` output planes
    along the first spatial axis (with a one-plane halo at half resolution), so
    the full-resolution logits never exist at once: the peak extra memory is one
    slab, and the result is stored on the CPU.

    Parameters
    ----------
    half_logits : torch.Tensor, shape (B, C + 1, x, y, z)
        Half-resolution logits, background channel last (any device).
    slab : int
        Output planes per slab.

    Returns
    -------
    torch.Tensor of float32 on the CPU, shape (B, C, 2x, 2y, 2z)
    """
    b, c1, hx, hy, hz = half_logits.shape
    out = torch.empty((b, c1 - 1, 2 * hx, 2 * hy, 2 * hz), dtype=torch.float32)
    for x0 in range(0, 2 * hx, slab):
        x1 = min(2 * hx, x0 + slab)
        h0, h1 = max(0, x0 // 2 - 1), min(hx, (x1 + 1) // 2 + 1)
        part = F.interpolate(
            half_logits[:, :, h0:h1].float(), scale_factor=2, mode="trilinear", align_corners=False
        )[:, :, x0 - 2 * h0 : x1 - 2 * h0]
        out[:, :, x0:x1] = torch.softmax(part, dim=1)[:, :-1].cpu()
    return out


def cube_max_filter(heat: torch.Tensor, r: int) -> torch.Tensor:
    """Maximum over the (2r+1)³ cube around every voxel, padding with -inf.

    Equal to ``max_pool3d(heat, 2r + 1, stride=1, padding=r)``, computed as three
    1-D max-pools (one per axis), which is an order of magnitude faster on CPU.

    Parameters
    ----------
    heat : torch.Tensor, shape (B, C, D, H, W)
    r : int
        Half-width in voxels (>= 0).

    Returns
    -------
    torch.Tensor, same shape as ``heat``
    """
    k = 2 * r + 1
    out = F.max_pool3d(heat, (k, 1, 1), stride=1, padding=(r, 0, 0))
    out = F.max_pool3d(out, (1, k, 1), stride=1, padding=(0, r, 0))
    return F.max_pool3d(out, (1, 1, k), stride=1, padding=(0, 0, r))


def nms_radius_voxels(radius_angstrom: float, voxel_size: float) -> int:
    """Max-pool NMS radius ``int(0.5 · R / voxel_size)`` voxels, at least 1.

    Examples
    --------
    >>> nms_radius_voxels(60.0, 10.0), nms_radius_voxels(60.0, 10.012), nms_radius_voxels(150, 10)
    (3, 2, 7)
    """
    return max(1, int(0.5 * float(radius_angstrom) / float(voxel_size)))


@torch.inference_mode()
def extract_picks(
    probabilities: np.ndarray | torch.Tensor,
    class_names: Sequence[str],
    radii_angstrom: Mapping[str, float] | Sequence[float],
    voxel_size: float,
    thresholds: Mapping[str, float] | None = None,
    *,
    run: str = "",
    device: str | torch.device | None = None,
) -> pd.DataFrame:
    """Per-class peaks of probability maps by max-pool NMS, as a picks table in Å.

    A voxel is a peak when it equals the maximum of the (2r+1)³ cube around it
    (a max-pool, stride 1, padding r, with ``r = int(0.5 · R / voxel_size)``; see
    :func:`cube_max_filter`)
    and is > 0; with ``thresholds`` only peaks with ``score > thresholds[name]``
    are kept (strict, as TopCUP).

    Parameters
    ----------
    probabilities : array, shape (n_classes, Z, Y, X)
        Output of :func:`predict_heatmaps`, channel ``i`` = ``class_names[i]``.
    class_names : sequence of str
        Class of each channel.
    radii_angstrom : mapping of name to float, or sequence of float
        Particle radius in Å per class (by name, or in channel order).
    voxel_size : float
        Å per voxel.
    thresholds : mapping of name to float, optional
        Per-class score thresholds by class name; classes not listed keep every peak.
    run : str
        Value of the ``experiment`` column.
    device : str or torch.device, optional
        Default: CUDA when available, else CPU.

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment, particle_type, x, y, z, score``; Å, x-y-z order.

    Raises
    ------
    InputError
        Shape and class count disagree, or a radius / threshold names an unknown class.
    """
    probs = torch.as_tensor(np.asarray(probabilities), dtype=torch.float32)
    names = list(class_names)
    if probs.ndim != 4 or probs.shape[0] != len(names):
        raise InputError(
            "extract_picks",
            f"expected probabilities of shape ({len(names)}, Z, Y, X) for classes {names}, "
            f"found {tuple(probs.shape)}",
        )
    radii = _by_name(radii_angstrom, names, "radii_angstrom")
    limits = dict(thresholds or {})
    unknown = sorted(set(limits) - set(names))
    if unknown:
        raise InputError("extract_picks", f"thresholds for unknown classes {unknown}; {names}")
    probs = probs.to(default_device(device))
    tables = []
    for channel, name in enumerate(names):
        heat = probs[channel][None, None]
        r = nms_radius_voxels(radii[name], voxel_size)
        pooled = cube_max_filter(heat, r)
        keep = (heat == pooled) & (heat > limits.get(name, 0.0)) & (heat > 0)
        indices = keep[0, 0].nonzero().cpu().numpy()
        scores = heat[0, 0][keep[0, 0]].cpu().numpy()
        order = np.argsort(-scores, kind="stable")
        if len(order):
            tables.append(
                voxel_peaks_to_picks(run, name, indices[order], scores[order], voxel_size)
            )
    if not tables:
        return empty_picks_table()
    return pd.concat(tables, ignore_index=True)


def _by_name(values, names: list[str], label: str) -> dict[str, float]:
    if isinstance(values, Mapping):
        missing = [n for n in names if n not in values]
        if missing:
            raise InputError("extract_picks", f"{label} lacks classes {missing}")
        return {n: float(values[n]) for n in names}
    values = list(values)
    if len(values) != len(names):
        raise InputError(
            "extract_picks", f"{label} has {len(values)} values for {len(names)} classes"
        )
    return dict(zip(names, map(float, values), strict=True))
