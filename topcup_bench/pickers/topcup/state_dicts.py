"""State-dict plumbing shared by the checkpoint loaders: prefixes, strict loading, reading."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from topcup_bench.errors import InputError
from topcup_bench.pickers.topcup.model import TopCUPNet, build_model

__all__ = [
    "LoadedCheckpoint",
    "load_state_dict_checked",
    "model_from_state_dict",
    "strip_prefix",
    "strip_wrappers",
    "torch_load",
    "WRAPPER_PREFIXES",
]


@dataclass
class LoadedCheckpoint:
    """A model with the metadata it was saved with.

    Attributes
    ----------
    model : TopCUPNet
        In eval mode, on the requested device.
    metadata : dict
        Plain Python metadata (see the module docstring); for official files only
        ``classes``, ``backbone``, ``n_classes``, ``source_format`` and what the file holds.
    ema_model : TopCUPNet or None
        The EMA weights when the checkpoint has them.
    """

    model: TopCUPNet
    metadata: dict[str, Any]
    ema_model: TopCUPNet | None = None

    @property
    def inference_model(self) -> TopCUPNet:
        """The weights to predict with: EMA when the checkpoint's metadata says they were
        validated (``validated_weights == "ema"``) and present, else the raw weights."""
        if self.ema_model is not None and self.metadata.get("validated_weights") == "ema":
            return self.ema_model
        return self.model


def load_state_dict_checked(
    model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], source: str
) -> None:
    """Load ``state_dict`` strictly, reporting the first mismatch as an :class:`InputError`.

    Parameters
    ----------
    model : torch.nn.Module
    state_dict : mapping of str to torch.Tensor
        Bare key names (prefix already stripped).
    source : str
        File name for the error message.
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    if missing or unexpected:
        raise InputError(
            source,
            f"weights do not fit the architecture: {len(missing)} missing key(s) "
            f"(first {missing[:3]}), {len(unexpected)} unexpected (first {unexpected[:3]}); "
            "check the backbone",
        )
    for key, value in state_dict.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise InputError(
                source,
                f"key {key!r}: shape {tuple(value.shape)} in the file, "
                f"{tuple(expected[key].shape)} expected by the model; check the class count "
                "and the backbone",
            )
    model.load_state_dict(state_dict, strict=True)


def model_from_state_dict(
    state_dict: Mapping[str, torch.Tensor], metadata: Mapping[str, Any], source: str, device
) -> TopCUPNet:
    """Build the network described by ``metadata`` (backbone, n_classes), load, eval mode."""
    kwargs = dict(metadata.get("model_kwargs") or {})
    model = build_model(metadata["backbone"], n_classes=int(metadata["n_classes"]), **kwargs)
    load_state_dict_checked(model, state_dict, source)
    return model.to(device).eval()


def torch_load(path: str | os.PathLike[str], *, weights_only: bool) -> Any:
    """``torch.load`` to CPU; read failures become :class:`InputError` naming the file."""
    try:
        return torch.load(path, map_location="cpu", weights_only=weights_only)
    except FileNotFoundError:
        raise InputError(str(path), "checkpoint file not found") from None
    except Exception as error:  # pickle / zip errors of every kind
        raise InputError(str(path), f"cannot read checkpoint: {error}") from error


#: Key prefixes added by wrappers around a network: ``torch.nn.DataParallel`` /
#: ``DistributedDataParallel`` (``module.``) and ``torch.compile`` (``_orig_mod.``).
WRAPPER_PREFIXES: tuple[str, ...] = ("module.", "_orig_mod.")


def strip_wrappers(key: str) -> str:
    """Remove every leading wrapper prefix (:data:`WRAPPER_PREFIXES`), in any order.

    Examples
    --------
    >>> strip_wrappers("_orig_mod.module.encoder.conv1.weight")
    'encoder.conv1.weight'
    >>> strip_wrappers("decoder.module.x")  # only leading prefixes
    'decoder.module.x'
    """
    while True:
        for wrapper in WRAPPER_PREFIXES:
            if key.startswith(wrapper):
                key = key[len(wrapper) :]
                break
        else:
            return key


def strip_prefix(
    weights: Mapping[str, torch.Tensor], prefix: str, source: str
) -> dict[str, torch.Tensor]:
    """Remove ``prefix`` (``"model."``, ``"backbone."`` or ``""``) and wrapper prefixes.

    Wrapper prefixes (``module.`` of multi-GPU training, ``_orig_mod.`` of
    ``torch.compile``) are removed wherever they sit before the bare name: before
    ``prefix``, after it, or both, in any order (``module.model._orig_mod.encoder.*``
    → ``encoder.*``).

    Parameters
    ----------
    weights : mapping of str to torch.Tensor
    prefix : str
        The layout's own prefix; ``""`` for our format (bare names).
    source : str
        File name for the error message.

    Returns
    -------
    dict of str to torch.Tensor
        Bare FlexibleUNet key names (``encoder.*``, ``decoder.*``, ``segmentation_heads.*``).

    Raises
    ------
    InputError
        A key without the prefix, or two keys that are the same name once stripped.
    """
    out: dict[str, torch.Tensor] = {}
    origin: dict[str, str] = {}
    for key, value in weights.items():
        name = strip_wrappers(str(key))
        if prefix:
            if not name.startswith(prefix):
                raise InputError(source, f"key {key!r} lacks the expected prefix {prefix!r}")
            name = strip_wrappers(name[len(prefix) :])
        if name in out:
            raise InputError(
                source,
                f"keys {origin[name]!r} and {key!r} are the same weight {name!r} once the "
                f"prefixes {[prefix, *WRAPPER_PREFIXES] if prefix else list(WRAPPER_PREFIXES)} "
                "are removed",
            )
        out[name], origin[name] = value, str(key)
    return out
