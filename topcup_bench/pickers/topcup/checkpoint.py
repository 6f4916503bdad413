"""Checkpoints: our own format, and loaders for official TopCUP and Kaggle weights.

Our format (topcup.md §10, §12.1, §12.13-15) is a plain dict saved with
:func:`torch.save` and loadable with ``weights_only=True``::

    {"format": "topcup-bench-checkpoint", "format_version": 1,
     "state_dict": {...},            # raw weights, bare FlexibleUNet key names
     "ema_state_dict": {...} | None, # EMA weights, own key
     "metadata": {classes, radii_angstrom, thresholds, threshold_comparison,
                  voxel_size_angstrom, axis_order, backbone, n_classes, recipe,
                  split, validation_metric, validated_weights, versions}}

Official files (loaded with :func:`load_official_checkpoint`):

* TopCUP Lightning ``.ckpt``: ``ckpt["state_dict"]`` with prefix ``model.``; class
  channels from ``hyper_parameters["particle_ids"]``. It holds NumPy arrays, so it
  needs ``weights_only=False``: pass ``trusted=True`` only for files you trust.
* Original Kaggle ``.pth``: ``ckpt["model"]`` with prefix ``backbone.``; no
  metadata, classes in alphabetical competition order.

In every layout the wrapper prefixes of multi-GPU training (``module.``) and of
``torch.compile`` (``_orig_mod.``) are removed wherever they sit before the bare
key name (:func:`~topcup_bench.pickers.topcup.state_dicts.strip_prefix`).
Ensembles are named as the official CLI names them: files, folders (every
checkpoint in it) and glob patterns (:func:`resolve_checkpoint_paths`).
"""

from __future__ import annotations

import glob
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from topcup_bench.datasets.atomic import atomic_output
from topcup_bench.errors import InputError
from topcup_bench.pickers.topcup.model import TopCUPNet
from topcup_bench.pickers.topcup.state_dicts import (
    LoadedCheckpoint,
    model_from_state_dict,
    strip_prefix,
    torch_load,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "KAGGLE_CLASSES",
    "LoadedCheckpoint",
    "save_checkpoint",
    "load_checkpoint",
    "load_official_checkpoint",
    "load_any_checkpoint",
    "resolve_checkpoint_paths",
    "CHECKPOINT_SUFFIXES",
]

CHECKPOINT_FORMAT = "topcup-bench-checkpoint"
FORMAT_VERSION = 1
#: File name endings taken from a folder named in an ensemble (``weights=DIR``).
CHECKPOINT_SUFFIXES: tuple[str, ...] = (".pt", ".pth", ".ckpt")
_GLOB_CHARACTERS = frozenset("*?[")
#: Channel order of the original Kaggle models (alphabetical, background last).
KAGGLE_CLASSES: tuple[str, ...] = (
    "apo-ferritin",
    "beta-amylase",
    "beta-galactosidase",
    "ribosome",
    "thyroglobulin",
    "virus-like-particle",
)


def _versions() -> dict[str, str]:
    import monai

    from topcup_bench import __version__

    return {
        "torch": str(torch.__version__),
        "monai": str(monai.__version__),
        "topcup_bench": str(__version__),
    }


def save_checkpoint(
    path: str | os.PathLike[str],
    model: TopCUPNet,
    *,
    classes: Sequence[str],
    radii_angstrom: Mapping[str, float],
    voxel_size_angstrom: float,
    thresholds: Mapping[str, float] | None = None,
    recipe: Mapping[str, Any] | None = None,
    split: Mapping[str, Sequence[str]] | None = None,
    validation_metric: Mapping[str, float] | None = None,
    ema_model: TopCUPNet | None = None,
    validated_weights: str = "raw",
    training_state: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Save ``model`` and its metadata, atomically, as a ``weights_only``-loadable file.

    Parameters
    ----------
    path : path-like
        Destination (``.pt``); its directory must exist.
    model : TopCUPNet
        The network; channel ``i`` is ``classes[i]``, background last.
    classes : sequence of str
        Class names in channel order (``len == model.n_classes``).
    radii_angstrom : mapping
        Particle radius in Å per class name.
    voxel_size_angstrom : float
        Voxel size (Å) used for labels; inference must use the same for NMS and decoding.
    thresholds : mapping, optional
        Per-class score thresholds by class name; picks are kept when ``score > thr``.
    recipe, split, validation_metric : mapping, optional
        Training hyper-parameters, run names per split (``{"train": [...], "val": [...]}``)
        and validation results; plain Python values only.
    ema_model : TopCUPNet, optional
        EMA weights, saved under ``ema_state_dict``.
    validated_weights : {"raw", "ema"}
        Which weights ``validation_metric`` and ``thresholds`` refer to.
    training_state : mapping, optional
        What resuming needs (optimizer state, epoch, step, history), saved under
        ``training_state``; tensors and plain Python values only.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    InputError
        Classes that do not match the model, or radii / thresholds for unknown classes.
    OutputExistsError
        ``path`` exists and ``overwrite`` is False.
    """
    names = [str(c) for c in classes]
    source = str(path)
    if len(names) != model.n_classes or len(set(names)) != len(names):
        raise InputError(
            source, f"classes must be {model.n_classes} unique names (model heads), got {names}"
        )
    for label, mapping in (("radii_angstrom", radii_angstrom), ("thresholds", thresholds or {})):
        unknown = sorted(set(mapping) - set(names))
        if unknown:
            raise InputError(source, f"{label} names unknown classes {unknown}; classes: {names}")
    missing = [n for n in names if n not in radii_angstrom]
    if missing:
        raise InputError(source, f"radii_angstrom lacks classes {missing}")
    if validated_weights not in ("raw", "ema"):
        raise InputError(
            source, f"validated_weights must be 'raw' or 'ema', got {validated_weights!r}"
        )
    metadata = {
        "classes": names,
        "n_classes": len(names),
        "background_channel": len(names),
        "radii_angstrom": {n: float(radii_angstrom[n]) for n in names},
        "thresholds": {n: float(v) for n, v in (thresholds or {}).items()},
        "threshold_comparison": ">",
        "voxel_size_angstrom": float(voxel_size_angstrom),
        "axis_order": "xyz",
        "backbone": model.backbone_name,
        "model_kwargs": dict(model.model_kwargs),
        "recipe": dict(recipe or {}),
        "split": {k: list(v) for k, v in (split or {}).items()},
        "validation_metric": dict(validation_metric or {}),
        "validated_weights": validated_weights,
        "versions": _versions(),
    }
    payload = {
        "format": CHECKPOINT_FORMAT,
        "format_version": FORMAT_VERSION,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "ema_state_dict": (
            None
            if ema_model is None
            else {k: v.detach().cpu() for k, v in ema_model.state_dict().items()}
        ),
        "metadata": metadata,
    }
    if training_state is not None:
        payload["training_state"] = dict(training_state)
    with atomic_output(path, overwrite=overwrite) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_checkpoint(
    path: str | os.PathLike[str], *, device: str | torch.device = "cpu"
) -> LoadedCheckpoint:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``).

    Parameters
    ----------
    path : path-like
    device : str or torch.device

    Returns
    -------
    LoadedCheckpoint

    Raises
    ------
    InputError
        Not one of our checkpoints, or weights that do not fit the recorded architecture.
    """
    return _from_payload(torch_load(path, weights_only=True), str(path), device)


def _from_payload(payload: Any, source: str, device) -> LoadedCheckpoint:
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise InputError(
            source,
            f"not a {CHECKPOINT_FORMAT} file (use load_official_checkpoint for TopCUP .ckpt "
            "or Kaggle .pth files)",
        )
    metadata = payload["metadata"]
    weights = strip_prefix(payload["state_dict"], "", source)
    model = model_from_state_dict(weights, metadata, source, device)
    ema = payload.get("ema_state_dict")
    ema_model = (
        None
        if ema is None
        else model_from_state_dict(
            strip_prefix(ema, "", source + " (EMA)"), metadata, source + " (EMA)", device
        )
    )
    return LoadedCheckpoint(model, metadata, ema_model)


def load_official_checkpoint(
    path: str | os.PathLike[str],
    *,
    backbone: str = "resnet34",
    classes: Sequence[str] | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
    trusted: bool = False,
    device: str | torch.device = "cpu",
) -> LoadedCheckpoint:
    """Load an official TopCUP ``.ckpt`` or original Kaggle ``.pth`` file into our network.

    Parameters
    ----------
    path : path-like
    backbone : str
        Backbone the file was trained with (files do not always record it).
    classes : sequence of str, optional
        Channel order; default: ``particle_ids`` of a TopCUP file, else
        :data:`KAGGLE_CLASSES`.
    model_kwargs : mapping, optional
        Other FlexibleUNet arguments (default: the official ones).
    trusted : bool
        Allow ``torch.load(weights_only=False)`` (arbitrary code on load). Official
        TopCUP files need it; only set it for files from a trusted source.
    device : str or torch.device

    Returns
    -------
    LoadedCheckpoint
        ``metadata["source_format"]`` is ``"topcup-ckpt"`` or ``"kaggle-pth"``. From a
        TopCUP file's ``hyper_parameters``: ``particle_radius``, ``particle_weights``,
        ``class_loss_weights`` and ``score_thresholds`` as stored (class name → number),
        and ``thresholds``: the ``score_thresholds`` above 0 (the official code treats
        a threshold ≤ 0 as "search for the best one"), the operating point the
        ``topcup`` picker uses first.

    Raises
    ------
    InputError
        Unknown layout, a file that needs ``trusted=True``, weights that do not fit
        (the message names the file, the key and both shapes), or a non-numeric value
        in one of the per-class hyper-parameters above.
    """
    source = str(path)
    try:
        payload = torch_load(path, weights_only=not trusted)
    except InputError:
        if trusted:
            raise
        raise InputError(
            source,
            "could not be loaded with weights_only=True (official TopCUP files hold NumPy "
            "arrays); pass trusted=True if you trust this file",
        ) from None
    if isinstance(payload, dict) and isinstance(payload.get("state_dict"), Mapping):
        weights, prefix, fmt = payload["state_dict"], "model.", "topcup-ckpt"
        hyper = payload.get("hyper_parameters") or {}
        ids = hyper.get("particle_ids")
        if classes is None and ids:
            classes = [name for name, _ in sorted(ids.items(), key=lambda kv: int(kv[1]))]
    elif isinstance(payload, dict) and isinstance(payload.get("model"), Mapping):
        weights, prefix, fmt, hyper = payload["model"], "backbone.", "kaggle-pth", {}
    else:
        found = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        raise InputError(
            source, f"expected a dict with 'state_dict' (TopCUP) or 'model' (Kaggle), found {found}"
        )
    names = list(classes) if classes is not None else list(KAGGLE_CLASSES)
    stripped = strip_prefix(weights, prefix, source)
    metadata = {
        "classes": names,
        "n_classes": len(names),
        "backbone": backbone,
        "model_kwargs": dict(model_kwargs or {}),
        "source_format": fmt,
        "axis_order": "xyz",
    }
    for key in ("particle_radius", "score_thresholds", "particle_weights", "class_loss_weights"):
        if hyper.get(key) is not None:
            metadata[key] = _class_numbers(hyper[key], key, source)
    metadata["thresholds"] = {
        name: value
        for name, value in metadata.get("score_thresholds", {}).items()
        if name in names and value > 0
    }
    metadata["threshold_comparison"] = ">"
    return LoadedCheckpoint(model_from_state_dict(stripped, metadata, source, device), metadata)


def _class_numbers(values: Any, field: str, source: str) -> dict[str, float]:
    """``hyper_parameters[field]`` as {class name: finite float}; ``None`` values are left out."""
    if not isinstance(values, Mapping):
        raise InputError(
            source,
            f"hyper_parameters[{field!r}] must map class names to numbers, "
            f"found {type(values).__name__}",
        )
    out = {}
    for name, value in values.items():
        if value is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            raise InputError(
                source, f"hyper_parameters[{field!r}][{name!r}] must be a number, found {value!r}"
            )
        out[str(name)] = number
    return out


def resolve_checkpoint_paths(spec: str | Sequence[str]) -> list[Path]:
    """The checkpoint files named by ``spec``: files, folders and glob patterns, in order.

    Parameters
    ----------
    spec : str or sequence of str
        A comma-separated list (or a list) of items; each is

        * an existing file: taken as it is;
        * an existing folder: every file in it ending in ``.pt``, ``.pth`` or
          ``.ckpt`` (not recursive), sorted by name;
        * a glob pattern (``*``, ``?``, ``[``): the matching files, sorted;
        * anything else: taken as a file name (a missing file is reported when
          it is loaded, :func:`load_any_checkpoint`).

    Returns
    -------
    list of pathlib.Path
        Empty for an empty ``spec``.

    Raises
    ------
    InputError
        A folder without checkpoints, or a pattern that matches no file (the
        message names the item).

    Examples
    --------
    >>> resolve_checkpoint_paths("a.pt, b.ckpt")
    [PosixPath('a.pt'), PosixPath('b.ckpt')]
    """
    items = spec.split(",") if isinstance(spec, str) else [str(item) for item in spec]
    paths: list[Path] = []
    for item in (text.strip() for text in items):
        if not item:
            continue
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(
                (p for p in path.iterdir() if p.suffix.lower() in CHECKPOINT_SUFFIXES),
                key=lambda p: p.name,
            )
            found = [p for p in found if p.is_file()]
            if not found:
                raise InputError(
                    item, f"folder holds no checkpoint file ({', '.join(CHECKPOINT_SUFFIXES)})"
                )
            paths.extend(found)
        elif not path.exists() and _GLOB_CHARACTERS & set(item):
            matches = sorted(Path(p) for p in glob.glob(str(path)) if Path(p).is_file())
            if not matches:
                raise InputError(item, "no checkpoint file matches this pattern")
            paths.extend(matches)
        else:
            paths.append(path)
    return paths


def load_any_checkpoint(
    path: str | os.PathLike[str],
    *,
    backbone: str = "resnet34",
    trusted: bool = False,
    device: str | torch.device = "cpu",
    model_kwargs: Mapping[str, Any] | None = None,
) -> LoadedCheckpoint:
    """Load one of our checkpoints, or else an official TopCUP / Kaggle file.

    Our format is recognised by its ``format`` key (it records its architecture);
    anything else goes to :func:`load_official_checkpoint` with ``backbone``,
    ``model_kwargs`` (official files do not record them) and ``trusted``.

    Raises
    ------
    InputError
        A missing file, or one that no loader accepts (the message says why).
    """
    if not Path(path).is_file():
        raise InputError(str(path), "checkpoint file not found")
    try:
        payload = torch_load(path, weights_only=True)
    except InputError:
        payload = None  # not loadable safely: an official file (or not a checkpoint at all)
    if isinstance(payload, dict) and payload.get("format") == CHECKPOINT_FORMAT:
        return _from_payload(payload, str(path), device)
    return load_official_checkpoint(
        path, backbone=backbone, model_kwargs=model_kwargs, trusted=trusted, device=device
    )
