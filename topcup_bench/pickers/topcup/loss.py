"""Weighted dense cross-entropy over the four TopCUP output levels (topcup.md §5).

Per level ``l`` with logits ``z`` and soft targets ``t`` (background last)::

    logp          = log_softmax(float32(z), over channels)
    per_class[c]  = mean over (batch, x, y, z) of -logp[c] * t[c]
    level_loss[l] = sum_c class_w[c] * per_class[c]        # not divided by sum(class_w)
    loss          = sum_l level_w[l] * level_loss[l] / sum(level_w)

Targets come from :func:`topcup_bench.pickers.topcup.targets.level_targets`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from topcup_bench.errors import InputError
from topcup_bench.pickers.topcup.targets import level_targets

__all__ = [
    "TOPCUP_LEVEL_WEIGHTS",
    "KAGGLE_LEVEL_WEIGHTS",
    "KAGGLE_DS_LEVEL_WEIGHTS",
    "class_weights",
    "catalogue_class_weights",
    "weights_tensor",
    "dense_cross_entropy",
    "multilevel_loss",
]

#: Level weights (strides 16, 8, 4, 2) of the TopCUP recipe (hard-coded there).
TOPCUP_LEVEL_WEIGHTS: tuple[float, ...] = (0.0, 0.0, 1.0, 1.0)
#: Level weights of the original Kaggle ``cfg_resnet34`` / ``cfg_effnetb3`` (last level only).
KAGGLE_LEVEL_WEIGHTS: tuple[float, ...] = (0.0, 0.0, 0.0, 1.0)
#: Level weights of the original Kaggle ``cfg_resnet34_ds`` (deep supervision).
KAGGLE_DS_LEVEL_WEIGHTS: tuple[float, ...] = (0.0, 0.0, 1.0, 1.0)


def class_weights(n_classes: int, particle_weight: float = 256.0) -> torch.Tensor:
    """Class weights ``[particle_weight] * n_classes + [1]`` (background last).

    Parameters
    ----------
    n_classes : int
        Particle classes (no background).
    particle_weight : float
        Weight of every particle class: 256 (TopCUP, Kaggle ``cfg_resnet34``) or 64
        (Kaggle ``cfg_resnet34_ds`` / ``cfg_effnetb3``).

    Returns
    -------
    torch.Tensor of float32, shape (n_classes + 1,)

    Examples
    --------
    >>> class_weights(2, 64.0).tolist()
    [64.0, 64.0, 1.0]
    """
    return torch.tensor([float(particle_weight)] * int(n_classes) + [1.0], dtype=torch.float32)


def catalogue_class_weights(classes, particle_weight: float = 256.0) -> dict[str, float]:
    """Loss weight of every class of a catalogue, in channel order.

    A class's ``loss_weight`` (copick ``metadata.class_loss_weight``) where set,
    else ``particle_weight``; the background weight (1) is not included.

    Parameters
    ----------
    classes : iterable of topcup_bench.types.ParticleClass
        In channel order (e.g. a :class:`~topcup_bench.types.ClassCatalogue`).
    particle_weight : float
        Weight of classes without their own ``loss_weight``.

    Returns
    -------
    dict of str to float
        Class name → weight, in channel order.

    Examples
    --------
    >>> from topcup_bench.types import ParticleClass
    >>> catalogue_class_weights(
    ...     [ParticleClass("a", 10.0), ParticleClass("b", 20.0, loss_weight=4.0)], 64.0)
    {'a': 64.0, 'b': 4.0}
    """
    return {
        c.name: float(particle_weight if c.loss_weight is None else c.loss_weight) for c in classes
    }


def weights_tensor(weights: Sequence[float]) -> torch.Tensor:
    """Class weights in channel order with the background's 1 appended.

    Parameters
    ----------
    weights : sequence of float
        One weight per particle class, channel order.

    Returns
    -------
    torch.Tensor of float32, shape (len(weights) + 1,)

    Examples
    --------
    >>> weights_tensor([64.0, 4.0]).tolist()
    [64.0, 4.0, 1.0]
    """
    return torch.tensor([float(w) for w in weights] + [1.0], dtype=torch.float32)


def dense_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Weighted dense cross-entropy of one level.

    Parameters
    ----------
    logits : torch.Tensor, shape (B, C + 1, X, Y, Z)
        Raw network outputs (any float dtype; computed in float32).
    target : torch.Tensor, same shape
        Soft targets summing to 1 over channels, background last.
    weights : torch.Tensor, shape (C + 1,)
        Class weights.

    Returns
    -------
    torch.Tensor
        Scalar ``sum_c weights[c] * mean(-log_softmax(logits)[c] * target[c])``.

    Raises
    ------
    InputError
        Shapes that disagree.
    """
    if logits.shape != target.shape or logits.shape[1] != len(weights):
        raise InputError(
            "dense_cross_entropy",
            f"logits {tuple(logits.shape)}, target {tuple(target.shape)} and "
            f"{len(weights)} class weights disagree",
        )
    logp = F.log_softmax(logits.float(), dim=1)
    dims = [0] + list(range(2, logits.ndim))
    per_class = (-logp * target.float()).mean(dim=dims)
    return (per_class * weights.to(per_class.device, torch.float32)).sum()


def multilevel_loss(
    outputs: Sequence[torch.Tensor],
    mask: torch.Tensor,
    weights: torch.Tensor,
    level_weights: Sequence[float] = TOPCUP_LEVEL_WEIGHTS,
) -> torch.Tensor:
    """Level-weighted dense cross-entropy of all network outputs against one mask.

    Parameters
    ----------
    outputs : sequence of torch.Tensor
        Logits of every level, shapes (B, C + 1, X_l, Y_l, Z_l) (the network's output).
    mask : torch.Tensor, shape (B, C, X, Y, Z)
        Full-resolution class mask (network order); max-pooled to every level and
        given a background channel by :func:`level_targets`.
    weights : torch.Tensor, shape (C + 1,)
        Class weights, background last.
    level_weights : sequence of float
        One weight per output level; levels with weight 0 are skipped.

    Returns
    -------
    torch.Tensor
        Scalar ``sum_l w_l · loss_l / sum_l w_l``.

    Raises
    ------
    InputError
        Level count mismatch or all-zero level weights.
    """
    lw = [float(w) for w in level_weights]
    if len(lw) != len(outputs):
        raise InputError(
            "multilevel_loss", f"{len(outputs)} output levels but {len(lw)} level weights"
        )
    if sum(lw) <= 0 or min(lw) < 0:
        raise InputError("multilevel_loss", f"level weights must be >= 0, not all 0: {lw}")
    used = [i for i, w in enumerate(lw) if w > 0]
    targets = level_targets(mask.to(outputs[0].device), [outputs[i].shape[2:] for i in used])
    total = sum(
        lw[i] * dense_cross_entropy(outputs[i], t, weights)
        for i, t in zip(used, targets, strict=True)
    )
    return total / sum(lw)
