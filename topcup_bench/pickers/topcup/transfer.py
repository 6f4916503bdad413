"""Transfer learning: start a TopCUP network from the weights of another checkpoint.

:func:`transfer_weights` copies a loaded checkpoint into a freshly built network
whose class catalogue may differ from the checkpoint's:

* encoder and decoder: copied whole; they must have the same architecture
  (backbone and decoder widths), else :class:`~topcup_bench.errors.InputError`
  names the file, both backbones and the first key whose shape differs;
* each of the four segmentation heads (``n_classes + 1`` output channels,
  background last): the output rows of classes both catalogues have are copied
  by class *name* (the channel order may differ), the background row too; rows
  of classes the checkpoint lacks keep the network's fresh (seeded) random
  initialisation; checkpoint classes the new catalogue lacks are dropped.

:func:`initialise_from` adds loading (any file
:func:`~topcup_bench.pickers.topcup.checkpoint.load_any_checkpoint` reads: ours,
official TopCUP ``.ckpt``, Kaggle ``.pth``) and the file's SHA-256, so that a
training run can record what it started from (:meth:`TransferReport.to_config`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from topcup_bench.errors import InputError
from topcup_bench.pickers.topcup.checkpoint import load_any_checkpoint
from topcup_bench.pickers.topcup.model import TopCUPNet
from topcup_bench.pickers.topcup.state_dicts import LoadedCheckpoint

__all__ = ["TransferReport", "transfer_weights", "initialise_from", "file_sha256", "weights_sha256"]

#: State-dict prefix of the class-dependent layers (one entry per head).
HEADS_PREFIX = "segmentation_heads."


@dataclass(frozen=True)
class TransferReport:
    """What :func:`transfer_weights` did.

    Attributes
    ----------
    source : str
        The checkpoint file, or ``"<in-memory checkpoint>"``.
    sha256 : str or None
        SHA-256 of the file (hex); for an in-memory checkpoint, of its weights
        (:func:`weights_sha256`).
    path : str or None
        The checkpoint file as given, None for an in-memory checkpoint.
    mapped : tuple of str
        Classes of the new catalogue whose head rows were copied from the
        checkpoint, in the new channel order.
    new : tuple of str
        Classes of the new catalogue the checkpoint lacks (fresh rows).
    dropped : tuple of str
        Checkpoint classes the new catalogue lacks, in the checkpoint's order.
    """

    source: str
    sha256: str | None
    path: str | None
    mapped: tuple[str, ...]
    new: tuple[str, ...]
    dropped: tuple[str, ...]

    def to_config(self) -> dict[str, Any]:
        """Plain, JSON-able record for a run's effective configuration."""
        return {
            "path": self.path,
            "sha256": self.sha256,
            "mapped": list(self.mapped),
            "new": list(self.new),
            "dropped": list(self.dropped),
        }


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_sha256(model: torch.nn.Module) -> str:
    """Hex SHA-256 of a network's state dict: every key, dtype, shape and value, in order."""
    digest = hashlib.sha256()
    for key, value in model.state_dict().items():
        tensor = value.detach().cpu().contiguous()
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _describe(backbone: Any, kwargs: Any) -> str:
    extra = f" with {dict(kwargs)}" if kwargs else ""
    return f"{backbone!r}{extra}"


def _check_trunk(
    model: TopCUPNet,
    target: dict[str, torch.Tensor],
    weights: dict[str, torch.Tensor],
    metadata: dict[str, Any],
    source: str,
) -> None:
    """Raise when the checkpoint's encoder/decoder (or head inputs) differ from the model's."""
    wanted = list(target)
    problem = None
    for key in wanted:
        if key not in weights:
            problem = f"key {key!r} of this run's network is missing from the checkpoint"
            break
        a, b = tuple(weights[key].shape), tuple(target[key].shape)
        head = key.startswith(HEADS_PREFIX)
        if (a[1:] if head else a) != (b[1:] if head else b):
            problem = f"key {key!r} has shape {a} in the checkpoint and {b} in this run's network"
            break
    if problem is None:
        extra = [k for k in weights if k not in target]
        if extra:
            problem = f"the checkpoint's key {extra[0]!r} has no place in this run's network"
    if problem is not None:
        theirs = _describe(metadata.get("backbone", "unknown"), metadata.get("model_kwargs"))
        ours = _describe(model.backbone_name, model.model_kwargs)
        raise InputError(
            source,
            f"cannot start from this checkpoint: the checkpoint's backbone is {theirs}, "
            f"this run's is {ours}; {problem}",
        )


def transfer_weights(
    model: TopCUPNet,
    checkpoint: LoadedCheckpoint,
    classes: Sequence[str],
    *,
    source: str = "<in-memory checkpoint>",
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Copy ``checkpoint``'s weights into ``model``, mapping head rows by class name.

    Parameters
    ----------
    model : TopCUPNet
        Freshly built (seeded) network whose channel ``i`` is ``classes[i]``; it
        is changed in place. Rows of classes the checkpoint lacks keep their values.
    checkpoint : LoadedCheckpoint
        Its :attr:`~LoadedCheckpoint.inference_model` (the validated weights) is
        used; ``metadata["classes"]`` names its channels.
    classes : sequence of str
        The new catalogue's class names in channel order (``len == model.n_classes``).
    source : str
        Name of the checkpoint for error messages.

    Returns
    -------
    mapped, new, dropped : tuple of str
        See :class:`TransferReport`.

    Raises
    ------
    InputError
        Classes that do not fit ``model``, a checkpoint without class names, or a
        different encoder/decoder (the message names ``source``, both backbones
        and the first differing key with both shapes).
    """
    names = [str(c) for c in classes]
    if len(names) != model.n_classes or len(set(names)) != len(names):
        raise InputError(
            "transfer", f"classes must be {model.n_classes} unique names (model heads), got {names}"
        )
    theirs = [str(c) for c in checkpoint.metadata.get("classes") or []]
    source_model = checkpoint.inference_model
    if len(theirs) != source_model.n_classes:
        raise InputError(
            source,
            f"the checkpoint names {len(theirs)} classes ({theirs}) for "
            f"{source_model.n_classes} head channels",
        )
    target = model.state_dict()
    weights = {k: v.detach().cpu() for k, v in source_model.state_dict().items()}
    _check_trunk(model, target, weights, checkpoint.metadata, source)
    rows = [(i, theirs.index(n)) for i, n in enumerate(names) if n in theirs]
    rows.append((len(names), len(theirs)))  # background, last in both
    new_state = {}
    for key, value in target.items():
        if not key.startswith(HEADS_PREFIX):
            new_state[key] = weights[key].to(value.dtype)
            continue
        merged = value.detach().cpu().clone()
        for mine, other in rows:
            merged[mine] = weights[key][other].to(value.dtype)
        new_state[key] = merged
    model.load_state_dict(new_state, strict=True)
    mapped = tuple(n for n in names if n in theirs)
    new = tuple(n for n in names if n not in theirs)
    dropped = tuple(n for n in theirs if n not in names)
    return mapped, new, dropped


def initialise_from(
    model: TopCUPNet,
    init: str | os.PathLike[str] | LoadedCheckpoint,
    classes: Sequence[str],
    *,
    trusted: bool = False,
) -> TransferReport:
    """Load ``init`` (unless already loaded) and :func:`transfer_weights` it into ``model``.

    Parameters
    ----------
    model : TopCUPNet
        Freshly built network (its backbone is used to read official files,
        which do not record theirs).
    init : path-like or LoadedCheckpoint
        A checkpoint file (ours, official TopCUP ``.ckpt``, Kaggle ``.pth``) or
        an already loaded checkpoint.
    classes : sequence of str
        The new catalogue's class names in channel order.
    trusted : bool
        Allow ``weights_only=False`` loading (official TopCUP files need it); only
        for files from a trusted source.

    Returns
    -------
    TransferReport

    Raises
    ------
    InputError
        An unreadable or missing file, or weights that do not fit (see
        :func:`transfer_weights`).
    """
    if isinstance(init, LoadedCheckpoint):
        checkpoint, path, source = init, None, "<in-memory checkpoint>"
        sha256 = weights_sha256(init.inference_model)
    else:
        path = os.fspath(init)
        source = path
        if not Path(path).is_file():
            raise InputError(source, "initial weights: checkpoint file not found")
        checkpoint = load_any_checkpoint(path, backbone=model.backbone_name, trusted=trusted)
        sha256 = file_sha256(path)
    mapped, new, dropped = transfer_weights(model, checkpoint, classes, source=source)
    return TransferReport(source, sha256, path, mapped, new, dropped)
