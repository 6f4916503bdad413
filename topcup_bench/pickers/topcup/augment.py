"""Batch-level augmentation: mixup of images and targets (topcup.md §4).

CH and TopCUP mix every training batch (``mixup_p = 1``) inside the model's
forward pass: each sample gets its own λ ~ Beta(1, 1) (= Uniform(0, 1)) and a
partner from a random permutation of the batch, and image and target are mixed
linearly (``mixadd=False``): ``x ← λ x + (1 − λ) x[perm]``. A permutation may
pair a sample with itself. Here the draws come from an explicit
:class:`torch.Generator`, so a training run is reproducible from its seed.
"""

from __future__ import annotations

import torch

from topcup_bench.errors import InputError

__all__ = ["mixup", "mix_pairs"]


def _check(images: torch.Tensor, masks: torch.Tensor) -> int:
    if images.ndim < 2 or masks.ndim < 2 or images.shape[0] != masks.shape[0]:
        raise InputError(
            "mixup",
            f"expected images (N, 1, ...) and masks (N, C, ...) with the same N, "
            f"found shapes {tuple(images.shape)} and {tuple(masks.shape)}",
        )
    return int(images.shape[0])


def mix_pairs(
    images: torch.Tensor, masks: torch.Tensor, lam: torch.Tensor, perm: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix every sample with its partner using given weights.

    Parameters
    ----------
    images : torch.Tensor, shape (N, 1, S, S, S)
    masks : torch.Tensor, shape (N, C, S, S, S)
        Values in [0, 1].
    lam : torch.Tensor, shape (N,)
        Weight of each sample itself, in [0, 1].
    perm : torch.Tensor of int64, shape (N,)
        Partner index of each sample.

    Returns
    -------
    images, masks : torch.Tensor, same shapes and dtypes
        ``lam[i] * x[i] + (1 - lam[i]) * x[perm[i]]``; masks stay in [0, 1].

    Examples
    --------
    >>> x = torch.tensor([0.0, 4.0]).reshape(2, 1, 1, 1, 1)
    >>> m = torch.tensor([1.0, 0.0]).reshape(2, 1, 1, 1, 1)
    >>> xi, mi = mix_pairs(x, m, torch.tensor([0.25, 1.0]), torch.tensor([1, 0]))
    >>> xi.flatten().tolist(), mi.flatten().tolist()
    ([3.0, 4.0], [0.25, 0.0])
    """
    n = _check(images, masks)
    lam = torch.as_tensor(lam).reshape(-1)
    perm = torch.as_tensor(perm).reshape(-1).to(device=images.device, dtype=torch.long)
    if lam.numel() != n or perm.numel() != n:
        raise InputError(
            "mixup", f"need {n} weights and partners, got {lam.numel()} and {perm.numel()}"
        )
    if n and (bool((lam < 0).any()) or bool((lam > 1).any())):
        raise InputError("mixup", f"weights must lie in [0, 1], got {lam.tolist()}")

    def mix(x: torch.Tensor) -> torch.Tensor:
        w = lam.to(device=x.device, dtype=x.dtype).reshape((n,) + (1,) * (x.ndim - 1))
        return w * x + (1 - w) * x[perm.to(x.device)]

    return mix(images), mix(masks)


def mixup(
    images: torch.Tensor, masks: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup of a training batch with λ ~ Beta(1, 1) per sample and a random partner.

    Draws, in this order, ``lam = torch.rand(N, generator=generator)`` and
    ``perm = torch.randperm(N, generator=generator)`` on the generator's device,
    then calls :func:`mix_pairs`. Deterministic given the generator's state.

    Parameters
    ----------
    images : torch.Tensor, shape (N, 1, S, S, S)
    masks : torch.Tensor, shape (N, C, S, S, S)
        Values in [0, 1].
    generator : torch.Generator

    Returns
    -------
    images, masks : torch.Tensor, same shapes, dtypes and device as the inputs
    """
    n = _check(images, masks)
    lam = torch.rand(n, generator=generator, device=generator.device)
    perm = torch.randperm(n, generator=generator, device=generator.device)
    return mix_pairs(images, masks, lam, perm)
